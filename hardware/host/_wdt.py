"""Host machine.WDT: a thread resets the emulated chip (WDT_RESET) when it is not fed in time.

Like the esp32 port, there is one watchdog (id 0), it cannot be stopped once started, and
constructing it again only changes the timeout. The thread keeps running while the asyncio
loop is blocked in C or spinning in Python, so a hung loop is caught as on the chip.
"""

import _thread
import time

import _reset

_POLL_MS = 20  # how often the watchdog thread looks at the deadline
_state = {"timeout": 0, "deadline": 0, "running": False}


def _watch():
    while True:
        time.sleep_ms(_POLL_MS)
        if time.ticks_diff(time.ticks_ms(), _state["deadline"]) > 0:
            print("WDT: not fed for %d ms, resetting" % _state["timeout"])
            _reset.reset(_reset.WDT_RESET)


class WDT:
    """machine.WDT(id=0, timeout=5000): reset the chip unless feed() is called in time."""

    def __init__(self, id=0, timeout=5000):
        if id != 0:
            raise ValueError()
        if timeout <= 0:
            raise ValueError("WDT timeout too short")
        _state["timeout"] = timeout
        self.feed()
        if not _state["running"]:
            _state["running"] = True
            _thread.start_new_thread(_watch, ())

    def feed(self):
        """Push the deadline timeout milliseconds ahead."""
        _state["deadline"] = time.ticks_add(time.ticks_ms(), _state["timeout"])
