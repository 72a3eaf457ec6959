"""Products, their SKUs, colour presets and build plate types."""

from peewee import IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class Product(TenantModel):
    """Row of `products`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    name = TextField()
    description = TextField(null=True)
    category = TextField(null=True)
    image_url = TextField(null=True)
    print_file_id = TextField(null=True)
    file_name = TextField(null=True)
    printer_priority = TextField(null=True)
    requires_assembly = FlagField(default=0, null=True)
    requires_post_processing = FlagField(default=0, null=True)
    wiki_id = TextField(null=True)
    is_active = FlagField(default=1, null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "products"


class ProductSku(TenantModel):
    """Row of `product_skus`."""

    id = TextField(primary_key=True, default=new_id)
    product_id = TextField()
    tenant_id = TextField()
    sku = TextField()
    color = TextField()
    filament_type = TextField(null=True)
    hex_code = TextField(null=True)
    quantity = IntegerField(default=1, null=True)
    stock_level = IntegerField(default=0, null=True)
    low_stock_threshold = IntegerField(default=0, null=True)
    price = IntegerField(null=True)
    is_active = FlagField(default=1, null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "product_skus"


class ColorPreset(TenantModel):
    """Row of `color_presets`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    color_name = TextField()
    hex_code = TextField()
    filament_type = TextField()
    is_active = FlagField(default=1, null=True)
    created_at = IntegerField()

    class Meta:
        table_name = "color_presets"


class BuildPlateType(TenantModel):
    """Row of `build_plate_types`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    name = TextField()
    description = TextField(null=True)
    is_active = FlagField(default=1, null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "build_plate_types"
