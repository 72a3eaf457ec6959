"""pytest side of the driver suites: drives tests/firmware/mpy/driver_harness.py under asyncio."""

import asyncio
import json
import os
from pathlib import Path

from tests.firmware import mpy_runner

SCRIPT = Path(__file__).parent / "mpy" / "driver_harness.py"


class MpyHub:
    """A micropython process running BambuDrivers; collects their status/events/results."""

    def __init__(self, tmp_path: Path, printers, ca=None, origin_ca=None, run=True, heap="512K"):
        self.conf_path = Path(tmp_path) / "harness.json"
        self.conf_path.write_text(
            json.dumps(
                {
                    "printers": printers,
                    "ca": str(ca) if ca else None,
                    "origin_ca": str(origin_ca) if origin_ca else None,
                    "run": run,
                }
            )
        )
        self.heap = heap
        self.proc = None
        self.rows = []
        self.log = []
        self.status = {}  # printer_id -> merged normalised status
        self._cond = asyncio.Condition()
        self._next = 0
        self._reader = None
        self.stderr = b""

    async def start(self):
        """Start micropython and wait until it is ready."""
        self.proc = await asyncio.create_subprocess_exec(
            str(mpy_runner.MICROPYTHON),
            "-X",
            "heapsize=" + self.heap,
            str(SCRIPT),
            str(self.conf_path),
            env=mpy_runner.mpy_env(),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            limit=1 << 20,
        )
        self._reader = asyncio.create_task(self._read())
        await self.wait(lambda r: r.get("t") == "ready", 30)
        return self

    async def _read(self):
        while True:
            line = await self.proc.stdout.readline()
            if not line:
                break
            text = line.decode(errors="replace").strip()
            if not text.startswith("{"):
                self.log.append(text)  # firmware prints (diagnostics)
                continue
            row = json.loads(text)
            async with self._cond:
                self.rows.append(row)
                if row.get("t") == "status":
                    self.status.setdefault(row["p"], {}).update(row["s"])
                self._cond.notify_all()
        async with self._cond:
            self._cond.notify_all()

    async def wait(self, pred, timeout=60, start=0):
        """The first row (from index `start`) matching `pred`; fails after `timeout` seconds."""

        def find():
            for r in self.rows[start:]:
                if pred(r):
                    return r
            return None

        async def until():
            async with self._cond:
                while True:
                    r = find()
                    if r is not None:
                        return r
                    if self.proc.returncode is not None or self._reader.done():
                        raise AssertionError("micropython exited: " + await self._err())
                    await self._cond.wait()

        try:
            return await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise AssertionError(
                f"timed out; last rows: {self.rows[-8:]!r}; stderr: {await self._err()}"
            ) from None

    async def wait_status(self, pid, pred, timeout=60):
        """Wait until the merged status of printer `pid` satisfies `pred`."""

        async def until():
            async with self._cond:
                while not pred(self.status.get(pid, {})):
                    if self._reader.done():
                        raise AssertionError("micropython exited: " + await self._err())
                    await self._cond.wait()

        try:
            await asyncio.wait_for(until(), timeout)
        except TimeoutError:
            raise AssertionError(f"status of {pid} never matched: {self.status.get(pid)}") from None
        return self.status[pid]

    async def _err(self):
        if self.proc.returncode is not None and not self.stderr:
            self.stderr = await self.proc.stderr.read()
        return self.stderr.decode(errors="replace")[-3000:]

    def send(self, op, **kw):
        """Send one request; returns its id."""
        self._next += 1
        kw["op"] = op
        kw["id"] = self._next
        self.proc.stdin.write((json.dumps(kw) + "\n").encode())
        return self._next

    async def call(self, op, timeout=120, **kw):
        """Send a request and wait for its result row."""
        rid = self.send(op, **kw)
        return await self.wait(lambda r: r.get("t") == "result" and r.get("id") == rid, timeout)

    def events(self, pid=None):
        """(event, data) rows so far, optionally for one printer."""
        return [
            (r["e"], r["d"])
            for r in self.rows
            if r.get("t") == "event" and (pid is None or r["p"] == pid)
        ]

    def socket_count(self):
        """Sockets the micropython process holds now (from /proc/<pid>/fd)."""
        n = 0
        fd_dir = f"/proc/{self.proc.pid}/fd"
        for fd in os.listdir(fd_dir):
            try:
                if os.readlink(os.path.join(fd_dir, fd)).startswith("socket:"):
                    n += 1
            except OSError:
                pass
        return n

    async def close(self):
        """Ask the harness to stop its drivers and exit (kill after a grace period)."""
        if self.proc is None:
            return
        if self.proc.returncode is None:
            try:
                self.send("quit")
                await asyncio.wait_for(self.proc.wait(), 15)
            except (TimeoutError, ConnectionError, BrokenPipeError):
                self.proc.kill()
                await self.proc.wait()
        if self._reader:
            await self._reader
