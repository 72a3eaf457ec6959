"""Event-loop lag: how late a periodic wake-up runs, the best single measure of a saturated loop."""

import asyncio
import gc
import time
from collections import deque

from cloud.realtime.broker import cancel_quietly

SAMPLE_INTERVAL_S = 0.1
WINDOW = 600  # samples kept (one minute at 10 Hz)


class LoopMonitor:
    """Samples the loop's lag every SAMPLE_INTERVAL_S and summarises the last minute."""

    def __init__(self):
        self.samples: deque = deque(maxlen=WINDOW)
        self._task: asyncio.Task | None = None
        # Garbage-collector pauses (they stop the loop too): longest and count per generation.
        self.gc_max_ms = [0.0, 0.0, 0.0]
        self.gc_count = [0, 0, 0]
        self._gc_started = 0.0

    def start(self) -> None:
        """Start sampling."""
        self._task = asyncio.create_task(self._run(), name="loop-monitor")
        gc.callbacks.append(self._on_gc)

    async def stop(self) -> None:
        """Stop sampling."""
        await cancel_quietly(self._task)
        if self._on_gc in gc.callbacks:
            gc.callbacks.remove(self._on_gc)

    def reset(self) -> None:
        """Forget past samples (the bench calls this between farm sizes)."""
        self.samples.clear()
        self.gc_max_ms = [0.0, 0.0, 0.0]
        self.gc_count = [0, 0, 0]

    def _on_gc(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._gc_started = time.perf_counter()
            return
        generation = info.get("generation", 0)
        elapsed = (time.perf_counter() - self._gc_started) * 1000
        self.gc_count[generation] += 1
        self.gc_max_ms[generation] = max(self.gc_max_ms[generation], elapsed)

    def summary(self) -> dict:
        """p50, p99 and max lag in milliseconds over the window."""
        gc_figures = {
            "gc_max_ms": [round(v, 1) for v in self.gc_max_ms],
            "gc_count": list(self.gc_count),
        }
        if not self.samples:
            return {"p50": 0.0, "p99": 0.0, "max": 0.0, **gc_figures}
        ordered = sorted(self.samples)
        return {
            "p50": round(ordered[len(ordered) // 2], 2),
            "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
            "max": round(ordered[-1], 2),
            **gc_figures,
        }

    async def _run(self) -> None:
        while True:
            before = time.perf_counter()
            await asyncio.sleep(SAMPLE_INTERVAL_S)
            late = time.perf_counter() - before - SAMPLE_INTERVAL_S
            self.samples.append(max(late, 0.0) * 1000)
