"""MicroPython side of test_supervisor: crashing, steady, finishing and memory-hungry tasks."""

import asyncio
import json

from hub.log import log
from hub.supervisor import Supervisor

log.echo = False
counts = {"crasher": 0, "steady": 0, "hungry": 0}


async def crasher():
    counts["crasher"] += 1
    await asyncio.sleep_ms(5)
    raise ValueError("boom " + str(counts["crasher"]))


async def steady():
    while True:
        counts["steady"] += 1
        await asyncio.sleep_ms(10)


async def oneshot():
    await asyncio.sleep_ms(5)


async def hungry():
    counts["hungry"] += 1
    if counts["hungry"] == 1:
        blob = bytearray(4 * 1024 * 1024)  # far beyond the heap: MemoryError
        return len(blob)
    await asyncio.sleep_ms(10000)


async def main():
    sup = Supervisor(min_ms=20, max_ms=160)
    sup.start("crasher", crasher)
    sup.start("steady", steady)
    sup.start("oneshot", oneshot)
    sup.start("hungry", hungry)
    while counts["crasher"] < 6:
        await asyncio.sleep_ms(20)
    steady_before = counts["steady"]
    await asyncio.sleep_ms(100)
    st = sup.status()
    sup.stop("crasher")
    crashes_at_stop = counts["crasher"]
    await asyncio.sleep_ms(400)
    delays = []
    for line in log.lines():
        if "crasher restarts in" in line:
            delays.append(int(line.split("restarts in ")[1].split(" ")[0]))
    print(
        json.dumps(
            {
                "status": st,
                "steady_progressed": counts["steady"] > steady_before,
                "restarted_after_stop": counts["crasher"] > crashes_at_stop,
                "names": sup.names(),
                "delays": delays,
                "hungry_runs": counts["hungry"],
                "traceback_logged": any("boom 1" in ln for ln in log.lines()),
            }
        )
    )
    sup.stop_all()


asyncio.run(main())
