"""/api/v1/automation/rules: automation rules (validated here; run by the automation engine)."""

from aiohttp import web

from cloud.api.operations import OperationGroup, register
from cloud.api.resource_routes import declare_crud
from cloud.services import automation_rules as service

ops = OperationGroup(tag="automation", resource="automation_rule", description="Automation rules")

declare_crud(
    ops,
    service.RULES,
    "/api/v1/automation/rules",
    plural="automation_rules",
    singular="automation_rule",
    list_fn=service.list_rules,
    get_fn=service.get_rule,
    create_fn=service.create_rule,
    update_fn=service.update_rule,
    delete_fn=service.delete_rule,
    write_role="admin",  # rules act on the whole farm: a setting, not a daily operation
    example={
        "name": "Collect finished prints",
        "trigger_type": "print_complete",
        "trigger_config": {},
        "conditions": [{"field": "data.filament_type", "op": "eq", "value": "PLA"}],
        "actions": [
            {"type": "create_worklist_task", "title": "Collect plate", "task_type": "collection"}
        ],
    },
    update_example={"is_active": False},
)


def setup(app: web.Application) -> None:
    """Add the automation rule routes."""
    register(app, ops)
