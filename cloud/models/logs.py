"""Sync log and audit log."""

from peewee import AutoField, IntegerField, TextField

from cloud.models.base import TenantModel, new_id


class SyncLog(TenantModel):
    """Row of `sync_logs`."""

    id = AutoField()
    tenant_id = TextField(null=True)
    operation_type = TextField(null=True)
    table_name = TextField(null=True)
    record_id = TextField(null=True)
    status = TextField(null=True)
    error_message = TextField(null=True)
    created_at = IntegerField()

    class Meta:
        table_name = "sync_logs"


class AuditLog(TenantModel):
    """Row of `audit_log`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    user_id = TextField(null=True)
    action = TextField()
    entity_type = TextField(null=True)
    entity_id = TextField(null=True)
    details = TextField(null=True)
    ip_address = TextField(null=True)
    user_agent = TextField(null=True)
    created_at = IntegerField()

    class Meta:
        table_name = "audit_log"
