"""Dispatcher: which printer gets which job, and never one job on two printers."""

import multiprocessing

import pytest

from cloud.models import Hub, Printer, PrintJob, Product, system_access
from cloud.services import dispatch, jobs
from tests.cloud import model_factories as f
from tests.conftest import postgres_database


@pytest.fixture
def farm(any_db):
    ctx = f.tenant()
    hub = f.hub(ctx)
    product, sku = f.product_with_sku(ctx)
    pfile = f.print_file(ctx, product_id=product.id)
    return ctx, hub, product, sku, pfile


def test_priority_then_age_and_one_job_per_printer(farm):
    ctx, hub, _product, sku, pfile = farm
    p1 = f.printer(ctx, hub, "P1")
    old = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    urgent = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id, priority=5)
    (assignment,) = dispatch.dispatch_tenant(ctx.tenant_id)
    assert (
        assignment.job_id == urgent.id
        and assignment.printer_id == p1.id
        and assignment.hub_id == hub.id
    )
    assert PrintJob.get_scoped(ctx, old.id).status == "queued"
    assert Printer.get_scoped(ctx, p1.id).cleared is False  # reserved: no second job
    assert dispatch.dispatch_tenant(ctx.tenant_id) == []


@pytest.mark.parametrize(
    "change, reason",
    [
        (dict(cleared=False), "bed not cleared"),
        (dict(in_maintenance=True), "maintenance"),
        (dict(is_connected=False), "offline"),
        (dict(status="printing"), "printing"),
        (dict(model="X1C"), "sliced for C12"),
        (dict(nozzle_size=0.6), "0.4 mm nozzle"),
        (dict(current_build_plate="Cool Plate"), "Textured PEI"),
        (dict(current_filament_type="PETG"), "needs PLA"),
        (dict(current_color="Blue"), "needs Red"),
    ],
)
def test_unfit_printers_get_nothing_and_say_why(farm, change, reason):
    ctx, hub, _product, sku, pfile = farm
    printer = f.printer(ctx, hub, "P1", **change)
    job = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    assert dispatch.dispatch_tenant(ctx.tenant_id) == []
    (explained,) = dispatch.explain(ctx, job.id)
    assert explained["printer_id"] == printer.id and not explained["eligible"]
    assert reason in explained["reason"]


def test_unknown_loaded_filament_does_not_block(farm):
    ctx, hub, _product, sku, pfile = farm
    printer = f.printer(ctx, hub, current_filament_type=None, current_color=None)
    jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    (assignment,) = dispatch.dispatch_tenant(ctx.tenant_id)
    assert assignment.printer_id == printer.id


def test_offline_hub_gets_nothing(farm):
    ctx, hub, _product, sku, pfile = farm
    f.printer(ctx, hub)
    Hub.update_scoped(ctx, is_online=False).where(Hub.id == hub.id).execute()
    jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    assert dispatch.dispatch_tenant(ctx.tenant_id) == []


def test_file_sliced_for_the_printers_model_is_chosen(farm):
    ctx, hub, product, sku, pfile = farm
    x1 = f.printer(ctx, hub, "X1", model="X1C")
    x1_file = f.print_file(
        ctx,
        name="widget-x1.3mf",
        product_id=product.id,
        printer_model_id="BL-P001",
        number_of_units=6,
    )
    job = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    (assignment,) = dispatch.dispatch_tenant(ctx.tenant_id)
    assert assignment.printer_id == x1.id and assignment.print_file_id == x1_file.id
    row = PrintJob.get_scoped(ctx, job.id)
    assert (
        row.print_file_id == x1_file.id and row.number_of_units == 6 and row.printer_model == "X1C"
    )


def test_product_printer_priority_is_honoured(farm):
    ctx, hub, product, sku, pfile = farm
    f.printer(ctx, hub, "A", sort_order=0)
    b = f.printer(ctx, hub, "B", sort_order=1)
    Product.update_scoped(ctx, printer_priority=f'["{b.id}"]').where(
        Product.id == product.id
    ).execute()
    jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    (assignment,) = dispatch.dispatch_tenant(ctx.tenant_id)
    assert assignment.printer_id == b.id


def test_manual_assignment(farm):
    ctx, hub, _product, sku, pfile = farm
    a = f.printer(ctx, hub, "A")
    busy = f.printer(ctx, hub, "B", cleared=False)
    job = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    with pytest.raises(jobs.JobError, match="bed not cleared"):
        dispatch.assign_job(ctx, job.id, busy.id)
    assert dispatch.assign_job(ctx, job.id, a.id).printer_id == a.id
    with pytest.raises(jobs.JobError):
        dispatch.assign_job(ctx, job.id, a.id)


def test_pinned_job_waits_for_its_printer(farm):
    ctx, hub, _product, sku, pfile = farm
    pinned_to = f.printer(ctx, hub, "A", cleared=False)
    f.printer(ctx, hub, "B")
    jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id, printer_id=pinned_to.id)
    assert dispatch.dispatch_tenant(ctx.tenant_id) == []


def _dispatch_in_process(url, tenant_id, out):
    from cloud.db import bind_database, open_database

    bind_database(open_database(url))
    out.put([(a.job_id, a.printer_id) for a in dispatch.dispatch_tenant(tenant_id)])


@pytest.mark.postgres
def test_two_processes_never_double_assign():
    """Four dispatcher processes race over 12 jobs and 6 printers on one PostgreSQL database."""
    from cloud.db import bind_database, open_database
    from cloud.db.migrate import migrate

    with postgres_database() as url:
        database = open_database(url)
        migrate(database)
        bind_database(database)
        ctx = f.tenant()
        hub = f.hub(ctx)
        product, sku = f.product_with_sku(ctx)
        pfile = f.print_file(ctx, product_id=product.id)
        for i in range(6):
            f.printer(ctx, hub, f"P{i}")
        for _ in range(12):
            jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
        database.close_all()
        spawn = multiprocessing.get_context("spawn")
        out = spawn.Queue()
        procs = [
            spawn.Process(target=_dispatch_in_process, args=(url, ctx.tenant_id, out))
            for _ in range(4)
        ]
        for p in procs:
            p.start()
        results = [pair for _ in procs for pair in out.get(timeout=120)]
        for p in procs:
            p.join(timeout=30)
        jobs_taken = [job for job, _ in results]
        printers_taken = [printer for _, printer in results]
        assert len(results) == 6
        assert len(set(jobs_taken)) == 6 and len(set(printers_taken)) == 6
        with system_access():
            assert PrintJob.select().where(PrintJob.status == "processing").count() == 6
        database.close_all()
