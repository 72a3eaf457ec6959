"""Printers and their failure history."""

from peewee import FloatField, IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class Printer(TenantModel):
    """Row of `printers`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    hub_id = TextField(null=True)
    name = TextField()
    model = TextField()
    manufacturer = TextField(null=True)
    firmware_version = TextField(null=True)
    printer_id = IntegerField(null=True)
    connection_type = TextField(default="bambu", null=True)
    ip_address = TextField(null=True)
    serial_number = TextField(null=True)
    access_code = TextField(null=True)
    status = TextField(default="offline", null=True)
    is_connected = FlagField(default=0, null=True)
    last_connection_attempt = IntegerField(null=True)
    connection_error = TextField(null=True)
    current_color = TextField(null=True)
    current_color_hex = TextField(null=True)
    current_filament_type = TextField(null=True)
    current_build_plate = TextField(null=True)
    filament_level = IntegerField(default=0, null=True)
    nozzle_size = FloatField(null=True)
    location = TextField(null=True)
    total_print_time = IntegerField(default=0, null=True)
    last_maintenance_date = IntegerField(null=True)
    in_maintenance = FlagField(default=0, null=True)
    maintenance_type = TextField(null=True)
    is_active = FlagField(default=1, null=True)
    cleared = FlagField(default=1, null=True)
    sort_order = IntegerField(default=0, null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "printers"


class PrinterFailure(TenantModel):
    """Row of `printer_failures`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    printer_id = TextField()
    print_job_id = TextField(null=True)
    error_code = TextField(null=True)
    error_message = TextField(null=True)
    failure_type = TextField(null=True)
    layer_number = IntegerField(null=True)
    progress_percentage = IntegerField(null=True)
    temperatures = TextField(null=True)
    resolved = FlagField(default=0, null=True)
    resolution_notes = TextField(null=True)
    resolved_at = IntegerField(null=True)
    created_at = IntegerField()

    class Meta:
        table_name = "printer_failures"
