"""Completion effects: stock, assembly and collection tasks, alerts — exactly once."""

import asyncio

import pytest

from cloud.models import AssemblyTask, FinishedGood, WorklistTask
from cloud.queue import QueueStore, QueueWorker
from cloud.services import jobs, print_events
from cloud.workers.print_events import make_handler
from tests.cloud import model_factories as f


@pytest.fixture
def finished_job(any_db):
    ctx = f.tenant()
    hub = f.hub(ctx)
    printer = f.printer(ctx, hub)
    product, sku = f.product_with_sku(
        ctx, requires_assembly=True, quantity=2, low_stock_threshold=5
    )
    pfile = f.print_file(ctx, product_id=product.id, number_of_units=4)
    job = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    jobs.transition(job, "processing", printer_id=printer.id)
    for event, ts in (("job_started", 1000), ("job_finished", 61_000)):
        jobs.apply_printer_event(ctx.tenant_id, printer.id, event, {}, ts, job.id)
    return ctx, printer, sku, job


def test_completion_effects_apply_once(finished_job):
    ctx, printer, sku, job = finished_job
    (alert,) = print_events.job_completed(job.id)
    assert alert == {
        "type": "inventory_alert",
        "sku_id": sku.id,
        "sku": sku.sku,
        "current_stock": 8,
        "threshold": 5,
        "state": "restocked",
    }
    assert print_events.job_completed(job.id) == []  # redelivery: nothing twice
    (good,) = list(FinishedGood.scoped(ctx))
    assert (
        good.current_stock == 8
        and good.quantity_needs_assembly == 8
        and good.print_job_id == job.id
    )
    (assembly,) = list(AssemblyTask.scoped(ctx))
    assert assembly.quantity == 8 and assembly.finished_good_id == good.id
    tasks = {t.task_type: t for t in WorklistTask.scoped(ctx)}
    assert set(tasks) == {"assembly", "collection"}
    assert tasks["collection"].printer_id == printer.id and "P1" in tasks["collection"].title


def test_failed_print_on_the_bed_gets_a_collection_task(any_db):
    ctx = f.tenant()
    printer = f.printer(ctx, f.hub(ctx))
    pfile = f.print_file(ctx)
    job = jobs.create_job(ctx, print_file_id=pfile.id)
    jobs.transition(job, "processing", printer_id=printer.id)
    jobs.apply_printer_event(ctx.tenant_id, printer.id, "job_started", {}, 1000, job.id)
    jobs.apply_printer_event(
        ctx.tenant_id, printer.id, "job_failed", {"print_error": 0x0300_8001}, 2000, job.id
    )
    print_events.job_failed(job.id)
    print_events.job_failed(job.id)
    (task,) = list(WorklistTask.scoped(ctx))
    assert task.task_type == "collection" and task.priority == "high"


def test_worker_consumes_queue_and_publishes(finished_job):
    ctx, _printer, _sku, job = finished_job
    published, events = [], []

    async def run_inline(fn, *args):
        return fn(*args)

    async def publish(tenant_id, message):
        published.append((tenant_id, message["type"]))

    async def on_event(tenant_id, payload):
        events.append(payload["kind"])

    async def scenario():
        worker = QueueWorker(
            "print-events", make_handler(run_inline, publish, on_event), run_db=run_inline
        )
        return await worker.drain()

    assert asyncio.run(scenario()) == 1
    assert published == [(ctx.tenant_id, "inventory_alert")] and events == ["job_completed"]
    assert QueueStore().depth()["print-events"]["ready"] == 0
