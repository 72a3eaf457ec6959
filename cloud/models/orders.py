"""Orders (manual, API, Shopify) and their items."""

from peewee import IntegerField, TextField

from cloud.models.base import BaseModel, TenantModel, new_id


class Order(TenantModel):
    """Row of `orders`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    external_id = TextField(null=True)
    source = TextField(default="manual", null=True)
    customer_name = TextField(null=True)
    customer_email = TextField(null=True)
    shipping_address = TextField(null=True)
    status = TextField(default="pending", null=True)
    priority = IntegerField(default=0, null=True)
    notes = TextField(null=True)
    shopify_order_number = TextField(null=True)
    shopify_fulfillment_id = TextField(null=True)
    last_synced_at = IntegerField(null=True)
    order_date = IntegerField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "orders"


class OrderItem(BaseModel):
    """Row of `order_items`."""

    id = TextField(primary_key=True, default=new_id)
    order_id = TextField()
    product_sku_id = TextField(null=True)
    sku = TextField()
    product_name = TextField()
    quantity = IntegerField()
    quantity_fulfilled = IntegerField(default=0, null=True)
    unit_price = IntegerField(null=True)
    created_at = IntegerField()

    class Meta:
        table_name = "order_items"
