"""ESP32 hubs: factory-provisioned, NULL tenant until claimed."""

from peewee import IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class Hub(TenantModel):
    """Row of `hubs`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField(null=True)
    name = TextField(null=True)
    firmware_version = TextField(null=True)
    hardware_revision = TextField(null=True)
    last_seen_at = IntegerField(null=True)
    is_online = FlagField(default=0, null=True)
    local_ip_address = TextField(null=True)
    wifi_signal_strength = IntegerField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "hubs"
