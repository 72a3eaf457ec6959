"""/api/v1/worklist: tasks for farm staff."""

from aiohttp import web

from cloud.api.operations import OperationGroup, register
from cloud.api.resource_routes import declare_crud
from cloud.services import worklist as service

ops = OperationGroup(tag="worklist", resource="worklist_task", description="Worklist tasks")

declare_crud(
    ops,
    service.WORKLIST,
    "/api/v1/worklist",
    plural="worklist_tasks",
    singular="worklist_task",
    list_fn=service.list_tasks,
    get_fn=service.get_task,
    create_fn=service.create_task,
    update_fn=service.update_task,
    delete_fn=service.delete_task,
    example={"title": "Collect plate from P1S-03", "task_type": "collection", "priority": "high"},
    update_example={"status": "in_progress"},
)


def setup(app: web.Application) -> None:
    """Add the worklist routes."""
    register(app, ops)
