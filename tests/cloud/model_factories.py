"""Rows for service tests, created through the tenant-scoped model API."""

from cloud.models import (
    Hub,
    Printer,
    PrintFile,
    Product,
    ProductSku,
    Tenant,
    TenantContext,
    new_id,
    now_ms,
)
from cloud.models.file_details import PrintFilePlate


def tenant(slug: str = "farm") -> TenantContext:
    now = now_ms()
    row = Tenant.create(
        id=new_id(),
        name=slug.title(),
        slug=f"{slug}-{new_id()[:6]}",
        created_at=now,
        updated_at=now,
    )
    return TenantContext(tenant_id=row.id, user_id=None, role="owner")


def hub(ctx: TenantContext, online: bool = True) -> Hub:
    return Hub.create_scoped(ctx, id=new_id(), name="hub", is_online=online)


def printer(ctx: TenantContext, hub_row: Hub, name: str = "P1", **fields) -> Printer:
    values = dict(
        model="P1S",
        status="idle",
        is_connected=True,
        cleared=True,
        nozzle_size=0.4,
        current_filament_type="PLA",
        current_color="Red",
        current_build_plate="Textured PEI Plate",
    )
    values.update(fields)
    return Printer.create_scoped(ctx, name=name, hub_id=hub_row.id, **values)


def print_file(ctx: TenantContext, name: str = "widget.3mf", **fields) -> PrintFile:
    values = dict(
        file_key=f"{ctx.tenant_id}/print-files/{new_id()}.3mf",
        printer_model_id="C12",
        nozzle_diameter=0.4,
        curr_bed_type="Textured PEI Plate",
        filament_type="PLA",
        print_time_seconds=3600,
        filament_weight_grams=12.5,
        number_of_units=4,
    )
    values.update(fields)
    row = PrintFile.create_scoped(ctx, name=name, **values)
    # Files uploaded through the API always have their sliced plates recorded.
    PrintFilePlate.create_scoped(
        ctx,
        print_file_id=row.id,
        plate_index=1,
        gcode_path="Metadata/plate_1.gcode",
        gcode_md5="0" * 32,
    )
    return row


def product_with_sku(
    ctx: TenantContext, name: str = "Widget", requires_assembly: bool = False, **sku_fields
) -> tuple[Product, ProductSku]:
    product = Product.create_scoped(ctx, name=name, requires_assembly=requires_assembly)
    values = dict(
        sku=f"{name.upper()}-RED",
        color="Red",
        filament_type="PLA",
        quantity=1,
        low_stock_threshold=5,
    )
    values.update(sku_fields)
    return product, ProductSku.create_scoped(ctx, product_id=product.id, **values)
