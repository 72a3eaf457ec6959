"""Camera configurations."""

from peewee import IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class Camera(TenantModel):
    """Row of `cameras`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    printer_id = TextField(null=True)
    hub_id = TextField(null=True)
    name = TextField()
    stream_url = TextField(null=True)
    snapshot_url = TextField(null=True)
    camera_type = TextField(default="bambu", null=True)
    is_active = FlagField(default=1, null=True)
    last_snapshot_at = IntegerField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "cameras"
