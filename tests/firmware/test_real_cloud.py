"""The hub firmware against the real cloud hub endpoint (cloud/realtime on SQLite), not a stand-in."""

import asyncio

import pytest

from cloud.models import Hub, Printer, system_access
from cloud.realtime.ledger import acked_seq_of
from cloud.services.commands import command_status, enqueue_command
from hub_sim.hub_runner import HubProcess, provision
from tests.cloud.realtime.conftest import farm  # noqa: F401  (the real-time core fixture)
from tests.firmware.conftest import HEAP, MPY_SCRIPTS, printer_map

pytestmark = pytest.mark.micropython


def rows(hub_id, printer_id):
    with system_access():
        return Hub.get_by_id(hub_id), Printer.get_by_id(printer_id)


async def test_firmware_authenticates_and_reports_to_the_real_cloud(farm, tmp_path):  # noqa: F811
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, printer_ids = await farm.hub(ctx, printers=1)
    state = tmp_path / "hub"
    provision(
        state,
        {
            "hub_id": hub_id,
            "secret": secret,
            "cloud_url": farm.ws_url,
            "printers": [printer_map(printer_ids[0])],
            "bo_min_ms": 100,
            "bo_max_ms": 1600,
        },
    )
    hub = HubProcess(
        state, heap=HEAP, extra_paths=[MPY_SCRIPTS], script=MPY_SCRIPTS / "fake_hub.py"
    )
    await hub.start()
    try:
        await hub.wait_line("up: claimed=True", timeout=60)

        async def reported():
            while True:
                h, p = await farm.db(rows, hub_id, printer_ids[0])
                if h.is_online and p.status == "idle":
                    return h, p
                await asyncio.sleep(0.1)

        h, p = await asyncio.wait_for(reported(), 60)
        assert h.firmware_version == "0.1.0"

        # A print command through the cloud's own queue: executed, acked, its events applied.
        command = {
            "type": "print_command",
            "printer_id": printer_ids[0],
            "job_id": "job-1",
            "action": "start",
            "file_url": "http://127.0.0.1:9/files/job-1.3mf",
            "file_name": "job-1.3mf",
            "file_size": 4000,
        }
        cid = await farm.db(enqueue_command, farm.box, ctx, hub_id, command)
        farm.realtime.notify_hub(hub_id)

        async def settled():
            while True:
                st = await farm.db(command_status, ctx, cid)
                seq = await farm.db(acked_seq_of, hub_id)
                if st["status"] != "pending" and st["status"] != "sent" and seq >= 3:
                    return st, seq
                await asyncio.sleep(0.1)

        st, seq = await asyncio.wait_for(settled(), 60)
        assert st["status"] == "acked" and st["result"]["md5"], st
        assert seq == 3  # file_transferred, job_started, job_finished
        assert secret not in hub.output()
    finally:
        await hub.stop()
        print("\n".join(hub.lines[-40:]))
