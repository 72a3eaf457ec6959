"""Job lifecycle: transitions from hub events and user actions, idempotent and race-safe."""

import pytest

from cloud.models import Printer, PrinterFailure, PrintJob, system_access
from cloud.queue import QueueStore
from cloud.services import jobs
from tests.cloud import model_factories as f


@pytest.fixture
def farm(any_db):
    ctx = f.tenant()
    hub = f.hub(ctx)
    printer = f.printer(ctx, hub)
    product, sku = f.product_with_sku(ctx, requires_assembly=True)
    pfile = f.print_file(ctx, product_id=product.id)
    return ctx, hub, printer, product, sku, pfile


def start(ctx, printer, pfile, sku):
    job = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    jobs.transition(job, "processing", printer_id=printer.id)
    return job


def test_create_job_fills_denormalised_fields(farm):
    ctx, _hub, _printer, product, sku, pfile = farm
    job = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id, priority=3)
    assert job.status == "queued" and job.color == "Red" and job.filament_type == "PLA"
    assert job.product_name == product.name and job.sku_name == sku.sku and job.requires_assembly
    assert job.filament_needed_grams == 1250 and job.estimated_print_time_minutes == 60
    assert job.number_of_units == 4 and job.time_submitted > 0


def test_full_lifecycle_from_hub_events(farm):
    ctx, _hub, printer, _product, sku, pfile = farm
    job = start(ctx, printer, pfile, sku)
    t0 = 1_800_000_000_000

    def apply(event, **data):
        ts = t0 + data.pop("dt", 0)
        return jobs.apply_printer_event(ctx.tenant_id, printer.id, event, data, ts, job.id)

    assert apply("file_transferred", md5="x")[0]["status"] == "uploaded"
    assert apply("job_started")[0]["status"] == "printing"
    assert apply("job_paused", dt=60_000)[0]["status"] == "paused"
    assert apply("job_resumed", dt=120_000)[0]["status"] == "printing"
    messages = apply("job_finished", dt=90 * 60_000)
    assert messages[0]["status"] == "completed" and messages[0]["actual_time_minutes"] == 90
    assert apply("job_finished", dt=91 * 60_000) == []  # a replayed event changes nothing
    row = PrintJob.get_scoped(ctx, job.id)
    assert row.progress_percentage == 100 and row.time_completed == t0 + 90 * 60_000
    after = Printer.get_scoped(ctx, printer.id)
    assert after.cleared is False and after.total_print_time == 90  # bed must be cleared by staff
    with system_access():
        (message,) = QueueStore().lease("print-events", "t")
    assert message.payload == {"kind": "job_completed", "job_id": job.id}


def test_failure_records_printer_failure_and_reason(farm):
    ctx, _hub, printer, _product, sku, pfile = farm
    job = start(ctx, printer, pfile, sku)
    jobs.apply_printer_event(ctx.tenant_id, printer.id, "job_started", {}, 1000, job.id)
    hms = [{"attr": 0x07002300, "code": 0x00010001}]
    (msg,) = jobs.apply_printer_event(
        ctx.tenant_id,
        printer.id,
        "job_failed",
        {"hms": hms, "layer": 12, "progress": 30},
        61_000,
        job.id,
    )
    assert msg["status"] == "failed" and "07002300_00010001" in msg["failure_reason"]
    (failure,) = list(PrinterFailure.scoped(ctx))
    assert (
        failure.failure_type == "filament"
        and failure.layer_number == 12
        and failure.print_job_id == job.id
    )


def test_partial_or_unknown_events_change_nothing(farm):
    ctx, _hub, printer, _product, sku, pfile = farm
    job = start(ctx, printer, pfile, sku)
    assert jobs.apply_printer_event(ctx.tenant_id, printer.id, "job_resumed", {}, 1, job.id) == []
    assert jobs.apply_printer_event(ctx.tenant_id, printer.id, "printer_error", {}, 1, job.id) == []
    assert PrintJob.get_scoped(ctx, job.id).status == "processing"


def test_print_started_at_the_printer_is_recorded(farm):
    ctx, _hub, printer, *_ = farm
    (msg,) = jobs.apply_printer_event(
        ctx.tenant_id, printer.id, "job_started", {"job_name": "benchy"}, 5000
    )
    job = PrintJob.get_scoped(ctx, msg["job_id"])
    assert (
        job.status == "printing"
        and job.file_name == "[external] benchy"
        and job.printer_id == printer.id
    )
    # Its finish arrives without a job id too and still lands on it.
    (done,) = jobs.apply_printer_event(ctx.tenant_id, printer.id, "job_finished", {}, 65_000)
    assert done["job_id"] == job.id and done["status"] == "completed"


def test_events_for_another_tenants_printer_are_refused(farm):
    ctx, *_ = farm
    other = f.tenant("other")
    other_printer = f.printer(other, f.hub(other))
    with pytest.raises(LookupError):
        jobs.apply_printer_event(ctx.tenant_id, other_printer.id, "job_started", {}, 1)


def test_command_failures_requeue_or_fail(farm):
    ctx, _hub, printer, _product, sku, pfile = farm
    job = start(ctx, printer, pfile, sku)
    Printer.update_scoped(ctx, cleared=False).where(Printer.id == printer.id).execute()
    (msg,) = jobs.apply_command_result(
        ctx.tenant_id, job.id, False, {"code": "printer_busy", "message": "x"}
    )
    assert msg["status"] == "queued" and PrintJob.get_scoped(ctx, job.id).printer_id is None
    assert Printer.get_scoped(ctx, printer.id).cleared is True  # nothing reached the bed
    jobs.transition(PrintJob.get_scoped(ctx, job.id), "processing", printer_id=printer.id)
    (msg,) = jobs.apply_command_result(
        ctx.tenant_id, job.id, False, {"code": "md5_mismatch", "message": "bad"}
    )
    assert msg["status"] == "failed" and msg["failure_reason"] == "md5_mismatch: bad"


def test_user_actions_cancel_retry_reprint(farm):
    ctx, _hub, printer, _product, sku, pfile = farm
    job = start(ctx, printer, pfile, sku)
    jobs.apply_printer_event(ctx.tenant_id, printer.id, "job_started", {}, 1000, job.id)
    cancelled, commands = jobs.cancel_job(ctx, job.id)
    assert cancelled.status == "cancelled" and commands[0]["action"] == "stop"
    with pytest.raises(jobs.JobError):
        jobs.cancel_job(ctx, job.id)
    retried = jobs.retry_job(ctx, job.id)
    assert retried.status == "queued" and retried.printer_id is None
    with pytest.raises(jobs.JobError):
        jobs.reprint_job(ctx, job.id)  # still queued
    queued_cancel, commands = jobs.cancel_job(ctx, job.id)
    assert commands == []
    again = jobs.reprint_job(ctx, job.id)
    assert again.id != job.id and again.status == "queued" and again.product_sku_id == sku.id


def test_bed_clear_refused_while_printing(farm):
    ctx, _hub, printer, _product, sku, pfile = farm
    job = start(ctx, printer, pfile, sku)
    with pytest.raises(jobs.JobError):
        jobs.mark_bed_cleared(ctx, printer.id)
    jobs.apply_printer_event(ctx.tenant_id, printer.id, "job_started", {}, 1000, job.id)
    jobs.apply_printer_event(ctx.tenant_id, printer.id, "job_finished", {}, 2000, job.id)
    assert jobs.mark_bed_cleared(ctx, printer.id).cleared is True


def test_transition_loses_to_a_concurrent_writer(farm):
    ctx, _hub, _printer, _product, sku, pfile = farm
    job = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    stale = PrintJob.get_scoped(ctx, job.id)
    jobs.transition(job, "cancelled")
    with pytest.raises(jobs.JobError, match="concurrently"):
        jobs.transition(stale, "processing")
