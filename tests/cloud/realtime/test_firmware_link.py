"""The real hub firmware (MicroPython unix port) against the real cloud: hello, claim code, claim,
configure_printer pushed from the printers API, acked, and the printer's status persisted."""

import asyncio

import pytest

from cloud.db.executor import run_db
from cloud.keys import REALTIME, SECRETBOX
from cloud.models import Printer, system_access
from cloud.realtime.models import HubCommand
from cloud.services import hubs as hubs_service
from hub_sim.hub_runner import HubProcess, provision

pytestmark = [pytest.mark.micropython, pytest.mark.slow]


def commands_of(hub_id):
    with system_access():
        return [(c.type, c.status) for c in HubCommand.select().where(HubCommand.hub_id == hub_id)]


def printer_row(printer_id):
    with system_access():
        return Printer.get_by_id(printer_id)


async def test_firmware_claims_configures_and_reports(sqlite_server, tmp_path):
    server = sqlite_server
    hub_id, secret = await run_db(server.app, hubs_service.provision_hub, server.app[SECRETBOX])
    state = tmp_path / "hub"
    await asyncio.to_thread(
        provision,
        state,
        {
            "hub_id": hub_id,
            "secret": secret,
            "cloud_url": server.url.replace("http://", "ws://"),
            "bo_min_ms": 200,
            "bo_max_ms": 1000,
        },
    )
    hub = HubProcess(state)
    await hub.start()
    try:
        await hub.wait_line("claim code", timeout=60)
        realtime = server.app[REALTIME]
        code = realtime.hubs.get(hub_id).claim_code
        assert code in hub.output()  # the firmware shows the code the cloud issued

        owner = await server.register()
        r = await owner.api.post("/api/v1/hubs/claim", json={"claim_code": code})
        assert r.status == 200, r.json
        r = await owner.api.post(
            "/api/v1/printers",
            json={
                "name": "P1",
                "model": "P1S",
                "hub_id": hub_id,
                "serial_number": "01S00A1",
                "ip_address": "127.0.0.1",
                "access_code": "12345678",
            },
        )
        assert r.status == 201, r.json
        printer_id = r.json["id"]

        async def settled():
            while True:
                acked = await run_db(server.app, commands_of, hub_id) == [
                    ("configure_printer", "acked")
                ]
                await realtime.status_writer.flush()
                row = await run_db(server.app, printer_row, printer_id)
                if acked and row.connection_error:  # nothing listens: the hub says why
                    return row
                await asyncio.sleep(0.2)

        row = await asyncio.wait_for(settled(), 60)
        assert row.is_connected is False
        assert "12345678" not in hub.output()  # the access code is never printed
    finally:
        await hub.stop()
