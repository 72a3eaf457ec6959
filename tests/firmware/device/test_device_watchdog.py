"""Watchdog under micropython: a stalled critical task resets the hub and the cloud hears why."""

import pytest

pytestmark = pytest.mark.micropython

BOOT = "import loader\nloader.run('benchapp.app')\n"


def test_stalled_task_triggers_watchdog_and_reason_reaches_cloud(bench):
    hub, cloud, files, signer = bench
    hub.env["BENCH_WDT_MS"] = 2000
    hub.power_on(BOOT)
    first = cloud.wait_hellos(1)
    assert first["reset_reason"] == "power_on"
    cloud.send({"type": "bench_stall", "command_id": "s1", "task": "printer_poll"})
    hello = cloud.wait_hello(lambda h: h["reset_reason"] == "watchdog")
    assert hello["boot_count"] == 2
    note = cloud.wait(
        lambda m: m.get("type") == "hub_log" and len(m["lines"]) > 1, what="note", since=1
    )
    assert note["lines"][1] == "watchdog reset; stalled task(s): printer_poll"
    out = hub.output()
    assert "watchdog: stalled task(s): printer_poll; not feeding" in out
    assert "WDT: not fed for 2000 ms, resetting" in out
    hub.stop()
    hub.power_on(BOOT)  # the note is reported once, then forgotten
    third = cloud.wait_hellos(3)
    assert third["reset_reason"] == "power_on" and third["notes"] == []


def test_healthy_tasks_keep_it_fed_and_a_blocked_loop_is_caught(hub):
    code = """
import asyncio, time
from device import watchdog
dog = watchdog.Watchdog(timeout_ms=1000, check_ms=50)
async def worker(beat):
    while True:
        beat.beat()
        await asyncio.sleep_ms(20)
async def main():
    asyncio.create_task(dog.run())
    asyncio.create_task(worker(dog.register('worker', 800)))
    await asyncio.sleep_ms(3000)   # three timeouts long: fed all along
    print('STILL ALIVE')
    time.sleep(5)                  # the loop itself blocks: nothing feeds
    print('NOT REACHED')
asyncio.run(main())
"""
    proc = hub.run(code, timeout=60)
    assert "STILL ALIVE" in proc.stdout
    assert "NOT REACHED" not in proc.stdout
    assert proc.returncode == -9  # the emulated chip reset
    probe = hub.run("import machine; print('CAUSE', machine.reset_cause() == machine.WDT_RESET)")
    assert "CAUSE True" in probe.stdout
