"""Outbox of sequence-numbered printer events kept until the cloud's cumulative event_ack."""

import asyncio
import json
import os

from hub import clock
from hub.log import log

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


# Events kept in RAM while unacknowledged: ~300 B each as dicts, so at most ~20 KB.
OUTBOX_MAX = const(64)
# Appended journal lines before the file is rewritten to its live entries (bounds flash use to
# roughly COMPACT_LINES x 300 B = ~40 KB and the boot-time replay to as many lines).
COMPACT_LINES = const(128)
JOURNAL = "outbox.jsonl"
# The events that must survive a reboot: a job's outcome and a finished transfer. The others
# (pause, resume, printer_error) are re-derived from the printer's status after a reboot.
PERSISTED_EVENTS = (
    "job_started",
    "job_finished",
    "job_failed",
    "job_cancelled",
    "file_transferred",
)


class Outbox:
    """Assigns seq (from NVS, for the life of the hub), journals events that matter, drops acked."""

    def __init__(self, config, path=JOURNAL, capacity=OUTBOX_MAX):
        self._config = config
        self.path = path
        self.capacity = capacity
        self.entries = []  # printer_event messages, ascending seq
        self.acked = 0  # highest seq the cloud has acknowledged
        self.next_seq = 1
        self.dropped = 0  # events lost because the outbox was full
        self._journal_lines = 0
        self.changed = asyncio.Event()  # set when an event is added (the link sends it)

    # -- boot --------------------------------------------------------------------------
    def load(self):
        """Replay the journal: persisted events not yet acknowledged come back in order."""
        self.next_seq = max(1, self._config.get_int("next_seq", 1))
        self.acked = max(0, self._config.get_int("acked_seq", 0))
        pending = {}
        lines = 0
        try:
            f = open(self.path)
        except OSError:
            f = None
        if f is not None:
            with f:
                for line in f:
                    lines += 1
                    try:
                        rec = json.loads(line)
                    except ValueError:
                        log.warn("outbox", "torn journal line %d skipped" % lines)
                        continue  # a line cut by a power loss
                    if "a" in rec:
                        self.acked = max(self.acked, rec["a"])
                    elif "e" in rec:
                        pending[rec["e"]["seq"]] = rec["e"]
        for seq in sorted(pending):
            if seq > self.acked:
                self.entries.append(pending[seq])
            if seq >= self.next_seq:
                self.next_seq = seq + 1  # journal written, NVS commit lost: never reuse a seq
        self._journal_lines = lines
        self._trim()
        if self.entries:
            log.info("outbox", "%d event(s) restored from flash" % len(self.entries))
        self.compact()

    # -- producing -----------------------------------------------------------------------
    def add(self, printer_id, event, data=None, job_id=None, command_id=None):
        """Queue a printer_event; returns it. Persisted events are on flash before this returns."""
        msg = {
            "type": "printer_event",
            "seq": self.next_seq,
            "printer_id": printer_id,
            "event": event,
            "ts": clock.now_ms(),
        }
        if job_id:
            msg["job_id"] = job_id
        if command_id:
            msg["command_id"] = command_id
        if data:
            msg["data"] = data
        if event in PERSISTED_EVENTS:
            self._append({"e": msg})
        self.next_seq += 1
        self._config.set("next_seq", self.next_seq)
        self._config.commit()
        self.entries.append(msg)
        self._trim()
        self.changed.set()
        return msg

    def _trim(self):
        while len(self.entries) > self.capacity:
            # Drop the oldest event that does not matter; only when all matter, the oldest.
            victim = 0
            for i, e in enumerate(self.entries):
                if e["event"] not in PERSISTED_EVENTS:
                    victim = i
                    break
            lost = self.entries.pop(victim)
            self.dropped += 1
            log.warn("outbox", "full: dropped seq %d (%s)" % (lost["seq"], lost["event"]))

    # -- acknowledging -------------------------------------------------------------------
    def ack(self, seq):
        """Cumulative ack: every event with seq <= `seq` is applied by the cloud."""
        if seq <= self.acked:
            return 0
        if seq >= self.next_seq:
            # The cloud knows more events than we ever numbered (NVS was erased): continue
            # above its mark, or the cloud would skip our new events as replays.
            log.warn("outbox", "cloud acked %d beyond next seq %d" % (seq, self.next_seq))
            self.next_seq = seq + 1
            self._config.set("next_seq", self.next_seq)
        before = len(self.entries)
        self.entries = [e for e in self.entries if e["seq"] > seq]
        self.acked = seq
        self._config.set("acked_seq", seq)
        self._config.commit()
        removed = before - len(self.entries)
        if self._journal_lines:
            self._append({"a": seq})
            if self._journal_lines >= COMPACT_LINES or not self._persisted_pending():
                self.compact()
        return removed

    def pending_after(self, seq):
        """Unacknowledged events with seq greater than `seq`, in order."""
        return [e for e in self.entries if e["seq"] > seq]

    # -- journal -------------------------------------------------------------------------
    def _persisted_pending(self):
        return [e for e in self.entries if e["event"] in PERSISTED_EVENTS]

    def _append(self, rec):
        with open(self.path, "a") as f:
            f.write(json.dumps(rec))
            f.write("\n")
        self._journal_lines += 1

    def compact(self):
        """Rewrite the journal to the live persisted events (temp file + rename)."""
        live = self._persisted_pending()
        if not live:
            try:
                os.remove(self.path)
            except OSError:
                pass
            self._journal_lines = 0
            return
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            f.write(json.dumps({"a": self.acked}))
            f.write("\n")
            for e in live:
                f.write(json.dumps({"e": e}))
                f.write("\n")
        os.rename(tmp, self.path)
        self._journal_lines = len(live) + 1

    def status(self):
        """Counters for hub.status()."""
        return {
            "pending": len(self.entries),
            "acked_seq": self.acked,
            "next_seq": self.next_seq,
            "dropped": self.dropped,
        }
