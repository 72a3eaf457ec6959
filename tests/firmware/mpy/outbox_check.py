"""MicroPython side of test_outbox: one phase per VM run, state kept in the working directory."""

import json
import os
import sys

from hub.config import Config
from hub.log import log
from hub.outbox import Outbox

log.echo = False
PHASE = sys.argv[1]


def out(**kw):
    print(json.dumps(kw))


def seqs(box):
    return [[e["seq"], e["event"]] for e in box.entries]


def journal_lines():
    try:
        with open("outbox.jsonl") as f:
            return len(f.read().splitlines())
    except OSError:
        return 0


cfg = Config()
box = Outbox(cfg, capacity=int(sys.argv[2]) if len(sys.argv) > 2 else 64)
box.load()

if PHASE == "fill":
    box.add("p1", "job_started", {"job_name": "a"}, "j1", "c1")
    box.add("p1", "job_paused")
    box.add("p1", "job_finished", None, "j1")
    box.add("p1", "job_resumed")
    out(after_add=seqs(box), next_seq=box.next_seq, lines=journal_lines())
    out(removed=box.ack(1), acked=box.acked, pending=[e["seq"] for e in box.pending_after(0)])
    out(after_ack=seqs(box))
    # Exit without further acks: seq 3 (persisted) must come back, 2 and 4 are RAM-only.
elif PHASE == "reboot":
    out(restored=seqs(box), next_seq=box.next_seq, acked=box.acked)
    e = box.add("p1", "file_transferred", {"md5": "00" * 16, "bytes": 5})
    out(new_seq=e["seq"])
elif PHASE == "torn":
    with open("outbox.jsonl", "a") as f:
        f.write('{"e": {"seq": 99, "ev')  # power lost mid-write
    out(torn_loaded=True)
elif PHASE == "after_torn":
    out(restored=seqs(box), next_seq=box.next_seq)
elif PHASE == "lost_commit":
    # The journal got seq N but the NVS commit of next_seq did not happen.
    cfg.set("next_seq", 2)
    cfg.commit()
    out(set_back=True)
elif PHASE == "after_lost_commit":
    out(next_seq=box.next_seq)
elif PHASE == "ack_all":
    out(
        removed=box.ack(box.next_seq - 1),
        lines=journal_lines(),
        exists="outbox.jsonl" in os.listdir(),
    )
elif PHASE == "cloud_ahead":
    box.ack(500)
    e = box.add("p1", "job_started")
    out(seq=e["seq"])
elif PHASE == "capacity":
    for i in range(3):
        box.add("p1", "job_started")
        box.add("p1", "printer_error", {"reason": "r" + str(i)})
    out(entries=seqs(box), dropped=box.dropped)
    for _ in range(4):
        box.add("p1", "job_finished")
    out(full_of_persisted=seqs(box), dropped_total=box.dropped)
elif PHASE == "compact":
    for _ in range(150):
        e = box.add("p1", "job_finished")
        box.ack(e["seq"] - 1)  # one always pending, so the journal is not simply deleted
    out(lines=journal_lines(), pending=len(box.entries))
