"""What the 3MF of a print file contained beyond print_files: SHA-256, plates, thumbnail key."""

from peewee import FloatField, IntegerField, TextField

from cloud.models.base import TenantModel, new_id


class PrintFileDetail(TenantModel):
    """Row of `print_file_details` (one per print file)."""

    print_file_id = TextField(primary_key=True)
    tenant_id = TextField()
    sha256 = TextField()
    md5 = TextField(null=True)  # migrations/0008
    plate_count = IntegerField(default=1)
    thumbnail_key = TextField(null=True)
    printer_model = TextField(null=True)
    slicer_version = TextField(null=True)
    uploaded_by = TextField(null=True)
    created_at = IntegerField()

    class Meta:
        table_name = "print_file_details"


class PrintFilePlate(TenantModel):
    """Row of `print_file_plates`: one sliced plate of a print file."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    print_file_id = TextField()
    plate_index = IntegerField()
    gcode_path = TextField()
    gcode_md5 = TextField()
    gcode_size_bytes = IntegerField(null=True)
    print_time_seconds = IntegerField(null=True)
    filament_weight_grams = FloatField(null=True)
    filament_length_meters = FloatField(null=True)
    filament_type = TextField(null=True)
    layer_count = IntegerField(null=True)
    object_count = IntegerField(null=True)
    bed_type = TextField(null=True)
    created_at = IntegerField()

    class Meta:
        table_name = "print_file_plates"
