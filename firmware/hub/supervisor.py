"""Task supervisor: every long-running task is restarted with backoff when it raises."""

import asyncio
import gc
import time

from hub.backoff import Backoff
from hub.log import log

# A task that ran this long before failing is considered to have been healthy: its backoff
# starts over instead of growing.
HEALTHY_MS = 60000
RESTART_MIN_MS = 500
RESTART_MAX_MS = 30000


class _Entry:
    def __init__(self, name, factory, min_ms, max_ms):
        self.name = name
        self.factory = factory
        self.backoff = Backoff(min_ms, max_ms)
        self.task = None
        self.restarts = 0
        self.last_error = None
        self.state = "starting"


class Supervisor:
    """Owns named tasks; a crash is logged and the task restarted, never the hub."""

    def __init__(self, min_ms=RESTART_MIN_MS, max_ms=RESTART_MAX_MS):
        self.min_ms = min_ms
        self.max_ms = max_ms
        self._entries = {}

    def start(self, name, factory):
        """Run `await factory()` under supervision; a name already running is replaced."""
        self.stop(name)
        entry = _Entry(name, factory, self.min_ms, self.max_ms)
        self._entries[name] = entry
        entry.task = asyncio.create_task(self._guard(entry))
        return entry.task

    def stop(self, name):
        """Cancel a supervised task (no restart)."""
        entry = self._entries.pop(name, None)
        if entry is not None and entry.task is not None:
            entry.task.cancel()

    def stop_all(self):
        """Cancel every supervised task."""
        for name in list(self._entries):
            self.stop(name)

    def names(self):
        """Names of the supervised tasks."""
        return list(self._entries)

    def status(self):
        """{name: {state, restarts, last_error}} for hub.status()."""
        out = {}
        for name, e in self._entries.items():
            out[name] = {"state": e.state, "restarts": e.restarts, "last_error": e.last_error}
        return out

    async def _guard(self, entry):
        while True:
            started = time.ticks_ms()
            entry.state = "running"
            try:
                await entry.factory()
                entry.state = "done"
                log.info("sup", "%s finished" % entry.name)
                return
            except asyncio.CancelledError:
                entry.state = "stopped"
                raise
            except Exception as e:  # MemoryError included: one task's failure stays its own
                entry.restarts += 1
                entry.last_error = repr(e)[:80]
                entry.state = "backoff"
                log.exc("sup", "%s crashed (restart %d)" % (entry.name, entry.restarts), e)
            gc.collect()
            if time.ticks_diff(time.ticks_ms(), started) > HEALTHY_MS:
                entry.backoff.reset()
            delay = entry.backoff.next_ms()
            log.info("sup", "%s restarts in %d ms" % (entry.name, delay))
            await asyncio.sleep_ms(delay)
