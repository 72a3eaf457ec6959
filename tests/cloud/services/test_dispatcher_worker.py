"""Dispatcher worker: a claim commits together with its persisted print_command, or not at all."""

import pytest

from cloud.models import Hub, PrintJob, TenantContext, system_access
from cloud.realtime.events import HubIdentity
from cloud.realtime.models import HubCommand
from cloud.security.secretbox import SecretBox
from cloud.services import commands, jobs
from cloud.services.job_events import JobEventSink
from cloud.services.print_commands import print_command_for, printer_file_name
from cloud.storage.signing import UrlSigner
from cloud.workers.dispatcher import Dispatcher
from protocol.codec import unpackb
from tests.cloud import model_factories as f

BOX = SecretBox(b"s" * 32)
SIGNER = UrlSigner(b"u" * 32)


async def run_inline(fn, *args):
    return fn(*args)


def persist_command(assignment):
    message = print_command_for(assignment, SIGNER, "https://cloud.example.test")
    commands.enqueue_command(BOX, TenantContext(assignment.tenant_id), assignment.hub_id, message)


@pytest.fixture
def farm(any_db):
    ctx = f.tenant()
    hub = f.hub(ctx)
    printer = f.printer(ctx, hub)
    product, sku = f.product_with_sku(ctx)
    pfile = f.print_file(ctx, name="Widget v2.3mf", product_id=product.id, file_size_bytes=123456)
    job = jobs.create_job(ctx, print_file_id=pfile.id, product_sku_id=sku.id)
    return ctx, hub, printer, pfile, job


async def test_claim_persists_a_valid_print_command(farm):
    ctx, hub, printer, pfile, job = farm
    after = []
    dispatcher = Dispatcher(run_inline, persist_command, after.append)
    (assignment,) = await dispatcher.run_once()
    assert after == [assignment] and assignment.message["status"] == "processing"
    (command,) = list(HubCommand.scoped(ctx))
    message = unpackb(command.payload)
    assert command.hub_id == hub.id and command.type == "print_command"
    assert message["job_id"] == job.id and message["printer_id"] == printer.id
    assert (
        message["file_url"].startswith("https://cloud.example.test/")
        and "signature=" in message["file_url"]
    )
    assert message["file_size"] == 123456 and message["file_name"] == printer_file_name(
        job.id, pfile.name
    )
    assert message["options"]["bed_type"] == "Textured PEI Plate"


async def test_unclaimed_hub_rolls_the_claim_back(farm):
    ctx, hub, _printer, _pfile, job = farm
    with system_access():
        Hub.update(tenant_id=None).where(Hub.id == hub.id).execute()  # released meanwhile
        Hub.update(is_online=True).execute()
    # The printer still names the hub; the command cannot be stored, so nothing is claimed.
    ctx_other_hub = f.hub(ctx)
    with system_access():
        from cloud.models import Printer

        Printer.update(hub_id=hub.id).execute()
    dispatcher = Dispatcher(run_inline, persist_command, lambda a: None)
    assert await dispatcher.run_once() == []
    assert PrintJob.get_scoped(ctx, job.id).status == "queued"
    assert list(HubCommand.scoped(ctx)) == [] and ctx_other_hub


def test_file_names_are_safe_and_unique():
    assert printer_file_name("0123456789", "my part (v2).3mf") == "my_part_v2-01234567.3mf"
    assert printer_file_name("abcdefgh", "../../etc/passwd") == "passwd-abcdefgh.3mf"


def test_sink_turns_a_refused_print_command_into_a_requeue(farm):
    ctx, hub, printer, _pfile, job = farm
    jobs.transition(job, "processing", printer_id=printer.id)
    record = commands.CommandRecord(
        command_id="c1",
        hub_id=hub.id,
        tenant_id=ctx.tenant_id,
        type="print_command",
        message={"job_id": job.id},
    )
    sink = JobEventSink()
    (message,) = sink.apply_command_ack(
        HubIdentity(hub.id, ctx.tenant_id),
        record,
        {"success": False, "error": {"code": "printer_offline", "message": "x"}},
    )
    assert message["status"] == "queued"
    assert (
        sink.apply(
            HubIdentity(hub.id, None), {"printer_id": printer.id, "event": "job_started", "ts": 1}
        )
        is None
    )
