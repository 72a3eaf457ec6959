"""Dispatcher: match queued jobs to free printers and claim both atomically.

A printer takes a job only when it is connected, idle, active, not in maintenance, its bed is
cleared, and it fits the job (model, nozzle, bed type, filament type and colour). The claim is
two conditional UPDATEs in one transaction — the job must still be queued and the printer's bed
still cleared — so one job never reaches two printers and two dispatchers (threads or
processes) never double-assign: the loser's UPDATE matches no row and it rolls back.
"""

import json
from dataclasses import dataclass

from cloud.db import database_proxy
from cloud.models import (
    Hub,
    Printer,
    PrintFile,
    PrintJob,
    Product,
    TenantContext,
    now_ms,
    system_access,
)
from cloud.services.jobs import JobError, job_update_message
from cloud.services.printer_models import same_model

ANY = {None, "", "any"}
NOZZLE_TOLERANCE_MM = 0.01


class _Lost(Exception):
    """Another dispatcher claimed the job or the printer first."""


@dataclass(frozen=True)
class Assignment:
    """A job now on its way to a printer: the caller sends the print_command."""

    tenant_id: str
    job_id: str
    printer_id: str
    hub_id: str
    print_file_id: str
    message: dict  # the job_update to broadcast


def printer_is_free(printer: Printer) -> str | None:
    """None when the printer can take a job now, else why not."""
    if not printer.is_active:
        return "printer is inactive"
    if printer.in_maintenance:
        return "printer is in maintenance"
    if not printer.hub_id:
        return "printer has no hub"
    if not printer.is_connected:
        return "printer is offline"
    if printer.status != "idle":
        return f"printer is {printer.status}"
    if not printer.cleared:
        return "bed not cleared"
    return None


def file_fits_printer(print_file: PrintFile, job: PrintJob, printer: Printer) -> str | None:
    """None when the sliced file and the job's material fit this printer, else why not."""
    if print_file.printer_model_id and not same_model(print_file.printer_model_id, printer.model):
        return f"file is sliced for {print_file.printer_model_id}, printer is {printer.model}"
    if (
        print_file.nozzle_diameter
        and printer.nozzle_size
        and (abs(print_file.nozzle_diameter - printer.nozzle_size) > NOZZLE_TOLERANCE_MM)
    ):
        return f"file needs a {print_file.nozzle_diameter} mm nozzle, printer has {printer.nozzle_size} mm"
    if (
        print_file.curr_bed_type
        and printer.current_build_plate
        and (print_file.curr_bed_type.lower() != printer.current_build_plate.lower())
    ):
        return f"file needs {print_file.curr_bed_type}, printer has {printer.current_build_plate}"
    # Loaded material and colour count only when known: a farm that does not track them yet
    # still dispatches; once a printer's filament is recorded, a mismatch never prints.
    loaded = (printer.current_filament_type or "").strip()
    if job.filament_type not in ANY and loaded and loaded.lower() != job.filament_type.lower():
        return f"job needs {job.filament_type}, printer has {loaded} loaded"
    known_colour = (printer.current_color or printer.current_color_hex or "").strip()
    if job.color not in ANY and known_colour and not _same_colour(job.color, printer):
        return f"job needs {job.color}, printer has {known_colour} loaded"
    return None


def _same_colour(wanted: str, printer: Printer) -> bool:
    wanted = wanted.strip().lower()
    return wanted in {
        (printer.current_color or "").strip().lower(),
        (printer.current_color_hex or "").strip().lower(),
    }


def candidate_files(job: PrintJob) -> list[PrintFile]:
    """The job's file, then the product's other files (one may be sliced for another model)."""
    print_file = PrintFile.get_by_id(job.print_file_id)
    if not job.product_id:
        return [print_file]
    siblings = (
        PrintFile.select()
        .where(
            (PrintFile.tenant_id == job.tenant_id)
            & (PrintFile.product_id == job.product_id)
            & (PrintFile.id != print_file.id)
        )
        .order_by(PrintFile.created_at, PrintFile.id)
    )
    return [print_file, *siblings]


def file_for_printer(
    job: PrintJob, printer: Printer, candidates: list[PrintFile] | None = None
) -> tuple[PrintFile | None, str | None]:
    """The first candidate file that fits this printer; else why the job's own file does not.
    Pass `candidates` (from candidate_files) when trying one job on several printers."""
    candidates = candidates if candidates is not None else candidate_files(job)
    for print_file in candidates:
        if file_fits_printer(print_file, job, printer) is None:
            return print_file, None
    return None, file_fits_printer(candidates[0], job, printer)


def _preferred_printers(product_id: str | None, cache: dict) -> list[str]:
    """The product's printer priority list (read once per dispatch pass per product)."""
    if product_id not in cache:
        preferred: list[str] = []
        product = Product.get_or_none(Product.id == product_id) if product_id else None
        if product and product.printer_priority:
            try:
                preferred = [str(p) for p in json.loads(product.printer_priority)]
            except (ValueError, TypeError):
                preferred = []
        cache[product_id] = preferred
    return cache[product_id]


def _priority_rank(job: PrintJob, printers: list[Printer], cache: dict) -> list[Printer]:
    """Printers in the product's preferred order first, then by the farm's sort order."""
    position = {pid: i for i, pid in enumerate(_preferred_printers(job.product_id, cache))}
    return sorted(
        printers, key=lambda p: (position.get(p.id, len(position)), p.sort_order or 0, p.name)
    )


def _claim(
    job: PrintJob, printer: Printer, print_file: PrintFile, on_claim=None
) -> Assignment | None:
    """Claim job and printer together; `on_claim(assignment)` runs inside the same transaction
    (it persists the print_command), so a claim never commits without its command."""
    now = now_ms()
    try:
        with database_proxy.atomic():
            took_printer = (
                Printer.update(cleared=False, updated_at=now)
                .where(
                    (Printer.id == printer.id)
                    & (Printer.cleared == True)
                    & (Printer.status == "idle")
                    & (Printer.in_maintenance == False)
                )
                .execute()
            )
            took_job = (
                PrintJob.update(
                    status="processing",
                    printer_id=printer.id,
                    print_file_id=print_file.id,
                    file_name=print_file.name,
                    number_of_units=print_file.number_of_units or 1,
                    printer_name=printer.name,
                    printer_model=printer.model,
                    printer_numeric_id=printer.printer_id,
                    updated_at=now,
                    last_sync_time=now,
                )
                .where(
                    (PrintJob.id == job.id)
                    & (PrintJob.status == "queued")
                    & ((PrintJob.printer_id.is_null()) | (PrintJob.printer_id == printer.id))
                )
                .execute()
            )
            if took_printer != 1 or took_job != 1:
                raise _Lost()
            assignment = Assignment(
                job.tenant_id,
                job.id,
                printer.id,
                printer.hub_id,
                print_file.id,
                job_update_message(PrintJob.get_by_id(job.id)),
            )
            if on_claim is not None:
                on_claim(assignment)
    except _Lost:
        return None
    return assignment


def dispatch_tenant(tenant_id: str, limit: int = 50, on_claim=None) -> list[Assignment]:
    """Assign as many queued jobs of one tenant as free printers allow (priority, then age).
    `on_claim` runs inside each claim's transaction; if it raises, that claim rolls back."""
    assignments: list[Assignment] = []
    with system_access():
        online_hubs = {
            h.id
            for h in Hub.select(Hub.id).where(
                (Hub.tenant_id == tenant_id) & (Hub.is_online == True)
            )
        }
        free = [
            p
            for p in Printer.select().where(Printer.tenant_id == tenant_id)
            if printer_is_free(p) is None and p.hub_id in online_hubs
        ]
        if not free:
            return []
        priorities: dict = {}  # product id -> preferred printers, for this pass
        queued = (
            PrintJob.select()
            .where((PrintJob.tenant_id == tenant_id) & (PrintJob.status == "queued"))
            .order_by(
                PrintJob.priority.desc(), PrintJob.time_submitted, PrintJob.created_at, PrintJob.id
            )
            .limit(limit * 4)
        )
        for job in queued:
            candidates = [p for p in free if job.printer_id in (None, p.id)]
            files = candidate_files(job)  # once per job, whatever the number of printers
            for printer in _priority_rank(job, candidates, priorities):
                print_file, _reason = file_for_printer(job, printer, files)
                if print_file is None:
                    continue
                assignment = _claim(job, printer, print_file, on_claim)
                if assignment:
                    assignments.append(assignment)
                    free.remove(printer)
                    break
            if not free or len(assignments) >= limit:
                break
    return assignments


def assign_job(ctx: TenantContext, job_id: str, printer_id: str, on_claim=None) -> Assignment:
    """Manual assignment of one queued job to one printer; a clear 409 when it cannot go."""
    job = PrintJob.get_scoped(ctx, job_id)
    printer = Printer.get_scoped(ctx, printer_id)
    if job.status != "queued":
        raise JobError("invalid_transition", f"a {job.status} job cannot be assigned")
    with system_access():
        hub = Hub.get_or_none(Hub.id == printer.hub_id) if printer.hub_id else None
        reason = printer_is_free(printer) or (
            None if hub and hub.is_online else "the printer's hub is offline"
        )
        if reason:
            raise JobError("printer_unavailable", reason)
        print_file, reason = file_for_printer(job, printer)
        if print_file is None:
            raise JobError("printer_mismatch", reason)
        assignment = _claim(job, printer, print_file, on_claim)
    if assignment is None:
        raise JobError("conflict", "the job or the printer was taken meanwhile; try again")
    return assignment


def tenants_with_queued_jobs() -> list[str]:
    """Tenants that have at least one queued job (the dispatcher's periodic sweep)."""
    with system_access():
        rows = PrintJob.select(PrintJob.tenant_id).where(PrintJob.status == "queued").distinct()
        return [row.tenant_id for row in rows]


def explain(ctx: TenantContext, job_id: str) -> list[dict]:
    """Why a queued job is or is not going to each printer of the tenant (for the UI)."""
    job = PrintJob.get_scoped(ctx, job_id)
    out = []
    with system_access():
        files = candidate_files(job)
        for printer in (
            Printer.select()
            .where(Printer.tenant_id == ctx.tenant_id)
            .order_by(Printer.sort_order, Printer.name)
        ):
            reason = printer_is_free(printer)
            if reason is None:
                _file, reason = file_for_printer(job, printer, files)
            out.append(
                {
                    "printer_id": printer.id,
                    "name": printer.name,
                    "eligible": reason is None,
                    "reason": reason,
                }
            )
    return out
