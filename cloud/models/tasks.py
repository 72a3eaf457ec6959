"""Assembly tasks and worklist tasks for farm staff."""

from peewee import IntegerField, TextField

from cloud.models.base import TenantModel, new_id


class AssemblyTask(TenantModel):
    """Row of `assembly_tasks`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    finished_good_id = TextField()
    assigned_to = TextField(null=True)
    product_name = TextField()
    sku = TextField()
    quantity = IntegerField(default=1, null=True)
    status = TextField(default="pending", null=True)
    notes = TextField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()
    completed_at = IntegerField(null=True)

    class Meta:
        table_name = "assembly_tasks"


class WorklistTask(TenantModel):
    """Row of `worklist_tasks`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    assembly_task_id = TextField(null=True)
    printer_id = TextField(null=True)
    assigned_to = TextField(null=True)
    title = TextField()
    subtitle = TextField(null=True)
    description = TextField(null=True)
    task_type = TextField()
    priority = TextField(default="medium", null=True)
    status = TextField(default="pending", null=True)
    order_number = TextField(null=True)
    estimated_time_minutes = IntegerField(null=True)
    actual_time_minutes = IntegerField(null=True)
    started_at = IntegerField(null=True)
    completed_at = IntegerField(null=True)
    due_date = IntegerField(null=True)
    metadata = TextField(null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "worklist_tasks"
