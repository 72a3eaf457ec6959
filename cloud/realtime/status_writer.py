"""Coalesced persistence of printer status and hub liveness: memory per report, the database per interval.

A hub reports each printer about once a second; the `printers` row only needs the columns that
describe it between reports (status, is_connected, connection_error). Each report updates an
in-memory "wanted" value; every `interval_s` one task writes, in one transaction, only printers
whose wanted value differs from what was last written, grouping printers with identical values
into one `UPDATE … WHERE id IN (…)`. A farm printing steadily therefore costs a handful of
statements per interval whatever its size, and a burst of changes at most one write per printer
per interval.
"""

import asyncio
import logging
from collections import defaultdict

from cloud.db import database_proxy
from cloud.db.executor import write_transaction
from cloud.models import Printer, PrintJob, now_ms, system_access
from cloud.realtime.broker import cancel_quietly
from cloud.services import hubs as hubs_service

log = logging.getLogger(__name__)

# printer_status.status key -> printers column. A key absent from a report means "unchanged".
STATUS_COLUMNS = (("state", "status"), ("connected", "is_connected"), ("error", "connection_error"))
_UNKNOWN = "\x00unknown"  # a column no report has mentioned yet: never written
IN_CLAUSE_CHUNK = 500  # ids per IN (…): well below SQLite's 32766 variables and PG limits


class StatusWriter:
    """Remembers the latest persisted-columns value per printer and flushes changes in batches."""

    def __init__(self, run_db, interval_s: float = 2.0):
        self.run_db = run_db
        self.interval_s = interval_s
        self._wanted: dict[str, tuple] = {}  # printer_id -> (tenant_id, values tuple)
        self._written: dict[str, tuple] = {}
        self._dirty: set[str] = set()
        # The active job's progress, coalesced the same way (printer_id -> (tenant_id, percent)).
        self._progress: dict[str, tuple[str, int]] = {}
        self._progress_written: dict[str, int] = {}
        self._hubs_seen: set[str] = set()
        self._task: asyncio.Task | None = None
        self.flushes = 0
        self.rows_written = 0
        self.last_flush_ms = 0.0

    def start(self) -> None:
        """Start the periodic flush task."""
        self._task = asyncio.create_task(self._run(), name="status-writer")

    async def stop(self) -> None:
        """Stop the task and write what is pending."""
        await cancel_quietly(self._task)
        await self.flush()

    def note_status(self, tenant_id: str, printer_id: str, status: dict) -> None:
        """Merge one report's persisted keys (absent keys keep their last value)."""
        current = self._wanted.get(printer_id)
        values = list(current[1]) if current else [_UNKNOWN] * len(STATUS_COLUMNS)
        changed = current is None
        for index, (key, _column) in enumerate(STATUS_COLUMNS):
            if key in status:
                value = status[key]
                if key == "connected":
                    value = 1 if value else 0
                if values[index] != value:
                    values[index] = value
                    changed = True
        progress = status.get("progress")
        if isinstance(progress, int | float) and not isinstance(progress, bool):
            percent = max(0, min(100, int(progress)))
            if self._progress_written.get(printer_id) != percent:
                self._progress[printer_id] = (tenant_id, percent)
        if changed:
            new = tuple(values)
            self._wanted[printer_id] = (tenant_id, new)
            if self._written.get(printer_id) != new:
                self._dirty.add(printer_id)

    def note_hub_seen(self, hub_id: str) -> None:
        """The hub is connected here: refresh its last_seen_at at the next flush."""
        self._hubs_seen.add(hub_id)

    def forget_printers(self, printer_ids) -> None:
        """Drop memory of printers (their hub disconnected) so the next report is written."""
        for printer_id in printer_ids:
            self._wanted.pop(printer_id, None)
            self._written.pop(printer_id, None)
            self._dirty.discard(printer_id)
            self._progress.pop(printer_id, None)
            self._progress_written.pop(printer_id, None)

    async def flush(self) -> None:
        """Write every changed printer and refresh seen hubs now."""
        dirty, self._dirty = self._dirty, set()
        hubs, self._hubs_seen = self._hubs_seen, set()
        progress, self._progress = self._progress, {}
        groups: dict[tuple, list[str]] = defaultdict(list)
        for printer_id in dirty:
            wanted = self._wanted.get(printer_id)
            if wanted is not None:
                groups[wanted].append(printer_id)
        progress_groups: dict[tuple, list[str]] = defaultdict(list)
        for printer_id, (tenant_id, percent) in progress.items():
            progress_groups[(tenant_id, percent)].append(printer_id)
        if not groups and not hubs and not progress_groups:
            return
        started = asyncio.get_running_loop().time()
        try:
            await self.run_db(
                _write_batch, dict(groups), sorted(hubs), now_ms(), dict(progress_groups)
            )
        except Exception:
            log.exception("status flush failed; retrying next interval")
            self._dirty |= dirty
            self._hubs_seen |= hubs
            for printer_id, value in progress.items():
                self._progress.setdefault(printer_id, value)
            return
        for printer_id, (_tenant, percent) in progress.items():
            self._progress_written[printer_id] = percent
        for (_tenant, values), printer_ids in groups.items():
            for printer_id in printer_ids:
                self._written[printer_id] = values
        self.flushes += 1
        self.rows_written += len(dirty)
        self.last_flush_ms = (asyncio.get_running_loop().time() - started) * 1000

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            await self.flush()


def _write_batch(
    groups: dict[tuple, list[str]], hub_ids: list[str], now: int, progress_groups=None
) -> None:
    """One transaction: one UPDATE per distinct value set (chunked), the printing jobs'
    progress (one UPDATE per distinct percentage), then hub liveness."""
    with write_transaction(database_proxy.obj), system_access():
        for (tenant_id, values), printer_ids in groups.items():
            update = {Printer.updated_at: now}
            for (_key, column), value in zip(STATUS_COLUMNS, values, strict=True):
                if value != _UNKNOWN:
                    update[getattr(Printer, column)] = value
            # A printer reported connected has no connection error, whether or not it says so.
            if values[1] == 1 and values[2] == _UNKNOWN:
                update[Printer.connection_error] = None
            for start in range(0, len(printer_ids), IN_CLAUSE_CHUNK):
                chunk = printer_ids[start : start + IN_CLAUSE_CHUNK]
                Printer.update(update).where(
                    (Printer.id.in_(chunk)) & (Printer.tenant_id == tenant_id)
                ).execute()
        for (tenant_id, percent), printer_ids in (progress_groups or {}).items():
            for start in range(0, len(printer_ids), IN_CLAUSE_CHUNK):
                chunk = printer_ids[start : start + IN_CLAUSE_CHUNK]
                PrintJob.update(progress_percentage=percent, last_sync_time=now).where(
                    (PrintJob.printer_id.in_(chunk))
                    & (PrintJob.tenant_id == tenant_id)
                    & (PrintJob.status.in_(("printing", "paused")))
                ).execute()
        if hub_ids:
            hubs_service.touch_hubs(hub_ids, now)
