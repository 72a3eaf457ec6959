"""External shop integrations (Shopify) and the external-id index that keeps imports idempotent."""

from peewee import CompositeKey, IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class Integration(TenantModel):
    """Row of `integrations`; secrets_encrypted is secretbox ciphertext, never returned."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    provider = TextField()
    shop_domain = TextField()
    secrets_encrypted = TextField()
    is_active = FlagField(default=1, null=True)
    last_webhook_at = IntegerField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "integrations"


class OrderExternalRef(TenantModel):
    """Row of `order_external_refs`: (tenant, source, external id) -> the one order."""

    tenant_id = TextField()
    source = TextField()
    external_id = TextField()
    order_id = TextField()
    created_at = IntegerField()

    class Meta:
        table_name = "order_external_refs"
        primary_key = CompositeKey("tenant_id", "source", "external_id")
