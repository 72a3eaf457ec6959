"""The whole hub (firmware/main.py's app) in real MicroPython against the test cloud over TLS."""

import asyncio
import json

import pytest

from tests.firmware.conftest import ACCESS_CODE, HUB_SECRET, fake_calls, printer_map

pytestmark = pytest.mark.micropython


def print_cmd(cid, pid="p1", job="job-1", size=4000, **extra):
    msg = {
        "type": "print_command",
        "command_id": cid,
        "printer_id": pid,
        "job_id": job,
        "action": "start",
        "file_url": "http://127.0.0.1:9/files/" + job + ".3mf",
        "file_name": job + ".3mf",
        "file_size": size,
    }
    msg.update(extra)
    return msg


async def test_status_flows_for_every_printer(cloud, make_hub):
    hub = await make_hub(cloud, printers=[printer_map("p1"), printer_map("p2")])
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    hello = state.hellos[0]
    assert hello["firmware"] and hello["boot_count"] == 1 and hello["reset_reason"] == "power_on"
    # The device layer is wired in: the loader's boot report names the running application.
    assert hello["app_slot"]

    def both_idle():
        seen = {s["printer_id"] for s in state.statuses if s["status"].get("state") == "idle"}
        return seen == {"p1", "p2"}

    await cloud.wait_for(both_idle)
    assert all(s["status"].get("connected") is not False for s in state.statuses)
    # Status keeps flowing (the fake printer's temperature changes every second).
    count = len(state.statuses)
    await cloud.wait_for(lambda: len(state.statuses) >= count + 3)
    assert "Traceback" not in hub.output()


def events_of(state, printer="p1"):
    return [(e["event"], e.get("job_id")) for e in state.events if e["printer_id"] == printer]


async def test_print_runs_once_and_redelivery_replays_the_ack(cloud, make_hub):
    hub = await make_hub(cloud, printers=[printer_map("p1", fake_print_ms=200)])
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    cloud.accept_acks = False  # the ack is "lost": the cloud will redeliver the command
    await cloud.send_command("hub-1", print_cmd("c-1"))
    await cloud.wait_for(lambda: len(state.acks) == 1)
    assert state.acks[0]["success"] and state.acks[0]["result"]["md5"]
    await cloud.wait_for(lambda: ("job_finished", "job-1") in events_of(state))
    assert events_of(state) == [
        ("file_transferred", "job-1"),
        ("job_started", "job-1"),
        ("job_finished", "job-1"),
    ]
    assert [e["seq"] for e in state.events] == [1, 2, 3]
    assert state.progress and state.progress[-1]["bytes_sent"] == 4000

    # Cloud outage: reconnect, the command is redelivered, the hub answers from its cache.
    await cloud.drop("hub-1")
    await cloud.wait_for(lambda: state.sessions == 2 and len(state.acks) == 2)
    assert state.acks[1] == state.acks[0]

    # Reboot (power cut): the dedupe cache is on flash, so a redelivery still runs nothing.
    await hub.kill()
    await hub.start()
    await cloud.wait_for(lambda: state.sessions == 3 and len(state.acks) == 3)
    assert state.acks[2] == state.acks[0]
    assert state.hellos[-1]["boot_count"] == 2 and state.hellos[-1]["reset_reason"] == "power_on"
    starts = [c for c in fake_calls(hub) if c["call"] in ("start_print", "transfer")]
    assert [c["call"] for c in starts] == ["transfer", "start_print"]
    assert state.replays == 0  # acked events were never sent again


async def test_outbox_keeps_events_across_a_cloud_drop(cloud, make_hub):
    await make_hub(cloud, printers=[printer_map("p1", fake_print_ms=100)])
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    cloud.accept_events = False  # everything the hub sends from here is lost in flight
    await cloud.send_command("hub-1", print_cmd("c-1"))
    await cloud.wait_for(lambda: len(state.lost_events) == 3)
    assert state.events == []
    cloud.accept_events = True
    await cloud.drop("hub-1")
    await cloud.wait_for(lambda: len(state.events) == 3)
    assert [e["seq"] for e in state.events] == [1, 2, 3]
    assert [e["event"] for e in state.events] == ["file_transferred", "job_started", "job_finished"]
    assert state.replays == 0


async def test_persisted_events_survive_a_reboot_and_acked_ones_are_not_resent(cloud, make_hub):
    hub = await make_hub(cloud, printers=[printer_map("p1", fake_print_ms=100)])
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    await cloud.send_command("hub-1", print_cmd("c-1", job="job-1"))
    await cloud.wait_for(lambda: len(state.events) == 3)  # applied and acked: seq 1..3

    cloud.accept_events = False
    await cloud.send_command("hub-1", print_cmd("c-2", job="job-2"))
    await cloud.wait_for(lambda: len(state.lost_events) == 3)
    await cloud.send_command(
        "hub-1",
        {"type": "printer_command", "command_id": "c-3", "printer_id": "p1", "action": "pause"},
    )
    await cloud.wait_for(lambda: any(e["event"] == "job_paused" for e in state.lost_events))
    await hub.kill()  # power cut with seq 4..7 unacknowledged
    cloud.accept_events = True
    await hub.start()
    await cloud.wait_for(lambda: state.sessions == 2 and len(state.events) >= 6)
    await cloud.wait_for(lambda: len(state.acks) >= 3)
    got = [(e["seq"], e["event"], e.get("job_id")) for e in state.events[3:]]
    # Persisted events come back in order with their seq; job_paused lived in RAM only.
    assert got == [
        (4, "file_transferred", "job-2"),
        (5, "job_started", "job-2"),
        (6, "job_finished", "job-2"),
    ]
    assert state.replays == 0
    # New events continue the sequence, never reusing a number.
    await cloud.send_command("hub-1", print_cmd("c-4", job="job-3"))
    await cloud.wait_for(lambda: len(state.events) == 9)
    assert [e["seq"] for e in state.events[6:]] == [8, 9, 10]


async def test_a_crashing_printer_task_does_not_take_the_hub_down(cloud, make_hub):
    hub = await make_hub(cloud, printers=[printer_map("p1"), printer_map("p2", fake_crash_ms=150)])
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    await hub.wait_line("printer:p2 crashed (restart 3)", timeout=30)
    p1_before = sum(1 for s in state.statuses if s["printer_id"] == "p1")
    await cloud.wait_for(
        lambda: sum(1 for s in state.statuses if s["printer_id"] == "p1") >= p1_before + 2
    )
    assert state.sessions == 1 and cloud.connections == 1
    runs = [c for c in fake_calls(hub) if c["call"] == "run" and c["printer"] == "p2"]
    assert len(runs) >= 3
    # The crash shows up in the log shipped to the cloud, traceback included.
    await cloud.wait_for(lambda: any("fake printer fault" in line for line in state.logs))


async def test_secrets_and_access_codes_never_reach_logs(cloud, make_hub):
    hub = await make_hub(
        cloud, printers=[printer_map("p1")], wifi_ssid="farm", wifi_pass="wifi-pw-123"
    )
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    await cloud.send_command(
        "hub-1",
        {
            "type": "configure_printer",
            "command_id": "cfg-1",
            "action": "add",
            "printer": printer_map("p9", access_code="NEWCODE-5521"),
        },
    )
    await cloud.wait_for(lambda: any(a["command_id"] == "cfg-1" for a in state.acks))
    await cloud.wait_for(lambda: any(s["printer_id"] == "p9" for s in state.statuses))
    await cloud.wait_for(lambda: any("p9" in line for line in state.logs), timeout=20)
    everything = hub.output() + "\n".join(state.logs) + repr(state.received)
    for secret in (HUB_SECRET, ACCESS_CODE, "NEWCODE-5521", "wifi-pw-123"):
        assert secret not in everything
    assert "<redacted>" in hub.output()  # the printer was logged, its code redacted
    # ...while NVS does hold the new printer (and its code) for the next boot.
    nvs = json.loads((hub.state_dir / "nvs.json").read_text())["printfarm"]
    printers = json.loads(bytes.fromhex(nvs["printers"][1]))
    assert {p["printer_id"]: p["access_code"] for p in printers}["p9"] == "NEWCODE-5521"


async def test_repl_helpers_show_state_without_secrets(cloud, make_hub):
    from tests.firmware.conftest import MPY_SCRIPTS, json_lines

    hub = await make_hub(cloud, printers=[printer_map("p1")], script=MPY_SCRIPTS / "helpers_hub.py")
    await hub.wait_line('{"helpers"', timeout=30)
    assert await hub.proc.wait() == 0  # app.stop() ends the loop cleanly
    got = next(r["helpers"] for r in json_lines(hub.output()) if "helpers" in r)
    st = got["status"]
    assert st["hub_id"] == "hub-1" and st["cloud"]["state"] == "up"
    assert st["printers"]["printers"]["p1"]["state"] == "idle"
    assert {"cloud", "printer:p1", "transfers", "housekeeping"} <= set(st["tasks"])
    assert st["outbox"]["next_seq"] == 1 and st["mem_free"] > 0
    assert got["config"]["secret"] == "<redacted>"
    assert got["config"]["printers"][0]["access_code"] == "<redacted>"
    assert got["printers"]["p1"]["connected"] is True
    for secret in (HUB_SECRET, ACCESS_CODE):
        assert secret not in hub.output()


async def test_printfarm_sim_hub_boots_firmware_main(tmp_path, pki):
    """`printfarm sim hub` provisions NVS and boots firmware/main.py (plain ws:// cloud here)."""
    import os
    import sys

    from tests.firmware.cloud_server import TestCloud
    from tests.firmware.conftest import REPO

    cloud = TestCloud()
    url = await cloud.start(None)
    state = cloud.add_hub("hub-cli", "cli-secret-1")
    env = dict(os.environ, PRINTFARM_HUB_SECRET="cli-secret-1", PYTHONPATH=str(REPO))
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tools.cli",
        "sim",
        "hub",
        "--hub-id",
        "hub-cli",
        "--cloud",
        url,
        "--heap",
        "512K",
        "--state-dir",
        str(tmp_path / "hub"),
        cwd=REPO,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    try:
        await cloud.wait_for(lambda: state.sessions == 1, timeout=60)
        assert state.hellos[0]["hub_id"] == "hub-cli"
    finally:
        proc.terminate()
        out, _ = await proc.communicate()
        await cloud.stop()
    assert b"cli-secret-1" not in out
    assert not (tmp_path / "hub" / "provision.json").exists()


async def test_an_invalid_status_value_is_dropped_not_the_link(cloud, make_hub):
    hub = await make_hub(cloud, printers=[printer_map("p1", fake_bad_status=True)])
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: any(s["status"].get("bed_temp") == 60 for s in state.statuses))
    assert all("progress" not in s["status"] for s in state.statuses)
    await hub.wait_line("status key progress dropped")
    count = len(state.statuses)
    await cloud.wait_for(lambda: len(state.statuses) > count + 1)
    assert state.sessions == 1 and cloud.connections == 1 and not state.close_codes


async def test_safe_mode_keeps_the_link_and_refuses_prints(cloud, make_hub):
    from tests.firmware.conftest import MPY_SCRIPTS

    await make_hub(cloud, printers=[printer_map("p1")], script=MPY_SCRIPTS / "safe_hub.py")
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    assert state.hellos[0]["app_slot"]  # the cloud sees which slot (or safe mode) runs
    await cloud.send_command("hub-1", print_cmd("c-1"))
    await cloud.wait_for(lambda: len(state.acks) == 1)
    ack = state.acks[0]
    # printer_offline: the cloud requeues the job for another printer.
    assert not ack["success"] and ack["error"]["code"] == "printer_offline"
    assert "safe mode" in ack["error"]["message"]
    # A configuration sent meanwhile is kept (acked) but drives nothing yet.
    await cloud.send_command(
        "hub-1",
        {
            "type": "configure_printer",
            "command_id": "c-2",
            "action": "add",
            "printer": printer_map("p2"),
        },
    )
    await cloud.wait_for(lambda: len(state.acks) == 2)
    assert state.acks[1]["success"]
    await asyncio.sleep(1.5)  # statuses would flow within the driver's first report interval
    assert not [s for s in state.statuses if s["printer_id"] in ("p1", "p2")]
