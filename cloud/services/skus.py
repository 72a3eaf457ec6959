"""Product SKUs: colour/material variants of a product, unique SKU code per tenant."""

from cloud.models import Product, ProductSku
from cloud.services import crud
from cloud.services.fields import clean, color, flag, integer, reference, text

SKUS = crud.Resource(
    name="sku",
    model=ProductSku,
    fields={
        "product_id": reference(Product, required=True),
        "sku": text(100, required=True),
        "color": text(100, required=True),
        "filament_type": text(50),
        "hex_code": color(),
        "quantity": integer(1, 10_000, nullable=False),
        "stock_level": integer(0, nullable=False),
        "low_stock_threshold": integer(0, nullable=False),
        "price": integer(0),
        "is_active": flag(),
    },
    # Not a schema constraint, but orders and webhooks find SKUs by code: it must be unique.
    unique=(("sku",),),
    filters={
        "product_id": crud.Filter("product_id"),
        "is_active": crud.Filter("is_active", "bool"),
        "color": crud.Filter("color"),
        "filament_type": crud.Filter("filament_type"),
    },
    search=("sku", "color"),
    sortable=("sku", "color", "created_at", "updated_at", "stock_level"),
    default_sort="sku",
)


def list_skus(ctx, params) -> dict:
    """One page of SKUs (filters: product_id, is_active, color, filament_type; q: sku/colour)."""
    return crud.list_rows(ctx, SKUS, params)


def get_sku(ctx, sku_id) -> dict:
    """One SKU."""
    return crud.to_api(SKUS, crud.get_row(ctx, SKUS, sku_id))


def find_sku_by_code(ctx, code: str):
    """The SKU row with that code in the tenant, or None."""
    return ProductSku.scoped(ctx).where(ProductSku.sku == code).first()


def create_sku(ctx, data) -> dict:
    """Create a SKU under a product of the same tenant."""
    values = clean(ctx, data, SKUS.fields, partial=False)
    return crud.to_api(SKUS, crud.create_row(ctx, SKUS, values))


def update_sku(ctx, sku_id, data) -> dict:
    """Change some fields of a SKU."""
    values = clean(ctx, data, SKUS.fields, partial=True)
    return crud.to_api(SKUS, crud.update_row(ctx, SKUS, sku_id, values))


def delete_sku(ctx, sku_id) -> None:
    """Delete a SKU (its finished goods go with it, per the schema)."""
    crud.delete_row(ctx, SKUS, sku_id)
