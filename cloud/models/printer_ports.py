"""Non-default LAN ports of a printer (cloud-only table, migrations/0011)."""

from peewee import IntegerField, TextField

from cloud.models.base import TenantModel


class PrinterPorts(TenantModel):
    """Row of `printer_ports`: at most one per printer; NULL means the protocol's default."""

    printer_id = TextField(primary_key=True)
    tenant_id = TextField()
    mqtt_port = IntegerField(null=True)
    ftps_port = IntegerField(null=True)

    class Meta:
        table_name = "printer_ports"
