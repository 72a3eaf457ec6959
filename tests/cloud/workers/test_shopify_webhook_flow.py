"""Webhook -> queue -> import on the live cloud: one order per Shopify order, however delivered."""

import functools

import aiohttp

from cloud.db.executor import run_db
from cloud.keys import SECRETBOX
from cloud.models import Order, TenantContext
from cloud.queue import QueueStore, QueueWorker
from cloud.workers.shopify_sync import make_handler
from hub_sim.shopify import SimulatedShopify
from tests.cloud.workers.conftest import WEBHOOK_SECRET


async def test_webhook_redelivered_imports_once_and_pull_catches_up(live_server):
    server = live_server
    owner = await server.register()
    published = []

    async def publish(tenant_id, message):
        published.append((tenant_id, message))

    async with SimulatedShopify(seed_orders=2) as shop:
        r = await owner.api.put(
            "/api/v1/integrations/shopify",
            json={
                "shop_domain": shop.shop_domain,
                "webhook_secret": WEBHOOK_SECRET,
                "access_token": shop.access_token,
            },
        )
        assert r.status == 200, r.json
        hooked = shop.add_order([{"sku": "WIDGET-RED", "quantity": 3, "price": "19.00"}])
        url = f"{server.url}/api/v1/integrations/shopify/webhook"

        first = await shop.send_webhook(url, "orders/create", hooked, WEBHOOK_SECRET)
        again = await shop.send_webhook(url, "orders/create", hooked, WEBHOOK_SECRET)
        paid = await shop.send_webhook(url, "orders/paid", hooked, WEBHOOK_SECRET)
        forged = await shop.send_webhook(url, "orders/create", hooked, "not-the-secret-at-all")

        assert first == (200, {"status": "created", "order_id": first[1]["order_id"]})
        assert again[1]["status"] == paid[1]["status"] == "exists"
        assert again[1]["order_id"] == first[1]["order_id"]
        assert forged[0] == 401

        store = QueueStore()
        handler = make_handler(
            functools.partial(run_db, server.app),
            aiohttp.ClientSession,
            server.app[SECRETBOX],
            publish,
            api_base=lambda domain: shop.base_url,
        )
        worker = QueueWorker(
            "shopify-sync", handler, store=store, run_db=functools.partial(run_db, server.app)
        )
        try:
            assert await worker.drain() == 1  # three deliveries, one message
            # Shopify retries a webhook it thinks failed, after we processed it.
            again = await shop.send_webhook(url, "orders/create", hooked, WEBHOOK_SECRET)
            assert again[1]["status"] == "exists"
            assert await worker.drain() == 0
        finally:
            await handler.close()

    ctx = TenantContext(tenant_id=owner.tenant_id)

    def imported():
        return sorted(o.external_id for o in Order.scoped(ctx).where(Order.source == "shopify"))

    externals = await run_db(server.app, imported)
    # The webhook's order and the two seeded ones the pull found; none twice.
    assert externals == sorted(str(i) for i in shop.orders)
    announced = [m["order_id"] for _, m in published if m["type"] == "new_order"]
    assert len(announced) == 3 and len(set(announced)) == 3
    assert first[1]["order_id"] in announced
    assert {t for t, _ in published} == {owner.tenant_id}
    # The operator sees the webhook's order through the API, with its items.
    r = await owner.api.get(f"/api/v1/orders/{first[1]['order_id']}")
    assert r.status == 200 and r.json["items"][0]["quantity"] == 3
