"""Colour presets (colour name + hex + filament type) staff pick from."""

from cloud.models import ColorPreset
from cloud.services import crud
from cloud.services.fields import clean, color, flag, text

COLORS = crud.Resource(
    name="color preset",
    model=ColorPreset,
    fields={
        "color_name": text(100, required=True),
        "hex_code": color(required=True),
        "filament_type": text(50, required=True),
        "is_active": flag(),
    },
    unique=(("color_name", "filament_type"),),
    filters={
        "filament_type": crud.Filter("filament_type"),
        "is_active": crud.Filter("is_active", "bool"),
    },
    search=("color_name",),
    sortable=("color_name", "filament_type", "created_at"),
    default_sort="color_name",
)


def list_colors(ctx, params) -> dict:
    """One page of colour presets."""
    return crud.list_rows(ctx, COLORS, params)


def get_color(ctx, color_id) -> dict:
    """One colour preset."""
    return crud.to_api(COLORS, crud.get_row(ctx, COLORS, color_id))


def create_color(ctx, data) -> dict:
    """Create a colour preset (unique per name + filament type)."""
    values = clean(ctx, data, COLORS.fields, partial=False)
    return crud.to_api(COLORS, crud.create_row(ctx, COLORS, values))


def update_color(ctx, color_id, data) -> dict:
    """Change a colour preset."""
    values = clean(ctx, data, COLORS.fields, partial=True)
    return crud.to_api(COLORS, crud.update_row(ctx, COLORS, color_id, values))


def delete_color(ctx, color_id) -> None:
    """Delete a colour preset."""
    crud.delete_row(ctx, COLORS, color_id)
