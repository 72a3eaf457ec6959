"""Worklist tasks for farm staff (collect prints, change filament, maintenance, checks)."""

from cloud.errors import conflict
from cloud.models import AssemblyTask, Printer, WorklistTask, now_ms
from cloud.services import crud
from cloud.services.assignees import check_assignee
from cloud.services.fields import (
    choice,
    clean,
    integer,
    json_object,
    json_value,
    reference,
    text,
    timestamp,
)

TASK_TYPES = ("assembly", "filament_change", "collection", "maintenance", "quality_check")
PRIORITIES = ("low", "medium", "high")
STATUSES = ("pending", "in_progress", "completed", "cancelled")
FINAL = ("completed", "cancelled")

WORKLIST = crud.Resource(
    name="worklist task",
    model=WorklistTask,
    fields={
        "title": text(200, required=True),
        "subtitle": text(200),
        "description": text(5000),
        "task_type": choice(*TASK_TYPES, required=True),
        "priority": choice(*PRIORITIES),
        "status": choice(*STATUSES),
        "order_number": text(100),
        "printer_id": reference(Printer),
        "assembly_task_id": reference(AssemblyTask),
        "assigned_to": text(64),
        "estimated_time_minutes": integer(0, 100_000),
        "actual_time_minutes": integer(0, 100_000),
        "due_date": timestamp(),
        "metadata": json_value(json_object),
    },
    filters={
        "status": crud.Filter("status", "enum", STATUSES),
        "task_type": crud.Filter("task_type", "enum", TASK_TYPES),
        "priority": crud.Filter("priority", "enum", PRIORITIES),
        "printer_id": crud.Filter("printer_id"),
        "assigned_to": crud.Filter("assigned_to"),
    },
    search=("title", "subtitle", "order_number"),
    sortable=("created_at", "updated_at", "due_date", "status"),
    default_sort="-created_at",
)


def list_tasks(ctx, params) -> dict:
    """One page of worklist tasks (filters: status, task_type, priority, printer_id, assigned_to)."""
    return crud.list_rows(ctx, WORKLIST, params)


def get_task(ctx, task_id) -> dict:
    """One worklist task."""
    return crud.to_api(WORKLIST, crud.get_row(ctx, WORKLIST, task_id))


def create_task(ctx, data) -> dict:
    """Create a worklist task."""
    values = clean(ctx, data, WORKLIST.fields, partial=False)
    check_assignee(ctx, "assigned_to", values.get("assigned_to"))
    _stamp_status(values, None)
    return crud.to_api(WORKLIST, crud.create_row(ctx, WORKLIST, values))


def update_task(ctx, task_id, data) -> dict:
    """Change a task; starting stamps started_at, completing stamps completed_at."""
    values = clean(ctx, data, WORKLIST.fields, partial=True)
    check_assignee(ctx, "assigned_to", values.get("assigned_to"))
    with crud.write_transaction():
        task = crud.get_row(ctx, WORKLIST, task_id)
        if "status" in values and values["status"] != task.status and task.status in FINAL:
            raise conflict("status", f"the task is {task.status}; it cannot change status")
        _stamp_status(values, task)
        return crud.to_api(WORKLIST, crud.update_row(ctx, WORKLIST, task.id, values))


def delete_task(ctx, task_id) -> None:
    """Delete a worklist task."""
    crud.delete_row(ctx, WORKLIST, task_id)


def _stamp_status(values: dict, task) -> None:
    status = values.get("status")
    if status == "in_progress" and (task is None or task.started_at is None):
        values["started_at"] = now_ms()
    if status == "completed":
        values["completed_at"] = now_ms()
        started = values.get("started_at") or (task.started_at if task is not None else None)
        if started and "actual_time_minutes" not in values:
            values["actual_time_minutes"] = max(0, (values["completed_at"] - started) // 60_000)
