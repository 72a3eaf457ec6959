"""Print files (3MF) and the metadata extracted from them."""

from peewee import FloatField, IntegerField, TextField

from cloud.models.base import TenantModel, new_id


class PrintFile(TenantModel):
    """Row of `print_files`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    product_id = TextField(null=True)
    name = TextField()
    file_key = TextField()
    file_size_bytes = IntegerField(null=True)
    number_of_units = IntegerField(default=1, null=True)
    print_time_seconds = IntegerField(null=True)
    filament_weight_grams = FloatField(null=True)
    filament_length_meters = FloatField(null=True)
    filament_type = TextField(null=True)
    printer_model_id = TextField(null=True)
    nozzle_diameter = FloatField(null=True)
    layer_count = IntegerField(null=True)
    object_count = IntegerField(default=1, null=True)
    curr_bed_type = TextField(null=True)
    default_print_profile = TextField(null=True)
    thumbnail_url = TextField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "print_files"
