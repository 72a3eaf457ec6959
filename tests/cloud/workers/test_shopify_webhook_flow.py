"""Webhook -> queue -> import on the live cloud: one order per Shopify order, however delivered."""

import asyncio
import functools
import json

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
            # A second order right after: announced; no second catch-up pull within a minute.
            pulls = len(shop.calls_to("orders.json"))
            later = shop.add_order([{"sku": "WIDGET-BLUE", "quantity": 1}])
            status, body = await shop.send_webhook(url, "orders/create", later, WEBHOOK_SECRET)
            assert (status, body["status"]) == (200, "created")
            assert await worker.drain() == 1
            assert len(shop.calls_to("orders.json")) == pulls
        finally:
            await handler.close()

    ctx = TenantContext(tenant_id=owner.tenant_id)

    def imported():
        return sorted(o.external_id for o in Order.scoped(ctx).where(Order.source == "shopify"))

    externals = await run_db(server.app, imported)
    # The webhook's order and the two seeded ones the pull found; none twice.
    assert externals == sorted(str(i) for i in shop.orders)
    announced = [m["order_id"] for _, m in published if m["type"] == "new_order"]
    assert len(announced) == 4 and len(set(announced)) == 4
    assert first[1]["order_id"] in announced
    assert {t for t, _ in published} == {owner.tenant_id}
    # The operator sees the webhook's order through the API, with its items.
    r = await owner.api.get(f"/api/v1/orders/{first[1]['order_id']}")
    assert r.status == 200 and r.json["items"][0]["quantity"] == 3


async def test_concurrent_pulls_of_one_shop_import_each_order_once(live_server):
    """Two consumers (the DB pool's threads) pull the same shop at once: every order and every
    announcement exists once, on SQLite's single writer and under PostgreSQL's concurrency."""
    server = live_server
    owner = await server.register()
    published = []

    async def publish(tenant_id, message):
        published.append(message["order_id"])

    db = functools.partial(run_db, server.app)
    async with SimulatedShopify(seed_orders=12) as shop:
        r = await owner.api.put(
            "/api/v1/integrations/shopify",
            json={
                "shop_domain": shop.shop_domain,
                "webhook_secret": WEBHOOK_SECRET,
                "access_token": shop.access_token,
            },
        )
        assert r.status == 200, r.json
        handlers = [
            make_handler(
                db,
                aiohttp.ClientSession,
                server.app[SECRETBOX],
                publish,
                api_base=lambda domain: shop.base_url,
            )
            for _ in range(2)
        ]
        workers = [QueueWorker("shopify-sync", h, run_db=db, batch=1) for h in handlers]
        store = QueueStore()
        for _ in range(4):
            await db(
                store.enqueue,
                "shopify-sync",
                {"kind": "import_orders", "tenant_id": owner.tenant_id},
                tenant_id=owner.tenant_id,
            )
        try:
            handled = await asyncio.gather(*(w.drain() for w in workers))
        finally:
            for handler in handlers:
                await handler.close()
    assert sum(handled) == 4

    ctx = TenantContext(tenant_id=owner.tenant_id)

    def imported():
        return sorted(o.external_id for o in Order.scoped(ctx).where(Order.source == "shopify"))

    assert await db(imported) == sorted(str(i) for i in shop.orders)
    assert len(published) == 12 and len(set(published)) == 12


async def test_sync_now_and_sync_state_through_the_api(live_server):
    server = live_server
    owner = await server.register()
    viewer = await server.member_of(owner, "viewer")
    stranger = await server.register()
    db = functools.partial(run_db, server.app)

    async with SimulatedShopify(seed_orders=3, access_token="shpat_sync_now_token") as shop:
        r = await owner.api.put(
            "/api/v1/integrations/shopify",
            json={
                "shop_domain": shop.shop_domain,
                "webhook_secret": WEBHOOK_SECRET,
                "access_token": shop.access_token,
            },
        )
        assert r.status == 200, r.json
        r = await viewer.api.get("/api/v1/integrations/shopify")
        assert r.status == 200 and r.json["sync"] is None
        assert (await viewer.api.post("/api/v1/integrations/shopify/sync")).status == 403
        assert (await stranger.api.post("/api/v1/integrations/shopify/sync")).status == 404
        r = await owner.api.post("/api/v1/integrations/shopify/sync")
        assert r.status == 202 and r.json == {"status": "queued", "already_queued": False}
        r = await owner.api.post("/api/v1/integrations/shopify/sync")
        assert r.json["already_queued"] is True

        async def publish(tenant_id, message):
            pass

        handler = make_handler(
            db,
            aiohttp.ClientSession,
            server.app[SECRETBOX],
            publish,
            api_base=lambda domain: shop.base_url,
        )
        try:
            assert await QueueWorker("shopify-sync", handler, run_db=db).drain() == 1
        finally:
            await handler.close()

    r = await viewer.api.get("/api/v1/integrations/shopify")
    sync = r.json["sync"]
    assert sync["imported_count"] == 3 and sync["last_import_at"] and sync["last_error"] is None
    assert sync["since_id"] == str(max(shop.orders))
    assert "shpat_sync_now_token" not in json.dumps(r.json)
