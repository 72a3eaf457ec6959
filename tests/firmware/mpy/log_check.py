"""MicroPython side of test_log: the ring buffer wraps, truncates and ships each line once."""

import json

from hub.log import LINE_MAX, RingLog

ring = RingLog(capacity=5, echo=False)
for i in range(8):
    ring.info("t", "line " + str(i))
kept = [ln.split(": ", 1)[1] for ln in ring.lines()]
newest2 = [ln.split(": ", 1)[1] for ln in ring.lines(2)]
first = ring.take_unsent(2)
rest = ring.take_unsent(10)
ring.warn("t", "x" * 500)
print(
    json.dumps(
        {
            "kept": kept,
            "newest2": newest2,
            "first": [ln.split(": ", 1)[1] for ln in first],
            "rest": [ln.split(": ", 1)[1] for ln in rest],
            "again": ring.take_unsent(10)[0].endswith("..."),
            "long_len": len(ring.lines(1)[0]),
            "line_max": LINE_MAX,
            "total": ring.total(),
        }
    )
)
