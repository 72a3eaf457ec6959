"""Bench boot for provisioning tests: WifiManager with portal and DNS on loopback ports."""

import asyncio
import os

from device.dns import CatchAllDNS
from device.portal import Portal
from device.wifi import WifiManager


class FileButton:
    """BOOT button held while the file "button" exists in the hub's directory."""

    def pressed(self):
        return "button" in os.listdir(".")


def make_portal():
    return Portal(
        port=int(os.getenv("PORTAL_PORT")),
        address="127.0.0.1",
        status=lambda: {"claimed": False, "claim_code": "K7Q2XM"},
        networks=lambda: ["farm-wifi", "office"],
    )


def make_dns():
    return CatchAllDNS("192.168.4.1", port=int(os.getenv("DNS_PORT")), host="127.0.0.1")


async def main():
    wm = WifiManager(
        portal_factory=make_portal,
        dns_factory=make_dns,
        button=FileButton(),
        max_failures=3,
        connect_timeout_ms=500,
        backoff_ms=(50, 200),
    )
    asyncio.create_task(wm.run())
    while True:
        await wm.connected.wait()
        print("JOINED", wm.settings.wifi()[0])
        while wm.connected.is_set():
            await asyncio.sleep_ms(50)


asyncio.run(main())
