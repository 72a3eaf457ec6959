"""WiFi manager: station mode with backoff; provisioning access point with portal and DNS when needed.

Provisioning mode starts when there are no credentials, after MAX_FAILURES failed joins in a
row, or when the BOOT button is held for LONG_PRESS_MS. It brings up an access point named
after the hub, the catch-all DNS and the portal; when a person saves settings it stops all
three (they cost sockets the application needs) and joins the network. In station mode a
lost link is rejoined with jittered exponential backoff.
"""

import asyncio
import random
import time

import network
from micropython import const

from device.settings import Settings

CONNECT_TIMEOUT_MS = const(15000)  # a WPA2 join normally takes 2-5 s
MAX_FAILURES = const(5)  # failed joins in a row before provisioning mode
BACKOFF_MIN_MS = const(1000)
BACKOFF_MAX_MS = const(60000)
LONG_PRESS_MS = const(3000)
POLL_MS = const(100)
BOOT_PIN = const(0)  # the ESP32-S3's BOOT button (GPIO0, pulled up, low when pressed)
AP_ADDRESS = "192.168.4.1"  # ESP-IDF's default soft-AP address


class BootButton:
    """The BOOT button through machine.Pin (None on a host without pins)."""

    def __init__(self, pin=BOOT_PIN):
        try:
            import machine

            self.pin = machine.Pin(pin, machine.Pin.IN, machine.Pin.PULL_UP)
        except (ImportError, AttributeError):
            self.pin = None

    def pressed(self):
        """True while held down."""
        return self.pin is not None and self.pin.value() == 0


class WifiManager:
    """Owns the radio. run() forever; `connected` is set while the station has an address."""

    def __init__(
        self,
        settings=None,
        portal_factory=None,
        dns_factory=None,
        button=None,
        max_failures=MAX_FAILURES,
        connect_timeout_ms=CONNECT_TIMEOUT_MS,
        backoff_ms=(BACKOFF_MIN_MS, BACKOFF_MAX_MS),
    ):
        self.settings = settings or Settings()
        self.portal_factory = portal_factory
        self.dns_factory = dns_factory
        self.button = button if button is not None else BootButton()
        self.max_failures = max_failures
        self.connect_timeout_ms = connect_timeout_ms
        self.backoff_ms = backoff_ms
        self.sta = network.WLAN(network.STA_IF)
        self.ap = network.WLAN(network.AP_IF)
        self.connected = asyncio.Event()
        self.mode = "station"
        self.failures = 0
        self.provision_request = False
        self._saved = asyncio.Event()

    def is_up(self):
        """True while the station is joined."""
        return self.connected.is_set()

    async def run(self):
        """Join, keep joined, fall into provisioning when needed; never returns."""
        asyncio.create_task(self._watch_button())
        while True:
            creds = self.settings.wifi()
            if creds is None or self.failures >= self.max_failures or self.provision_request:
                why = (
                    "no credentials"
                    if creds is None
                    else ("button" if self.provision_request else "%d failed joins" % self.failures)
                )
                await self.provision(why)
                continue
            if await self._join(*creds):
                self.failures = 0
                await self._hold()
            else:
                self.failures += 1
                delay = self._backoff(self.failures)
                print("wifi: join failed (%d in a row), retry in %d ms" % (self.failures, delay))
                await self._sleep_or_button(delay)

    def _backoff(self, failures):
        low, high = self.backoff_ms
        ceiling = min(high, low * (1 << min(failures - 1, 16)))
        return ceiling // 2 + random.getrandbits(16) % (ceiling // 2 + 1)

    async def _sleep_or_button(self, delay_ms):
        end = time.ticks_add(time.ticks_ms(), delay_ms)
        while time.ticks_diff(end, time.ticks_ms()) > 0 and not self.provision_request:
            await asyncio.sleep_ms(POLL_MS)

    async def _join(self, ssid, password):
        self.mode = "station"
        self.sta.active(True)
        try:
            self.sta.connect(ssid, password)
        except OSError as e:
            print("wifi: connect error %r" % (e,))
            return False
        start = time.ticks_ms()
        while time.ticks_diff(time.ticks_ms(), start) < self.connect_timeout_ms:
            if self.sta.isconnected():
                print("wifi: connected to %s as %s" % (ssid, self.sta.ifconfig()[0]))
                self.connected.set()
                return True
            status = self.sta.status()
            if status in (network.STAT_WRONG_PASSWORD, network.STAT_NO_AP_FOUND):
                print(
                    "wifi: %s: %s"
                    % (
                        ssid,
                        "wrong password" if status == network.STAT_WRONG_PASSWORD else "not found",
                    )
                )
                break
            await asyncio.sleep_ms(POLL_MS)
        self.sta.disconnect()
        return False

    async def _hold(self):
        while self.sta.isconnected() and not self.provision_request:
            await asyncio.sleep_ms(POLL_MS * 10)
        self.connected.clear()
        print("wifi: link lost" if not self.provision_request else "wifi: leaving station mode")

    async def _watch_button(self):
        held_since = None
        while True:
            if self.button.pressed():
                now = time.ticks_ms()
                held_since = now if held_since is None else held_since
                if time.ticks_diff(now, held_since) >= LONG_PRESS_MS and self.mode == "station":
                    print("wifi: BOOT held, entering provisioning mode")
                    self.provision_request = True
            else:
                held_since = None
            await asyncio.sleep_ms(POLL_MS)

    async def provision(self, why):
        """Access point + DNS + portal until settings are saved."""
        self.mode = "provisioning"
        self.connected.clear()
        self.sta.disconnect()
        essid = "PrintFarm-" + (self.settings.get("hub_id") or "hub")[-6:]
        self.ap.active(True)
        self.ap.config(
            essid=essid, authmode=network.AUTH_OPEN if hasattr(network, "AUTH_OPEN") else 0
        )
        print(
            "wifi: provisioning mode (%s): access point %s, portal at http://%s/"
            % (why, essid, AP_ADDRESS)
        )
        self._saved.clear()
        tasks = []
        portal = self.portal_factory() if self.portal_factory else None
        dns = self.dns_factory() if self.dns_factory else None
        if portal is not None:
            portal.on_saved = self._on_saved
            tasks.append(asyncio.create_task(portal.serve()))
        if dns is not None:
            tasks.append(asyncio.create_task(dns.serve()))
        await self._saved.wait()
        await asyncio.sleep_ms(500)  # let the browser get its answer before the AP goes away
        if portal is not None:
            portal.stop()
        if dns is not None:
            dns.stop()
        for task in tasks:
            task.cancel()
        self.ap.active(False)
        self.failures = 0
        self.provision_request = False
        self.mode = "station"
        print("wifi: settings saved, leaving provisioning mode")

    def _on_saved(self, values):
        self._saved.set()
