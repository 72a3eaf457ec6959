"""Automation rules: trigger, conditions, actions."""

from peewee import IntegerField, TextField

from cloud.models.base import FlagField, TenantModel, new_id


class AutomationRule(TenantModel):
    """Row of `automation_rules`."""

    id = TextField(primary_key=True, default=new_id)
    tenant_id = TextField()
    name = TextField()
    description = TextField(null=True)
    trigger_type = TextField()
    trigger_config = TextField(null=True)
    conditions = TextField(null=True)
    actions = TextField()
    is_active = FlagField(default=1, null=True)
    last_triggered_at = IntegerField(null=True)
    trigger_count = IntegerField(default=0, null=True)
    created_at = IntegerField()
    updated_at = IntegerField()

    class Meta:
        table_name = "automation_rules"
