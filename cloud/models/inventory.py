"""Finished goods stock per SKU."""

from peewee import IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class FinishedGood(TenantModel):
    """Row of `finished_goods`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    product_sku_id = TextField()
    print_job_id = TextField(null=True)
    sku = TextField()
    color = TextField()
    material = TextField()
    current_stock = IntegerField(default=0, null=True)
    low_stock_threshold = IntegerField(default=5, null=True)
    quantity_per_sku = IntegerField(default=1, null=True)
    unit_price = IntegerField(default=0, null=True)
    extra_cost = IntegerField(default=0, null=True)
    profit_margin = IntegerField(default=0, null=True)
    requires_assembly = FlagField(default=0, null=True)
    quantity_assembled = IntegerField(default=0, null=True)
    quantity_needs_assembly = IntegerField(default=0, null=True)
    status = TextField(default="active", null=True)
    image_url = TextField(null=True)
    is_active = FlagField(default=1, null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "finished_goods"
