"""/api/v1/assembly: assembly tasks."""

from aiohttp import web

from cloud.api.operations import OperationGroup, register
from cloud.api.resource_routes import declare_crud
from cloud.services import assembly as service

ops = OperationGroup(tag="assembly", resource="assembly_task", description="Assembly tasks")

declare_crud(
    ops,
    service.ASSEMBLY,
    "/api/v1/assembly",
    plural="assembly_tasks",
    singular="assembly_task",
    list_fn=service.list_tasks,
    get_fn=service.get_task,
    create_fn=service.create_task,
    update_fn=service.update_task,
    delete_fn=service.delete_task,
    example={"finished_good_id": "00000000-0000-0000-0000-000000000000", "quantity": 4},
    update_example={"status": "completed"},
)


def setup(app: web.Application) -> None:
    """Add the assembly routes."""
    register(app, ops)
