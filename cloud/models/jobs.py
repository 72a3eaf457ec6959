"""Print jobs: one print of one file on one printer."""

from peewee import IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class PrintJob(TenantModel):
    """Row of `print_jobs`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    printer_id = TextField(null=True)
    print_file_id = TextField()
    product_sku_id = TextField(null=True)
    submitted_by = TextField(null=True)
    file_name = TextField()
    status = TextField(default="queued", null=True)
    color = TextField()
    filament_type = TextField()
    material_type = TextField()
    number_of_units = IntegerField(default=1, null=True)
    filament_needed_grams = IntegerField(null=True)
    estimated_print_time_minutes = IntegerField(null=True)
    actual_print_time_minutes = IntegerField(null=True)
    progress_percentage = IntegerField(default=0, null=True)
    bambu_job_id = TextField(null=True)
    printer_numeric_id = IntegerField(null=True)
    last_sync_time = IntegerField(null=True)
    priority = IntegerField(default=0, null=True)
    failure_reason = TextField(null=True)
    requires_assembly = FlagField(default=0, null=True)
    quantity_per_print = IntegerField(default=1, null=True)
    product_id = TextField(null=True)
    product_name = TextField(null=True)
    sku_name = TextField(null=True)
    printer_model = TextField(null=True)
    printer_name = TextField(null=True)
    time_submitted = IntegerField(null=True)
    time_started = IntegerField(null=True)
    time_completed = IntegerField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "print_jobs"
