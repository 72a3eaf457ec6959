"""drivers.bambu in real MicroPython against the simulated Bambu printer (hub_sim) over MQTT/TLS."""

import asyncio
import hashlib
import json
import time

import paho.mqtt.client as paho
import pytest

from hub_sim.bambu import SimulatedBambuPrinter
from hub_sim.threemf import write_3mf
from tests.firmware.driver_harness import MpyHub
from tests.firmware.http_origin import Origin
from tests.firmware.mosquitto_tls import MosquittoTLS
from tests.firmware.tls_certs import TestCA

pytestmark = pytest.mark.micropython

CODE = "12345678"


def serial(i):
    return f"01P00A39180{i:04d}"


def config(printer, pid, code=CODE):
    return {
        "printer_id": pid,
        "connection_type": "bambu",
        "serial": printer.serial,
        "ip": "127.0.0.1",
        "access_code": code,
        "model": "P1S",
        "name": pid,
        "mqtt_port": printer.mqtt_port,
        "ftps_port": printer.ftps_port or 990,
    }


def sim(tmp_path, i=1, speed=200.0, **kw):
    return SimulatedBambuPrinter(
        serial(i),
        CODE,
        model="P1S",
        mqtt_port=0,
        ftps_port=None,
        camera_port=None,
        speed=speed,
        report_interval=0.2,
        workdir=tmp_path / f"printer{i}",
        **kw,
    )


def put_job(printer, name="cube.3mf", print_time_s=600, layers=20):
    info = write_3mf(printer.sd_path / name, print_time_s=print_time_s, layers=layers)
    return info.md5


@pytest.fixture
async def printer(tmp_path):
    async with sim(tmp_path) as p:
        yield p


@pytest.fixture
async def hub(tmp_path, printer):
    h = MpyHub(tmp_path, [config(printer, "p1")], ca=printer.ca_file)
    await h.start()
    yield h
    await h.close()


def connected_idle(s):
    return s.get("connected") is True and s.get("state") == "idle"


async def test_status_flows_and_print_runs_to_finish(printer, hub):
    s = await hub.wait_status("p1", connected_idle)
    assert s["gcode_state"] in ("IDLE", "FINISH", "FAILED")
    assert "nozzle_temp" in s and "bed_temp" in s and s["error"] == ""
    md5 = put_job(printer, print_time_s=300, layers=10)
    mark, t0 = len(hub.rows), time.monotonic()
    r = await hub.call("start_print", p="p1", name="cube.3mf", md5=md5, plate=1)
    assert r["ok"], r
    await hub.wait(lambda r: r.get("t") == "event" and r["e"] == "job_finished", 120)
    elapsed = time.monotonic() - t0
    # The printer reports 5 times a second; the cloud gets changes at most once a second.
    updates = [r for r in hub.rows[mark:] if r.get("t") == "status"]
    assert 2 <= len(updates) <= elapsed + 2, (len(updates), elapsed)
    s = await hub.wait_status("p1", lambda s: s.get("gcode_state") == "FINISH")
    assert s["progress"] == 100 and s["state"] == "idle"
    assert s["job_name"] == "cube"
    events = [e for e, _ in hub.events("p1")]
    assert events == ["job_started", "job_finished"]


async def test_pause_resume_stop(printer, hub):
    await hub.wait_status("p1", connected_idle)
    md5 = put_job(printer, print_time_s=36000, layers=200)  # long: it must still be running
    assert (await hub.call("start_print", p="p1", name="cube.3mf", md5=md5))["ok"]
    await hub.wait_status("p1", lambda s: s.get("gcode_state") == "RUNNING")
    r = await hub.call("control", p="p1", action="pause")
    assert r["ok"] and r["r"]["confirmed"], r
    await hub.wait_status("p1", lambda s: s.get("state") == "paused")
    r = await hub.call("control", p="p1", action="resume")
    assert r["ok"] and r["r"]["confirmed"], r
    r = await hub.call("control", p="p1", action="speed", args={"level": 3})
    assert r["ok"], r
    await hub.wait_status("p1", lambda s: s.get("speed_level") == 3)
    r = await hub.call("control", p="p1", action="stop")
    assert r["ok"] and r["r"]["confirmed"], r
    await hub.wait(lambda r: r.get("t") == "event" and r["e"] == "job_cancelled")
    events = [e for e, _ in hub.events("p1")]
    assert events == ["job_started", "job_paused", "job_resumed", "job_cancelled"]
    # The printer is idle again: nothing to pause.
    r = await hub.call("control", p="p1", action="pause")
    assert not r["ok"] and r["code"] == "printer_refused"


async def test_busy_and_bad_commands(printer, hub):
    await hub.wait_status("p1", connected_idle)
    md5 = put_job(printer, print_time_s=36000, layers=200)
    assert (await hub.call("start_print", p="p1", name="cube.3mf", md5=md5))["ok"]
    await hub.wait_status("p1", lambda s: s.get("state") == "printing")
    r = await hub.call("start_print", p="p1", name="cube.3mf", md5=md5)
    assert not r["ok"] and r["code"] == "printer_busy", r
    r = await hub.call("control", p="p1", action="speed", args={"level": 9})
    assert not r["ok"] and r["code"] == "bad_command", r
    r = await hub.call("control", p="p1", action="explode")
    assert not r["ok"] and r["code"] == "bad_command", r
    r = await hub.call("control", p="p1", action="light", args={"on": False})
    assert r["ok"] and r["r"]["confirmed"], r  # the printer echoes ledctrl


async def test_developer_mode_off_gives_clear_reason(printer, hub):
    await hub.wait_status("p1", connected_idle)
    printer.set_developer_mode(False)
    md5 = put_job(printer)
    r = await hub.call("start_print", p="p1", name="cube.3mf", md5=md5)
    assert not r["ok"] and r["code"] == "printer_refused", r
    assert "Developer Mode" in r["message"]


async def test_printer_rejection_reason_is_passed_on(printer, hub):
    await hub.wait_status("p1", connected_idle)
    printer.reject_next_command("nozzle not homed")
    r = await hub.call("start_print", p="p1", name="cube.3mf", md5="")
    assert not r["ok"] and r["code"] == "printer_refused"
    assert "nozzle not homed" in r["message"]


async def test_missing_file_start_fails_with_event(printer, hub):
    await hub.wait_status("p1", connected_idle)
    r = await hub.call("start_print", p="p1", name="nothere.3mf", md5="")
    # The printer accepts project_file, then fails the job: the cloud learns it by event.
    if r["ok"]:
        ev = await hub.wait(lambda r: r.get("t") == "event" and r["e"] == "job_failed")
        assert ev["d"].get("print_error")
    else:
        assert r["code"] == "printer_refused"


async def test_mqtt_drop_mid_job_reconnects_without_losing_or_duplicating(printer, hub):
    await hub.wait_status("p1", connected_idle)
    md5 = put_job(printer, print_time_s=1200, layers=30)
    assert (await hub.call("start_print", p="p1", name="cube.3mf", md5=md5))["ok"]
    await hub.wait_status("p1", lambda s: s.get("state") == "printing")
    mark = len(hub.rows)
    assert printer.drop_mqtt_connections() >= 1
    await hub.wait(
        lambda r: r.get("t") == "status" and r["s"].get("connected") is False, 30, start=mark
    )
    await hub.wait(
        lambda r: r.get("t") == "status" and r["s"].get("connected") is True, 60, start=mark
    )
    await hub.wait(lambda r: r.get("t") == "event" and r["e"] == "job_finished", 120)
    events = [e for e, _ in hub.events("p1")]
    assert events == ["job_started", "job_finished"]


async def test_wrong_access_code_reports_offline_reason(tmp_path, printer):
    h = MpyHub(tmp_path, [config(printer, "p1", code="00000000")], ca=printer.ca_file)
    await h.start()
    try:
        s = await h.wait_status("p1", lambda s: "access code" in s.get("error", ""))
        assert s["connected"] is False and s["state"] == "offline"
        r = await h.call("control", p="p1", action="pause")
        assert not r["ok"] and r["code"] == "printer_offline"
    finally:
        await h.close()


async def test_printer_reboot_mid_job_reports_failure_then_recovers(printer, hub):
    await hub.wait_status("p1", connected_idle)
    md5 = put_job(printer, print_time_s=36000, layers=200)
    assert (await hub.call("start_print", p="p1", name="cube.3mf", md5=md5))["ok"]
    await hub.wait_status("p1", lambda s: s.get("state") == "printing")
    await printer.reboot(downtime_s=0.5)
    ev = await hub.wait(lambda r: r.get("t") == "event" and r["e"] == "job_failed", 90)
    assert "IDLE" in ev["d"].get("reason", "")
    await hub.wait_status("p1", connected_idle)


# ----- file streaming to the simulated printer (its own implicit FTPS, vsftpd replies)

MB = 1024 * 1024


def ftps_sim(tmp_path, i=1, **kw):
    return SimulatedBambuPrinter(
        serial(i),
        CODE,
        mqtt_port=0,
        ftps_port=0,
        camera_port=None,
        speed=kw.pop("speed", 500.0),
        report_interval=0.2,
        workdir=tmp_path / f"printer{i}",
        **kw,
    )


@pytest.fixture
def job_origin(tmp_path):
    root = tmp_path / "origin"
    root.mkdir()
    o = Origin(root).start()
    yield o
    o.stop()


def make_job(origin, name, mb, **kw):
    info = write_3mf(
        origin.root / name,
        gcode_size=mb * MB,
        compress=False,
        layers=kw.get("layers", 10),
        print_time_s=kw.get("print_time_s", 300),
    )
    return info.size, info.md5


def card_md5(printer, name):
    p = printer.sd_path / name
    return hashlib.md5(p.read_bytes()).hexdigest() if p.exists() else None


@pytest.mark.slow
async def test_64mb_3mf_streams_md5_checked_by_printer_and_prints(tmp_path, job_origin):
    size, md5 = make_job(job_origin, "big.gcode.3mf", 64)
    assert size > 64 * MB
    job_origin.drop_at, job_origin.drops = 20 * MB, 1  # the download breaks once: resumed
    async with ftps_sim(tmp_path) as printer:
        hub = MpyHub(tmp_path, [config(printer, "p1")], ca=printer.ca_file)
        await hub.start()
        try:
            await hub.wait_status("p1", connected_idle)
            url = job_origin.url("file", "big.gcode.3mf")
            r = await hub.call(
                "stream", p="p1", url=url, name="big.gcode.3mf", size=size, md5=md5, timeout=900
            )
            assert r["ok"], r
            assert r["r"]["md5"] == md5 == card_md5(printer, "big.gcode.3mf")
            # project_file carries the MD5; the simulated printer checks it against the card.
            r = await hub.call("start_print", p="p1", name="big.gcode.3mf", md5=md5, plate=1)
            assert r["ok"], r
            await hub.wait(lambda r: r.get("t") == "event" and r["e"] == "job_finished", 300)
            assert [e for e, _ in hub.events("p1")] == ["job_started", "job_finished"]
            assert hub.socket_count() == 1  # only the MQTT session is left
        finally:
            await hub.close()


async def test_sim_printer_upload_faults(tmp_path, job_origin):
    size, md5 = make_job(job_origin, "job.gcode.3mf", 3)
    url = job_origin.url("file", "job.gcode.3mf")
    async with ftps_sim(tmp_path) as printer:
        hub = MpyHub(tmp_path, [config(printer, "p1")], ca=printer.ca_file)
        await hub.start()
        try:
            await hub.wait_status("p1", connected_idle)

            async def send(name):
                return await hub.call("stream", p="p1", url=url, name=name, size=size, md5=md5)

            # The printer cuts the data link mid-upload: fails clearly, no fragment left.
            printer.cut_next_ftps_transfer(after_bytes=MB)
            r = await send("cut.gcode.3mf")
            assert not r["ok"] and r["code"] == "upload_failed", r
            assert card_md5(printer, "cut.gcode.3mf") is None
            # X1-class session-reuse requirement: stock MicroPython cannot resume TLS sessions.
            printer.set_ftps_session_reuse(True)
            r = await send("reuse.gcode.3mf")
            assert not r["ok"] and r["code"] == "session_reuse_unsupported", r
            printer.set_ftps_session_reuse(False)
            # Card full.
            printer.fill_sd_card()
            r = await send("full.gcode.3mf")
            assert not r["ok"] and r["code"] == "card_full", r
            assert card_md5(printer, "full.gcode.3mf") is None
            printer.set_sd_capacity(None)
            # Healthy again: the same upload goes through.
            r = await send("ok.gcode.3mf")
            assert r["ok"] and card_md5(printer, "ok.gcode.3mf") == md5, r
            assert hub.socket_count() == 1
        finally:
            await hub.close()


async def test_config_requiring_session_reuse_fails_before_connecting(tmp_path, job_origin):
    size, md5 = make_job(job_origin, "x.gcode.3mf", 1)
    async with ftps_sim(tmp_path, model="X1C") as printer:
        cfg = config(printer, "p1")
        cfg["require_session_reuse"] = True
        hub = MpyHub(tmp_path, [cfg], ca=printer.ca_file)
        await hub.start()
        try:
            await hub.wait_status("p1", connected_idle)
            url = job_origin.url("file", "x.gcode.3mf")
            r = await hub.call("stream", p="p1", url=url, name="x.gcode.3mf", size=size, md5=md5)
            assert not r["ok"] and r["code"] == "session_reuse_unsupported", r
            assert "session" in r["message"]
            assert card_md5(printer, "x.gcode.3mf") is None
        finally:
            await hub.close()


# Smallest -X heapsize (32 KB steps) with which five printer sessions stay up while a file
# streams (recorded in docs/benchmarks.md).
FIVE_PRINTER_HEAP = "256K"


@pytest.mark.slow
async def test_five_printers_stream_and_print_within_ten_sockets(tmp_path, job_origin):
    size, md5 = make_job(job_origin, "job.gcode.3mf", 8)
    url = job_origin.url("file", "job.gcode.3mf")
    async with (
        ftps_sim(tmp_path, 1) as a,
        ftps_sim(tmp_path, 2) as b,
        ftps_sim(tmp_path, 3) as c,
        ftps_sim(tmp_path, 4) as d,
        ftps_sim(tmp_path, 5) as e,
    ):
        printers = [a, b, c, d, e]
        hub = MpyHub(
            tmp_path,
            [config(p, f"p{i}") for i, p in enumerate(printers, 1)],
            heap=FIVE_PRINTER_HEAP,
        )
        await hub.start()
        try:
            for i in range(1, 6):
                await hub.wait_status(f"p{i}", connected_idle)
            job_origin.delay_s = 0.01  # long enough to sample the descriptors during it
            rid = hub.send("stream", p="p3", url=url, name="job.gcode.3mf", size=size, md5=md5)
            peak = 0
            while not any(r.get("t") == "result" and r.get("id") == rid for r in hub.rows):
                peak = max(peak, hub.socket_count())
                await asyncio.sleep(0.05)
            r = next(r for r in hub.rows if r.get("t") == "result" and r.get("id") == rid)
            assert r["ok"], r
            assert card_md5(c, "job.gcode.3mf") == md5
            # 5 MQTT sessions + HTTP + FTPS control + FTPS data, never more than the ESP32's 10.
            assert 5 < peak <= 8, peak
            assert hub.socket_count() == 5
            r = await hub.call("start_print", p="p3", name="job.gcode.3mf", md5=md5)
            assert r["ok"], r
            await hub.wait(
                lambda r: r.get("t") == "event" and r["p"] == "p3" and r["e"] == "job_finished",
                120,
            )
            # Every printer kept its session through the transfer.
            assert all(hub.status[f"p{i}"]["connected"] for i in range(1, 6))
            assert all(p.mqtt.client_count == 1 for p in printers)
        finally:
            await hub.close()


async def test_handshakes_never_overlap_across_printers(tmp_path):
    # A "printer" that accepts TCP, takes the TLS hello, stalls a moment and hangs up: five
    # drivers retrying against it must still open one connection at a time.
    state = {"open": 0, "max": 0, "total": 0}

    async def handle(reader, writer):
        state["open"] += 1
        state["total"] += 1
        state["max"] = max(state["max"], state["open"])
        try:
            await reader.read(512)
            await asyncio.sleep(0.2)
        finally:
            state["open"] -= 1
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    printers = [
        {
            "printer_id": f"p{i}",
            "serial": serial(i),
            "ip": "127.0.0.1",
            "access_code": CODE,
            "mqtt_port": port,
        }
        for i in range(1, 6)
    ]
    hub = MpyHub(tmp_path, printers)
    await hub.start()
    try:
        async with asyncio.timeout(60):
            while state["total"] < 8:
                await asyncio.sleep(0.05)
        assert state["max"] == 1, state
        for i in range(1, 6):
            s = await hub.wait_status(f"p{i}", lambda s: s.get("connected") is False)
            assert s["state"] == "offline" and s["error"]
    finally:
        await hub.close()
        server.close()


@pytest.mark.parametrize("resumed", [True, False])
async def test_job_that_ended_while_the_hub_was_down_still_reports_its_end(
    tmp_path, printer, resumed
):
    # A print runs to FINISH while no hub watches (it was rebooting), then the driver starts.
    md5 = put_job(printer, print_time_s=60, layers=5)
    body = {"command": "project_file", "url": "ftp://cube.3mf", "param": "Metadata/plate_1.gcode"}
    body.update(md5=md5, sequence_id="1")
    await printer.handle_request(json.dumps({"print": body}).encode())
    for _ in range(600):  # failure guard: 60 s
        if printer.state["gcode_state"] == "FINISH":
            break
        await asyncio.sleep(0.1)
    assert printer.state["gcode_state"] == "FINISH"
    conf = config(printer, "p1")
    conf["test_resume_job"] = resumed  # the hub's jobs file named a job on this printer
    hub = MpyHub(tmp_path, [conf], ca=printer.ca_file)
    await hub.start()
    try:
        await hub.wait_status("p1", lambda s: s.get("gcode_state") == "FINISH")
        if resumed:
            await hub.wait(lambda r: r.get("t") == "event" and r["e"] == "job_finished", 30)
            assert [e for e, _ in hub.events("p1")] == ["job_finished"]
        else:  # no job of ours: an old FINISH on the screen is not an event
            assert hub.events("p1") == []
    finally:
        await hub.close()


async def test_malformed_and_oversized_reports_do_not_break_the_session(tmp_path):
    # Mosquitto stands in for the printer's broker; a paho client publishes as the printer.
    ca = TestCA(tmp_path / "pki")
    cert, key = ca.issue("broker", serial(9))
    broker = MosquittoTLS(tmp_path, cert, key, {"bblp": CODE, "printer": "p"}).start()
    peer = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="printer")
    peer.username_pw_set("printer", "p")
    peer.tls_set(ca_certs=str(ca.ca_pem))
    peer.tls_insecure_set(True)
    peer.connect("127.0.0.1", broker.port)
    peer.loop_start()
    cfg = {"printer_id": "p1", "serial": serial(9), "ip": "127.0.0.1", "access_code": CODE}
    cfg["mqtt_port"] = broker.port
    hub = MpyHub(tmp_path, [cfg], ca=ca.ca_pem)
    await hub.start()
    topic = f"device/{serial(9)}/report"
    try:
        await hub.wait_status("p1", lambda s: s.get("connected") is True)
        for junk in (
            b"not json",
            b"[1, 2, 3]",
            b'{"print": "flat"}',
            b'{"print": {"command": "push_status", "mc_percent": {"x": 1}}}',
            b'{"print": {"command": "push_status", "gcode_state": "RUNNING"',  # truncated
            b"\xff\xfe\x00",
            b"x" * 70_000,  # over the 64 KB cap: skipped
        ):
            peer.publish(topic, junk)
        report = {"print": {"command": "push_status", "msg": 0, "gcode_state": "IDLE"}}
        report["print"].update({"mc_percent": 7, "subtask_name": "caf\u00e9"})
        peer.publish(topic, json.dumps(report).encode())
        s = await hub.wait_status("p1", lambda s: s.get("progress") == 7)
        assert s["connected"] is True and s["state"] == "idle" and s["job_name"] == "caf\u00e9"
        assert hub.events("p1") == []
    finally:
        await hub.close()
        peer.loop_stop()
        peer.disconnect()
        broker.stop()
