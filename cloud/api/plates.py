"""/api/v1/plates: build plate types."""

from aiohttp import web

from cloud.api.operations import OperationGroup, register
from cloud.api.resource_routes import declare_crud
from cloud.services import plates as service

ops = OperationGroup(tag="plates", resource="build_plate_type", description="Build plate types")

declare_crud(
    ops,
    service.PLATES,
    "/api/v1/plates",
    plural="plates",
    singular="plate",
    list_fn=service.list_plates,
    get_fn=service.get_plate,
    create_fn=service.create_plate,
    update_fn=service.update_plate,
    delete_fn=service.delete_plate,
    example={"name": "Textured PEI Plate", "description": "Default for PLA/PETG"},
    update_example={"is_active": False},
)


def setup(app: web.Application) -> None:
    """Add the build plate type routes."""
    register(app, ops)
