"""Orders (manual, API, Shopify) and their items; imports are idempotent by external id."""

import peewee

from cloud.errors import ApiError, conflict, not_found, validation_error
from cloud.models import Order, OrderItem, Product, ProductSku, now_ms
from cloud.models.integrations import OrderExternalRef
from cloud.queue.store import QueueStore
from cloud.services import crud
from cloud.services.fields import (
    choice,
    clean,
    integer,
    json_object,
    json_value,
    reference,
    text,
    timestamp,
)

ORDER_STATUSES = ("pending", "processing", "fulfilled", "cancelled")
ORDER_SOURCES = ("manual", "shopify", "woocommerce", "api")
# Allowed status changes; fulfilled and cancelled are final.
TRANSITIONS = {
    "pending": {"processing", "fulfilled", "cancelled"},
    "processing": {"pending", "fulfilled", "cancelled"},
    "fulfilled": set(),
    "cancelled": set(),
}
MAX_ITEMS = 500

ORDERS = crud.Resource(
    name="order",
    model=Order,
    fields={
        "external_id": text(100, create_only=True),
        "source": choice(*ORDER_SOURCES, create_only=True),
        "customer_name": text(200),
        "customer_email": text(320),
        "shipping_address": json_value(json_object),
        "status": choice(*ORDER_STATUSES),
        "priority": integer(-1000, 1000),
        "notes": text(5000),
        "shopify_order_number": text(100),
        "shopify_fulfillment_id": text(100),
        "order_date": timestamp(),
    },
    filters={
        "status": crud.Filter("status", "enum", ORDER_STATUSES),
        "source": crud.Filter("source", "enum", ORDER_SOURCES),
        "external_id": crud.Filter("external_id"),
    },
    search=("customer_name", "customer_email", "external_id", "shopify_order_number"),
    sortable=("created_at", "updated_at", "order_date", "priority", "status"),
    default_sort="-created_at",
)

ITEMS = crud.Resource(
    name="order item",
    model=OrderItem,
    fields={
        "product_sku_id": reference(ProductSku),
        "sku": text(100),
        "product_name": text(200),
        "quantity": integer(1, 1_000_000, required=True),
        "quantity_fulfilled": integer(0, 1_000_000, nullable=False),
        "unit_price": integer(0),
    },
    hidden=(),
)


def list_orders(ctx, params) -> dict:
    """One page of orders (filters: status, source, external_id, sku; q also matches item SKUs)."""
    params = dict(params)
    query = Order.scoped(ctx)
    sku = params.pop("sku", None)
    if sku is not None:
        query = query.where(Order.id.in_(_orders_with_item(OrderItem.sku == sku)))
    text_query = params.pop("q", None)
    if text_query:
        own = crud.search_clause(Order, ORDERS.search, text_query)
        by_sku = Order.id.in_(
            _orders_with_item(crud.search_clause(OrderItem, ("sku", "product_name"), text_query))
        )
        query = query.where(own | by_sku)
    return crud.list_rows(ctx, ORDERS, params, query=query)


def get_order(ctx, order_id) -> dict:
    """One order with its items."""
    return _order_out(ctx, crud.get_row(ctx, ORDERS, order_id))


def create_order(ctx, data) -> dict:
    """Create an order with `items` (each by product_sku_id, or by sku + product_name)."""
    if not isinstance(data, dict):
        raise validation_error(None, "the request body must be a JSON object")
    data = dict(data)
    items = data.pop("items", [])
    values = clean(ctx, data, ORDERS.fields, partial=False)
    item_values = _clean_items(ctx, items)
    if values.get("status") not in (None, "pending", "processing"):
        raise validation_error("status", "a new order starts as pending or processing")
    with crud.write_transaction():
        order = crud.create_row(ctx, ORDERS, values)
        _insert_items(order.id, item_values)
    return _order_out(ctx, order)


def import_order(
    ctx, source: str, external_id: str, values: dict, items: list
) -> tuple[dict, bool]:
    """Create an order from an external system once per (source, external id).

    Returns (order, created). A retry or a concurrent delivery of the same order gets the
    existing one: both meet on order_external_refs' primary key.
    """
    existing = _find_imported(ctx, source, external_id)
    if existing is not None:
        return _order_out(ctx, existing), False
    try:
        with crud.write_transaction():
            now = now_ms()
            order = Order.create_scoped(
                ctx, **values, source=source, external_id=external_id, created_at=now
            )
            OrderExternalRef.create_scoped(
                ctx, source=source, external_id=external_id, order_id=order.id, created_at=now
            )
            _insert_items(order.id, _clean_items(ctx, items))
    except peewee.IntegrityError:
        existing = _find_imported(ctx, source, external_id)
        if existing is None:
            raise
        return _order_out(ctx, existing), False
    return _order_out(ctx, Order.get_scoped(ctx, order.id)), True


def update_order(ctx, order_id, data) -> dict:
    """Change an order; status changes follow TRANSITIONS (fulfilled and cancelled are final)."""
    values = clean(ctx, data, ORDERS.fields, partial=True)
    with crud.write_transaction():
        order = crud.get_row(ctx, ORDERS, order_id)
        new_status = values.get("status")
        current = order.status or "pending"
        if new_status and new_status != current and new_status not in TRANSITIONS[current]:
            raise conflict("status", f"an order cannot go from {order.status} to {new_status}")
        order = crud.update_row(ctx, ORDERS, order.id, values)
        if new_status == "fulfilled" and current != "fulfilled":
            _enqueue_shop_fulfillment(order)
    return _order_out(ctx, order)


def _enqueue_shop_fulfillment(order) -> None:
    """Tell the shop an order it sent us is fulfilled (shopify-sync), in this transaction."""
    if order.source == "shopify" and order.external_id:
        QueueStore().enqueue(
            "shopify-sync",
            {"kind": "fulfill_order", "order_id": order.id},
            tenant_id=order.tenant_id,
            dedupe_key=f"shopify-fulfill:{order.id}",
        )


def delete_order(ctx, order_id) -> None:
    """Delete an order and its items."""
    crud.delete_row(ctx, ORDERS, order_id)


def add_item(ctx, order_id, data) -> dict:
    """Add one item to an order that is not final yet."""
    with crud.write_transaction():
        order = _open_order(ctx, order_id)
        (values,) = _clean_items(ctx, [data])
        item = _insert_items(order.id, [values])[0]
        Order.update_scoped(ctx).where(Order.id == order.id).execute()
    return crud.to_api(ITEMS, item)


def update_item(ctx, order_id, item_id, data) -> dict:
    """Change quantity, fulfilled quantity or price of an item."""
    values = clean(ctx, data, ITEMS.fields, partial=True)
    for locked in ("product_sku_id", "sku", "product_name"):
        if locked in values:
            raise validation_error(locked, f"'{locked}' cannot be changed; add a new item")
    with crud.write_transaction():
        order = _open_order(ctx, order_id)
        item = _item_of(order, item_id)
        merged_quantity = values.get("quantity", item.quantity)
        if (values.get("quantity_fulfilled", item.quantity_fulfilled) or 0) > merged_quantity:
            raise validation_error("quantity_fulfilled", "cannot exceed the item's quantity")
        if values:
            OrderItem.update(**values).where(OrderItem.id == item.id).execute()
            Order.update_scoped(ctx).where(Order.id == order.id).execute()
        return crud.to_api(ITEMS, OrderItem.get_by_id(item.id))


def delete_item(ctx, order_id, item_id) -> None:
    """Remove an item from an order that is not final yet."""
    with crud.write_transaction():
        order = _open_order(ctx, order_id)
        _item_of(order, item_id).delete_instance()
        Order.update_scoped(ctx).where(Order.id == order.id).execute()


def _orders_with_item(condition):
    return OrderItem.select(OrderItem.order_id).where(condition)


def _find_imported(ctx, source, external_id):
    ref = (
        OrderExternalRef.scoped(ctx)
        .where(OrderExternalRef.source == source, OrderExternalRef.external_id == external_id)
        .first()
    )
    return None if ref is None else Order.get_scoped(ctx, ref.order_id)


def _open_order(ctx, order_id):
    order = crud.get_row(ctx, ORDERS, order_id)
    if order.status in ("fulfilled", "cancelled"):
        raise conflict("status", f"the order is {order.status}; its items cannot change")
    return order


def _item_of(order, item_id):
    item = OrderItem.get_or_none(OrderItem.id == item_id, OrderItem.order_id == order.id)
    if item is None:
        raise not_found("order item", item_id)
    return item


def _clean_items(ctx, items) -> list[dict]:
    if not isinstance(items, list):
        raise validation_error("items", "'items' must be an array")
    if len(items) > MAX_ITEMS:
        raise validation_error("items", f"at most {MAX_ITEMS} items per order")
    cleaned = []
    for position, item in enumerate(items):
        try:
            values = clean(ctx, item, ITEMS.fields, partial=False)
        except ApiError as exc:  # name the field with its position in the array
            exc.field = f"items[{position}]" + (f".{exc.field}" if exc.field else "")
            raise
        if values.get("product_sku_id"):
            sku = ProductSku.get_scoped(ctx, values["product_sku_id"])
            values.setdefault("sku", sku.sku)
            values["sku"] = values["sku"] or sku.sku
            if not values.get("product_name"):
                product = Product.scoped(ctx).where(Product.id == sku.product_id).first()
                values["product_name"] = product.name if product else sku.sku
        for required in ("sku", "product_name"):
            if not values.get(required):
                raise validation_error(
                    f"items[{position}].{required}",
                    f"'{required}' is required when product_sku_id is not given",
                )
        cleaned.append(values)
    return cleaned


def _insert_items(order_id, items: list[dict]) -> list:
    now = now_ms()
    return [OrderItem.create(order_id=order_id, created_at=now, **values) for values in items]


def _order_out(ctx, order) -> dict:
    data = crud.to_api(ORDERS, order)
    items = (
        OrderItem.select()
        .where(OrderItem.order_id == order.id)
        .order_by(OrderItem.created_at, OrderItem.id)
    )
    data["items"] = [crud.to_api(ITEMS, item) for item in items]
    return data
