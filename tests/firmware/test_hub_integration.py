"""The real hub end to end: firmware/main.py in MicroPython, real Bambu driver and transfer,
five simulated Bambu printers (MQTT/TLS + implicit FTPS), an HTTP file origin and the test
cloud over TLS."""

import hashlib
import os

import pytest

from hub_sim.bambu import SimulatedBambuPrinter
from hub_sim.hub_runner import HubProcess, provision
from hub_sim.threemf import write_3mf
from tests.firmware.conftest import HUB_SECRET
from tests.firmware.http_origin import Origin

pytestmark = pytest.mark.micropython

CODE = "87654321"
PRINTERS = 5
# With the drivers, MQTT, FTPS, HTTP and transfer modules loaded, the unix port holds ~185 KB
# of bytecode in the heap (frozen into flash on the device) plus five printers' state: 512K
# passes, 480K does not (docs/benchmarks.md).
HEAP = os.environ.get("PRINTFARM_TEST_INTEGRATION_HEAP", "512K")


def serial(i):
    return f"01P00A39181{i:04d}"


def printer_config(p, pid):
    return {
        "printer_id": pid,
        "connection_type": "bambu",
        "serial": p.serial,
        "ip": "127.0.0.1",
        "access_code": CODE,
        "model": "P1S",
        "name": pid,
        "mqtt_port": p.mqtt_port,
        "ftps_port": p.ftps_port,
    }


@pytest.fixture
async def farm(tmp_path, cloud):
    """Five printers, a file origin and a hub running the real firmware against them."""
    printers = []
    for i in range(PRINTERS):
        p = SimulatedBambuPrinter(
            serial(i),
            CODE,
            model="P1S",
            mqtt_port=0,
            ftps_port=0,
            camera_port=None,
            speed=100.0,
            report_interval=0.2,
            workdir=tmp_path / f"printer{i}",
        )
        await p.start()
        printers.append(p)
    files = tmp_path / "files"
    files.mkdir()
    origin = Origin(files)
    origin.start()
    cloud.add_hub("hub-1", HUB_SECRET)
    state = tmp_path / "hub"
    provision(
        state,
        {
            "hub_id": "hub-1",
            "secret": HUB_SECRET,
            "cloud_url": cloud.url,
            "ca": cloud.ca_pem,
            "printer_ca": printers[0].ca_file.read_text(),
            "printers": [printer_config(p, f"p{i}") for i, p in enumerate(printers)],
            "bo_min_ms": 100,
            "bo_max_ms": 1600,
        },
    )
    hub = HubProcess(state, heap=HEAP)  # firmware/main.py, unmodified
    await hub.start()
    yield hub, printers, origin, files
    await hub.stop()
    print("---- hub console ----")
    print("\n".join(hub.lines[-80:]))
    origin.stop()
    for p in printers:
        await p.stop()


def idle(state, pid):
    merged = {}
    for s in state.statuses:
        if s["printer_id"] == pid:
            merged.update(s["status"])
    return merged.get("connected") is True and merged.get("state") == "idle"


def events(state, pid):
    return [e["event"] for e in state.events if e["printer_id"] == pid]


async def test_five_printers_print_with_md5_verified_and_control(cloud, farm):
    hub, printers, origin, files = farm
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: all(idle(state, f"p{i}") for i in range(PRINTERS)), timeout=90)

    info = write_3mf(files / "cube.3mf", print_time_s=1200, layers=20)
    size = (files / "cube.3mf").stat().st_size
    await cloud.send_command(
        "hub-1",
        {
            "type": "print_command",
            "command_id": "c-print",
            "printer_id": "p2",
            "job_id": "job-1",
            "action": "start",
            "file_url": f"http://127.0.0.1:{origin.port}/file/cube.3mf",
            "file_name": "cube.3mf",
            "file_size": size,
            "file_md5": info.md5,
        },
    )
    await cloud.wait_for(lambda: any(a["command_id"] == "c-print" for a in state.acks), 120)
    ack = next(a for a in state.acks if a["command_id"] == "c-print")
    assert ack["success"], ack
    assert ack["result"]["md5"] == info.md5
    on_card = printers[2].sd_path / "cube.3mf"
    assert hashlib.md5(on_card.read_bytes()).hexdigest() == info.md5
    await cloud.wait_for(lambda: "job_started" in events(state, "p2"), 60)

    async def control(cid, action, expect):
        await cloud.send_command(
            "hub-1",
            {"type": "printer_command", "command_id": cid, "printer_id": "p2", "action": action},
        )
        await cloud.wait_for(lambda: any(a["command_id"] == cid for a in state.acks), 60)
        assert next(a for a in state.acks if a["command_id"] == cid)["success"]
        await cloud.wait_for(lambda: expect in events(state, "p2"), 60)

    await control("c-pause", "pause", "job_paused")
    await control("c-resume", "resume", "job_resumed")
    await control("c-stop", "stop", "job_cancelled")
    assert events(state, "p2")[0] == "file_transferred"
    job_events = [e for e in state.events if e["printer_id"] == "p2"]
    assert all(e.get("job_id") == "job-1" for e in job_events)
    seqs = [e["seq"] for e in state.events]
    assert seqs == sorted(seqs) and len(set(seqs)) == len(seqs)
    assert "Traceback" not in hub.output()


async def test_cloud_cut_during_a_transfer_loses_nothing_and_runs_nothing_twice(cloud, farm):
    hub, printers, origin, files = farm
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: idle(state, "p0"), timeout=90)
    info = write_3mf(files / "big.3mf", print_time_s=60, layers=5, gcode_size=2 * 1024 * 1024)
    size = (files / "big.3mf").stat().st_size
    origin.delay_s = 0.002  # slow enough that the cut lands mid-transfer
    await cloud.send_command(
        "hub-1",
        {
            "type": "print_command",
            "command_id": "c-big",
            "printer_id": "p0",
            "job_id": "job-big",
            "action": "start",
            "file_url": f"http://127.0.0.1:{origin.port}/file/big.3mf",
            "file_name": "big.3mf",
            "file_size": size,
            "file_md5": info.md5,
        },
    )
    await cloud.wait_for(lambda: any(p["command_id"] == "c-big" for p in state.progress), 60)
    await cloud.drop("hub-1")  # cloud outage mid-transfer; the command is redelivered after
    await cloud.wait_for(lambda: state.sessions >= 2, 60)
    await cloud.wait_for(lambda: "job_finished" in events(state, "p0"), 180)
    acks = [a for a in state.acks if a["command_id"] == "c-big"]
    assert acks and all(a["success"] for a in acks)
    assert events(state, "p0").count("file_transferred") == 1
    assert events(state, "p0").count("job_started") == 1
    assert hashlib.md5((printers[0].sd_path / "big.3mf").read_bytes()).hexdigest() == info.md5
    assert state.replays == 0 or all(e["seq"] <= state.acked_seq for e in state.events)
