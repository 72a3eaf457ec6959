"""Print job lifecycle: creation, user actions, and the state changes hub events cause.

queued → processing (file transfer) → uploaded → printing ⇄ paused → completed | failed |
cancelled. Every change is a conditional UPDATE on the old status, so two writers racing on one
job cannot both win. Functions here are blocking (run them on the DB thread pool) and return
the dashboard messages to broadcast once the transaction has committed.
"""

import json

from cloud.db import database_proxy
from cloud.models import (
    FinishedGood,
    Printer,
    PrinterFailure,
    PrintFile,
    PrintJob,
    Product,
    ProductSku,
    RecordNotFound,
    TenantContext,
    now_ms,
    system_access,
)
from cloud.queue.store import QueueStore

JOB_STATUSES = (
    "queued",
    "processing",
    "uploaded",
    "printing",
    "paused",
    "completed",
    "failed",
    "cancelled",
)
ACTIVE = ("processing", "uploaded", "printing", "paused")
FINAL = ("completed", "failed", "cancelled")

# Allowed moves. processing → queued: the hub refused before anything reached the printer
# (offline, busy), so the job simply waits for another printer.
TRANSITIONS = {
    "queued": {"processing", "cancelled"},
    "processing": {"queued", "uploaded", "printing", "failed", "cancelled"},
    "uploaded": {"printing", "failed", "cancelled", "completed"},
    "printing": {"paused", "completed", "failed", "cancelled"},
    "paused": {"printing", "completed", "failed", "cancelled"},
    "completed": set(),
    "failed": {"queued"},
    "cancelled": {"queued"},
}

# Hub command-ack error codes after which the job can go to another printer untouched.
REQUEUE_CODES = {"printer_offline", "printer_busy", "unknown_printer"}


class JobError(Exception):
    """A job action that the job's current state does not allow (HTTP 409) or bad input (400)."""

    def __init__(self, code: str, message: str, status: int = 409):
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


def job_update_message(job: PrintJob) -> dict:
    """The dashboard's job_update for a job's current state."""
    return {
        "type": "job_update",
        "job_id": job.id,
        "status": job.status,
        "printer_id": job.printer_id,
        "progress": job.progress_percentage or 0,
        "actual_time_minutes": job.actual_print_time_minutes,
        "failure_reason": job.failure_reason,
    }


def transition(job: PrintJob, new_status: str, **fields) -> PrintJob:
    """Move `job` to `new_status` if allowed and if nobody moved it first; returns it reloaded."""
    if new_status not in TRANSITIONS[job.status]:
        raise JobError("invalid_transition", f"a {job.status} job cannot become {new_status}")
    now = now_ms()
    fields.update(status=new_status, updated_at=now, last_sync_time=now)
    with system_access():
        changed = (
            PrintJob.update(**fields)
            .where((PrintJob.id == job.id) & (PrintJob.status == job.status))
            .execute()
        )
        if changed != 1:
            raise JobError("conflict", f"job {job.id} changed concurrently; try again")
        return PrintJob.get_by_id(job.id)


# --- creation and user actions ---------------------------------------------------------------


def create_job(
    ctx: TenantContext,
    *,
    print_file_id: str,
    product_sku_id: str | None = None,
    priority: int = 0,
    printer_id: str | None = None,
    color: str | None = None,
    filament_type: str | None = None,
) -> PrintJob:
    """Queue a print of a file (optionally for a SKU, optionally pinned to one printer)."""
    with database_proxy.atomic():
        print_file = PrintFile.get_scoped(ctx, print_file_id)
        sku = ProductSku.get_scoped(ctx, product_sku_id) if product_sku_id else None
        product = None
        product_id = (sku.product_id if sku else None) or print_file.product_id
        if product_id:
            product = Product.get_scoped(ctx, product_id)
        if printer_id:
            Printer.get_scoped(ctx, printer_id)  # 404 for another tenant's printer
        material = filament_type or (sku.filament_type if sku else None) or print_file.filament_type
        now = now_ms()
        return PrintJob.create_scoped(
            ctx,
            printer_id=printer_id,
            print_file_id=print_file.id,
            product_sku_id=sku.id if sku else None,
            submitted_by=ctx.user_id,
            file_name=print_file.name,
            status="queued",
            color=color or (sku.color if sku else None) or "any",
            filament_type=material or "any",
            material_type=material or "any",
            number_of_units=print_file.number_of_units or 1,
            filament_needed_grams=(
                round(print_file.filament_weight_grams * 100)
                if print_file.filament_weight_grams
                else None
            ),  # the spec stores centigrams
            estimated_print_time_minutes=(
                round(print_file.print_time_seconds / 60) if print_file.print_time_seconds else None
            ),
            priority=priority,
            requires_assembly=bool(product and product.requires_assembly),
            quantity_per_print=(sku.quantity if sku and sku.quantity else 1),
            product_id=product.id if product else None,
            product_name=product.name if product else None,
            sku_name=sku.sku if sku else None,
            time_submitted=now,
        )


def cancel_job(ctx: TenantContext, job_id: str) -> tuple[PrintJob, list[dict]]:
    """Cancel a job; returns it and the printer_command to send when it is on a printer."""
    with database_proxy.atomic():
        job = PrintJob.get_scoped(ctx, job_id)
        was_on_printer = job.status in ACTIVE and job.printer_id
        printing = _reached_printer(job)
        job = transition(job, "cancelled", time_completed=now_ms())
        commands = []
        if was_on_printer:
            action = "stop" if printing else "cancel_transfer"
            commands.append(
                {
                    "type": "printer_command",
                    "printer_id": job.printer_id,
                    "action": action,
                    "args": {"job_id": job.id},
                }
            )
            if action == "cancel_transfer":
                _release_printer(job.printer_id)
    return job, commands


def _reached_printer(job: PrintJob) -> bool:
    """True when the printer has started the job (it must be stopped, not just not sent)."""
    return job.time_started is not None or job.progress_percentage not in (None, 0)


def retry_job(ctx: TenantContext, job_id: str) -> PrintJob:
    """Put a failed or cancelled job back in the queue, free to go to any printer."""
    with database_proxy.atomic():
        job = PrintJob.get_scoped(ctx, job_id)
        return transition(
            job,
            "queued",
            printer_id=None,
            failure_reason=None,
            progress_percentage=0,
            time_started=None,
            time_completed=None,
            actual_print_time_minutes=None,
            bambu_job_id=None,
            time_submitted=now_ms(),
        )


def reprint_job(ctx: TenantContext, job_id: str) -> PrintJob:
    """Queue a new job identical to an earlier one (any final state)."""
    job = PrintJob.get_scoped(ctx, job_id)
    if job.status not in FINAL:
        raise JobError(
            "invalid_transition", f"a {job.status} job is still running; cancel it first"
        )
    return create_job(
        ctx,
        print_file_id=job.print_file_id,
        product_sku_id=job.product_sku_id,
        priority=job.priority,
        color=job.color,
        filament_type=job.filament_type,
    )


def mark_bed_cleared(ctx: TenantContext, printer_id: str) -> Printer:
    """Staff cleared the bed: the printer may take the next job."""
    with database_proxy.atomic():
        printer = Printer.get_scoped(ctx, printer_id)
        active = (
            PrintJob.scoped(ctx)
            .where((PrintJob.printer_id == printer.id) & (PrintJob.status.in_(ACTIVE)))
            .exists()
        )
        if active:
            raise JobError("printer_busy", "the printer has a job in progress; its bed is not free")
        Printer.update_scoped(ctx, cleared=True).where(Printer.id == printer.id).execute()
        return Printer.get_scoped(ctx, printer.id)


def _release_printer(printer_id: str | None) -> None:
    """A job that never reached the printer leaves the bed as clear as it was."""
    if printer_id:
        with system_access():
            Printer.update(cleared=True, updated_at=now_ms()).where(
                Printer.id == printer_id
            ).execute()


# --- hub events ---------------------------------------------------------------------------------


def apply_command_result(
    tenant_id: str, job_id: str, success: bool, error: dict | None
) -> list[dict]:
    """A print_command's ack: failures before printing requeue or fail the job."""
    if success:
        return []
    error = error or {}
    code, message = error.get("code", "unknown"), error.get("message", "")
    with database_proxy.atomic(), system_access():
        job = PrintJob.get_or_none((PrintJob.id == job_id) & (PrintJob.tenant_id == tenant_id))
        if job is None or job.status not in ("processing", "uploaded"):
            return []
        printer_id = job.printer_id
        if code in REQUEUE_CODES:
            job = transition(job, "queued", printer_id=None, failure_reason=None)
        else:
            job = transition(
                job, "failed", failure_reason=f"{code}: {message}"[:500], time_completed=now_ms()
            )
            _enqueue_print_event(job, "job_failed")
        _release_printer(printer_id)
    return [job_update_message(job)]


def apply_printer_event(
    tenant_id: str, printer_id: str, event: str, data: dict, ts: int, job_id: str | None = None
) -> list[dict]:
    """Apply one hub printer_event (already deduplicated by seq) and return dashboard messages."""
    data = data or {}
    with database_proxy.atomic(), system_access():
        printer = Printer.get_or_none((Printer.id == printer_id) & (Printer.tenant_id == tenant_id))
        if printer is None:
            raise RecordNotFound(Printer, printer_id)
        job = _job_for_event(tenant_id, printer, job_id)
        if event == "job_started" and job is None:
            job = _record_external_job(printer, data, ts)
        if job is None:
            return []
        handler = _EVENT_HANDLERS.get(event)
        if handler is None:
            return []
        return handler(job, printer, data, ts)


def _job_for_event(tenant_id: str, printer: Printer, job_id: str | None) -> PrintJob | None:
    if job_id:
        return PrintJob.get_or_none((PrintJob.id == job_id) & (PrintJob.tenant_id == tenant_id))
    # Events without a job id (a print started on the printer) belong to the printer's active job.
    return (
        PrintJob.select()
        .where((PrintJob.printer_id == printer.id) & (PrintJob.status.in_(ACTIVE)))
        .order_by(PrintJob.updated_at.desc())
        .first()
    )


def _record_external_job(printer: Printer, data: dict, ts: int) -> PrintJob:
    """A print started at the printer itself: record it so history and utilisation stay true."""
    name = (data.get("job_name") or data.get("gcode_file") or "external print")[:200]
    file_name = f"[external] {name}"
    now = now_ms()
    print_file = PrintFile.get_or_none(
        (PrintFile.tenant_id == printer.tenant_id) & (PrintFile.name == file_name)
    )
    if print_file is None:
        print_file = PrintFile.create(
            tenant_id=printer.tenant_id,
            name=file_name,
            file_key=f"{printer.tenant_id}/external/{printer.id}",
            printer_model_id=None,
            created_at=now,
            updated_at=now,
        )
    return PrintJob.create(
        tenant_id=printer.tenant_id,
        printer_id=printer.id,
        print_file_id=print_file.id,
        file_name=file_name,
        status="uploaded",
        color=printer.current_color or "unknown",
        filament_type=printer.current_filament_type or "unknown",
        material_type=printer.current_filament_type or "unknown",
        printer_model=printer.model,
        printer_name=printer.name,
        time_submitted=ts,
        bambu_job_id=str(data.get("job_id") or "") or None,
        created_at=now,
        updated_at=now,
    )


def _on_transferred(job, printer, data, ts):
    if job.status != "processing":
        return []
    return [job_update_message(transition(job, "uploaded"))]


def _on_started(job, printer, data, ts):
    if job.status in ("printing",) or job.status in FINAL:
        return []
    if job.status == "paused":
        return _on_resumed(job, printer, data, ts)
    job = transition(
        job,
        "printing",
        time_started=ts,
        printer_name=printer.name,
        printer_model=printer.model,
        bambu_job_id=str(data.get("job_id") or "") or job.bambu_job_id,
    )
    Printer.update(status="printing", cleared=False, updated_at=now_ms()).where(
        Printer.id == printer.id
    ).execute()
    return [job_update_message(job)]


def _on_paused(job, printer, data, ts):
    if job.status != "printing":
        return []
    return [job_update_message(transition(job, "paused"))]


def _on_resumed(job, printer, data, ts):
    if job.status != "paused":
        return []
    return [job_update_message(transition(job, "printing"))]


def _print_minutes(job: PrintJob, ts: int) -> int | None:
    return max(0, round((ts - job.time_started) / 60000)) if job.time_started else None


def _on_finished(job, printer, data, ts):
    if job.status in FINAL:
        return []
    minutes = _print_minutes(job, ts)
    job = transition(
        job,
        "completed",
        time_completed=ts,
        progress_percentage=100,
        actual_print_time_minutes=minutes,
    )
    Printer.update(
        status="idle",
        cleared=False,
        total_print_time=Printer.total_print_time + (minutes or 0),
        updated_at=now_ms(),
    ).where(Printer.id == printer.id).execute()
    _enqueue_print_event(job, "job_completed")
    return [job_update_message(job)]


def _on_failed(job, printer, data, ts):
    if job.status in FINAL:
        return []
    reason = data.get("reason") or _describe_error(data)
    reached = job.status in ("printing", "paused")
    job = transition(
        job,
        "failed",
        time_completed=ts,
        failure_reason=reason[:500],
        actual_print_time_minutes=_print_minutes(job, ts),
    )
    PrinterFailure.create(
        tenant_id=job.tenant_id,
        printer_id=printer.id,
        print_job_id=job.id,
        error_code=_error_code(data),
        error_message=reason[:500],
        failure_type=classify_failure(data),
        layer_number=data.get("layer"),
        progress_percentage=data.get("progress"),
        temperatures=json.dumps(data.get("temperatures")) if data.get("temperatures") else None,
        created_at=now_ms(),
    )
    Printer.update(status="idle", cleared=not reached, updated_at=now_ms()).where(
        Printer.id == printer.id
    ).execute()
    _enqueue_print_event(job, "job_failed")
    return [job_update_message(job)]


def _on_cancelled(job, printer, data, ts):
    if job.status in FINAL:
        return []
    reached = job.status in ("printing", "paused")
    job = transition(
        job, "cancelled", time_completed=ts, actual_print_time_minutes=_print_minutes(job, ts)
    )
    Printer.update(status="idle", cleared=not reached, updated_at=now_ms()).where(
        Printer.id == printer.id
    ).execute()
    return [job_update_message(job)]


_EVENT_HANDLERS = {
    "file_transferred": _on_transferred,
    "job_started": _on_started,
    "job_paused": _on_paused,
    "job_resumed": _on_resumed,
    "job_finished": _on_finished,
    "job_failed": _on_failed,
    "job_cancelled": _on_cancelled,
}


def _error_code(data: dict) -> str | None:
    if data.get("print_error"):
        return f"{int(data['print_error']):08X}"
    hms = data.get("hms") or []
    if hms:
        first = hms[0]
        return f"{int(first.get('attr', 0)):08X}_{int(first.get('code', 0)):08X}"
    return None


def _describe_error(data: dict) -> str:
    code = _error_code(data)
    return f"printer reported error {code}" if code else "printer reported a failed print"


# HMS attr's top byte is the module (Bambu's HMS wiki): 0x03 motion/mainboard, 0x05 / 0x07 AMS
# and feeding, 0x0C camera/AI (spaghetti, first layer), 0x12 AMS lite. A coarse but honest map.
_HMS_MODULE_TYPES = {
    0x03: "mechanical",
    0x05: "mechanical",
    0x07: "filament",
    0x12: "filament",
    0x0C: "bed_adhesion",
}


def classify_failure(data: dict) -> str:
    """The spec's failure_type (mechanical, filament, bed_adhesion, network, unknown)."""
    if data.get("reason_code") == "network":
        return "network"
    for item in data.get("hms") or []:
        module = (int(item.get("attr", 0)) >> 24) & 0xFF
        if module in _HMS_MODULE_TYPES:
            return _HMS_MODULE_TYPES[module]
    return "unknown"


def _enqueue_print_event(job: PrintJob, kind: str) -> None:
    """Follow-up work (stock, tasks, notifications) through the durable queue, in this transaction."""
    QueueStore().enqueue(
        "print-events",
        {"kind": kind, "job_id": job.id},
        tenant_id=job.tenant_id,
        dedupe_key=f"{kind}:{job.id}",
    )


def finished_good_for(job: PrintJob) -> FinishedGood | None:
    """The finished-goods row of the job's SKU (created on first completion)."""
    if not job.product_sku_id:
        return None
    sku = ProductSku.get_or_none(ProductSku.id == job.product_sku_id)
    if sku is None:
        return None
    row = FinishedGood.get_or_none(
        (FinishedGood.product_sku_id == sku.id) & (FinishedGood.tenant_id == job.tenant_id)
    )
    if row is None:
        now = now_ms()
        row = FinishedGood.create(
            tenant_id=job.tenant_id,
            product_sku_id=sku.id,
            sku=sku.sku,
            color=sku.color,
            material=sku.filament_type or job.material_type,
            low_stock_threshold=sku.low_stock_threshold or 0,
            requires_assembly=job.requires_assembly,
            created_at=now,
            updated_at=now,
        )
    return row
