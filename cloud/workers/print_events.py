"""Consumer of the print-events queue: applies effects, then broadcasts and triggers automation."""

from collections.abc import Awaitable, Callable

from cloud.queue.store import Message
from cloud.services import print_events

Publish = Callable[[str, dict], Awaitable[None]]

_HANDLERS = {
    "job_completed": print_events.job_completed,
    "job_failed": print_events.job_failed,
}


def make_handler(
    run_db, publish: Publish, on_event: Callable[[str, dict], Awaitable[None]] | None = None
):
    """A QueueWorker handler: effects on the DB pool, then dashboard messages, then automation."""

    async def handle(message: Message) -> None:
        kind = message.payload.get("kind")
        apply = _HANDLERS.get(kind)
        if apply is None:
            raise ValueError(f"unknown print event kind {kind!r}")  # dead-letters after retries
        for dashboard_message in await run_db(apply, message.payload["job_id"]):
            await publish(message.tenant_id, dashboard_message)
        if on_event is not None:
            await on_event(message.tenant_id, message.payload)

    return handle
