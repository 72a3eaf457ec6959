"""DashboardBroadcast: one per tenant per process, fanning tenant messages out to its dashboards.

Each dashboard has its own writer task and bounded backlog. Status-like messages are coalesced
by key (latest printer_status per printer, file_progress per job, hub_status per hub wins), the
rest are queued; a client whose queue overflows or whose socket does not take a frame within the
send timeout is dropped (close 4408). Offering a message never awaits, so a slow dashboard never
delays another dashboard, the hub that reported, or the event loop.
"""

import asyncio
import logging
from collections import deque

from aiohttp import web

from cloud.realtime.broker import cancel_quietly, channel_for_tenant
from cloud.realtime.framing import CLOSE_LAGGING, OutboundMessage, close_reason

log = logging.getLogger(__name__)

WRITE_BATCH_BYTES = 64 * 1024  # frames joined into one transport write
HIGH_WATER_BYTES = 256 * 1024  # unsent bytes per client before its writer waits
LOW_WATER_BYTES = 64 * 1024
DRAIN_POLL_S = 0.01


def coalesce_key(message: dict):
    """The key under which a newer message replaces an unsent older one, or None to queue it."""
    kind = message["type"]
    if kind == "printer_status":
        return ("printer_status", message["printer_id"])
    if kind == "file_progress":
        return ("file_progress", message["job_id"])
    if kind == "hub_status":
        return ("hub_status", message["hub_id"])
    return None


class DashboardClient:
    """One authenticated dashboard socket and its outgoing backlog."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        user_id: str,
        tenant_id: str,
        use_json: bool,
        max_queue: int,
        send_timeout_s: float,
        transport=None,
    ):
        self.ws = ws
        self.transport = transport  # aborted when a stalled client will not take a close frame
        self.user_id = user_id
        self.tenant_id = tenant_id
        self.use_json = use_json
        self.subscriptions: set[str] | None = None  # None: every printer of the tenant
        self.max_queue = max_queue
        self.send_timeout_s = send_timeout_s
        self.sent = 0
        self.coalesced = 0
        self.dropped_reason: str | None = None
        self._latest: dict = {}  # coalesce key -> OutboundMessage (insertion-ordered)
        self._queue: deque = deque()
        self._wake = asyncio.Event()
        self._writer: asyncio.Task | None = None
        self.send_started: float | None = None
        self.on_drop = None  # set by the registry: detach this client as soon as it is dropped

    def start(self) -> None:
        """Start the writer task."""
        self._writer = asyncio.create_task(self._write_loop(), name="dashboard-writer")

    async def stop(self) -> None:
        """Stop the writer task."""
        await cancel_quietly(self._writer)

    def wants(self, message: dict) -> bool:
        """Whether this client's printer subscriptions let `message` through."""
        if self.subscriptions is None:
            return True
        printer_id = message.get("printer_id")
        return printer_id is None or printer_id in self.subscriptions

    def offer(self, message: OutboundMessage) -> None:
        """Queue or coalesce a message; never awaits. Drops the client if it is too far behind."""
        if self.dropped_reason is not None:
            return
        key = coalesce_key(message.data)
        if key is not None:
            if key in self._latest:
                self.coalesced += 1
                del self._latest[key]  # re-insert at the end: oldest pending goes first
            self._latest[key] = message
        else:
            self._queue.append(message)
        if len(self._queue) + len(self._latest) > self.max_queue:
            self.drop("too far behind (backlog full)")
            return
        self._wake.set()

    def send_now(self, message: dict) -> None:
        """Queue a direct reply (pong, error) for this client only."""
        self.offer(OutboundMessage(message))

    def drop(self, reason: str) -> None:
        """Disconnect this client (close 4408) without waiting for it."""
        if self.dropped_reason is not None:
            return
        self.dropped_reason = reason
        self._queue.clear()
        self._latest.clear()
        log.info("dashboard of user %s dropped: %s", self.user_id, reason)
        if self.on_drop is not None:
            self.on_drop(self)
        asyncio.get_running_loop().create_task(self._close_lagging(reason))

    async def _close_lagging(self, reason: str) -> None:
        await self.stop()
        try:
            # A stalled peer will not read the close frame either: bound the wait.
            await asyncio.wait_for(
                self.ws.close(code=CLOSE_LAGGING, message=close_reason(reason)), timeout=2
            )
        except (TimeoutError, ConnectionError, RuntimeError):
            pass
        if self.transport is not None and not self.transport.is_closing():
            self.transport.abort()

    async def _write_loop(self) -> None:
        """Hand pending frames to the transport in batches: one write (one syscall) carries
        up to WRITE_BATCH_BYTES, instead of one per message; wait while the peer is slow."""
        loop = asyncio.get_running_loop()
        transport = self.transport
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue or self._latest:
                if transport is None or transport.is_closing():
                    self.drop("connection closed")
                    return
                frames, size = [], 0
                while (self._queue or self._latest) and size < WRITE_BATCH_BYTES:
                    if self._queue:
                        message = self._queue.popleft()
                    else:
                        message = self._latest.pop(next(iter(self._latest)))
                    frame = message.frame(self.use_json)
                    frames.append(frame)
                    size += len(frame)
                transport.write(b"".join(frames))
                self.sent += len(frames)
                if transport.get_write_buffer_size() > HIGH_WATER_BYTES:
                    # The peer reads slower than we write: wait for the buffer to drain (the
                    # registry's watchdog drops us if that takes longer than the send timeout).
                    self.send_started = loop.time()
                    try:
                        while transport.get_write_buffer_size() > LOW_WATER_BYTES:
                            await asyncio.sleep(DRAIN_POLL_S)
                            if transport.is_closing():
                                return
                    finally:
                        self.send_started = None
                else:
                    await asyncio.sleep(0)  # let hubs and other dashboards run between batches

    def blocked_for(self, now: float) -> float:
        """Seconds the current send has been waiting on the socket (0 when not sending)."""
        return 0.0 if self.send_started is None else now - self.send_started


class DashboardBroadcast:
    """Every dashboard of one tenant connected to this process."""

    def __init__(self, tenant_id: str):
        self.tenant_id = tenant_id
        self.clients: set[DashboardClient] = set()
        self.delivered = 0

    def on_message(self, message: dict) -> None:
        """Broker handler: offer one tenant message to every interested client."""
        wrapped = OutboundMessage(message)
        for client in self.clients:
            if client.wants(message):
                client.offer(wrapped)
        self.delivered += 1


class DashboardRegistry:
    """The DashboardBroadcast of each tenant with dashboards in this process."""

    def __init__(self, broker):
        self.broker = broker
        self.tenants: dict[str, DashboardBroadcast] = {}

    def add(self, client: DashboardClient) -> DashboardBroadcast:
        """Attach a client to its tenant's broadcast (subscribing the tenant channel if first)."""
        broadcast = self.tenants.get(client.tenant_id)
        if broadcast is None:
            broadcast = self.tenants[client.tenant_id] = DashboardBroadcast(client.tenant_id)
            self.broker.subscribe(channel_for_tenant(client.tenant_id), broadcast.on_message)
        broadcast.clients.add(client)
        client.on_drop = self.remove
        return broadcast

    def remove(self, client: DashboardClient) -> None:
        """Detach a client; the last one of a tenant unsubscribes the tenant channel."""
        broadcast = self.tenants.get(client.tenant_id)
        if broadcast is None:
            return
        broadcast.clients.discard(client)
        if not broadcast.clients:
            del self.tenants[client.tenant_id]
            self.broker.unsubscribe(channel_for_tenant(client.tenant_id), broadcast.on_message)

    def drop_stalled(self, now: float) -> int:
        """Drop every client whose current send has waited longer than its send timeout."""
        dropped = 0
        for broadcast in list(self.tenants.values()):
            for client in list(broadcast.clients):
                if client.blocked_for(now) > client.send_timeout_s:
                    client.drop("send timed out (client not reading)")
                    dropped += 1
        return dropped

    def user_connections(self, user_id: str) -> int:
        """Dashboards of one user connected to this process."""
        return sum(1 for b in self.tenants.values() for c in b.clients if c.user_id == user_id)

    def client_count(self) -> int:
        """Dashboards connected to this process."""
        return sum(len(b.clients) for b in self.tenants.values())
