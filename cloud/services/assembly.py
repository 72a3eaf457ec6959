"""Assembly tasks: printed parts of a finished good waiting to be put together."""

from cloud.errors import conflict
from cloud.models import AssemblyTask, FinishedGood, now_ms
from cloud.services import crud
from cloud.services.assignees import check_assignee
from cloud.services.fields import choice, clean, integer, reference, text

STATUSES = ("pending", "in_progress", "completed")

ASSEMBLY = crud.Resource(
    name="assembly task",
    model=AssemblyTask,
    fields={
        "finished_good_id": reference(FinishedGood, required=True, create_only=True),
        "product_name": text(200),
        "sku": text(100),
        "quantity": integer(1, 1_000_000, nullable=False),
        "status": choice(*STATUSES),
        "notes": text(5000),
        "assigned_to": text(64),
    },
    filters={
        "status": crud.Filter("status", "enum", STATUSES),
        "assigned_to": crud.Filter("assigned_to"),
        "finished_good_id": crud.Filter("finished_good_id"),
    },
    search=("product_name", "sku"),
    sortable=("created_at", "updated_at", "status", "sku"),
    default_sort="-created_at",
)


def list_tasks(ctx, params) -> dict:
    """One page of assembly tasks (filters: status, assigned_to, finished_good_id; q: name/SKU)."""
    return crud.list_rows(ctx, ASSEMBLY, params)


def get_task(ctx, task_id) -> dict:
    """One assembly task."""
    return crud.to_api(ASSEMBLY, crud.get_row(ctx, ASSEMBLY, task_id))


def create_task(ctx, data) -> dict:
    """Create an assembly task; product name and SKU default to the finished good's."""
    values = clean(ctx, data, ASSEMBLY.fields, partial=False)
    check_assignee(ctx, "assigned_to", values.get("assigned_to"))
    good = FinishedGood.get_scoped(ctx, values["finished_good_id"])
    values["sku"] = values.get("sku") or good.sku
    values["product_name"] = values.get("product_name") or good.sku
    if values.get("status") == "completed":
        raise conflict("status", "create the task, then complete it")
    return crud.to_api(ASSEMBLY, crud.create_row(ctx, ASSEMBLY, values))


def update_task(ctx, task_id, data) -> dict:
    """Change a task. Completing it moves its quantity from needs-assembly to assembled."""
    values = clean(ctx, data, ASSEMBLY.fields, partial=True)
    check_assignee(ctx, "assigned_to", values.get("assigned_to"))
    with crud.write_transaction():
        task = crud.get_row(ctx, ASSEMBLY, task_id)
        if task.status == "completed" and values.get("status", "completed") != "completed":
            raise conflict("status", "a completed assembly task cannot be reopened")
        if task.status == "completed" and "quantity" in values:
            raise conflict("quantity", "a completed assembly task cannot change its quantity")
        if values.get("status") == "completed" and task.status != "completed":
            values["completed_at"] = now_ms()
            quantity = values.get("quantity", task.quantity) or 1
            good = FinishedGood.get_scoped(ctx, task.finished_good_id)
            FinishedGood.update_scoped(
                ctx,
                quantity_assembled=(good.quantity_assembled or 0) + quantity,
                quantity_needs_assembly=max(0, (good.quantity_needs_assembly or 0) - quantity),
            ).where(FinishedGood.id == good.id).execute()
        return crud.to_api(ASSEMBLY, crud.update_row(ctx, ASSEMBLY, task.id, values))


def delete_task(ctx, task_id) -> None:
    """Delete an assembly task."""
    crud.delete_row(ctx, ASSEMBLY, task_id)
