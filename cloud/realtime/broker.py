"""Broker: routes messages on named channels to subscribers in this process and, with Redis, in others.

Channels used by the real-time core (see `channel_for_hub`, `channel_for_tenant`):
- `hub:{hub_id}`: notices to the process holding that hub's socket (deliver pending commands,
  claim changed, printers changed, the hub connected elsewhere).
- `tenant:{tenant_id}`: dashboard messages for every dashboard of that tenant.

Handlers are plain callables taking the message dict; they run on the event loop and must not
block (they hand work to queues or tasks). Delivery is at-most-once and best effort: anything
that must not be lost (commands, events) is persisted first and the broker only carries a nudge.
"""

import asyncio
import logging
from collections import defaultdict
from collections.abc import Callable

log = logging.getLogger(__name__)

Handler = Callable[[dict], None]


def channel_for_hub(hub_id: str) -> str:
    """The channel of one hub's notices."""
    return "hub:" + hub_id


def channel_for_tenant(tenant_id: str) -> str:
    """The channel of one tenant's dashboard messages."""
    return "tenant:" + tenant_id


class Broker:
    """In-process broker: publish hands the message to this process's subscribers immediately."""

    def __init__(self):
        self._handlers: dict[str, list[Handler]] = defaultdict(list)

    async def start(self) -> None:
        """Start background work (none in process)."""

    async def close(self) -> None:
        """Stop background work and drop every subscription."""
        self._handlers.clear()

    def publish(self, channel: str, message: dict) -> None:
        """Send `message` to every subscriber of `channel`; never blocks, never raises."""
        self._deliver_local(channel, message)

    def subscribe(self, channel: str, handler: Handler) -> None:
        """Call `handler(message)` for every message published on `channel`."""
        self._handlers[channel].append(handler)

    def unsubscribe(self, channel: str, handler: Handler) -> None:
        """Stop calling `handler` for `channel` (no error if it was not subscribed)."""
        handlers = self._handlers.get(channel)
        if not handlers:
            return
        try:
            handlers.remove(handler)
        except ValueError:
            return
        if not handlers:
            del self._handlers[channel]

    def has_subscribers(self, channel: str) -> bool:
        """True if a handler in this process listens on `channel`."""
        return bool(self._handlers.get(channel))

    async def flush(self) -> None:
        """Wait until everything published so far has left this process (tests, shutdown)."""

    def _deliver_local(self, channel: str, message: dict) -> None:
        handlers = self._handlers.get(channel)
        if not handlers:
            return
        for handler in tuple(handlers):
            # One failing handler must not stop delivery to the others.
            try:
                handler(message)
            except Exception:
                log.exception("broker handler for %s failed", channel)


def make_broker(redis_url: str | None, prefix: str = "printfarm:") -> Broker:
    """The in-process broker, or the Redis pub/sub one when a Redis URL is configured."""
    if not redis_url:
        return Broker()
    from cloud.realtime.redis_broker import RedisBroker

    return RedisBroker(redis_url, prefix=prefix)


async def cancel_quietly(task: asyncio.Task | None) -> None:
    """Cancel a background task and wait for it, swallowing its cancellation."""
    if task is None or task.done():
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        log.exception("background task %s failed while stopping", task.get_name())
