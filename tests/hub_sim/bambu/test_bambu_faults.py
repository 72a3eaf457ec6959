"""Each fault on demand, and what a client sees when it fires."""

from __future__ import annotations

import asyncio
import ftplib
import io
import time

import aiohttp
import pytest

from hub_sim.bambu import SimulatedBambuPrinter
from hub_sim.bambu.faults import parse_hms
from hub_sim.threemf import write_3mf
from tests.hub_sim.bambu.test_bambu_clients import ftps_login
from tests.hub_sim.bambu.test_bambu_mqtt import PUSHALL, project_file
from tests.hub_sim.mqtt_client import (
    ACCESS_CODE,
    GUARD_S,
    ReportClient,
    is_full_report,
    is_print_ack,
)


@pytest.fixture
async def p1s(tmp_path):
    """A P1S with FTPS and the control API on ephemeral ports."""
    async with SimulatedBambuPrinter(
        "01P00A391800003",
        ACCESS_CODE,
        model="P1S",
        mqtt_port=0,
        ftps_port=0,
        camera_port=None,
        control_port=0,
        speed=1000,
        report_interval=0.2,
        workdir=tmp_path / "p1s",
    ) as p:
        yield p


@pytest.fixture
async def mqtt_client(p1s):
    c = ReportClient(p1s)
    assert await c.connected() == 0
    yield c
    c.close()


def test_hms_code_parsing():
    assert parse_hms("0300_0100_0001_0007") == {"attr": 0x03000100, "code": 0x00010007}
    with pytest.raises(ValueError):
        parse_hms("0300-01")


async def test_fail_at_layer_raises_hms_and_fails(p1s, mqtt_client):
    write_3mf(p1s.sd_path / "j.3mf", print_time_s=50_000, layers=100)
    p1s.fail_at_layer(5)
    mqtt_client.send(project_file("j.3mf"))
    state = await mqtt_client.wait_state(lambda s: s.get("gcode_state") == "FAILED")
    assert state["layer_num"] >= 5
    assert state["hms"] == [{"attr": 0x03001A00, "code": 0x00020002}]
    assert state["print_error"] == 0x03004006


async def test_fail_at_layer_can_pause_instead(p1s, mqtt_client):
    write_3mf(p1s.sd_path / "j.3mf", print_time_s=50_000, layers=100)
    p1s.fail_at_layer(3, hms="0C00_0300_0003_0008", print_error=0x0C008008, pause=True)
    mqtt_client.send(project_file("j.3mf"))
    state = await mqtt_client.wait_state(lambda s: s.get("gcode_state") == "PAUSE")
    assert state["print_error"] == 0x0C008008 and state["hms"]
    mqtt_client.send({"print": {"command": "resume"}})
    await mqtt_client.wait_state(lambda s: s.get("gcode_state") == "RUNNING")


async def test_drop_mqtt_connections_client_reconnects(p1s, mqtt_client):
    assert p1s.drop_mqtt_connections() == 1
    rc = await asyncio.to_thread(mqtt_client.disconnects.get, True, GUARD_S)
    assert rc.is_failure  # unexpected disconnect, no MQTT DISCONNECT from the printer
    assert await mqtt_client.connected() == 0  # paho reconnects on its own
    mqtt_client.send(PUSHALL)
    await mqtt_client.next_message(is_full_report)


async def test_reject_next_command(p1s, mqtt_client):
    p1s.reject_next_command(reason="busy", err_code=0x0500400B)
    mqtt_client.send({"print": {"command": "print_speed", "param": "2"}})
    ack = await mqtt_client.next_message(is_print_ack("print_speed"))
    assert ack["print"]["result"] == "fail" and ack["print"]["err_code"] == 0x0500400B
    mqtt_client.send({"print": {"command": "print_speed", "param": "2"}})
    ack = await mqtt_client.next_message(is_print_ack("print_speed"))
    assert ack["print"]["result"] == "success"


async def test_reboot_drops_everything_and_returns_to_idle(p1s, mqtt_client):
    write_3mf(p1s.sd_path / "j.3mf", print_time_s=600_000, layers=100)
    mqtt_client.send(project_file("j.3mf"))
    await mqtt_client.wait_state(lambda s: s.get("gcode_state") == "RUNNING")
    ftp = await asyncio.to_thread(ftps_login, p1s.ftps_port)
    await p1s.reboot(downtime_s=0.2)
    await asyncio.to_thread(mqtt_client.disconnects.get, True, GUARD_S)
    with pytest.raises((OSError, EOFError, ftplib.Error)):
        await asyncio.to_thread(ftp.pwd)
    assert await mqtt_client.connected() == 0
    mqtt_client.send(PUSHALL)
    doc = await mqtt_client.next_message(is_full_report)
    assert doc["print"]["gcode_state"] == "IDLE"
    assert p1s.reboots == 1
    # Services are back on the same ports.
    ftp = await asyncio.to_thread(ftps_login, p1s.ftps_port)
    await asyncio.to_thread(ftp.quit)


async def test_ftps_refused(p1s):
    p1s.set_ftps_refuse(True)
    with pytest.raises(ftplib.error_temp, match="421"):
        await asyncio.to_thread(ftps_login, p1s.ftps_port)
    p1s.set_ftps_refuse(False)
    ftp = await asyncio.to_thread(ftps_login, p1s.ftps_port)
    await asyncio.to_thread(ftp.quit)


def _upload(port, name, data):
    ftp = ftps_login(port)
    try:
        return ftp.storbinary(f"STOR {name}", io.BytesIO(data))
    finally:
        ftp.close()


async def test_ftps_upload_cut_mid_transfer(p1s):
    p1s.cut_next_ftps_transfer(after_bytes=100_000)
    data = b"z" * 1_000_000
    with pytest.raises((OSError, ftplib.Error)) as exc:
        await asyncio.to_thread(_upload, p1s.ftps_port, "cut.3mf", data)
    if isinstance(exc.value, ftplib.Error):
        assert str(exc.value).startswith("426")
    partial = (p1s.sd_path / "cut.3mf").stat().st_size
    assert 100_000 <= partial < len(data)
    # One-shot: the retry goes through.
    assert (await asyncio.to_thread(_upload, p1s.ftps_port, "cut.3mf", data)).startswith("226")


async def test_ftps_download_cut_mid_transfer(p1s):
    (p1s.sd_path / "big.bin").write_bytes(b"q" * 500_000)
    p1s.cut_next_ftps_transfer(after_bytes=50_000)

    def download():
        ftp = ftps_login(p1s.ftps_port)
        got = io.BytesIO()
        try:
            ftp.retrbinary("RETR big.bin", got.write)
        except (OSError, ftplib.Error) as exc:
            return got.tell(), exc
        finally:
            ftp.close()
        return got.tell(), None

    received, error = await asyncio.to_thread(download)
    assert error is not None and received <= 50_000


async def test_full_sd_card_fails_upload_with_451(p1s):
    p1s.fill_sd_card()

    def attempt():
        ftp = ftps_login(p1s.ftps_port)
        try:
            ftp.storbinary("STOR full.3mf", io.BytesIO(b"f" * 200_000))
        except ftplib.Error as exc:
            return str(exc)
        except OSError:
            # The data connection was reset while sending; the reason is on the control channel.
            try:
                return ftp.getresp()
            except ftplib.Error as exc:
                return str(exc)
        finally:
            ftp.close()
        return "ok"

    outcome = await asyncio.to_thread(attempt)
    assert outcome.startswith("451")
    assert p1s.sdcard.free_bytes() == 0
    p1s.set_sd_capacity(None)
    assert (await asyncio.to_thread(_upload, p1s.ftps_port, "ok.3mf", b"o" * 1000)).startswith(
        "226"
    )


async def test_full_sd_card_control_reply_is_451(p1s):
    p1s.set_sd_capacity(p1s.sdcard.used_bytes() + 10_000)

    def attempt():
        ftp = ftps_login(p1s.ftps_port)
        try:
            ftp.voidcmd("TYPE I")
            conn = ftp.transfercmd("STOR part.3mf")
            try:
                for _ in range(100):
                    conn.sendall(b"p" * 4096)
            except OSError:
                pass
            conn.close()
            return ftp.getresp()
        except ftplib.Error as exc:
            return str(exc)
        finally:
            ftp.close()

    assert (await asyncio.to_thread(attempt)).startswith("451")
    assert (p1s.sd_path / "part.3mf").stat().st_size == 10_000
    assert p1s.sdcard.free_bytes() == 0


async def test_slow_link_upload_progresses_gradually(p1s):
    p1s.set_link_rate(64 * 1024)
    data = b"s" * (256 * 1024)
    upload = asyncio.create_task(asyncio.to_thread(_upload, p1s.ftps_port, "slow.3mf", data))
    target = p1s.sd_path / "slow.3mf"
    partial_seen = False
    deadline = time.monotonic() + GUARD_S
    while not upload.done() and time.monotonic() < deadline:
        size = target.stat().st_size if target.exists() else 0
        partial_seen = partial_seen or 0 < size < len(data)
        await asyncio.sleep(0.05)
    assert (await upload).startswith("226")
    assert partial_seen, "a capped link delivers the file in pieces"
    assert target.stat().st_size == len(data)


async def test_control_api_drives_faults_over_http(p1s, mqtt_client):
    base = f"http://127.0.0.1:{p1s.control_port}"
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{base}/status") as resp:
            status = await resp.json()
        assert status["mqtt_port"] == p1s.mqtt_port and status["gcode_state"] == "IDLE"
        async with http.post(f"{base}/faults/set_developer_mode", json={"enabled": False}) as r:
            assert r.status == 200
        async with http.post(f"{base}/faults/no_such_fault", json={}) as r:
            assert r.status == 404
            assert (await r.json())["error"]["code"] == "unknown_fault"
        async with http.post(f"{base}/faults/fail_at_layer", json={"bogus": 1}) as r:
            assert r.status == 400
        async with http.post(f"{base}/faults/fail_at_layer", data=b"{nope") as r:
            assert r.status == 400
        async with http.get(f"{base}/state") as resp:
            assert (await resp.json())["print"]["gcode_state"] == "IDLE"
    mqtt_client.send({"print": {"command": "pause"}})
    ack = await mqtt_client.next_message(is_print_ack("pause"))
    assert ack["print"]["err_code"] == 84033543


async def test_max_mqtt_clients_refuses_extra_clients(tmp_path):
    async with SimulatedBambuPrinter(
        "01P00A391800004",
        ACCESS_CODE,
        mqtt_port=0,
        ftps_port=None,
        camera_port=None,
        max_mqtt_clients=1,
        workdir=tmp_path / "p",
    ) as p:
        first = ReportClient(p)
        second = None
        try:
            assert await first.connected() == 0
            second = ReportClient(p)
            rc = await asyncio.to_thread(second.disconnects.get, True, GUARD_S)
            assert rc.is_failure
            assert second.connack.empty()
        finally:
            first.close()
            if second is not None:
                second.close()


async def test_p1_drops_client_subscribing_to_request_topic(p1s, mqtt_client):
    mqtt_client.client.subscribe(p1s.request_topic)
    rc = await asyncio.to_thread(mqtt_client.disconnects.get, True, GUARD_S)
    assert rc.is_failure


async def test_system_reboot_command_over_mqtt(p1s, mqtt_client):
    mqtt_client.send({"system": {"sequence_id": "0", "command": "reboot"}})
    ack = await mqtt_client.next_message(lambda d: d.get("system", {}).get("command") == "reboot")
    assert ack["system"]["result"] == "success"
    await asyncio.to_thread(mqtt_client.disconnects.get, True, GUARD_S)
    assert await mqtt_client.connected() == 0
    assert p1s.reboots == 1


async def test_stop_during_reboot_leaves_everything_down(tmp_path):
    p = SimulatedBambuPrinter(
        "01P00A391800008",
        ACCESS_CODE,
        mqtt_port=0,
        ftps_port=0,
        camera_port=0,
        workdir=tmp_path / "p",
    )
    await p.start()
    port = p.mqtt_port
    p.spawn(p.reboot(downtime_s=30))
    await asyncio.sleep(0.2)
    await p.stop()
    assert not p.online
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_sd_card_removed(p1s, mqtt_client):
    write_3mf(p1s.sd_path / "j.3mf", print_time_s=60, layers=2)
    p1s.set_sd_card_inserted(False)
    with pytest.raises(ftplib.error_perm, match="553 Could not create file"):
        await asyncio.to_thread(_upload, p1s.ftps_port, "x.3mf", b"x")
    mqtt_client.send(project_file("j.3mf"))
    state = await mqtt_client.wait_state(lambda s: s.get("gcode_state") == "FAILED")
    assert state["print_error"] == 0x0500400C and state["sdcard"] is False
    p1s.set_sd_card_inserted(True)
    assert (await asyncio.to_thread(_upload, p1s.ftps_port, "x.3mf", b"x")).startswith("226")
