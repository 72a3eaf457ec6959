"""/api/v1/orders: orders and their items."""

from aiohttp import web

from cloud.api.operations import Call, OperationGroup, Param, register
from cloud.api.resource_routes import body_schema, declare_crud, row_schema
from cloud.services import orders as service

ops = OperationGroup(tag="orders", resource="order", description="Orders and order items")

ITEM = row_schema(service.ITEMS)
ORDER = row_schema(service.ORDERS, extra={"items": {"type": "array", "items": ITEM}})
ITEM_CREATE = body_schema(service.ITEMS.fields, partial=False)
ORDER_CREATE = body_schema(
    service.ORDERS.fields,
    partial=False,
    extra={"items": {"type": "array", "maxItems": service.MAX_ITEMS, "items": ITEM_CREATE}},
)

declare_crud(
    ops,
    service.ORDERS,
    "/api/v1/orders",
    plural="orders",
    singular="order",
    list_fn=service.list_orders,
    get_fn=service.get_order,
    create_fn=service.create_order,
    update_fn=service.update_order,
    delete_fn=service.delete_order,
    response=ORDER,
    create_body=ORDER_CREATE,
    extra_query=[
        Param("sku", {"type": "string", "maxLength": 100}, "orders with an item of this SKU")
    ],
    example={
        "customer_name": "Ada Lovelace",
        "customer_email": "ada@example.com",
        "items": [{"sku": "HOOK-RED", "product_name": "Cable hook", "quantity": 4}],
    },
    update_example={"status": "processing"},
)


@ops.post(
    "/api/v1/orders/{id}/items",
    role="operator",
    status=201,
    body=ITEM_CREATE,
    response=ITEM,
    example={"sku": "HOOK-RED", "product_name": "Cable hook", "quantity": 2},
    action="order.add_item",
)
async def add_order_item(call: Call):
    """Add an item to an order that is not fulfilled or cancelled."""
    item = await call.db(service.add_item, call.ctx, call.params["id"], call.body)
    call.audit.details = {"item_id": item["id"], "sku": item["sku"]}
    return item


@ops.patch(
    "/api/v1/orders/{id}/items/{item_id}",
    role="operator",
    body=body_schema(
        {
            k: v
            for k, v in service.ITEMS.fields.items()
            if k in ("quantity", "quantity_fulfilled", "unit_price")
        },
        partial=True,
    ),
    response=ITEM,
    example={"quantity_fulfilled": 2},
    action="order.update_item",
)
async def update_order_item(call: Call):
    """Change an item's quantity, fulfilled quantity or unit price."""
    call.audit.details = {"item_id": call.params["item_id"], "fields": sorted(call.body)}
    return await call.db(
        service.update_item, call.ctx, call.params["id"], call.params["item_id"], call.body
    )


@ops.delete("/api/v1/orders/{id}/items/{item_id}", role="operator", action="order.delete_item")
async def delete_order_item(call: Call):
    """Remove an item from an order that is not final."""
    call.audit.details = {"item_id": call.params["item_id"]}
    await call.db(service.delete_item, call.ctx, call.params["id"], call.params["item_id"])


def setup(app: web.Application) -> None:
    """Add the order routes."""
    register(app, ops)
