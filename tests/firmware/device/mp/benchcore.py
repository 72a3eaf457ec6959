"""Bench-only application core: wires the platform pieces the way the hub application does.

Stands in for fwcore's hub.app in platform tests: boot report in hub_hello, health check,
watchdog over critical tasks, ota_update and discover_printers commands, safe mode.
"""

import asyncio
import os

import machine
from benchlink import BenchLink
from device import discovery, health, platform, safemode, update_command
from http_fetch import fetch

APP_NAME = "factory"


def _env_int(name, default):
    value = os.getenv(name)
    return int(value) if value else default


async def _send_notes(link, report):
    while not link.up:
        await asyncio.sleep_ms(50)
    lines = ["app %s running" % APP_NAME] + report["notes"]
    await link.send({"type": "hub_log", "lines": lines})


async def _report_health(link, check):
    while check.result is None:
        await asyncio.sleep_ms(50)
    await link.send({"type": "hub_log", "lines": ["health: %s" % check.result]})


async def _beating(beat):
    while True:
        beat.beat()
        await asyncio.sleep_ms(100)


async def _stuck(beat):
    beat.beat()
    await asyncio.sleep(3600)  # a task that stopped making progress


async def _main():
    report = health.boot_report()
    print("bench: boot report", report)
    link = BenchLink(report)
    asyncio.create_task(link.run())
    dog, check = platform.supervise_app(
        lambda: link.up,
        wdt_timeout_ms=_env_int("BENCH_WDT_MS", 8000),
        check_ms=100,
        stable_ms=_env_int("BENCH_STABLE_MS", 300),
        deadline_ms=_env_int("BENCH_DEADLINE_MS", 15000),
        run_ok_ms=_env_int("BENCH_RUN_OK_MS", 300),
    )
    asyncio.create_task(_beating(dog.register("cloud_link", 5000)))
    asyncio.create_task(_send_notes(link, report))
    asyncio.create_task(_report_health(link, check))
    while True:
        command = await link.recv()
        kind = command.get("type")
        if kind == "ota_update":
            if await update_command.handle(command, fetch, link.send):
                await asyncio.sleep_ms(300)
                machine.reset()
        elif kind == "discover_printers":
            msg = await discovery.discovered_message(
                command["command_id"],
                command.get("duration_s", 10),
            )
            await link.send(msg)
        elif kind == "bench_stall":
            asyncio.create_task(_stuck(dog.register(command.get("task", "printer_poll"), 500)))
            await link.send(update_command.ack(command, True))


def main():
    """Entry point the loader calls."""
    asyncio.run(_main())


def safe_main():
    """Safe-mode entry: cloud link and updates only."""
    report = health.boot_report()
    link = BenchLink(report)
    asyncio.run(safemode.run(link=link, fetch=fetch))
