"""Build plate types (Textured PEI, Cool Plate, ...) a farm owns."""

from cloud.models import BuildPlateType
from cloud.services import crud
from cloud.services.fields import clean, flag, text

PLATES = crud.Resource(
    name="build plate type",
    model=BuildPlateType,
    fields={
        "name": text(100, required=True),
        "description": text(2000),
        "is_active": flag(),
    },
    unique=(("name",),),
    filters={"is_active": crud.Filter("is_active", "bool")},
    search=("name",),
    sortable=("name", "created_at", "updated_at"),
    default_sort="name",
)


def list_plates(ctx, params) -> dict:
    """One page of build plate types."""
    return crud.list_rows(ctx, PLATES, params)


def get_plate(ctx, plate_id) -> dict:
    """One build plate type."""
    return crud.to_api(PLATES, crud.get_row(ctx, PLATES, plate_id))


def create_plate(ctx, data) -> dict:
    """Create a build plate type (unique name)."""
    values = clean(ctx, data, PLATES.fields, partial=False)
    return crud.to_api(PLATES, crud.create_row(ctx, PLATES, values))


def update_plate(ctx, plate_id, data) -> dict:
    """Change a build plate type."""
    values = clean(ctx, data, PLATES.fields, partial=True)
    return crud.to_api(PLATES, crud.update_row(ctx, PLATES, plate_id, values))


def delete_plate(ctx, plate_id) -> None:
    """Delete a build plate type."""
    crud.delete_row(ctx, PLATES, plate_id)
