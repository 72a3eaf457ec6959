"""Resource routes over real HTTP: happy paths, validation naming the field, audit rows,
Shopify webhooks (HMAC, idempotency), CSV export, snapshots, wiki content kept verbatim."""

import base64
import csv
import hashlib
import hmac
import io
import json

from cloud.models import AuditLog, system_access

SECRET = "whsec_0123456789abcdef"


def audit_actions(tenant_id) -> list[str]:
    with system_access():
        rows = (
            AuditLog.select().where(AuditLog.tenant_id == tenant_id).order_by(AuditLog.created_at)
        )
        return [r.action for r in rows]


async def test_catalog_stock_and_orders_flow(live_server):
    owner = await live_server.register()
    api = owner.api
    r = await api.post("/api/v1/products", json={"name": 5})
    assert (r.status, r.json["error"]["field"]) == (422, "name")
    r = await api.post("/api/v1/products", json={"name": "Hook", "colour": "red"})
    assert (r.status, r.json["error"]["field"]) == (422, "colour")
    product = (await api.post("/api/v1/products", json={"name": "Hook"})).json
    assert (await api.post("/api/v1/products", json={"name": "Hook"})).status == 409
    sku = await api.post(
        "/api/v1/skus", json={"product_id": product["id"], "sku": "HOOK-R", "color": "Red"}
    )
    assert sku.status == 201
    r = await api.post(
        "/api/v1/skus",
        json={"product_id": product["id"], "sku": "X", "color": "R", "hex_code": "red"},
    )
    assert (r.status, r.json["error"]["field"]) == (422, "hex_code")

    good = (
        await api.post(
            "/api/v1/inventory",
            json={"product_sku_id": sku.json["id"], "current_stock": 3, "low_stock_threshold": 5},
        )
    ).json
    low = await api.get("/api/v1/inventory", params={"low_stock": "true"})
    assert [g["id"] for g in low.json["items"]] == [good["id"]]
    r = await api.post(
        f"/api/v1/inventory/{good['id']}/adjustments",
        json={"delta": 10, "reason": "print_completed"},
    )
    assert r.status == 201 and r.json["finished_good"]["current_stock"] == 13
    r = await api.post(
        f"/api/v1/inventory/{good['id']}/adjustments", json={"delta": -20, "reason": "sale"}
    )
    assert (r.status, r.json["error"]["field"]) == (422, "delta")
    r = await api.post(
        f"/api/v1/inventory/{good['id']}/adjustments", json={"delta": 1, "reason": "gift"}
    )
    assert (r.status, r.json["error"]["field"]) == (422, "reason")
    ledger = await api.get(f"/api/v1/inventory/{good['id']}/adjustments")
    assert [e["reason"] for e in ledger.json["items"]] == ["print_completed", "initial_stock"]
    assert (await api.get("/api/v1/inventory", params={"low_stock": "true"})).json["total"] == 0
    assert (await api.get("/api/v1/inventory", params={"low_stock": "false"})).json["total"] == 1

    order = await api.post(
        "/api/v1/orders",
        json={"customer_name": "Ada", "items": [{"product_sku_id": sku.json["id"], "quantity": 2}]},
    )
    assert order.status == 201 and order.json["items"][0]["sku"] == "HOOK-R"
    r = await api.post(
        "/api/v1/orders", json={"items": [{"sku": "A", "product_name": "A", "quantity": -1}]}
    )
    assert (r.status, r.json["error"]["field"]) == (422, "items.0.quantity")
    found = await api.get("/api/v1/orders", params={"q": "hook-r", "status": "pending"})
    assert found.json["total"] == 1
    r = await api.get("/api/v1/orders", params={"status": "shipped"})
    assert (r.status, r.json["error"]["field"]) == (422, "status")
    r = await api.patch(f"/api/v1/orders/{order.json['id']}", json={"status": "fulfilled"})
    assert r.status == 200 and r.json["status"] == "fulfilled"
    r = await api.patch(f"/api/v1/orders/{order.json['id']}", json={"status": "pending"})
    assert (r.status, r.json["error"]["field"]) == (409, "status")

    actions = audit_actions(owner.tenant_id)
    for action in (
        "product.create_product",
        "sku.create_sku",
        "finished_good.adjust_stock",
        "order.create_order",
        "order.update_order",
    ):
        assert action in actions, action
    # Refused requests change nothing and write no audit row.
    assert actions.count("finished_good.adjust_stock") == 1


async def test_lists_page_and_sort_stably(sqlite_server):
    owner = await sqlite_server.register()
    for i in range(7):
        await owner.api.post(
            "/api/v1/colors",
            json={"color_name": "Same", "hex_code": "#000000", "filament_type": f"T{i}"},
        )
    seen = []
    for offset in (0, 3, 6):
        r = await owner.api.get(
            "/api/v1/colors", params={"sort": "color_name", "limit": "3", "offset": str(offset)}
        )
        assert r.json["total"] == 7
        seen += [c["id"] for c in r.json["items"]]
    assert len(seen) == len(set(seen)) == 7
    r = await owner.api.get("/api/v1/colors", params={"limit": "500"})
    assert (r.status, r.json["error"]["field"]) == (422, "limit")
    r = await owner.api.get("/api/v1/colors", params={"sort": "hex_code"})
    assert (r.status, r.json["error"]["field"]) == (422, "sort")


async def test_wiki_content_is_returned_verbatim_as_json(sqlite_server):
    owner = await sqlite_server.register()
    viewer = await sqlite_server.member_of(owner, "viewer")
    hostile = "<script>alert('x')</script>\n![img](javascript:alert(1))"
    r = await owner.api.post("/api/v1/wiki", json={"slug": "xss", "title": "T", "content": hostile})
    assert r.status == 201
    r = await owner.api.get("/api/v1/wiki/xss")
    assert r.headers["Content-Type"].startswith("application/json")
    assert r.json["content"] == hostile
    assert (await viewer.api.get("/api/v1/wiki/xss")).status == 404  # a draft
    await owner.api.patch("/api/v1/wiki/xss", json={"is_published": True})
    assert (await viewer.api.get("/api/v1/wiki/xss")).json["content"] == hostile
    r = await owner.api.post("/api/v1/wiki", json={"slug": "Not A Slug", "title": "T"})
    assert (r.status, r.json["error"]["field"]) == (422, "slug")


async def test_camera_snapshot_roundtrip(sqlite_server):
    owner = await sqlite_server.register()
    camera = (await owner.api.post("/api/v1/camera", json={"name": "Bay"})).json
    path = f"/api/v1/camera/{camera['id']}/snapshot"
    assert (await owner.api.get(path)).status == 404
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 40
    r = await owner.api.put(path, data=jpeg, headers={"Content-Type": "image/jpeg"})
    assert r.status == 200 and r.json["last_snapshot_at"] is not None
    r = await owner.api.get(path)
    assert r.status == 200 and r.body == jpeg and r.headers["Content-Type"] == "image/jpeg"
    r = await owner.api.put(path, data=b"GIF89a...", headers={"Content-Type": "image/jpeg"})
    assert (r.status, r.json["error"]["field"]) == (422, "body")
    r = await owner.api.put(path, data=jpeg, headers={"Content-Type": "text/plain"})
    assert r.status == 415
    assert (await owner.api.get(path)).body == jpeg
    assert (await owner.api.delete(f"/api/v1/camera/{camera['id']}")).status == 204
    assert (await owner.api.get(path)).status == 404


async def test_automation_rule_errors_name_the_json_path(sqlite_server):
    owner = await sqlite_server.register()
    operator = await sqlite_server.member_of(owner, "operator")
    rule = {
        "name": "Idle",
        "trigger_type": "printer_idle",
        "trigger_config": {"printer_ids": []},
        "actions": [{"type": "pause_printer"}],
    }
    assert (await operator.api.post("/api/v1/automation/rules", json=rule)).status == 403
    r = await owner.api.post("/api/v1/automation/rules", json=rule)
    assert r.status == 201 and r.json["trigger_config"] == {"printer_ids": []}
    bad = {**rule, "actions": [{"type": "send_webhook", "url": "file:///etc/passwd"}]}
    r = await owner.api.post("/api/v1/automation/rules", json=bad)
    assert (r.status, r.json["error"]["field"]) == (422, "actions[0].url")


async def test_analytics_csv_export(sqlite_server):
    owner = await sqlite_server.register()
    r = await owner.api.get("/api/v1/analytics/summary")
    assert r.status == 200 and r.json["print_success"]["success_rate"] is None
    assert len(r.json["jobs_per_day"]) in (30, 31)
    r = await owner.api.get("/api/v1/analytics/export", params={"report": "jobs_per_day"})
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in r.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(r.body.decode())))
    assert rows and set(rows[0]) == {"day_start", "jobs"}
    r = await owner.api.get("/api/v1/analytics/summary", params={"from": "100", "to": "50"})
    assert (r.status, r.json["error"]["field"]) == (422, "from")


def signed(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


async def test_shopify_webhook_creates_orders_once(live_server):
    owner = await live_server.register()
    product = (await owner.api.post("/api/v1/products", json={"name": "Hook"})).json
    sku = (
        await owner.api.post(
            "/api/v1/skus", json={"product_id": product["id"], "sku": "HOOK-R", "color": "Red"}
        )
    ).json
    r = await owner.api.put(
        "/api/v1/integrations/shopify",
        json={
            "shop_domain": "Hook-Farm.myshopify.com",
            "webhook_secret": SECRET,
            "access_token": "shpat_secret_token",
        },
    )
    assert r.status == 200, r.json
    assert r.json["shop_domain"] == "hook-farm.myshopify.com" and r.json["has_access_token"]
    text = json.dumps(r.json)
    assert SECRET not in text and "shpat_secret_token" not in text
    from cloud.models.integrations import Integration

    with system_access():
        sealed = Integration.select().first().secrets_encrypted
    assert SECRET not in sealed and sealed.startswith("v1:")
    other = await live_server.register()
    r = await other.api.put(
        "/api/v1/integrations/shopify",
        json={"shop_domain": "hook-farm.myshopify.com", "webhook_secret": SECRET},
    )
    assert (r.status, r.json["error"]["field"]) == (409, "shop_domain")

    payload = {
        "id": 820982911946154508,
        "name": "#1001",
        "email": "jon@example.com",
        "created_at": "2026-11-20T10:00:00-05:00",
        "customer": {"first_name": "Jon", "last_name": "Snow"},
        "shipping_address": {"city": "Winterfell"},
        "line_items": [
            {"sku": "HOOK-R", "title": "Hook", "quantity": 3, "price": "4.99"},
            {"sku": None, "title": "Gift wrap", "quantity": 1, "variant_id": 7},
        ],
    }
    body = json.dumps(payload).encode()
    hook = live_server.client()
    headers = {
        "X-Shopify-Shop-Domain": "hook-farm.myshopify.com",
        "X-Shopify-Topic": "orders/create",
        "Content-Type": "application/json",
    }
    first = await hook.post(
        "/api/v1/integrations/shopify/webhook",
        data=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": signed(body)},
    )
    assert first.status == 200 and first.json["status"] == "created", first.json
    again = await hook.post(
        "/api/v1/integrations/shopify/webhook",
        data=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": signed(body)},
    )
    assert again.json == {"status": "exists", "order_id": first.json["order_id"]}
    order = (await owner.api.get(f"/api/v1/orders/{first.json['order_id']}")).json
    assert order["source"] == "shopify" and order["external_id"] == "820982911946154508"
    assert order["customer_name"] == "Jon Snow" and order["shopify_order_number"] == "#1001"
    items = {i["sku"]: i for i in order["items"]}
    assert items["HOOK-R"]["product_sku_id"] == sku["id"] and items["HOOK-R"]["unit_price"] == 499
    assert "shopify-variant-7" in items
    assert (await owner.api.get("/api/v1/orders", params={"source": "shopify"})).json["total"] == 1

    for bad_headers, bad_body in (
        ({"X-Shopify-Hmac-Sha256": signed(body, "wrong-secret-xxxxxxxx")}, body),
        ({"X-Shopify-Hmac-Sha256": signed(body)}, body + b" "),  # body changed after signing
        ({}, body),
        (
            {"X-Shopify-Hmac-Sha256": signed(body), "X-Shopify-Shop-Domain": "evil.myshopify.com"},
            body,
        ),
    ):
        r = await hook.post(
            "/api/v1/integrations/shopify/webhook",
            data=bad_body,
            headers={**headers, **bad_headers},
        )
        assert (r.status, r.error_code) == (401, "invalid_signature")
    junk = b"{not json"
    r = await hook.post(
        "/api/v1/integrations/shopify/webhook",
        data=junk,
        headers={**headers, "X-Shopify-Hmac-Sha256": signed(junk)},
    )
    assert r.status == 400
    no_id = json.dumps({"line_items": []}).encode()
    r = await hook.post(
        "/api/v1/integrations/shopify/webhook",
        data=no_id,
        headers={**headers, "X-Shopify-Hmac-Sha256": signed(no_id)},
    )
    assert (r.status, r.json["error"]["field"]) == (422, "id")

    cancel = await hook.post(
        "/api/v1/integrations/shopify/webhook",
        data=body,
        headers={
            **headers,
            "X-Shopify-Topic": "orders/cancelled",
            "X-Shopify-Hmac-Sha256": signed(body),
        },
    )
    assert cancel.json["status"] == "exists"
    assert (await owner.api.get(f"/api/v1/orders/{first.json['order_id']}")).json[
        "status"
    ] == "cancelled"
    assert (await owner.api.get("/api/v1/orders")).json["total"] == 1
    assert "order.shopify_webhook" in audit_actions(owner.tenant_id)
    assert (await owner.api.delete("/api/v1/integrations/shopify")).status == 204
    r = await hook.post(
        "/api/v1/integrations/shopify/webhook",
        data=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": signed(body)},
    )
    assert r.status == 401


async def test_concurrent_webhook_deliveries_make_one_order(live_server):
    """Shopify retries and duplicate deliveries can arrive at once: still exactly one order."""
    import asyncio

    owner = await live_server.register()
    r = await owner.api.put(
        "/api/v1/integrations/shopify",
        json={"shop_domain": "race.myshopify.com", "webhook_secret": SECRET},
    )
    assert r.status == 200
    body = json.dumps(
        {"id": 5551234, "line_items": [{"sku": "A", "title": "A", "quantity": 1}]}
    ).encode()
    headers = {
        "X-Shopify-Shop-Domain": "race.myshopify.com",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": signed(body),
        "Content-Type": "application/json",
    }
    hook = live_server.client()
    results = await asyncio.gather(
        *(
            hook.post("/api/v1/integrations/shopify/webhook", data=body, headers=headers)
            for _ in range(8)
        )
    )
    assert all(r.status == 200 for r in results), [r.json for r in results]
    assert sorted(r.json["status"] for r in results) == ["created"] + ["exists"] * 7
    assert len({r.json["order_id"] for r in results}) == 1
    orders = await owner.api.get("/api/v1/orders")
    assert orders.json["total"] == 1
    order = await owner.api.get(f"/api/v1/orders/{results[0].json['order_id']}")
    assert len(order.json["items"]) == 1


async def test_concurrent_stock_adjustments_add_up(live_server):
    import asyncio

    owner = await live_server.register()
    product = (await owner.api.post("/api/v1/products", json={"name": "P"})).json
    sku = (
        await owner.api.post(
            "/api/v1/skus", json={"product_id": product["id"], "sku": "P-1", "color": "Red"}
        )
    ).json
    good = (
        await owner.api.post(
            "/api/v1/inventory", json={"product_sku_id": sku["id"], "current_stock": 10}
        )
    ).json
    path = f"/api/v1/inventory/{good['id']}/adjustments"
    results = await asyncio.gather(
        *(owner.api.post(path, json={"delta": -1, "reason": "sale"}) for _ in range(15))
    )
    statuses = sorted(r.status for r in results)
    # Ten sales succeed, five would take the stock below zero and are refused.
    assert statuses == [201] * 10 + [422] * 5, [r.json for r in results]
    final = await owner.api.get(f"/api/v1/inventory/{good['id']}")
    assert final.json["current_stock"] == 0
    ledger = await owner.api.get(path, params={"limit": "100"})
    assert ledger.json["total"] == 11  # initial stock + ten sales
    assert sorted(e["stock_after"] for e in ledger.json["items"]) == list(range(0, 11))


async def test_large_and_slow_webhook_bodies(sqlite_server):
    """A big order arriving in many TCP pieces is read whole; past 1 MiB it is refused."""
    import asyncio

    owner = await sqlite_server.register()
    await owner.api.put(
        "/api/v1/integrations/shopify",
        json={"shop_domain": "big.myshopify.com", "webhook_secret": SECRET},
    )
    lines = [{"sku": f"S-{i}", "title": "x" * 300, "quantity": 1} for i in range(400)]
    body = json.dumps({"id": 77, "line_items": lines}).encode()
    assert 100_000 < len(body) < 1024 * 1024

    async def trickle():
        for i in range(0, len(body), 7000):
            yield body[i : i + 7000]
            await asyncio.sleep(0)

    headers = {
        "X-Shopify-Shop-Domain": "big.myshopify.com",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": signed(body),
        "Content-Type": "application/json",
    }
    hook = sqlite_server.client()
    r = await hook.post("/api/v1/integrations/shopify/webhook", data=trickle(), headers=headers)
    assert (r.status, r.json["status"]) == (200, "created"), r.json
    order = await owner.api.get(f"/api/v1/orders/{r.json['order_id']}")
    assert len(order.json["items"]) == 400
    huge = b" " * (1024 * 1024 + 1)
    r = await hook.post(
        "/api/v1/integrations/shopify/webhook",
        data=huge,
        headers={**headers, "X-Shopify-Hmac-Sha256": signed(huge)},
    )
    assert r.status == 413
