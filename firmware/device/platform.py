"""Platform services the loader starts next to the application: WiFi (with the portal) and the run-ok watch.

On the chip the WiFi manager owns the radio (the application only opens sockets); on the
unix port the host's network is always up, so only the run-ok watch starts there. If the
application returns (e.g. not provisioned yet), after_app() keeps WiFi and the portal
running until someone saves settings, so a new hub can always be provisioned.
"""

import asyncio
import sys

from device import health, watchdog

_state = {"wifi": None}


def on_chip():
    """True on the ESP32 (False on the unix port used for tests)."""
    return sys.platform == "esp32"


def make_wifi():
    """The WiFi manager with the captive portal and DNS for provisioning mode."""
    from device.dns import CatchAllDNS
    from device.portal import Portal
    from device.wifi import AP_ADDRESS, WifiManager

    return WifiManager(
        portal_factory=lambda: Portal(address=AP_ADDRESS),
        dns_factory=lambda: CatchAllDNS(AP_ADDRESS),
    )


def start():
    """Create the platform tasks; they run once the application starts its asyncio loop."""
    asyncio.create_task(health.run_ok_watch())
    if on_chip():
        _state["wifi"] = make_wifi()
        asyncio.create_task(_state["wifi"].run())


def supervise_app(link_is_up, wdt_timeout_ms=watchdog.WDT_TIMEOUT_MS, **health_args):
    """For the application, once its loop runs: the health check that confirms an update
    (cloud link up and stable) and the watchdog. Returns (Watchdog, HealthCheck); critical
    tasks call watchdog.register(name, max_silence_ms).beat() as they make progress."""
    dog = watchdog.Watchdog(
        timeout_ms=wdt_timeout_ms, check_ms=health_args.pop("check_ms", watchdog.CHECK_MS)
    )
    check = health.HealthCheck(link_is_up, **health_args)
    asyncio.create_task(dog.run())
    asyncio.create_task(check.run())
    return dog, check


async def after_app():
    """The application returned: keep provisioning available until settings are saved."""
    if not on_chip():
        return
    wifi = _state["wifi"] or make_wifi()
    task = asyncio.create_task(wifi.run())
    wifi.provision_request = True  # e.g. no cloud URL yet: open the portal even if WiFi works
    while wifi.mode != "provisioning":
        await asyncio.sleep_ms(500)
    while wifi.mode == "provisioning":
        await asyncio.sleep_ms(500)
    task.cancel()
