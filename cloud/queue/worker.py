"""QueueWorker: an asyncio consumer that leases messages, runs a handler, acks or fails them."""

import asyncio
import contextlib
import functools
import logging
import os
import uuid
from collections.abc import Awaitable, Callable

from cloud.queue.store import DEFAULT_LEASE_MS, Message, QueueStore

log = logging.getLogger(__name__)

Handler = Callable[[Message], Awaitable[None]]
RunDb = Callable[..., Awaitable]


class PermanentFailure(Exception):
    """Raised by a handler when retrying cannot help (a remote rejected the request, the input
    is unusable): the message becomes a dead letter at once, with this reason."""


class RetryLater(Exception):
    """Raised by a handler when a remote said when to come back (HTTP 429 Retry-After): the
    message is retried no earlier than `delay_ms` from now (or its backoff, if longer)."""

    def __init__(self, message: str, delay_ms: int):
        super().__init__(message)
        self.delay_ms = delay_ms


async def _run_in_default_pool(fn, *args):
    return await asyncio.get_running_loop().run_in_executor(None, fn, *args)


class QueueWorker:
    """Consume one queue: at-least-once, so handlers must be idempotent (they get redeliveries
    after a crash or a lost lease). A handler exception fails the message (retry with backoff,
    then dead letter); it never stops the worker."""

    def __init__(
        self,
        queue: str,
        handler: Handler,
        *,
        store: QueueStore | None = None,
        run_db: RunDb = _run_in_default_pool,
        batch: int = 10,
        poll_interval: float = 1.0,
        lease_ms: int = DEFAULT_LEASE_MS,
    ):
        self.queue = queue
        self.handler = handler
        self.store = store or QueueStore()
        self.run_db = run_db
        self.batch = batch
        self.poll_interval = poll_interval
        self.lease_ms = lease_ms
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.processed = 0
        self.failed = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    def notify(self) -> None:
        """Something was enqueued in this process: look now instead of at the next poll."""
        self._wake.set()

    def start(self) -> asyncio.Task:
        """Start consuming in the background."""
        self._task = asyncio.create_task(self._run(), name=f"queue-worker:{self.queue}")
        return self._task

    async def stop(self) -> None:
        """Stop after the message in hand; unfinished leases simply expire and are redelivered."""
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def drain(self) -> int:
        """Process what is due now, until nothing is; returns how many messages were handled."""
        total = 0
        while True:
            handled = await self._process_batch()
            if not handled:
                return total
            total += handled

    async def _run(self) -> None:
        while True:
            try:
                handled = await self._process_batch()
            except asyncio.CancelledError:
                raise
            except Exception:  # the database is down: keep the worker, try again later
                log.exception("queue %s: lease failed", self.queue)
                handled = 0
            if handled == 0:
                self._wake.clear()
                with contextlib.suppress(asyncio.TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval)

    async def _process_batch(self) -> int:
        messages = await self.run_db(
            self.store.lease, self.queue, self.owner, self.batch, self.lease_ms
        )
        for message in messages:
            try:
                await self.handler(message)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.failed += 1
                status = await self.run_db(
                    functools.partial(
                        self.store.fail,
                        permanent=isinstance(exc, PermanentFailure),
                        delay_ms=exc.delay_ms if isinstance(exc, RetryLater) else None,
                    ),
                    message.id,
                    self.owner,
                    f"{type(exc).__name__}: {exc}",
                )
                level = logging.ERROR if status == "dead" else logging.WARNING
                log.log(
                    level,
                    "queue %s message %s failed (attempt %s, now %s): %s",
                    self.queue,
                    message.id,
                    message.attempts,
                    status,
                    exc,
                )
            else:
                self.processed += 1
                await self.run_db(self.store.ack, message.id, self.owner)
        return len(messages)
