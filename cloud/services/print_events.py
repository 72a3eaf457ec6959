"""What follows a finished or failed print: stock, assembly work, bed collection, alerts."""

import json

from cloud.db import database_proxy
from cloud.models import (
    AssemblyTask,
    FinishedGood,
    Printer,
    PrintJob,
    WorklistTask,
    now_ms,
    system_access,
)
from cloud.services.effects import claim_effect
from cloud.services.jobs import finished_good_for


def inventory_alert(row: FinishedGood, before: int) -> dict | None:
    """The dashboard's inventory_alert when stock crossed the SKU's threshold, else None."""
    threshold = row.low_stock_threshold or 0
    after = row.current_stock or 0
    if (before < threshold) == (after < threshold):
        return None
    return {
        "type": "inventory_alert",
        "sku_id": row.product_sku_id,
        "sku": row.sku,
        "current_stock": after,
        "threshold": threshold,
        "state": "low" if after < threshold else "restocked",
    }


def job_completed(job_id: str) -> list[dict]:
    """Apply a completed job's effects once: stock, assembly task, collection task."""
    messages: list[dict] = []
    with database_proxy.atomic(), system_access():
        job = PrintJob.get_or_none(PrintJob.id == job_id)
        if (
            job is None
            or job.status != "completed"
            or not claim_effect(f"job_completed:{job.id}", job.tenant_id)
        ):
            return []
        now = now_ms()
        units = (job.number_of_units or 1) * (job.quantity_per_print or 1)
        row = finished_good_for(job)
        if row is not None:
            before = row.current_stock or 0
            FinishedGood.update(
                current_stock=FinishedGood.current_stock + units,
                quantity_needs_assembly=FinishedGood.quantity_needs_assembly
                + (units if job.requires_assembly else 0),
                print_job_id=job.id,
                updated_at=now,
            ).where(FinishedGood.id == row.id).execute()
            row = FinishedGood.get_by_id(row.id)
            alert = inventory_alert(row, before)
            if alert:
                messages.append(alert)
            if job.requires_assembly:
                task = AssemblyTask.create(
                    tenant_id=job.tenant_id,
                    finished_good_id=row.id,
                    product_name=job.product_name or job.file_name,
                    sku=row.sku,
                    quantity=units,
                    status="pending",
                    created_at=now,
                    updated_at=now,
                )
                WorklistTask.create(
                    tenant_id=job.tenant_id,
                    assembly_task_id=task.id,
                    title=f"Assemble {units} × {row.sku}",
                    subtitle=job.product_name,
                    task_type="assembly",
                    priority="medium",
                    status="pending",
                    metadata=json.dumps({"job_id": job.id}),
                    created_at=now,
                    updated_at=now,
                )
        _collection_task(job, "Collect finished print", now)
    return messages


def job_failed(job_id: str) -> list[dict]:
    """A failed print that reached the bed leaves something to clear: one collection task."""
    with database_proxy.atomic(), system_access():
        job = PrintJob.get_or_none(PrintJob.id == job_id)
        if (
            job is None
            or job.status != "failed"
            or not claim_effect(f"job_failed:{job.id}", job.tenant_id)
        ):
            return []
        if job.time_started and job.printer_id:
            _collection_task(job, "Clear failed print", now_ms(), priority="high")
    return []


def _collection_task(job: PrintJob, title: str, now: int, priority: str = "medium") -> None:
    if not job.printer_id:
        return
    printer = Printer.get_or_none(Printer.id == job.printer_id)
    name = printer.name if printer else job.printer_name
    WorklistTask.create(
        tenant_id=job.tenant_id,
        printer_id=job.printer_id,
        title=f"{title} from {name}",
        subtitle=job.file_name,
        description="Remove the print, check the plate, then mark the bed cleared.",
        task_type="collection",
        priority=priority,
        status="pending",
        metadata=json.dumps({"job_id": job.id}),
        created_at=now,
        updated_at=now,
    )


def automation_event(job_id: str, kind: str) -> tuple[str, dict] | None:
    """(trigger, event) for automation rules after a finished or failed job, else None."""
    trigger = {"job_completed": "print_complete", "job_failed": "print_failed"}.get(kind)
    if trigger is None:
        return None
    with system_access():
        job = PrintJob.get_or_none(PrintJob.id == job_id)
    if job is None:
        return None
    return trigger, {
        "event_key": f"{kind}:{job.id}",
        "trigger": trigger,
        "job_id": job.id,
        "printer_id": job.printer_id,
        "printer_name": job.printer_name,
        "sku_id": job.product_sku_id,
        "sku": job.sku_name,
        "product_name": job.product_name,
        "file_name": job.file_name,
        "status": job.status,
        "failure_reason": job.failure_reason,
        "actual_time_minutes": job.actual_print_time_minutes,
        "units": (job.number_of_units or 1) * (job.quantity_per_print or 1),
    }
