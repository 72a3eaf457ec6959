"""The whole hub (firmware/main.py's app) in real MicroPython against the test cloud over TLS."""

import asyncio

import pytest
from conftest import ACCESS_CODE, HUB_SECRET, fake_calls, printer_map

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

    def both_idle():
        seen = {s["printer_id"] for s in state.statuses if s["status"].get("state") == "idle"}
        return seen == {"p1", "p2"}

    await cloud.wait_for(both_idle)
    assert all(s["status"].get("connected") is not False for s in state.statuses)
    # Status keeps flowing (the fake printer's temperature changes every second).
    count = len(state.statuses)
    await cloud.wait_for(lambda: len(state.statuses) >= count + 3)
    assert "Traceback" not in hub.output()
