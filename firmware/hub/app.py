"""Wires the hub together (config, outbox, cloud link, printers, supervisor) and runs the loop."""

import asyncio
import gc
import os
import random

import hub
from hub.cloud_link import CloudLink
from hub.commands import CommandLog
from hub.config import Config, ConfigError
from hub.log import log
from hub.outbox import Outbox
from hub.printers import PrinterManager, load_driver
from hub.supervisor import Supervisor
from hub.version import VERSION

HOUSEKEEPING_MS = 10000  # gc.collect() and the heap's low-water mark, every 10 s
LOW_WATER_STEP = 8192  # log the low-water mark again only when it sinks by 8 KB more


class App:
    """The running hub; `hub.status()` and friends read it through hub._app."""

    def __init__(self, config=None, driver_factory=load_driver, transfer=None, safe_mode=False):
        self.safe_mode = safe_mode
        self.config = config if config is not None else Config()
        self.supervisor = Supervisor()
        self.outbox = Outbox(self.config)
        self.commands = CommandLog()
        from hub.ca_bundle import CA_BUNDLE

        self.link = CloudLink(self.config, self.outbox, self.commands, ca_bundle=CA_BUNDLE)
        self.printers = PrinterManager(
            self.config, self.link, self.outbox, self.supervisor, driver_factory, transfer
        )
        self.link.handler = self.printers.handle
        self.link.on_up = self.printers.on_link_up
        self.printers.safe_mode = safe_mode
        self.watchdog = self.health = self._beat = None  # set when the device layer is present
        self.min_free = None
        self.stopped = asyncio.Event()

    def _boot_count(self):
        n = self.config.get_int("boot_count", 0) + 1
        self.config.set("boot_count", n)
        self.config.commit()
        return n

    async def run(self):
        """Start every supervised task; returns only when stop() is called."""
        hub._app = self
        random.seed(int.from_bytes(os.urandom(4), "big"))
        try:
            self.config.check()
        except ConfigError as e:
            # The device layer (portal) provisions the hub; without it there is nothing to do.
            log.error("app", str(e))
            return
        self.link.boot_count = self._boot_count()
        log.info(
            "app",
            "hub %s firmware %s boot %d" % (self.config.hub_id, VERSION, self.link.boot_count),
        )
        self.outbox.load()
        self.commands.load()
        self.supervisor.start("cloud", self.link.run)
        self.printers.start()
        self._supervise_platform()
        self.supervisor.start("housekeeping", self._housekeeping)
        await self.stopped.wait()
        self.supervisor.stop_all()

    def _supervise_platform(self):
        # The device layer confirms a trial update once the cloud link has been up long enough
        # (else the bootloader rolls it back) and feeds the hardware watchdog only while the
        # housekeeping task, which runs on this loop, keeps beating.
        try:
            from device import platform, watchdog
        except ImportError:  # a core built without the device layer
            return
        if self.safe_mode:
            # No health check: it would confirm the application that keeps crashing. Only an
            # update (through the cloud link or the portal) leaves safe mode.
            self.watchdog = watchdog.Watchdog()
            asyncio.create_task(self.watchdog.run())
        else:
            self.watchdog, self.health = platform.supervise_app(self.link.is_up)
        self._beat = self.watchdog.register("housekeeping", HOUSEKEEPING_MS * 3)

    def stop(self):
        """Stop the hub's tasks (tests, OTA hand-over)."""
        self.stopped.set()

    async def _housekeeping(self):
        await asyncio.sleep_ms(HOUSEKEEPING_MS)  # first sample once the tasks are up
        while True:
            if self._beat is not None:
                self._beat.beat()
            gc.collect()
            free = gc.mem_free()
            if self.min_free is None or free < self.min_free - LOW_WATER_STEP:
                # A new low-water mark: logged (and so shipped to the cloud) in coarse steps.
                self.min_free = free
                log.info(
                    "app", "heap low-water mark: %d free of %d" % (free, free + gc.mem_alloc())
                )
            await asyncio.sleep_ms(HOUSEKEEPING_MS)

    def status(self):
        """Everything hub.status() shows (no secrets)."""
        gc.collect()
        return {
            "hub_id": self.config.hub_id,
            "firmware": VERSION,
            "boot_count": self.link.boot_count,
            "mem_free": gc.mem_free(),
            "mem_free_min": self.min_free,
            "cloud": self.link.status(),
            "outbox": self.outbox.status(),
            "printers": self.printers.status(),
            "tasks": self.supervisor.status(),
        }


def main():
    """Entry point called by firmware/main.py (and later by the A/B loader)."""
    asyncio.run(App().run())


async def safe_main():
    """Safe mode, entered by the loader after repeated crashes: the cloud link, OTA and the
    watchdog only. Printer configurations are kept but not driven; print and control commands
    are refused as printer_offline, so the cloud sends the work elsewhere."""
    await App(safe_mode=True).run()
