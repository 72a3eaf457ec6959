"""/api/v1/products: the product catalogue."""

from aiohttp import web

from cloud.api.operations import OperationGroup, register
from cloud.api.resource_routes import declare_crud
from cloud.services import products as service

ops = OperationGroup(tag="products", resource="product", description="Product catalogue")

declare_crud(
    ops,
    service.PRODUCTS,
    "/api/v1/products",
    plural="products",
    singular="product",
    list_fn=service.list_products,
    get_fn=service.get_product,
    create_fn=service.create_product,
    update_fn=service.update_product,
    delete_fn=service.delete_product,
    example={"name": "Cable hook", "category": "hooks", "requires_assembly": False},
    update_example={"description": "Holds three cables"},
)


def setup(app: web.Application) -> None:
    """Add the product routes."""
    register(app, ops)
