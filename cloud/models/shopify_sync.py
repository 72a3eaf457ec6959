"""Per-tenant progress of the Shopify order pull (cursor, last success, last error)."""

from peewee import IntegerField, TextField

from cloud.models.base import TenantModel


class ShopifySyncState(TenantModel):
    """Row of `shopify_sync_state`: one per tenant with a Shopify integration that has synced."""

    tenant_id = TextField(primary_key=True)
    shop_domain = TextField()
    since_id = TextField(null=True)
    last_import_at = IntegerField(null=True)
    imported_count = IntegerField(default=0)
    last_error = TextField(null=True)
    last_error_at = IntegerField(null=True)
    import_blocked_at = IntegerField(null=True)  # migrations/0010
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "shopify_sync_state"
