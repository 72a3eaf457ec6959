"""Safe mode: only WiFi, the provisioning portal, the cloud link and updates run.

The loader enters it after repeated failed boots. Everything here is frozen firmware code;
no application slot is on sys.path. The cloud sees hub_hello with app_slot "safe_mode" and can
send an ota_update; every other command is refused, so a broken application cannot be
driven while the hub waits for a fix. A good update installs a slot and reboots into it.
"""

import asyncio

import machine
from micropython import const

from device import update_command

ACK_FLUSH_MS = const(500)  # let the ack leave before the reset


async def serve_link(link, fetch, public_key=None):
    """Answer the cloud's commands while in safe mode; returns only to reboot."""
    while True:
        command = await link.recv()
        if command is None:
            await asyncio.sleep_ms(200)  # link down: it reconnects on its own
            continue
        if command.get("type") == "ota_update":
            if await update_command.handle(command, fetch, link.send, public_key):
                await asyncio.sleep_ms(ACK_FLUSH_MS)
                machine.reset()
        elif "command_id" in command:
            await link.send(
                update_command.ack(command, False, ("bad_command", "hub is in safe mode"))
            )


async def run(link=None, fetch=None, wifi=None, portal=None, public_key=None):
    """Run safe mode until an update reboots the hub.

    link: the cloud link (recv()/send()/run()); fetch: fetch(url, write) for downloads;
    wifi: a device.wifi.WifiManager; portal: a started-on-demand device.portal.Portal.
    """
    print("safemode: WiFi, portal, cloud link and updates only")
    from device import platform

    if wifi is None and platform.on_chip():
        wifi = platform.make_wifi()
    tasks = []
    if wifi is not None:
        tasks.append(asyncio.create_task(wifi.run()))
    if portal is not None:
        tasks.append(asyncio.create_task(portal.serve()))
    if link is not None:
        if hasattr(link, "run"):
            tasks.append(asyncio.create_task(link.run()))
        await serve_link(link, fetch, public_key)
    else:
        while True:
            await asyncio.sleep(3600)
