"""peewee models of migrations/0004_realtime.sql: hub credentials, applied events, hub commands."""

from peewee import BlobField, CompositeKey, IntegerField, TextField

from cloud.models.base import BaseModel, TenantModel, new_id


class HubLink(BaseModel):
    """Row of `hub_links`: a hub's sealed factory secret, event ledger and live connection id."""

    hub_id = TextField(primary_key=True)
    secret_sealed = TextField()
    acked_seq = IntegerField(default=0)
    connection_id = TextField(null=True)
    connected_at = IntegerField(null=True)
    provisioned_at = IntegerField()

    class Meta:
        table_name = "hub_links"


class HubEvent(BaseModel):
    """Row of `hub_events`: one applied printer_event (system table; tenant_id informational)."""

    hub_id = TextField()
    seq = IntegerField()
    tenant_id = TextField(null=True)
    printer_id = TextField(null=True)
    event = TextField()
    ts = IntegerField()
    job_id = TextField(null=True)
    command_id = TextField(null=True)
    data = TextField(null=True)
    outcome = TextField(default="applied")
    error = TextField(null=True)
    applied_at = IntegerField()

    class Meta:
        table_name = "hub_events"
        primary_key = CompositeKey("hub_id", "seq")


class HubCommand(TenantModel):
    """Row of `hub_commands`: a cloud -> hub command until the hub acknowledges it."""

    id = TextField(primary_key=True, default=new_id)
    hub_id = TextField()
    tenant_id = TextField()
    type = TextField()
    payload = BlobField()
    status = TextField(default="pending")
    attempts = IntegerField(default=0)
    created_at = IntegerField()
    sent_at = IntegerField(null=True)
    acked_at = IntegerField(null=True)
    error_code = TextField(null=True)
    error_message = TextField(null=True)
    result = TextField(null=True)

    class Meta:
        table_name = "hub_commands"


REALTIME_MODELS = [HubLink, HubEvent, HubCommand]
