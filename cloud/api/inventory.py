"""/api/v1/inventory: finished goods, their stock ledger (adjustments with reasons), low stock."""

from aiohttp import web

from cloud.api.operations import Call, OperationGroup, Param, register
from cloud.api.resource_routes import body_schema, declare_crud, list_query, row_schema
from cloud.api.schemas import obj, page_of
from cloud.services import inventory as service

ops = OperationGroup(
    tag="inventory", resource="finished_good", description="Finished goods and stock"
)

FINISHED_GOOD = row_schema(service.INVENTORY)
ADJUSTMENT = row_schema(service.ADJUSTMENTS)


@ops.post(
    "/api/v1/inventory/{id}/adjustments",
    role="operator",
    status=201,
    body=body_schema(service.ADJUSTMENT_FIELDS, partial=False),
    response=obj(
        {"finished_good": FINISHED_GOOD, "adjustment": ADJUSTMENT},
        required=("finished_good", "adjustment"),
    ),
    example={"delta": -2, "reason": "sale", "notes": "market stall"},
    action="finished_good.adjust_stock",
)
async def adjust_stock(call: Call):
    """Change stock by `delta` or to an absolute `new_stock`, with a reason (never below 0)."""
    result = await call.db(service.adjust_stock, call.ctx, call.params["id"], call.body)
    call.audit.details = {
        "delta": result["adjustment"]["delta"],
        "reason": result["adjustment"]["reason"],
        "stock_after": result["adjustment"]["stock_after"],
    }
    return result


@ops.get(
    "/api/v1/inventory/{id}/adjustments",
    role="viewer",
    query=list_query(service.ADJUSTMENTS),
    response=page_of(ADJUSTMENT),
)
async def list_stock_adjustments(call: Call):
    """The stock ledger of one finished good, newest first."""
    return await call.db(service.list_adjustments, call.ctx, call.params["id"], call.query)


declare_crud(
    ops,
    service.INVENTORY,
    "/api/v1/inventory",
    plural="finished_goods",
    singular="finished_good",
    list_fn=service.list_finished_goods,
    get_fn=service.get_finished_good,
    create_fn=service.create_finished_good,
    update_fn=service.update_finished_good,
    delete_fn=service.delete_finished_good,
    response=FINISHED_GOOD,
    example={
        "product_sku_id": "00000000-0000-0000-0000-000000000000",
        "current_stock": 12,
        "low_stock_threshold": 5,
    },
    update_example={"low_stock_threshold": 8},
    extra_query=[
        Param(
            "low_stock",
            {"type": "boolean"},
            "only active goods at or below their low-stock threshold (default sort: emptiest first)",
        )
    ],
)


def setup(app: web.Application) -> None:
    """Add the inventory routes."""
    register(app, ops)
