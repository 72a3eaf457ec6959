"""shopify-sync against a simulated Shopify over real HTTP, on a real queue (SQLite, PostgreSQL)."""

import pytest

from cloud.models import Order, OrderItem, WorklistTask, now_ms
from cloud.models.integrations import Integration
from cloud.models.shopify_sync import ShopifySyncState
from cloud.services import orders, shopify_api, shopify_sync
from tests.cloud import model_factories as f
from tests.cloud.workers.conftest import connect_shop, make_due, order_rule, queue_row


def shop_orders(h) -> list[Order]:
    return list(Order.scoped(h.ctx).where(Order.source == "shopify").order_by(Order.external_id))


async def test_first_pull_pages_through_open_orders_and_maps_skus(harness, monkeypatch):
    h = harness
    monkeypatch.setattr(shopify_api, "PAGE_LIMIT", 3)
    _, sku = f.product_with_sku(h.ctx, name="Widget", sku="WIDGET-RED")
    order_rule(h.ctx)
    for n in range(7):
        h.shop.add_order(
            [
                {"sku": "WIDGET-RED", "quantity": n + 1, "price": "12.50"},
                {"sku": "NOT-A-SKU", "quantity": 1, "price": "3.00"},
            ]
        )
    closed = h.shop.add_order([{"sku": "WIDGET-RED", "quantity": 1}], closed_at="2026-01-01")
    h.enqueue_import()

    assert await h.worker.drain() == 1

    listed = h.shop.calls_to("orders.json")
    assert [c.query.get("status") for c in listed] == ["open", None, None]
    assert "page_info" in listed[1].query and "page_info" in listed[2].query
    imported = shop_orders(h)
    assert len(imported) == 7 and str(closed["id"]) not in {o.external_id for o in imported}
    assert all(o.status == "pending" and o.shopify_order_number for o in imported)
    items = list(OrderItem.select().where(OrderItem.order_id.in_([o.id for o in imported])))
    assert len(items) == 14
    assert {i.sku: i.product_sku_id for i in items} == {"WIDGET-RED": sku.id, "NOT-A-SKU": None}
    assert sorted(i.quantity for i in items if i.sku == "WIDGET-RED") == [1, 2, 3, 4, 5, 6, 7]
    assert len(h.new_orders()) == 7
    assert {m["item_count"] for m in h.new_orders()} == {2}
    assert {t for t, _ in h.published} == {h.ctx.tenant_id}
    # order_received fired once per ordered line: 7 orders x 2 lines.
    tasks = list(WorklistTask.scoped(h.ctx))
    assert len(tasks) == 14
    assert any(t.title.startswith("Print 7 x WIDGET-RED for #") for t in tasks)
    state = shopify_sync.sync_state(h.ctx.tenant_id)
    highest = max(int(o.external_id) for o in imported)
    assert state["since_id"] == str(highest) and state["imported_count"] == 7
    assert state["last_import_at"] and state["last_error"] is None


async def test_later_pulls_continue_from_the_cursor(harness, monkeypatch):
    h = harness
    monkeypatch.setattr(shopify_api, "PAGE_LIMIT", 2)
    h.shop.add_order([{"sku": "A", "quantity": 1}])
    h.enqueue_import()
    await h.worker.drain()
    first = shopify_sync.sync_state(h.ctx.tenant_id)["since_id"]
    newer = [h.shop.add_order([{"sku": "B", "quantity": 2}]) for _ in range(5)]
    h.shop.cancel_order(newer[-1]["id"])
    h.shop.calls.clear()
    h.enqueue_import()

    await h.worker.drain()

    listed = h.shop.calls_to("orders.json")
    assert listed[0].query == {"limit": "2", "status": "any", "since_id": first}
    assert len(listed) == 3  # 5 new orders in pages of 2
    by_external = {o.external_id: o for o in shop_orders(h)}
    assert len(by_external) == 6
    assert by_external[str(newer[-1]["id"])].status == "cancelled"
    # Cancelled in the shop before we saw it: recorded, not announced.
    assert len(h.new_orders()) == 5
    assert shopify_sync.sync_state(h.ctx.tenant_id)["since_id"] == str(newer[-1]["id"])


async def test_redelivery_and_repeated_pulls_change_nothing(harness):
    h = harness
    order_rule(h.ctx)
    for _ in range(3):
        h.shop.add_order([{"sku": "A", "quantity": 1}])
    first = h.enqueue_import()
    await h.worker.drain()
    assert queue_row(first)["status"] == "done"
    before = (len(shop_orders(h)), len(h.published), WorklistTask.scoped(h.ctx).count())

    # The same message again (a consumer died before its ack), and a pull from scratch.
    h.enqueue_import()
    await h.worker.drain()
    Order.update_scoped(h.ctx, status="processing").execute()
    ShopifySyncState.delete_scoped(h.ctx).execute()
    h.enqueue_import()
    await h.worker.drain()

    assert (len(shop_orders(h)), len(h.published), WorklistTask.scoped(h.ctx).count()) == before
    assert before == (3, 3, 3)


async def test_rate_limit_defers_by_retry_after_then_imports(harness):
    h = harness
    h.shop.add_order([{"sku": "A", "quantity": 1}])
    h.shop.throttle(1, retry_after="7.5")
    message_id = h.enqueue_import()
    started = now_ms()

    await h.worker.drain()

    row = queue_row(message_id)
    assert row["status"] == "ready" and row["attempts"] == 1
    assert row["available_at"] >= started + 7_500
    assert "429" in row["last_error"] and "RetryLater" in row["last_error"]
    assert shop_orders(h) == []
    make_due(message_id)
    await h.worker.drain()
    assert queue_row(message_id)["status"] == "done" and len(shop_orders(h)) == 1


async def test_rate_limit_mid_pull_resumes_after_the_last_page(harness, monkeypatch):
    h = harness
    monkeypatch.setattr(shopify_api, "PAGE_LIMIT", 2)
    h.shop.add_order([{"sku": "A", "quantity": 1}])
    h.enqueue_import()
    await h.worker.drain()
    newer = [h.shop.add_order([{"sku": "A", "quantity": 1}]) for _ in range(5)]
    h.shop.throttle(1, after=1)  # page 2 of the next pull answers 429
    h.shop.calls.clear()
    message_id = h.enqueue_import()

    await h.worker.drain()

    assert queue_row(message_id)["status"] == "ready"
    assert len(shop_orders(h)) == 3  # page 1 is in, and the cursor with it
    assert shopify_sync.sync_state(h.ctx.tenant_id)["since_id"] == str(newer[1]["id"])
    make_due(message_id)
    h.shop.calls.clear()
    await h.worker.drain()
    assert h.shop.calls_to("orders.json")[0].query["since_id"] == str(newer[1]["id"])
    assert len(shop_orders(h)) == 6 and len(h.new_orders()) == 6


async def test_wrong_token_dead_letters_at_once_with_shopifys_reason(unconnected):
    h, shop = unconnected, unconnected.shop
    connect_shop(h.ctx, h.box, shop, token="shpat_revoked")
    message_id = h.enqueue_import()
    await h.worker.drain()

    row = queue_row(message_id)
    assert row["status"] == "dead" and row["attempts"] == 1
    assert "401" in row["last_error"] and "Invalid API key or access token" in row["last_error"]
    (dead,) = h.store.dead_letters("shopify-sync", tenant_id=h.ctx.tenant_id)
    assert dead.id == message_id
    state = shopify_sync.sync_state(h.ctx.tenant_id)
    assert "401" in state["last_error"] and state["import_blocked_at"]
    # The schedule stops pulling a shop that refuses us, until the operator reconnects it.
    assert shopify_sync.schedule_imports(300_000) == 0
    connect_shop(h.ctx, h.box, shop)
    Integration.update_scoped(h.ctx, updated_at=state["import_blocked_at"] + 1).execute()
    assert shopify_sync.schedule_imports(300_000) == 1
    assert await h.worker.drain() == 1
    state = shopify_sync.sync_state(h.ctx.tenant_id)
    assert state["import_blocked_at"] is None and state["last_import_at"]


async def test_server_errors_and_drops_are_retried_with_backoff(harness):
    h = harness
    h.shop.add_order([{"sku": "A", "quantity": 1}])
    h.shop.fail_next(503, "Service Unavailable")
    message_id = h.enqueue_import()
    await h.worker.drain()
    row = queue_row(message_id)
    assert row["status"] == "ready" and "503" in row["last_error"]
    assert "ShopifyUnavailable" in row["last_error"]
    await h.shop.stop()  # the shop is unreachable: connection refused, still transient
    make_due(message_id)
    await h.worker.drain()
    row = queue_row(message_id)
    assert row["status"] == "ready" and row["attempts"] == 2
    assert "ShopifyUnavailable" in row["last_error"]


async def test_connection_cut_mid_answer_is_retried(harness):
    h = harness
    h.shop.add_order([{"sku": "A", "quantity": 1}])
    h.shop.drop_next()
    message_id = h.enqueue_import()
    await h.worker.drain()
    row = queue_row(message_id)
    assert row["status"] == "ready" and "ShopifyUnavailable" in row["last_error"]
    assert shop_orders(h) == []
    make_due(message_id)
    await h.worker.drain()
    assert queue_row(message_id)["status"] == "done" and len(shop_orders(h)) == 1


async def test_malformed_answers_retry_and_unusable_orders_are_skipped(harness):
    h = harness
    good = h.shop.add_order([{"sku": "A", "quantity": 1}])
    bad = h.shop.add_order([{"sku": "A", "quantity": 0}])  # Shopify would never, but guard
    h.shop.fail_next(200, "not an order list")
    message_id = h.enqueue_import()
    await h.worker.drain()
    assert "no 'orders' array" in queue_row(message_id)["last_error"]
    make_due(message_id)
    await h.worker.drain()
    assert queue_row(message_id)["status"] == "done"
    assert [o.external_id for o in shop_orders(h)] == [str(good["id"])]
    error = shopify_sync.sync_state(h.ctx.tenant_id)["last_error"]
    assert f"Shopify order {bad['id']} skipped" in error and "quantity" in error


async def test_unknown_kind_and_missing_tenant_dead_letter(harness):
    h = harness
    bad_kind = h.store.enqueue("shopify-sync", {"kind": "sync_products"}, tenant_id=h.ctx.tenant_id)
    no_tenant = h.store.enqueue("shopify-sync", {"kind": "import_orders"})
    await h.worker.drain()
    assert queue_row(bad_kind)["status"] == "dead"
    assert "sync_products" in queue_row(bad_kind)["last_error"]
    assert queue_row(no_tenant)["status"] == "dead"


async def test_tenant_without_token_skips_the_pull(unconnected):
    h = unconnected
    connect_shop(h.ctx, h.box, h.shop, token="")
    message_id = h.enqueue_import()
    await h.worker.drain()
    assert queue_row(message_id)["status"] == "done" and h.shop.calls == []


async def test_schedule_enqueues_one_pull_per_tenant_and_interval(harness):
    h = harness
    assert shopify_sync.schedule_imports(300_000, now=1_000_000) == 1
    assert shopify_sync.schedule_imports(300_000, now=1_100_000) == 0  # same interval
    assert shopify_sync.schedule_imports(300_000, now=1_300_000) == 1
    assert await h.worker.drain() == 2


# --- fulfillment --------------------------------------------------------------------------------


async def _imported_order(h, lines=2):
    shop_order = h.shop.add_order([{"sku": f"SKU-{n}", "quantity": n + 1} for n in range(lines)])
    h.enqueue_import()
    await h.worker.drain()
    (order,) = [o for o in shop_orders(h) if o.external_id == str(shop_order["id"])]
    return shop_order, order


async def test_fulfilled_order_is_fulfilled_in_shopify_once(harness):
    h = harness
    shop_order, order = await _imported_order(h)
    orders.update_order(h.ctx, order.id, {"status": "fulfilled"})  # enqueues fulfill_order
    orders.update_order(h.ctx, order.id, {"notes": "shipped"})  # no second message

    assert await h.worker.drain() == 1

    (fulfillment,) = h.shop.fulfillments.values()
    assert fulfillment["order_id"] == shop_order["id"]
    assert sorted(li["quantity"] for li in fulfillment["line_items"]) == [1, 2]
    assert h.shop.orders[shop_order["id"]]["fulfillment_status"] == "fulfilled"
    (fulfillment_order,) = h.shop.fulfillment_orders.values()
    assert fulfillment_order["status"] == "closed"
    row = Order.get_scoped(h.ctx, order.id)
    assert row.shopify_fulfillment_id == str(fulfillment["id"]) and row.last_synced_at

    # Redelivered: recorded already, Shopify is not called.
    h.shop.calls.clear()
    h.store.enqueue(
        "shopify-sync", {"kind": "fulfill_order", "order_id": order.id}, tenant_id=h.ctx.tenant_id
    )
    await h.worker.drain()
    assert h.shop.calls == []


async def test_fulfillment_after_a_crash_finds_the_one_already_made(harness):
    h = harness
    _, order = await _imported_order(h, lines=1)
    orders.update_order(h.ctx, order.id, {"status": "fulfilled"})
    await h.worker.drain()
    (made,) = h.shop.fulfillments
    # The id never reached our database (crash between Shopify's 201 and our commit).
    Order.update_scoped(h.ctx, shopify_fulfillment_id=None).where(Order.id == order.id).execute()
    h.store.enqueue(
        "shopify-sync", {"kind": "fulfill_order", "order_id": order.id}, tenant_id=h.ctx.tenant_id
    )

    await h.worker.drain()

    assert len(h.shop.fulfillments) == 1 and h.shop.calls_to("fulfillments.json", "POST")
    assert len(h.shop.calls_to("fulfillments.json", "POST")) == 1
    assert Order.get_scoped(h.ctx, order.id).shopify_fulfillment_id == str(made)


async def test_fulfillment_rate_limited_then_done(harness):
    h = harness
    _, order = await _imported_order(h, lines=1)
    orders.update_order(h.ctx, order.id, {"status": "fulfilled"})
    h.shop.throttle(1, after=1, retry_after="3")  # the POST answers 429
    await h.worker.drain()
    (message,) = h.store._execute(
        "SELECT id FROM queue_messages WHERE payload LIKE %s", ("%fulfill_order%",)
    ).fetchall()
    assert queue_row(message[0])["status"] == "ready" and not h.shop.fulfillments
    make_due(message[0])
    await h.worker.drain()
    assert len(h.shop.fulfillments) == 1 and queue_row(message[0])["status"] == "done"


async def test_unfulfillable_order_dead_letters_with_the_reason(harness):
    h = harness
    shop_order, order = await _imported_order(h, lines=1)
    h.shop.cancel_order(shop_order["id"])  # staff cancelled it in Shopify meanwhile
    orders.update_order(h.ctx, order.id, {"status": "fulfilled"})
    await h.worker.drain()
    (dead,) = h.store.dead_letters("shopify-sync")
    assert dead.payload == {"kind": "fulfill_order", "order_id": order.id}
    assert dead.attempts == 1 and "nothing to fulfil" in dead.last_error
    assert "cancelled" in dead.last_error
    assert "nothing to fulfil" in shopify_sync.sync_state(h.ctx.tenant_id)["last_error"]


async def test_shopify_422_on_fulfillment_dead_letters(harness):
    h = harness
    _, order = await _imported_order(h, lines=1)
    orders.update_order(h.ctx, order.id, {"status": "fulfilled"})
    h.shop.fail_next(422, {"base": ["Location is inactive"]})
    await h.worker.drain()
    (dead,) = h.store.dead_letters("shopify-sync")
    assert "422" in dead.last_error and "Location is inactive" in dead.last_error


async def test_manual_orders_are_not_sent_to_shopify(harness):
    h = harness
    manual = orders.create_order(
        h.ctx,
        {"customer_name": "Walk-in", "items": [{"sku": "A", "product_name": "A", "quantity": 1}]},
    )
    orders.update_order(h.ctx, manual["id"], {"status": "fulfilled"})
    assert await h.worker.drain() == 0
    assert h.shop.calls == []


@pytest.mark.parametrize(
    "header, expected",
    [("2.0", 2000), ("0.5", 500), (None, 2000), ("soon", 2000), ("1e9", 600_000)],
)
def test_retry_after_parsing(header, expected):
    assert shopify_api.retry_after_ms(header) == expected


def test_sync_state_model_matches_its_table(any_db):
    from cloud.db.introspect import schema_of
    from cloud.models.shopify_sync import ShopifySyncState

    table = schema_of(any_db)["shopify_sync_state"]
    fields = ShopifySyncState._meta.columns
    assert set(fields) == set(table["columns"])
    for name, field in fields.items():
        if name not in table["primary_key"]:
            assert field.null == (not table["columns"][name]["not_null"]), name
