"""The simulated Shopify Admin API answers like the real one for the subset shopify-sync uses."""

import aiohttp
import pytest

from hub_sim.shopify import SimulatedShopify


@pytest.fixture
async def shop():
    async with SimulatedShopify(seed_orders=5) as simulated:
        yield simulated


async def _get(shop, path, token=None, **params):
    headers = {"X-Shopify-Access-Token": token or shop.access_token}
    url = path if path.startswith("http") else f"{shop.base_url}/admin/api/2025-01/{path}"
    async with (
        aiohttp.ClientSession() as session,
        session.get(url, params=params or None, headers=headers) as response,
    ):
        return response.status, await response.json(), response.headers, response.links


async def test_wrong_or_missing_token_is_401(shop):
    status, body, _, _ = await _get(shop, "orders.json", token="shpat_wrong")
    assert status == 401 and "Invalid API key" in body["errors"]


async def test_link_pages_walk_every_order_once_newest_first(shop):
    seen, url, params = [], "orders.json", {"limit": "2", "status": "any"}
    while True:
        status, body, headers, links = await _get(shop, url, **params)
        assert status == 200 and headers["X-Shopify-Shop-Api-Call-Limit"].endswith("/40")
        seen.extend(o["id"] for o in body["orders"])
        if "next" not in links:
            break
        url, params = str(links["next"]["url"]), {}
    assert seen == sorted(shop.orders, reverse=True)
    assert "previous" in links


async def test_since_id_lists_ascending_and_page_info_refuses_other_filters(shop):
    lowest = min(shop.orders)
    status, body, _, links = await _get(shop, "orders.json", since_id=str(lowest), limit="3")
    assert [o["id"] for o in body["orders"]] == sorted(shop.orders)[1:4]
    page_info = links["next"]["url"].query["page_info"]
    status, body, _, _ = await _get(shop, "orders.json", page_info=page_info, status="any")
    assert status == 400 and "page_info" in body["errors"]
    status, body, _, _ = await _get(shop, "orders.json", page_info="garbage!")
    assert status == 400


async def test_throttle_answers_429_with_retry_after_then_recovers(shop):
    shop.throttle(2, retry_after="3.0", after=1)
    assert (await _get(shop, "orders.json"))[0] == 200
    status, body, headers, _ = await _get(shop, "orders.json")
    assert status == 429 and headers["Retry-After"] == "3.0" and "Exceeded" in body["errors"]
    assert (await _get(shop, "orders.json"))[0] == 429
    assert (await _get(shop, "orders.json"))[0] == 200


async def test_fulfillment_closes_the_fulfillment_order_and_refuses_a_second(shop):
    order = shop.add_order([{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}])
    _, body, _, _ = await _get(shop, f"orders/{order['id']}/fulfillment_orders.json")
    (fulfillment_order,) = body["fulfillment_orders"]
    assert fulfillment_order["status"] == "open"
    first_line = fulfillment_order["line_items"][0]
    request = {
        "fulfillment": {
            "line_items_by_fulfillment_order": [
                {
                    "fulfillment_order_id": fulfillment_order["id"],
                    "fulfillment_order_line_items": [{"id": first_line["id"], "quantity": 1}],
                }
            ]
        }
    }
    url = f"{shop.base_url}/admin/api/2025-01/fulfillments.json"
    headers = {"X-Shopify-Access-Token": shop.access_token}
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.post(url, json=request) as response:
            assert response.status == 201
        assert shop.orders[order["id"]]["fulfillment_status"] == "partial"
        assert shop.fulfillment_orders[fulfillment_order["id"]]["status"] == "in_progress"
        too_many = {"id": first_line["id"], "quantity": 5}
        request["fulfillment"]["line_items_by_fulfillment_order"][0][
            "fulfillment_order_line_items"
        ] = [too_many]
        async with session.post(url, json=request) as response:
            assert response.status == 422
        del request["fulfillment"]["line_items_by_fulfillment_order"][0][
            "fulfillment_order_line_items"
        ]
        async with session.post(url, json=request) as response:  # the rest
            assert response.status == 201
        async with session.post(url, json=request) as response:
            assert response.status == 422 and "unfulfillable" in str(await response.json())
        async with session.post(url, json={"fulfillment": {}}) as response:
            assert response.status == 400
    assert shop.orders[order["id"]]["fulfillment_status"] == "fulfilled"
    _, body, _, _ = await _get(shop, f"orders/{order['id']}/fulfillments.json")
    assert len(body["fulfillments"]) == 2
    assert (await _get(shop, "orders/123/fulfillment_orders.json"))[0] == 404
