"""The watchdog: machine.WDT is fed only while every critical task keeps showing progress.

Each critical task registers with the longest silence it may have (long enough for a TLS
handshake, which blocks the loop in C for about a second) and calls beat() as it works. The
supervising coroutine feeds the hardware watchdog only while all of them are fresh; when one
stalls it records which one in NVS and stops feeding, so the chip resets within the WDT
timeout and the next boot reports reset_reason "watchdog" and the stalled task.
"""

import asyncio
import time

import machine
from micropython import const

from device import nvstate

WDT_TIMEOUT_MS = const(30000)  # hardware timeout: covers the loop blocking in a TLS handshake
CHECK_MS = const(1000)  # how often the supervisor looks at the tasks
DEFAULT_SILENCE_MS = const(60000)
NAMESPACE = "wdt"


class Beat:
    """A critical task's progress marker."""

    def __init__(self, name, max_silence_ms):
        self.name = name
        self.max_silence_ms = max_silence_ms
        self.last = time.ticks_ms()

    def beat(self):
        """Record progress now."""
        self.last = time.ticks_ms()

    def stale(self, now):
        """True if the task has been silent for longer than it may be."""
        return time.ticks_diff(now, self.last) > self.max_silence_ms


class Watchdog:
    """Feeds machine.WDT while all registered tasks are fresh."""

    def __init__(self, timeout_ms=WDT_TIMEOUT_MS, check_ms=CHECK_MS):
        self.timeout_ms = timeout_ms
        self.check_ms = check_ms
        self.beats = {}
        self.stalled = []
        self._wdt = None

    def register(self, name, max_silence_ms=DEFAULT_SILENCE_MS):
        """Add a critical task; returns its Beat."""
        beat = Beat(name, max_silence_ms)
        self.beats[name] = beat
        return beat

    def unregister(self, name):
        """A task that ended on purpose stops being watched."""
        self.beats.pop(name, None)

    def check(self):
        """Feed if every task is fresh; return the names of stalled tasks."""
        now = time.ticks_ms()
        stalled = [b.name for b in self.beats.values() if b.stale(now)]
        if not stalled:
            self._wdt.feed()
        elif stalled != self.stalled:
            print("watchdog: stalled task(s): %s; not feeding" % ", ".join(stalled))
            nvstate.set_str(NAMESPACE, "stalled", ",".join(stalled)[: nvstate.MAX_STR])
        self.stalled = stalled
        return stalled

    async def run(self):
        """Start the hardware watchdog and supervise forever."""
        self._wdt = machine.WDT(timeout=self.timeout_ms)
        while True:
            self.check()
            await asyncio.sleep_ms(self.check_ms)


def take_stalled_note():
    """Tasks recorded as stalled before the last watchdog reset (then forgotten), or None."""
    names = nvstate.get_str(NAMESPACE, "stalled")
    if names is None:
        return None
    nvstate.erase(NAMESPACE, "stalled")
    return names.split(",")
