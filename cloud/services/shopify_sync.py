"""shopify-sync: pull a shop's orders into PrintFarm (once each) and report fulfillments back.

Database steps are plain functions for the DB pool; `import_orders` and `fulfill_order` are the
async flows the queue consumer runs. Every step is idempotent, because messages are delivered
at least once: orders meet on their Shopify id, announcements (the `new_order` dashboard
message and the `order_received` automation trigger) on the effects ledger, fulfillments on
the order's `shopify_fulfillment_id` and on Shopify's own record of the order's fulfillments.
"""

import logging
from collections.abc import Awaitable, Callable

import peewee

from cloud.db import database_proxy
from cloud.errors import ApiError
from cloud.models import Order, RecordNotFound, TenantContext, now_ms, system_access
from cloud.models.integrations import Integration
from cloud.models.shopify_sync import ShopifySyncState
from cloud.queue.store import QueueStore
from cloud.services import automation, integrations, orders
from cloud.services.crud import write_transaction
from cloud.services.effects import claim_effect
from cloud.services.shopify_api import ShopifyClient, ShopifyRejected

log = logging.getLogger("cloud.shopify_sync")

QUEUE = "shopify-sync"
REQUEST_WINDOW_MS = 60_000  # "sync now" clicks within a minute queue one pull
WEBHOOK_PULL_INTERVAL_MS = 60_000  # a webhook triggers a catch-up pull at most this often
OPEN_ORDER_STATUSES = ("pending", "processing")  # orders the farm still has to make
FULFILLABLE = ("open", "in_progress")  # fulfillment order statuses that accept a fulfillment

RunDb = Callable[..., Awaitable]


def default_api_base(shop_domain: str) -> str:
    """Where a shop's Admin API answers."""
    return f"https://{shop_domain}"


# --- credentials and sync state (DB pool) ------------------------------------------------------


def sync_cursor(tenant_id: str, shop_domain: str) -> int | None:
    """The highest Shopify order id a pull imported from this shop, None before the first."""
    row = ShopifySyncState.scoped(TenantContext(tenant_id=tenant_id)).first()
    if row is None or row.shop_domain != shop_domain or not row.since_id:
        return None
    return int(row.since_id)


def save_progress(
    tenant_id: str, shop_domain: str, since_id: int | None, imported: int, finished: bool
) -> None:
    """Advance the cursor (never backwards: two pulls may race) and count imports."""
    ctx = TenantContext(tenant_id=tenant_id)
    now = now_ms()
    with write_transaction():
        row = _state_row(ctx, shop_domain)
        values = {"imported_count": (row.imported_count or 0) + imported}
        current = int(row.since_id) if row.since_id else None
        if since_id is not None and (current is None or since_id > current):
            values["since_id"] = str(since_id)
        if finished:
            values.update(
                last_import_at=now, last_error=None, last_error_at=None, import_blocked_at=None
            )
        ShopifySyncState.update_scoped(ctx, **values).execute()


def record_error(tenant_id: str, shop_domain: str, error: str, block_imports=False) -> None:
    """Keep the last failure where operators look (the integration's sync state); with
    `block_imports` the schedule stops pulling until the integration is saved again."""
    ctx = TenantContext(tenant_id=tenant_id)
    now = now_ms()
    values = {"last_error": error[:2000], "last_error_at": now}
    if block_imports:
        values["import_blocked_at"] = now
    with write_transaction():
        _state_row(ctx, shop_domain, keep_cursor=True)
        ShopifySyncState.update_scoped(ctx, **values).execute()


def pulled_since(tenant_id: str, since_ms: int) -> bool:
    """Whether a pull finished after `since_ms` (webhook bursts then skip the catch-up pull)."""
    row = ShopifySyncState.scoped(TenantContext(tenant_id=tenant_id)).first()
    return row is not None and (row.last_import_at or 0) > since_ms


def sync_state(tenant_id: str) -> dict | None:
    """The tenant's sync state as JSON-ready values, None before the first sync."""
    row = ShopifySyncState.scoped(TenantContext(tenant_id=tenant_id)).first()
    if row is None:
        return None
    return {k: v for k, v in row.to_dict().items() if k != "tenant_id"}


def _state_row(ctx: TenantContext, shop_domain: str, keep_cursor=False) -> ShopifySyncState:
    """The state row, created on first use; a different shop resets the cursor."""
    row = ShopifySyncState.scoped(ctx).first()
    if row is None:
        try:
            with database_proxy.atomic():  # savepoint: a racing creator wins, we reuse its row
                ShopifySyncState.create_scoped(ctx, shop_domain=shop_domain, imported_count=0)
        except peewee.IntegrityError:
            pass
        row = ShopifySyncState.scoped(ctx).first()
    elif row.shop_domain != shop_domain and not keep_cursor:
        ShopifySyncState.update_scoped(ctx, shop_domain=shop_domain, since_id=None).execute()
        row = ShopifySyncState.scoped(ctx).first()
    return row


def request_import(tenant_id: str) -> dict:
    """An operator's "sync now": one pull message (requests within a minute share it)."""
    message_id = QueueStore().enqueue(
        QUEUE,
        {"kind": "import_orders", "tenant_id": tenant_id},
        tenant_id=tenant_id,
        dedupe_key=f"shopify-pull-now:{tenant_id}:{now_ms() // REQUEST_WINDOW_MS}",
    )
    return {"status": "queued", "already_queued": message_id is None}


def schedule_imports(every_ms: int, now: int | None = None) -> int:
    """Enqueue one `import_orders` per active Shopify integration for the current interval;
    safe to call from every process (the dedupe key admits one per tenant and interval)."""
    slot = (now or now_ms()) // every_ms
    with system_access():
        blocked = {
            row.tenant_id: row.import_blocked_at
            for row in ShopifySyncState.select().where(
                ShopifySyncState.import_blocked_at.is_null(False)
            )
        }
        tenants = [
            row.tenant_id
            for row in Integration.select(Integration.tenant_id, Integration.updated_at).where(
                Integration.provider == "shopify",
                Integration.is_active == True,  # noqa: E712 - peewee expression
            )
            # A refused pull would only be refused again: wait for the operator to reconnect.
            if blocked.get(row.tenant_id, -1) < row.updated_at
        ]
    store, queued = QueueStore(), 0
    for tenant_id in tenants:
        queued += (
            store.enqueue(
                QUEUE,
                {"kind": "import_orders", "tenant_id": tenant_id},
                tenant_id=tenant_id,
                dedupe_key=f"shopify-pull:{tenant_id}:{every_ms}:{slot}",
            )
            is not None
        )
    return queued


# --- importing (DB pool) ---------------------------------------------------------------------


def import_page(tenant_id: str, shop_orders: list[dict]) -> tuple[list[dict], int, list[str]]:
    """Import a page of Shopify orders, each in its own transaction with its announcement.

    Returns (announcements, how many orders were new, skipped). An order that cannot be
    mapped (no id, bad quantities) is skipped and reported: it must not block the rest forever.
    """
    ctx = TenantContext(tenant_id=tenant_id)
    announcements, created_count, skipped = [], 0, []
    for payload in shop_orders:
        try:
            with write_transaction():
                order, created = integrations.import_shopify_payload(ctx, payload)
                announcement = _announce(ctx, order)
        except ApiError as exc:
            log.warning(
                "tenant %s: Shopify order %s skipped: %s", tenant_id, payload.get("id"), exc
            )
            skipped.append(f"Shopify order {payload.get('id')} skipped: {exc.field}: {exc}")
            continue
        created_count += created
        if announcement is not None:
            announcements.append(announcement)
    return announcements, created_count, skipped


def announce_order(tenant_id: str, order_id: str) -> dict | None:
    """Announce one order (from a webhook) unless that already happened; None if nothing to do."""
    ctx = TenantContext(tenant_id=tenant_id)
    with write_transaction():
        try:
            order = orders.get_order(ctx, order_id)
        except (ApiError, RecordNotFound):  # deleted since the webhook: nothing to announce
            return None
        return _announce(ctx, order)


def _announce(ctx: TenantContext, order: dict) -> dict | None:
    """Inside the import's transaction: once per order, the dashboard message and one
    `order_received` automation event per line (so `sku_ids` filters and `{sku_id}` in a
    queue_job action see every ordered SKU). Orders already closed are not announced."""
    if order["status"] not in OPEN_ORDER_STATUSES:
        return None
    if not claim_effect(f"shopify:announce:{order['id']}", ctx.tenant_id):
        return None
    items = order.get("items") or [{}]
    requests = []
    for index, item in enumerate(items):
        event = {
            "trigger": "order_received",
            "event_key": f"order_received:{order['id']}:{index}",
            "order_id": order["id"],
            "source": order.get("source"),
            "external_id": order.get("external_id"),
            "order_number": order.get("shopify_order_number"),
            "customer_name": order.get("customer_name"),
            "customer_email": order.get("customer_email"),
            "item_count": len(order.get("items") or []),
            "line_index": index,
            "sku": item.get("sku"),
            "sku_id": item.get("product_sku_id"),
            "product_name": item.get("product_name"),
            "quantity": item.get("quantity"),
        }
        requests.extend(automation.fire(ctx.tenant_id, "order_received", event))
    message = {
        "type": "new_order",
        "order_id": order["id"],
        "source": order.get("source"),
        "item_count": len(order.get("items") or []),
    }
    return {"tenant_id": ctx.tenant_id, "message": message, "requests": requests}


# --- fulfillment (DB pool) ---------------------------------------------------------------------


def fulfillment_target(tenant_id: str, order_id: str) -> dict | None:
    """What fulfilling needs to know of an order; None when there is nothing to tell Shopify."""
    row = Order.scoped(TenantContext(tenant_id=tenant_id)).where(Order.id == order_id).first()
    if row is None or row.source != "shopify" or not row.external_id:
        return None
    return {
        "tenant_id": tenant_id,
        "order_id": row.id,
        "external_id": row.external_id,
        "status": row.status,
        "shopify_fulfillment_id": row.shopify_fulfillment_id,
    }


def record_fulfillment(tenant_id: str, order_id: str, fulfillment_id: str) -> None:
    """Store Shopify's fulfillment id on the order."""
    Order.update_scoped(
        TenantContext(tenant_id=tenant_id),
        shopify_fulfillment_id=str(fulfillment_id)[:100],
        last_synced_at=now_ms(),
    ).where(Order.id == order_id).execute()


# --- the flows (event loop) ----------------------------------------------------------------------


async def import_orders(
    run_db: RunDb,
    client: ShopifyClient,
    tenant_id: str,
    shop: str,
    announce: Callable[[list[dict]], Awaitable[None]],
) -> dict:
    """Pull the shop's orders since the cursor (open orders on the first pull), page by page,
    handing each page's announcements to `announce` once committed; returns counts."""
    since_id = await run_db(sync_cursor, tenant_id, shop)
    params = {"status": "open"} if since_id is None else {"status": "any", "since_id": since_id}
    skipped, created, pages, highest = [], 0, 0, since_id
    async for page in client.order_pages(params):
        pages += 1
        ids = [o["id"] for o in page if isinstance(o.get("id"), int)]
        page_announcements, page_created, page_skipped = await run_db(import_page, tenant_id, page)
        await announce(page_announcements)
        skipped.extend(page_skipped)
        created += page_created
        if ids:
            highest = max([*ids, highest or 0])
        if since_id is not None:  # ascending pages: keep progress, a 429 later resumes here
            await run_db(save_progress, tenant_id, shop, highest, page_created, False)
    # The first pull lists newest first, so its cursor is only known at the end.
    first_pull_count = created if since_id is None else 0
    await run_db(save_progress, tenant_id, shop, highest, first_pull_count, True)
    if skipped:
        await run_db(record_error, tenant_id, shop, "; ".join(skipped))
    return {"created": created, "pages": pages, "skipped": skipped}


async def fulfill_order(run_db: RunDb, client: ShopifyClient, target: dict) -> str:
    """Create the Shopify fulfillment of every remaining unit; returns its id (existing or new)."""
    shop_order_id = target["external_id"]
    fulfillment_orders = await client.fulfillment_orders(shop_order_id)
    open_ids = [
        fo["id"]
        for fo in fulfillment_orders
        if fo.get("status") in FULFILLABLE
        and "create_fulfillment" in (fo.get("supported_actions") or ["create_fulfillment"])
    ]
    if open_ids:
        fulfillment = await client.create_fulfillment(open_ids)
        fulfillment_id = str(fulfillment["id"])
    else:
        # Nothing left to fulfil: we may have created it before a crash, or staff did in Shopify.
        existing = await client.fulfillments(shop_order_id)
        if not existing:
            statuses = sorted({str(fo.get("status")) for fo in fulfillment_orders}) or ["none"]
            raise ShopifyRejected(
                f"Shopify order {shop_order_id} has nothing to fulfil "
                f"(fulfillment orders: {', '.join(statuses)})",
                422,
            )
        fulfillment_id = str(existing[-1]["id"])
    await run_db(record_fulfillment, target["tenant_id"], target["order_id"], fulfillment_id)
    return fulfillment_id
