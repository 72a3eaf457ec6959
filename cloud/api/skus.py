"""/api/v1/skus: product SKUs (colour/material variants, unique SKU codes)."""

from aiohttp import web

from cloud.api.operations import OperationGroup, register
from cloud.api.resource_routes import declare_crud
from cloud.services import skus as service

ops = OperationGroup(tag="skus", resource="sku", description="Product SKUs")

declare_crud(
    ops,
    service.SKUS,
    "/api/v1/skus",
    plural="skus",
    singular="sku",
    list_fn=service.list_skus,
    get_fn=service.get_sku,
    create_fn=service.create_sku,
    update_fn=service.update_sku,
    delete_fn=service.delete_sku,
    example={
        "product_id": "00000000-0000-0000-0000-000000000000",
        "sku": "HOOK-RED",
        "color": "Red",
        "filament_type": "PLA",
        "hex_code": "#C12E1F",
        "price": 499,
    },
    update_example={"price": 549, "low_stock_threshold": 10},
)


def setup(app: web.Application) -> None:
    """Add the SKU routes."""
    register(app, ops)
