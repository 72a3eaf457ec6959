"""/api/v1/colors: colour presets."""

from aiohttp import web

from cloud.api.operations import OperationGroup, register
from cloud.api.resource_routes import declare_crud
from cloud.services import colors as service

ops = OperationGroup(tag="colors", resource="color_preset", description="Colour presets")

declare_crud(
    ops,
    service.COLORS,
    "/api/v1/colors",
    plural="colors",
    singular="color",
    list_fn=service.list_colors,
    get_fn=service.get_color,
    create_fn=service.create_color,
    update_fn=service.update_color,
    delete_fn=service.delete_color,
    example={"color_name": "Jade White", "hex_code": "#F2F2EC", "filament_type": "PLA"},
    update_example={"is_active": False},
)


def setup(app: web.Application) -> None:
    """Add the colour preset routes."""
    register(app, ops)
