"""Host stand-in for the `machine` module: reset, reset cause, unique id and a minimal watchdog."""

import os
import sys
import time

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

# Exit status that tells hub_runner "the firmware asked for a reboot": it starts the VM again.
RESET_EXIT_CODE = 75
_CAUSE_FILE = "reset_cause"
_UID_FILE = "unique_id"
_UID_BYTES = 6  # the ESP32's base MAC


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def _read_cause():
    # Consumed once per boot: a VM that is killed (power cut) leaves no file and so reads as
    # PWRON_RESET next time, as the chip would report.
    try:
        with open(_CAUSE_FILE) as f:
            cause = int(f.read())
        os.remove(_CAUSE_FILE)
        return cause
    except (OSError, ValueError):
        return PWRON_RESET


_cause = _read_cause()


def reset_cause():
    """Why the hub (re)started: what reset() or the watchdog recorded, else PWRON_RESET."""
    return _cause


def reset():
    """Reboot: record the cause and leave the VM; hub_runner starts it again."""
    _write(_CAUSE_FILE, str(SOFT_RESET))
    sys.exit(RESET_EXIT_CODE)


def soft_reset():
    """Same as reset() on the host."""
    reset()


def unique_id():
    """Stable 6-byte id: $PRINTFARM_HUB_UID (hex), else random bytes kept in the state directory."""
    env = os.getenv("PRINTFARM_HUB_UID")
    if env:
        return bytes(int(env[i : i + 2], 16) for i in range(0, len(env), 2))
    try:
        with open(_UID_FILE, "rb") as f:
            data = f.read()
        if len(data) == _UID_BYTES:
            return data
    except OSError:
        pass
    data = os.urandom(_UID_BYTES)
    with open(_UID_FILE, "wb") as f:
        f.write(data)
    return data


def freq(hz=None):
    """CPU frequency of the ESP32-S3 (fixed on the host)."""
    return 240000000


def idle():
    """Yield the CPU briefly."""
    time.sleep_ms(1)


class WDT:
    """Watchdog: the host cannot interrupt the VM, so expiry is recorded and checked on feed()."""

    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self._last = time.ticks_ms()

    def feed(self):
        """Pet the dog; if it had already starved, reboot as the chip would have."""
        if time.ticks_diff(time.ticks_ms(), self._last) > self.timeout:
            _write(_CAUSE_FILE, str(WDT_RESET))
            sys.exit(RESET_EXIT_CODE)
        self._last = time.ticks_ms()
