"""Test-only machine stand-in until fwcore's hardware/host/machine.py is on main."""

import _hubdir
from _reset import (  # noqa: F401
    DEEPSLEEP_RESET,
    HARD_RESET,
    PWRON_RESET,
    SOFT_RESET,
    WDT_RESET,
    reset_cause,  # noqa: F401
)
from _reset import reset as _reset
from _wdt import WDT  # noqa: F401


def reset():
    """Hard reset (the process ends; the runner boots it again)."""
    _reset(HARD_RESET)


def unique_id():
    return b"\x24\x6f\x28\x00\x00\x01"


class Pin:
    """Input pins read from $PRINTFARM_HUB_DIR/pin<N> ("0" = pulled low); 1 when absent."""

    IN = 1
    OUT = 3
    PULL_UP = 1

    def __init__(self, pin, mode=IN, pull=None):
        self._pin = pin

    def value(self):
        try:
            with open(_hubdir.path("pin%d" % self._pin)) as f:
                return int(f.read().strip() or 1)
        except (OSError, ValueError):
            return 1
