"""Host stand-in for the `machine` module: reset, reset cause, unique id and the watchdog."""

import os
import time

import _reset
from _wdt import WDT  # noqa: F401  (a thread resets the VM when not fed, as the chip does)

PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

# Reset cause and reboot live in _reset (shared with the watchdog thread): one file, consumed
# once per boot. reset() is a HARD_RESET as on the esp32 port (ESP_RST_SW -> HARD_RESET in
# ports/esp32/modmachine.c).
RESET_EXIT_CODE = _reset.RESET_EXIT_CODE
_UID_FILE = "unique_id"
_UID_BYTES = 6  # the ESP32's base MAC


def reset_cause():
    """Why the hub (re)started: what reset() or the watchdog recorded, else PWRON_RESET."""
    return _reset.reset_cause()


def reset():
    """Reboot: record the cause and leave the VM; hub_runner starts it again."""
    _reset.reset(HARD_RESET)


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
