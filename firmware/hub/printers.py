"""Printer manager: one supervised driver per printer, cloud commands, one transfer at a time."""

import asyncio
import json
import os
import time

from hub.config import redact_printer
from hub.log import log

# connection_type -> (module, class) of the driver; imported only when such a printer exists.
DRIVERS = {"bambu": ("drivers.bambu", "BambuDriver")}
# Print commands waiting behind the running transfer (each holds only its command map).
TRANSFER_QUEUE_MAX = 16
PROGRESS_INTERVAL_MS = 1000  # file_progress at most once a second
DRIVER_STOP_TIMEOUT_MS = 5000
JOBS_FILE = "jobs.json"  # printer_id -> the job it is printing (for job_id on events after reboot)
JOB_END_EVENTS = ("job_finished", "job_failed", "job_cancelled")
CONTROL_ACTIONS = ("pause", "resume", "stop", "speed", "light")
REBOOT_DELAY_MS = 2000


SAFE_MODE_REASON = "hub in safe mode after repeated crashes; printers resume after an update"


def ok(result=None):
    """A successful command ack."""
    ack = {"success": True}
    if result:
        ack["result"] = result
    return ack


def fail(code, message):
    """A failed command ack with a protocol error code and a reason."""
    return {"success": False, "error": {"code": code, "message": str(message)[:200]}}


def _from_error(e, default_code):
    code = getattr(e, "code", None)
    if isinstance(code, str):
        return fail(code, getattr(e, "message", str(e)))
    return fail(default_code, repr(e))


def load_driver(printer, on_status, on_event, ca_data=None):
    """Build the driver of a printer map from DRIVERS; ValueError for an unknown type.

    `ca_data` (NVS key printer_ca) lets the driver verify the printers' certificates.
    """
    kind = printer.get("connection_type", "bambu")
    spec = DRIVERS.get(kind)
    if spec is None:
        raise ValueError("unsupported connection_type %r" % kind)
    module = __import__(spec[0], None, None, (spec[1],))
    cls = getattr(module, spec[1])
    if ca_data:
        return cls(printer, on_status, on_event, ca_data)
    return cls(printer, on_status, on_event)


class _Transfer:
    def __init__(self, msg):
        self.msg = msg
        self.cancel = asyncio.Event()
        self.done = asyncio.Event()
        self.ack = None
        self.bytes_sent = 0
        self.started = False


class PrinterManager:
    """Owns the drivers; executes configure_printer, print_command and printer_command."""

    def __init__(self, config, link, outbox, supervisor, driver_factory=load_driver, transfer=None):
        self.safe_mode = False  # set by the app in safe mode: no drivers, no prints
        self.config = config
        self.link = link
        self.outbox = outbox
        self.supervisor = supervisor
        self.driver_factory = driver_factory
        self._transfer_module = transfer
        self.drivers = {}
        self.jobs = {}
        self.queue = []
        self.current = None
        self._queued = asyncio.Event()
        self.printer_ca = config.get_bytes("printer_ca")

    # -- lifecycle -----------------------------------------------------------------------
    def start(self):
        """Start a driver per configured printer and the transfer worker."""
        self._load_jobs()
        api = self._transfer_api()
        if hasattr(api, "transfer_buffer"):
            # Taken now, while the heap is unfragmented: 16 KB contiguous is hard to find once
            # five TLS sessions have carved it up.
            api.transfer_buffer()
        for printer in self.config.printers():
            try:
                self._start_driver(printer)
            except Exception as e:
                log.exc("printers", "cannot start %s" % printer.get("printer_id"), e)
        self.supervisor.start("transfers", self._transfer_worker)

    def _start_driver(self, printer):
        if self.safe_mode:
            return  # configurations are kept; nothing drives a printer until the app is back
        pid = printer["printer_id"]
        driver = self.driver_factory(printer, self._on_status, self._on_event, self.printer_ca)
        if pid in self.jobs:  # printing when the hub went down: its end may have passed since
            driver.resume_job()
        self.drivers[pid] = driver
        self.supervisor.start("printer:" + pid, driver.run)
        log.info("printers", "started %r" % (redact_printer(printer),))

    async def _stop_driver(self, pid):
        driver = self.drivers.pop(pid, None)
        if driver is None:
            return
        try:
            await asyncio.wait_for_ms(driver.stop(), DRIVER_STOP_TIMEOUT_MS)
        except Exception as e:
            log.warn("printers", "%s did not stop cleanly: %r" % (pid, e))
        self.supervisor.stop("printer:" + pid)

    def _load_jobs(self):
        try:
            with open(JOBS_FILE) as f:
                self.jobs = json.load(f)
        except (OSError, ValueError):
            self.jobs = {}

    def _save_jobs(self):
        tmp = JOBS_FILE + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self.jobs, f)
        os.rename(tmp, JOBS_FILE)

    # -- driver callbacks ----------------------------------------------------------------
    def _on_status(self, printer_id, changes):
        self.link.post_status(printer_id, changes)

    def _on_event(self, printer_id, event, data=None):
        job = self.jobs.get(printer_id) or {}
        self.outbox.add(printer_id, event, data, job.get("job_id"), job.get("command_id"))
        if event in JOB_END_EVENTS and printer_id in self.jobs:
            del self.jobs[printer_id]
            self._save_jobs()

    def on_link_up(self):
        """After each hello_ok the cloud gets every printer's full status."""
        for pid, driver in self.drivers.items():
            try:
                self.link.post_status(pid, driver.status())
            except Exception as e:
                log.warn("printers", "status of %s: %r" % (pid, e))

    # -- commands ------------------------------------------------------------------------
    async def handle(self, msg):
        """Execute one cloud command; returns the ack fields."""
        kind = msg["type"]
        if self.safe_mode and kind in ("print_command", "printer_command"):
            # printer_offline: the cloud gives the job to another printer meanwhile.
            return fail("printer_offline", SAFE_MODE_REASON)
        if kind == "configure_printer":
            return await self._configure(msg)
        if kind == "print_command":
            return await self._print(msg)
        if kind == "printer_command":
            return await self._control(msg)
        if kind in ("discover_printers", "ota_update"):
            return await self._device_command(msg)
        return fail("bad_command", "unknown command " + kind)

    async def _configure(self, msg):
        printer = msg["printer"]
        pid = printer["printer_id"]
        if msg["action"] == "remove":
            await self._stop_driver(pid)
            self.link.forget_printer(pid)
            if not self.config.remove_printer(pid):
                return fail("unknown_printer", "no printer " + pid)
            return ok()
        if msg["action"] == "update" and pid not in self.drivers:
            if not any(p["printer_id"] == pid for p in self.config.printers()):
                return fail("unknown_printer", "no printer " + pid)
        if printer.get("connection_type", "bambu") not in DRIVERS:
            return fail("bad_command", "unsupported connection_type")
        await self._stop_driver(pid)
        self.config.upsert_printer(printer)
        try:
            self._start_driver(printer)
        except Exception as e:
            return fail("bad_command", "driver failed to start: %r" % (e,))
        return ok()

    async def _control(self, msg):
        pid = msg["printer_id"]
        action = msg["action"]
        if action == "cancel_transfer":
            return self._cancel_transfer(pid, (msg.get("args") or {}).get("command_id"))
        driver = self.drivers.get(pid)
        if driver is None:
            return fail("unknown_printer", "no printer " + pid)
        if action not in CONTROL_ACTIONS:
            return fail("bad_command", "unknown action " + action)
        try:
            await driver.control(action, msg.get("args"))
        except Exception as e:
            return _from_error(e, "printer_refused")
        return ok()

    def _cancel_transfer(self, pid, command_id):
        hit = 0
        for t in list(self.queue):
            if t.msg["printer_id"] == pid and (
                command_id is None or t.msg["command_id"] == command_id
            ):
                self.queue.remove(t)
                t.ack = fail("cancelled", "cancelled before the transfer started")
                t.done.set()
                hit += 1
        cur = self.current
        if cur is not None and cur.msg["printer_id"] == pid:
            if command_id is None or cur.msg["command_id"] == command_id:
                cur.cancel.set()
                hit += 1
        if not hit:
            return fail("bad_command", "no transfer to cancel for " + pid)
        return ok({"cancelled": hit})

    async def _device_command(self, msg):
        # Discovery and OTA belong to the device layer (firmware/device/*).
        try:
            if msg["type"] == "discover_printers":
                from device import discovery
            else:
                from device import update_command
        except ImportError:
            return fail("bad_command", msg["type"] + " is not available in this build")
        if msg["type"] == "discover_printers":
            found = await discovery.discovered_message(msg["command_id"], msg["duration_s"])
            await self.link.send_now(found)
            return ok({"count": len(found["printers"])})
        return await self._ota(msg, update_command)

    async def _ota(self, msg, update_command):
        if self.current is not None or self.queue:
            return fail("printer_busy", "a file transfer is running")
        acks = []

        async def capture(ack):  # the link sends the ack (and remembers it for redeliveries)
            acks.append(ack)

        reboot = await update_command.handle(msg, self._fetch, capture)
        ack = acks[0] if acks else {"success": False}
        if reboot:
            asyncio.create_task(self._reboot_soon())
        out = {"success": ack["success"]}
        for key in ("error", "result"):
            if ack.get(key):
                out[key] = ack[key]
        if not out["success"] and "error" not in out:
            out["error"] = {"code": "bad_command", "message": "update refused"}
        return out

    async def _fetch(self, url, write):
        # fetch(url, write) for the device layer: the body streamed through one transfer buffer.
        import transfer
        from net.http import Download

        buf = transfer.transfer_buffer()
        mv = memoryview(buf)
        download = Download(url, self.link.tls_for(url))
        try:
            await download.open()
            while True:
                n = await download.readinto(mv)
                if not n:
                    break
                await write(mv[:n])
        finally:
            await download.close()

    async def _reboot_soon(self):
        await asyncio.sleep_ms(REBOOT_DELAY_MS)  # let the ack reach the cloud first
        log.info("printers", "rebooting into the update")
        import machine

        machine.reset()

    # -- transfers -------------------------------------------------------------------------
    async def _print(self, msg):
        if msg["printer_id"] not in self.drivers:
            return fail("unknown_printer", "no printer " + msg["printer_id"])
        if len(self.queue) >= TRANSFER_QUEUE_MAX:
            return fail("printer_busy", "transfer queue full")
        t = _Transfer(msg)
        self.queue.append(t)
        self._queued.set()
        if self.current is not None or len(self.queue) > 1:
            log.info(
                "printers", "print %s queued (%d waiting)" % (msg["command_id"], len(self.queue))
            )
        await t.done.wait()
        return t.ack

    async def _transfer_worker(self):
        while True:
            if not self.queue:
                self._queued.clear()
                await self._queued.wait()
                continue
            t = self.queue.pop(0)
            self.current = t
            try:
                t.ack = await self._run_transfer(t)
            except Exception as e:
                log.exc("printers", "transfer %s crashed" % t.msg["command_id"], e)
                t.ack = _from_error(e, "upload_failed")
                raise
            finally:
                self.current = None
                if t.ack is None:
                    t.ack = fail("upload_failed", "transfer interrupted")
                t.done.set()

    def _transfer_api(self):
        if self._transfer_module is None:
            import transfer

            self._transfer_module = transfer
        return self._transfer_module

    async def _run_transfer(self, t):
        msg = t.msg
        pid = msg["printer_id"]
        driver = self.drivers.get(pid)
        if driver is None:
            return fail("unknown_printer", "printer removed")
        status = driver.status() or {}
        if status.get("connected") is False or status.get("state") == "offline":
            return fail("printer_offline", status.get("error") or "printer not connected")
        if status.get("state") in ("printing", "paused"):
            return fail("printer_busy", "printer is " + status["state"])
        size = msg["file_size"]
        last = [time.ticks_ms() - PROGRESS_INTERVAL_MS]

        def progress(sent, *rest):
            t.bytes_sent = sent
            now = time.ticks_ms()
            if sent < size and time.ticks_diff(now, last[0]) < PROGRESS_INTERVAL_MS:
                return
            last[0] = now
            asyncio.create_task(
                self.link.send_now(
                    {
                        "type": "file_progress",
                        "command_id": msg["command_id"],
                        "job_id": msg["job_id"],
                        "printer_id": pid,
                        "bytes_sent": sent,
                        "bytes_total": size,
                    }
                )
            )

        t.started = True
        log.info("printers", "transfer %s -> %s (%d bytes)" % (msg["file_name"], pid, size))
        try:
            md5 = await self._transfer_api().stream_to_printer(
                msg["file_url"],
                driver,
                msg["file_name"],
                size,
                progress,
                t.cancel,
                md5=msg.get("file_md5"),
                ctx=self.link.tls_for(msg["file_url"]),
            )
        except Exception as e:
            if t.cancel.is_set():
                return fail("cancelled", "transfer cancelled")
            return _from_error(e, "upload_failed")
        if t.cancel.is_set():
            return fail("cancelled", "transfer cancelled")
        expected = msg.get("file_md5")
        if expected and md5.lower() != expected.lower():
            return fail("md5_mismatch", "downloaded %s, expected %s" % (md5, expected))
        self.outbox.add(
            pid,
            "file_transferred",
            {"md5": md5, "bytes": size, "job_name": msg["file_name"]},
            msg["job_id"],
            msg["command_id"],
        )
        self.jobs[pid] = {"job_id": msg["job_id"], "command_id": msg["command_id"]}
        self._save_jobs()
        try:
            await driver.start_print(msg["file_name"], md5, msg.get("plate", 1), msg.get("options"))
        except Exception as e:
            self.jobs.pop(pid, None)
            self._save_jobs()
            return _from_error(e, "printer_refused")
        log.info("printers", "print %s started on %s" % (msg["job_id"], pid))
        return ok({"md5": md5})

    def status(self):
        """Printers and transfers for hub.status()."""
        printers = {}
        for pid, d in self.drivers.items():
            try:
                st = d.status() or {}
            except Exception as e:
                st = {"error": repr(e)}
            printers[pid] = {k: st.get(k) for k in ("state", "connected", "progress", "error")}
        cur = self.current
        return {
            "printers": printers,
            "transfer": None
            if cur is None
            else {
                "command_id": cur.msg["command_id"],
                "printer_id": cur.msg["printer_id"],
                "bytes_sent": cur.bytes_sent,
                "bytes_total": cur.msg["file_size"],
            },
            "queued": [t.msg["command_id"] for t in self.queue],
            "jobs": self.jobs,
        }
