"""After boot: what to tell the cloud about this boot, and the health check that confirms updates.

boot_report() gives the hub_hello extras (firmware version, reset_reason, boot_count,
app_slot) and log lines about a rollback or watchdog reset. HealthCheck.run() confirms a
trial boot (new firmware image or new application slot) once the cloud link has been up for
stable_ms without a break; if that does not happen within deadline_ms it resets the hub, and
the bootloader or the loader falls back. A boot that is not a trial only has to survive
run_ok_ms to reset the loader's failure counter.
"""

import asyncio
import time

import esp32
import loader
import machine
from micropython import const

from device import nvstate, ota, watchdog

STABLE_MS = const(60000)  # link up without a break for this long = healthy
DEADLINE_MS = const(300000)  # a trial boot not healthy by then is rolled back
RUN_OK_MS = const(30000)  # a confirmed slot that ran this long did not crash at start
POLL_MS = const(500)
APP_DESC_OFFSET = const(32)  # image header (24) + first segment header (8)
APP_DESC_READ = const(80)  # header + magic..version of esp_app_desc_t (RAM cost: 80 B, once)
NAMESPACE = "device"

# The strings hub.cloud_link reports in hub_hello.reset_reason.
REASONS = {
    machine.PWRON_RESET: "power_on",
    machine.HARD_RESET: "hard",
    machine.WDT_RESET: "watchdog",
    machine.DEEPSLEEP_RESET: "deepsleep",
    machine.SOFT_RESET: "soft",
}
_boot = {}


def firmware_version():
    """Version string of the running image (its esp_app_desc_t), or "unknown"."""
    buf = bytearray(APP_DESC_READ)
    try:
        esp32.Partition(esp32.Partition.RUNNING).readblocks(0, buf)
    except OSError:
        return "unknown"
    desc = buf[APP_DESC_OFFSET:]
    if desc[:4] != b"\x32\x54\xcd\xab":
        return "unknown"
    return bytes(desc[16:48]).split(b"\x00")[0].decode()


def begin():
    """Call once at boot before connecting: settle OTA state and count the boot."""
    if _boot:
        return _boot
    count = nvstate.get_int(NAMESPACE, "boots") + 1
    nvstate.set_int(NAMESPACE, "boots", count)
    _boot["ota"] = ota.settle_after_boot()
    _boot["count"] = count
    _boot["reason"] = REASONS.get(machine.reset_cause(), "unknown")
    notes = []
    rolled = ota.take_rollback_note()
    if rolled is not None:
        notes.append("firmware %s was rolled back: it never passed its health check" % rolled)
    if _boot["reason"] == "watchdog":
        stalled = watchdog.take_stalled_note()
        notes.append(
            "watchdog reset; stalled task(s): %s" % (", ".join(stalled) if stalled else "unknown")
        )
    _boot["notes"] = notes
    return _boot


def boot_report():
    """Optional hub_hello fields describing this boot, plus log lines for hub_log."""
    begin()
    state = loader.state()
    slot = state["running"]
    app = "%s:%s" % (slot, loader.slot_version(slot))
    if state["mode"] == "safe":
        app = "safe_mode"
    return {
        "firmware": firmware_version(),
        "reset_reason": _boot["reason"],
        "boot_count": _boot["count"],
        "app_slot": app,
        "notes": list(_boot["notes"]),
    }


def is_trial():
    """True if this boot runs an update that still has to prove itself."""
    begin()
    return _boot["ota"] == "trial" or loader.state()["trial"]


async def run_ok_watch(run_ok_ms=RUN_OK_MS):
    """Started by the loader: a boot that is not a trial and runs run_ok_ms did not crash at start."""
    if is_trial():
        return  # only the application's HealthCheck (cloud link) may confirm an update
    await asyncio.sleep_ms(run_ok_ms)
    loader.mark_good()


class HealthCheck:
    """Confirms a trial boot when the cloud link is stably up; resets the hub if it never is."""

    def __init__(
        self, link_is_up, stable_ms=STABLE_MS, deadline_ms=DEADLINE_MS, run_ok_ms=RUN_OK_MS
    ):
        self.link_is_up = link_is_up
        self.stable_ms = stable_ms
        self.deadline_ms = deadline_ms
        self.run_ok_ms = run_ok_ms
        self.result = None

    async def run(self):
        """Wait for the verdict; returns "good" or "confirmed" (a failed trial resets the hub)."""
        if not is_trial():
            await asyncio.sleep_ms(self.run_ok_ms)
            loader.mark_good()
            self.result = "good"
            return self.result
        start = time.ticks_ms()
        up_since = None
        while True:
            now = time.ticks_ms()
            if self.link_is_up():
                if up_since is None:
                    up_since = now
                if time.ticks_diff(now, up_since) >= self.stable_ms:
                    break
            else:
                up_since = None
            if time.ticks_diff(now, start) >= self.deadline_ms:
                print("health: update never became healthy; resetting to roll back")
                machine.reset()
            await asyncio.sleep_ms(POLL_MS)
        if _boot["ota"] == "trial":
            ota.confirm()
            _boot["ota"] = None
        loader.mark_good()
        print("health: update confirmed")
        self.result = "confirmed"
        return self.result
