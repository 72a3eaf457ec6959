"""Redis pub/sub broker: the in-process broker plus Redis channels to every other cloud process.

Local subscribers get a message synchronously (no round trip); other processes get it through
Redis. Published messages are queued and sent by one task in pipelined batches, one Redis message
per channel per batch, so thousands of status updates per second cost few round trips. A process
ignores its own messages when they come back from Redis (each frame names its origin).
"""

import asyncio
import logging
import uuid
from collections import defaultdict

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from cloud.realtime.broker import Broker, Handler, cancel_quietly
from protocol.codec import packb, unpackb
from protocol.errors import ProtocolError

log = logging.getLogger(__name__)

# A batch frame from Redis may hold many messages; bound it well above any real batch.
MAX_BROKER_FRAME = 64 * 1024 * 1024
# Outgoing messages waiting for Redis; past this the oldest are dropped (counted) so a Redis
# outage cannot grow memory without bound. Commands and events never depend on this path alone.
MAX_PENDING_PUBLISHES = 100_000
RECONNECT_DELAY_S = 1.0


class RedisBroker(Broker):
    """Broker over Redis pub/sub (redis-py asyncio); channels are named `{prefix}{channel}`."""

    def __init__(self, url: str, prefix: str = "printfarm:"):
        super().__init__()
        self.url = url
        self.prefix = prefix
        self.origin = uuid.uuid4().hex
        self.dropped = 0
        self._redis: aioredis.Redis | None = None
        self._pubsub = None
        self._outgoing: dict[str, list[dict]] = defaultdict(list)
        self._outgoing_count = 0
        self._wake_sender = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._subscribed = asyncio.Event()
        self._sender: asyncio.Task | None = None
        self._listener: asyncio.Task | None = None
        self._subscription_lock = asyncio.Lock()
        self._changes: set[asyncio.Task] = set()  # strong references to subscription changes

    async def start(self) -> None:
        """Connect to Redis and start the sender and listener tasks."""
        self._redis = aioredis.Redis.from_url(self.url)
        await self._redis.ping()
        self._pubsub = self._redis.pubsub(ignore_subscribe_messages=True)
        self._sender = asyncio.create_task(self._send_loop(), name="redis-broker-send")
        self._listener = asyncio.create_task(self._listen_loop(), name="redis-broker-listen")

    async def close(self) -> None:
        """Flush what is queued (briefly), stop the tasks and disconnect."""
        try:
            await asyncio.wait_for(self.flush(), timeout=2)
        except TimeoutError:
            pass
        await cancel_quietly(self._sender)
        await cancel_quietly(self._listener)
        if self._pubsub is not None:
            await self._pubsub.aclose()
        if self._redis is not None:
            await self._redis.aclose()
        await super().close()

    def publish(self, channel: str, message: dict) -> None:
        """Deliver locally now; queue for the other processes (sent by the sender task)."""
        self._deliver_local(channel, message)
        if self._outgoing_count >= MAX_PENDING_PUBLISHES:
            self.dropped += 1
            return
        self._outgoing[channel].append(message)
        self._outgoing_count += 1
        self._idle.clear()
        self._wake_sender.set()

    def subscribe(self, channel: str, handler: Handler) -> None:
        """Subscribe locally; the first local subscriber of a channel subscribes in Redis."""
        first = not self.has_subscribers(channel)
        super().subscribe(channel, handler)
        if first:
            self._spawn(self._redis_subscribe(channel))

    def unsubscribe(self, channel: str, handler: Handler) -> None:
        """Unsubscribe locally; the last local subscriber leaving unsubscribes in Redis."""
        had = self.has_subscribers(channel)
        super().unsubscribe(channel, handler)
        if had and not self.has_subscribers(channel):
            self._spawn(self._redis_unsubscribe(channel))

    async def flush(self) -> None:
        """Wait until every queued message has been handed to Redis."""
        await self._idle.wait()

    async def wait_subscribed(self, channel: str) -> None:
        """Wait until Redis confirms this process listens on `channel` (tests, start-up)."""
        name = (self.prefix + channel).encode()
        while name not in self._pubsub.channels:
            await asyncio.sleep(0.01)
        async with self._subscription_lock:
            pass

    # --- internals -------------------------------------------------------------------------
    def _spawn(self, coro) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._changes.add(task)
        task.add_done_callback(self._changes.discard)
        task.add_done_callback(_log_failure)

    async def _redis_subscribe(self, channel: str) -> None:
        async with self._subscription_lock:
            if self.has_subscribers(channel):
                await self._pubsub.subscribe(self.prefix + channel)
                self._subscribed.set()

    async def _redis_unsubscribe(self, channel: str) -> None:
        async with self._subscription_lock:
            if not self.has_subscribers(channel):
                await self._pubsub.unsubscribe(self.prefix + channel)

    async def _send_loop(self) -> None:
        while True:
            await self._wake_sender.wait()
            self._wake_sender.clear()
            batch, self._outgoing = self._outgoing, defaultdict(list)
            self._outgoing_count = 0
            if batch:
                await self._send_batch(batch)
            if not self._outgoing:
                self._idle.set()

    async def _send_batch(self, batch: dict[str, list[dict]]) -> None:
        while True:
            try:
                async with self._redis.pipeline(transaction=False) as pipe:
                    for channel, messages in batch.items():
                        frame = packb({"o": self.origin, "m": messages})
                        pipe.publish(self.prefix + channel, frame)
                    await pipe.execute()
                return
            except RedisError as exc:
                log.warning("redis publish failed (%s); retrying in %.0fs", exc, RECONNECT_DELAY_S)
                await asyncio.sleep(RECONNECT_DELAY_S)

    async def _listen_loop(self) -> None:
        await self._subscribed.wait()
        while True:
            try:
                raw = await self._pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
            except RedisError as exc:
                log.warning("redis subscription lost (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_DELAY_S)
                await self._resubscribe_missing()
                continue
            if raw is None or raw.get("type") != "message":
                continue
            self._on_frame(raw["channel"], raw["data"])

    async def _resubscribe_missing(self) -> None:
        """Subscribe in Redis every local channel it does not know (a subscription attempted
        during an outage failed; redis-py restores only those it had)."""
        async with self._subscription_lock:
            known = set(self._pubsub.channels)
            missing = [
                self.prefix + channel
                for channel in list(self._handlers)
                if (self.prefix + channel).encode() not in known
            ]
            if not missing:
                return
            try:
                await self._pubsub.subscribe(*missing)
            except RedisError as exc:
                log.warning("redis resubscribe failed (%s); will retry", exc)

    def _on_frame(self, redis_channel: bytes, data: bytes) -> None:
        try:
            frame = unpackb(data, max_size=MAX_BROKER_FRAME)
        except ProtocolError as exc:
            log.warning("undecodable broker frame on %r: %s", redis_channel, exc)
            return
        if not isinstance(frame, dict) or frame.get("o") == self.origin:
            return
        channel = redis_channel.decode()[len(self.prefix) :]
        for message in frame.get("m") or ():
            self._deliver_local(channel, message)


def _log_failure(task: asyncio.Task) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("redis broker subscription change failed", exc_info=task.exception())
