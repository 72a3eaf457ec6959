"""The cloud's half of a print, over real HTTP and a real hub socket: a queued job is dispatched
to a simulated hub, the file downloads through its signed URL, hub events complete the job, and
the follow-up work appears. On SQLite and PostgreSQL."""

import asyncio
import hashlib

import aiohttp
import pytest

from tests.cloud.realtime.test_hubs_api import provision
from tests.cloud.resources.threemf_fixtures import write_bambu_3mf
from tools.bench.hub_client import SimHub

FAST = {"dispatch_interval_s": 0.1}


async def poll(fetch, predicate, timeout=15.0):
    """Re-fetch until predicate(value) holds (failure guard timeout); return the value."""

    async def loop():
        while True:
            value = await fetch()
            if predicate(value):
                return value
            await asyncio.sleep(0.05)

    return await asyncio.wait_for(loop(), timeout)


async def farm_with_printer(server, owner):
    hub_id, secret = await provision(server)
    hub = SimHub(server.url.replace("http://", "ws://"), hub_id, secret)
    hello = await hub.connect()
    r = await owner.api.post("/api/v1/hubs/claim", json={"claim_code": hello["claim_code"]})
    assert r.status == 200, r.json
    r = await owner.api.post(
        "/api/v1/printers",
        json={
            "name": "P1S-01",
            "model": "P1S",
            "hub_id": hub_id,
            "serial_number": "01P00A000000001",
            "ip_address": "192.0.2.10",
            "access_code": "12345678",
        },
    )
    assert r.status == 201, r.json
    printer_id = r.json["id"]
    await hub.wait_for(lambda h: any(c["type"] == "configure_printer" for c in h.commands))

    async def report_idle():
        # A hub re-reports about once a second; a report that arrives before the cloud has
        # loaded the new printer into the hub's connection is dropped, the next one counts.
        await hub.send_status(
            printer_id, {"state": "idle", "connected": True, "gcode_state": "IDLE"}
        )
        await asyncio.sleep(0.2)
        return await owner.api.get(f"/api/v1/printers/{printer_id}")

    await poll(report_idle, lambda r: r.json["is_connected"] and r.json["status"] == "idle")
    return hub, printer_id


async def upload(server, owner, name="widget.3mf") -> tuple[str, bytes]:
    path = server.config.data_dir / name
    write_bambu_3mf(path, model_id="C12")
    data = path.read_bytes()
    r = await owner.api.post(
        "/api/v1/files",
        data=data,
        params={"name": name},
        headers={"Content-Type": "application/octet-stream"},
    )
    assert r.status == 201, r.json
    return r.json["id"], data


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
async def test_job_travels_to_the_hub_and_back(server_factory, backend):
    async with server_factory(backend, **FAST) as server:
        owner = await server.register()
        hub, printer_id = await farm_with_printer(server, owner)
        try:
            file_id, data = await upload(server, owner)
            r = await owner.api.post("/api/v1/jobs", json={"print_file_id": file_id, "priority": 3})
            assert r.status == 201, r.json
            job_id = r.json["id"]

            command = (
                await hub.wait_for(
                    lambda h: [c for c in h.commands if c["type"] == "print_command"]
                )
            )[0]
            assert command["job_id"] == job_id and command["printer_id"] == printer_id
            assert command["file_size"] == len(data) and command["file_name"].endswith(".3mf")
            # The hub downloads through the signed URL, resuming with Range as it would.
            async with aiohttp.ClientSession() as http:
                async with http.get(command["file_url"], headers={"Range": "bytes=100-"}) as resp:
                    assert resp.status == 206
                    tail = await resp.read()
                async with http.get(command["file_url"] + "x") as resp:
                    assert resp.status == 403  # a tampered signature
            assert tail == data[100:]
            job = (await owner.api.get(f"/api/v1/jobs/{job_id}")).json
            assert job["status"] == "processing" and job["printer_id"] == printer_id

            md5 = hashlib.md5(data).hexdigest()
            await hub.emit_event(printer_id, "file_transferred", job_id=job_id, data={"md5": md5})
            await hub.emit_event(printer_id, "job_started", job_id=job_id, data={})
            await poll(
                lambda: owner.api.get(f"/api/v1/jobs/{job_id}"),
                lambda r: r.json["status"] == "printing",
            )
            # Progress reports reach the job (coalesced, at most one write per flush interval).
            await hub.send_status(
                printer_id, {"state": "printing", "progress": 42, "current_layer": 50}
            )
            await poll(
                lambda: owner.api.get(f"/api/v1/jobs/{job_id}"),
                lambda r: r.json["progress_percentage"] == 42,
            )
            await hub.emit_event(printer_id, "job_finished", job_id=job_id, data={})
            await hub.wait_for(lambda h: not h.outbox)  # every event acknowledged
            done = await poll(
                lambda: owner.api.get(f"/api/v1/jobs/{job_id}"),
                lambda r: r.json["status"] == "completed",
            )
            assert done.json["progress_percentage"] == 100

            # Follow-up work: a collection task; the bed is not free until staff clear it.
            tasks = await poll(
                lambda: owner.api.get("/api/v1/worklist", params={"task_type": "collection"}),
                lambda r: r.json["total"] == 1,
            )
            assert tasks.json["items"][0]["printer_id"] == printer_id
            second = await owner.api.post("/api/v1/jobs", json={"print_file_id": file_id})
            why = await owner.api.get(f"/api/v1/jobs/{second.json['id']}/eligibility")
            assert why.json["items"][0]["reason"] == "bed not cleared"
            r = await owner.api.post(f"/api/v1/printers/{printer_id}/clear-bed")
            assert r.status == 200 and r.json["cleared"] is True
            await hub.wait_for(
                lambda h: len([c for c in h.commands if c["type"] == "print_command"]) == 2
            )
        finally:
            await hub.close()


async def test_refusal_requeues_and_cancel_stops_the_printer(server_factory):
    async with server_factory("sqlite", **FAST) as server:
        owner = await server.register()
        hub, printer_id = await farm_with_printer(server, owner)
        hub.auto_ack = False
        try:
            file_id, _ = await upload(server, owner)
            job_id = (await owner.api.post("/api/v1/jobs", json={"print_file_id": file_id})).json[
                "id"
            ]
            command = (
                await hub.wait_for(
                    lambda h: [c for c in h.commands if c["type"] == "print_command"]
                )
            )[0]
            await hub.send(
                {
                    "type": "command_ack",
                    "command_id": command["command_id"],
                    "success": False,
                    "error": {"code": "printer_busy", "message": "printing something else"},
                }
            )
            # Requeued, and re-dispatched once the printer is free again.
            await poll(
                lambda: owner.api.get(f"/api/v1/jobs/{job_id}"),
                lambda r: r.json["status"] in ("queued", "processing"),
            )
            again = (
                await hub.wait_for(
                    lambda h: [c for c in h.commands if c["type"] == "print_command"][1:]
                )
            )[0]
            await hub.send(
                {"type": "command_ack", "command_id": again["command_id"], "success": True}
            )
            await hub.emit_event(printer_id, "job_started", job_id=job_id, data={})
            await poll(
                lambda: owner.api.get(f"/api/v1/jobs/{job_id}"),
                lambda r: r.json["status"] == "printing",
            )

            viewer = await server.member_of(owner, "viewer")
            assert (await viewer.api.post(f"/api/v1/jobs/{job_id}/cancel")).status == 403
            r = await owner.api.post(f"/api/v1/jobs/{job_id}/cancel")
            assert r.status == 200 and r.json["status"] == "cancelled"
            stop = (
                await hub.wait_for(
                    lambda h: [c for c in h.commands if c["type"] == "printer_command"]
                )
            )[0]
            assert stop["action"] == "stop" and stop["printer_id"] == printer_id
            assert (await owner.api.post(f"/api/v1/jobs/{job_id}/cancel")).status == 409
            # Staff control reaches the hub through the same path.
            r = await owner.api.post(
                f"/api/v1/printers/{printer_id}/control",
                json={"action": "light", "args": {"on": True}},
            )
            assert r.status == 202, r.json
            light = await hub.wait_for(
                lambda h: [c for c in h.commands if c.get("command_id") == r.json["command_id"]]
            )
            assert light[0]["action"] == "light" and light[0]["printer_id"] == printer_id
        finally:
            await hub.close()
