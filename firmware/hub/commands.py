"""Command dedupe: a redelivered command_id is never run twice; its ack is replayed instead."""

import json
import os

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


# Finished commands remembered (~150 B each with their ack): ~5 KB RAM, same on flash.
DEDUPE_MAX = const(32)
JOURNAL = "commands.json"

NEW = "new"
RUNNING = "running"
DONE = "done"


class CommandLog:
    """Bounded memory of command ids: running ones in RAM, finished ones with their ack on flash."""

    def __init__(self, path=JOURNAL, capacity=DEDUPE_MAX):
        self.path = path
        self.capacity = capacity
        self._done = []  # [command_id, ack message], oldest first
        self._running = {}  # command_id -> True

    def load(self):
        """Read the finished commands back after a reboot."""
        try:
            with open(self.path) as f:
                self._done = json.load(f)
        except (OSError, ValueError):
            self._done = []

    def state(self, command_id):
        """(NEW|RUNNING|DONE, ack message or None)."""
        if command_id in self._running:
            return RUNNING, None
        for cid, ack in self._done:
            if cid == command_id:
                return DONE, ack
        return NEW, None

    def begin(self, command_id):
        """Mark a command as running (a redelivery meanwhile is ignored)."""
        self._running[command_id] = True

    def finish(self, command_id, ack):
        """Remember the ack of a finished command, on flash before the ack is sent."""
        self._running.pop(command_id, None)
        self._done.append([command_id, ack])
        if len(self._done) > self.capacity:
            self._done = self._done[-self.capacity :]
        tmp = self.path + ".tmp"
        with open(tmp, "w") as f:
            json.dump(self._done, f)
        os.rename(tmp, self.path)

    def abandon(self, command_id):
        """Forget a running command that never finished (its redelivery may run it again)."""
        self._running.pop(command_id, None)

    def running(self):
        """Ids of the commands in progress."""
        return list(self._running)
