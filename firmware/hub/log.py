"""Ring-buffer log: bounded RAM, readable from the REPL (hub.logs()) and shipped as hub_log."""

import io
import sys

from hub import clock

try:
    from micropython import const
except ImportError:

    def const(x):
        return x


# 200 lines of at most 160 characters: at most ~40 KB of str objects, typically ~12 KB.
LOG_LINES = const(200)
LINE_MAX = const(160)

LEVELS = ("D", "I", "W", "E")


class RingLog:
    """The last LOG_LINES lines; every line also goes to the console unless echo is off."""

    def __init__(self, capacity=LOG_LINES, echo=True):
        self.capacity = capacity
        self.echo = echo
        self._lines = [None] * capacity
        self._next = 0  # total lines ever written; slot = _next % capacity
        self._shipped = 0  # lines already handed to the cloud (take_unsent)

    def write(self, level, tag, msg):
        """Record one line: `<epoch ms> <level> <tag>: <msg>`, cut at LINE_MAX."""
        line = "%d %s %s: %s" % (clock.now_ms(), level, tag, msg)
        if len(line) > LINE_MAX:
            line = line[: LINE_MAX - 3] + "..."
        self._lines[self._next % self.capacity] = line
        self._next += 1
        if self.echo:
            print(line)

    def debug(self, tag, msg):
        """Debug line."""
        self.write("D", tag, msg)

    def info(self, tag, msg):
        """Informational line."""
        self.write("I", tag, msg)

    def warn(self, tag, msg):
        """Warning line."""
        self.write("W", tag, msg)

    def error(self, tag, msg):
        """Error line."""
        self.write("E", tag, msg)

    def exc(self, tag, msg, e):
        """Error line plus the exception's traceback (each traceback line is a log line)."""
        buf = io.StringIO()
        sys.print_exception(e, buf)
        self.write("E", tag, "%s: %r" % (msg, e))
        for tb_line in buf.getvalue().split("\n")[:-1]:
            self.write("E", tag, "  " + tb_line)

    def lines(self, n=None):
        """The newest n lines (all kept lines by default), oldest first."""
        kept = min(self._next, self.capacity)
        if n is None or n > kept:
            n = kept
        start = self._next - n
        return [self._lines[i % self.capacity] for i in range(start, self._next)]

    def take_unsent(self, limit):
        """Up to `limit` lines not yet shipped to the cloud (lines overwritten meanwhile are lost)."""
        oldest = self._next - min(self._next, self.capacity)
        if self._shipped < oldest:
            self._shipped = oldest
        end = min(self._next, self._shipped + limit)
        out = [self._lines[i % self.capacity] for i in range(self._shipped, end)]
        self._shipped = end
        return out

    def total(self):
        """Lines written since boot."""
        return self._next


log = RingLog()
