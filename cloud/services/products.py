"""Product catalogue: products (what the farm sells) with their print file and printer priority."""

from cloud.models import PrintFile, Product, WikiArticle
from cloud.services import crud
from cloud.services.fields import clean, flag, json_value, reference, string_list, text

PRODUCTS = crud.Resource(
    name="product",
    model=Product,
    fields={
        "name": text(200, required=True),
        "description": text(10_000),
        "category": text(100),
        "image_url": text(2000),
        "print_file_id": reference(PrintFile),
        "file_name": text(255),
        "printer_priority": json_value(string_list),
        "requires_assembly": flag(),
        "requires_post_processing": flag(),
        "wiki_id": reference(WikiArticle),
        "is_active": flag(),
    },
    unique=(("name",),),
    filters={
        "category": crud.Filter("category"),
        "is_active": crud.Filter("is_active", "bool"),
        "print_file_id": crud.Filter("print_file_id"),
    },
    search=("name", "category"),
    sortable=("name", "category", "created_at", "updated_at"),
    default_sort="name",
)


def list_products(ctx, params) -> dict:
    """One page of products (filters: category, is_active, print_file_id; q searches name)."""
    return crud.list_rows(ctx, PRODUCTS, params)


def get_product(ctx, product_id) -> dict:
    """One product."""
    return crud.to_api(PRODUCTS, crud.get_row(ctx, PRODUCTS, product_id))


def create_product(ctx, data) -> dict:
    """Create a product; its file_name follows the print file unless given."""
    values = clean(ctx, data, PRODUCTS.fields, partial=False)
    _fill_file_name(ctx, values)
    return crud.to_api(PRODUCTS, crud.create_row(ctx, PRODUCTS, values))


def update_product(ctx, product_id, data) -> dict:
    """Change some fields of a product."""
    values = clean(ctx, data, PRODUCTS.fields, partial=True)
    _fill_file_name(ctx, values)
    return crud.to_api(PRODUCTS, crud.update_row(ctx, PRODUCTS, product_id, values))


def delete_product(ctx, product_id) -> None:
    """Delete a product (its SKUs go with it, as the schema's ON DELETE CASCADE says)."""
    crud.delete_row(ctx, PRODUCTS, product_id)


def _fill_file_name(ctx, values: dict) -> None:
    if values.get("print_file_id") and not values.get("file_name"):
        values["file_name"] = PrintFile.get_scoped(ctx, values["print_file_id"]).name
