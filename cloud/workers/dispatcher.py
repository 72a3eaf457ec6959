"""The dispatcher task: sends queued jobs to free printers, on demand and on a periodic sweep."""

import asyncio
import contextlib
import logging
from collections.abc import Callable

from cloud.services.dispatch import Assignment, dispatch_tenant, tenants_with_queued_jobs

log = logging.getLogger(__name__)

SWEEP_INTERVAL_S = 2.0  # a bed cleared or a printer come idle is picked up within this


class Dispatcher:
    """Runs dispatch_tenant on the DB pool. `poke(tenant)` after anything that may free a
    printer or add a job; the sweep catches what no poke announced (other processes, hubs)."""

    def __init__(
        self,
        run_db,
        on_claim: Callable[[Assignment], None],
        after_claim: Callable[[Assignment], None],
        interval: float = SWEEP_INTERVAL_S,
    ):
        self.run_db = run_db
        self.on_claim = on_claim  # DB thread, inside the claim's transaction (persist the command)
        self.after_claim = after_claim  # event loop, after commit (broadcast, wake the hub)
        self.interval = interval
        self.assigned = 0
        self._poked: set[str | None] = set()
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def poke(self, tenant_id: str | None = None) -> None:
        """Dispatch now for one tenant (None: every tenant with queued jobs)."""
        self._poked.add(tenant_id)
        self._wake.set()

    def start(self) -> None:
        """Start the background task."""
        self._task = asyncio.create_task(self._run(), name="dispatcher")

    async def stop(self) -> None:
        """Stop the background task."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self, tenant_ids: list[str] | None = None) -> list[Assignment]:
        """One dispatch pass over the given tenants (default: all with queued jobs)."""
        if tenant_ids is None:
            tenant_ids = await self.run_db(tenants_with_queued_jobs)
        done: list[Assignment] = []
        for tenant_id in tenant_ids:
            try:
                assignments = await self.run_db(dispatch_tenant, tenant_id, 50, self.on_claim)
            except Exception:  # one tenant's bad data must not stop the farm's dispatching
                log.exception("dispatch failed for tenant %s", tenant_id)
                continue
            for assignment in assignments:
                self.after_claim(assignment)
            done.extend(assignments)
        self.assigned += len(done)
        return done

    async def _run(self) -> None:
        while True:
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.interval)
            self._wake.clear()
            poked, self._poked = self._poked, set()
            tenants = None if (not poked or None in poked) else sorted(poked)
            try:
                await self.run_once(tenants)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("dispatch sweep failed")
