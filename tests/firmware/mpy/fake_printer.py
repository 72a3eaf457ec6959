"""Test double of a printer driver and of transfer.stream_to_printer (hub-core tests only).

It implements the PrinterDriver interface of firmware/drivers/base.py; every call is appended
to fake_calls.log in the hub's state directory so a test can count executions across reboots.
Printer-map knobs (extra fields the protocol lets through): fake_crash_ms (run() raises after
that long), fake_print_ms (how long a print takes), fake_offline (never connects).
"""

import asyncio
import hashlib
import json


def record(**kw):
    with open("fake_calls.log", "a") as f:
        f.write(json.dumps(kw) + "\n")


class FakeError(Exception):
    def __init__(self, code, message):
        super().__init__(code + ": " + message)
        self.code = code
        self.message = message


class FakeDriver:
    """Connects instantly, reports status every second, runs prints as timers."""

    def __init__(self, config, on_status, on_event, ca_data=None):
        self.config = config
        self.printer_id = config["printer_id"]
        self.on_status = on_status
        self.on_event = on_event
        self._status = {"state": "offline", "connected": False}
        self._stop = asyncio.Event()
        self._job = None

    def _set(self, **changes):
        self._status.update(changes)
        self.on_status(self.printer_id, changes)

    async def run(self):
        record(call="run", printer=self.printer_id)
        if self.config.get("fake_offline"):
            self._set(state="offline", connected=False, error="unreachable")
            await self._stop.wait()
            return
        self._set(state="idle", connected=True, gcode_state="IDLE", nozzle_temp=25)
        if self.config.get("fake_bad_status"):
            # A driver bug: a value the contract refuses, next to a good one.
            self.on_status(self.printer_id, {"progress": "lots", "bed_temp": 60})
        crash_ms = self.config.get("fake_crash_ms")
        ticks = 0
        while not self._stop.is_set():
            await asyncio.sleep_ms(crash_ms or 1000)
            ticks += 1
            if crash_ms:
                raise RuntimeError("fake printer fault " + str(ticks))
            self._set(nozzle_temp=25 + ticks % 3)

    async def stop(self):
        self._stop.set()

    def resume_job(self):
        record(call="resume_job", printer=self.printer_id)

    def status(self):
        return dict(self._status)

    async def start_print(self, name, md5, plate=1, options=None):
        record(call="start_print", printer=self.printer_id, name=name, md5=md5)
        if self._status.get("state") == "printing":
            raise FakeError("printer_busy", "already printing")
        self._set(state="printing", gcode_state="RUNNING", job_name=name, progress=0)
        self.on_event(self.printer_id, "job_started", {"job_name": name})
        self._job = asyncio.create_task(self._print(name))

    async def _print(self, name):
        await asyncio.sleep_ms(self.config.get("fake_print_ms", 300))
        self._set(state="idle", gcode_state="FINISH", progress=100)
        self.on_event(self.printer_id, "job_finished", {"job_name": name})

    async def control(self, action, args=None):
        record(call="control", printer=self.printer_id, action=action)
        if action == "pause":
            self._set(state="paused", gcode_state="PAUSE")
            self.on_event(self.printer_id, "job_paused", None)
        elif action == "resume":
            self._set(state="printing", gcode_state="RUNNING")
            self.on_event(self.printer_id, "job_resumed", None)
        elif action == "stop":
            if self._job:
                self._job.cancel()
            self._set(state="idle", gcode_state="IDLE")
            self.on_event(self.printer_id, "job_cancelled", None)
        else:
            raise FakeError("printer_refused", "fake printer cannot " + action)


class FakeTransfer:
    """stream_to_printer stand-in: no download; the MD5 is of the file name."""

    @staticmethod
    async def stream_to_printer(url, driver, name, size, progress_cb, cancel_event, *args, **kw):
        record(call="transfer", printer=driver.printer_id, name=name, size=size)
        sent = 0
        step = max(1, size // 4)
        while sent < size:
            if cancel_event.is_set():
                raise FakeError("cancelled", "cancelled")
            await asyncio.sleep_ms(50)
            sent = min(size, sent + step)
            progress_cb(sent)
        return hashlib.md5(name.encode()).digest().hex()
