"""The print-job resource as the API sees it: fields, filters, search, and the list/get/create
entry points over cloud.services.jobs."""

from cloud.errors import ApiError
from cloud.models import Printer, PrintFile, PrintJob, ProductSku
from cloud.queue.store import QueueStore
from cloud.services import crud, dispatch, jobs
from cloud.services.fields import clean, integer, reference, text

# Dead letters are queue rows with integer ids; the API names them "dl-<n>" so an id is never a
# bare number that could be mistaken for anything else.
DEAD_LETTER_PREFIX = "dl-"

JOBS = crud.Resource(
    name="print job",
    model=PrintJob,
    fields={
        "print_file_id": reference(PrintFile, required=True),
        "product_sku_id": reference(ProductSku),
        "printer_id": reference(Printer),
        "priority": integer(-1000, 1000),
        "color": text(64),
        "filament_type": text(32),
    },
    filters={
        "status": crud.Filter("status", "enum", jobs.JOB_STATUSES),
        "printer_id": crud.Filter("printer_id"),
        "product_sku_id": crud.Filter("product_sku_id"),
        "print_file_id": crud.Filter("print_file_id"),
        "product_id": crud.Filter("product_id"),
    },
    search=("file_name", "product_name", "sku_name", "printer_name"),
    sortable=(
        "created_at",
        "updated_at",
        "time_submitted",
        "time_started",
        "time_completed",
        "priority",
        "status",
    ),
    default_sort="-created_at",
)


def as_api_error(error: jobs.JobError) -> ApiError:
    """A JobError as the API answers it (409 for state conflicts)."""
    return ApiError(error.status, error.code, error.message)


def list_jobs(ctx, params) -> dict:
    """One page of jobs (filters: status, printer_id, product_sku_id, print_file_id, product_id;
    search q over file, product, SKU and printer names; from/to over created_at)."""
    return crud.list_rows(ctx, JOBS, params)


def get_job(ctx, job_id) -> dict:
    """One job."""
    return crud.to_api(JOBS, PrintJob.get_scoped(ctx, job_id))


def create_job(ctx, data) -> dict:
    """Queue a job from an API body (fields checked against the tenant's own rows)."""
    values = clean(ctx, data, JOBS.fields, partial=False)
    job = jobs.create_job(ctx, **{k: v for k, v in values.items() if v is not None})
    return crud.to_api(JOBS, job)


def run_action(ctx, action: str, job_id: str):
    """cancel | retry | reprint: returns (job dict, printer commands to send)."""
    try:
        if action == "cancel":
            job, commands = jobs.cancel_job(ctx, job_id)
            return crud.to_api(JOBS, job), commands
        if action == "retry":
            return crud.to_api(JOBS, jobs.retry_job(ctx, job_id)), []
        if action == "reprint":
            return crud.to_api(JOBS, jobs.reprint_job(ctx, job_id)), []
    except jobs.JobError as error:
        raise as_api_error(error) from None
    raise ValueError(action)


def assign(ctx, job_id: str, printer_id: str, on_claim):
    """Manual assignment; returns the Assignment (its command is persisted by on_claim)."""
    try:
        return dispatch.assign_job(ctx, job_id, printer_id, on_claim)
    except jobs.JobError as error:
        raise as_api_error(error) from None


def clear_bed(ctx, printer_id: str) -> dict:
    """Mark a printer's bed cleared; returns {printer_id, cleared}."""
    try:
        printer = jobs.mark_bed_cleared(ctx, printer_id)
    except jobs.JobError as error:
        raise as_api_error(error) from None
    return {"printer_id": printer.id, "cleared": bool(printer.cleared)}


def dead_letters(ctx, queue: str | None) -> dict:
    """This tenant's dead-lettered background work."""
    items = [
        {
            "id": f"{DEAD_LETTER_PREFIX}{m.id}",
            "queue": m.queue,
            "attempts": m.attempts,
            "last_error": m.last_error,
            "payload": m.payload,
            "created_at": m.created_at,
            "updated_at": m.updated_at,
        }
        for m in QueueStore().dead_letters(queue, tenant_id=ctx.tenant_id)
    ]
    return {"items": items, "total": len(items)}


def retry_dead_letter(ctx, public_id: str) -> dict:
    """Give one of this tenant's dead letters fresh attempts (404 if not theirs or not dead)."""
    number = public_id.removeprefix(DEAD_LETTER_PREFIX)
    if not public_id.startswith(DEAD_LETTER_PREFIX) or not number.isdigit() or len(number) > 18:
        raise ApiError(404, "not_found", f"dead letter {public_id} not found")
    if not QueueStore().retry_dead(int(number), tenant_id=ctx.tenant_id):
        raise ApiError(404, "not_found", f"dead letter {public_id} not found")
    return {"id": public_id, "status": "ready"}
