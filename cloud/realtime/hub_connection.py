"""HubConnection: the actor that owns one authenticated hub socket in this process.

It keeps the hub's printers' live state in memory, sends through one outgoing queue drained by
one task, (re)delivers pending commands, records command acks, applies sequence-numbered events
in order through the ledger (one task, so a slow database never blocks status traffic), and
forwards status and progress to the tenant's dashboards.
"""

import asyncio
import logging

from aiohttp import WSMsgType, web

from cloud.models import now_ms
from cloud.realtime.broker import cancel_quietly
from cloud.realtime.events import HubIdentity
from cloud.realtime.framing import (
    CLOSE_INTERNAL,
    CLOSE_REPLACED,
    ProtocolError,
    close_reason,
    decode_hub_frame,
    encode_hub_message,
)
from cloud.realtime.ledger import RETRYABLE_ERRORS, apply_printer_event
from cloud.services import commands as commands_service
from cloud.services import hubs as hubs_service

log = logging.getLogger(__name__)

# Frames waiting for the socket; a hub that stops reading this long is dropped, not buffered.
OUTBOX_LIMIT = 1000
# Ack a burst of replayed events cumulatively at most every this many events.
EVENT_ACK_EVERY = 32
EVENT_RETRY_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)
# Keys of a printer's merged status copied to the top level of the dashboard message.
PROGRESS_KEYS = ("progress", "remaining_minutes", "current_layer", "total_layers")
MAX_HUB_LOG_LINES = 50
YIELD_EVERY = 64  # frames handled before giving the loop to other sockets


class HubConnection:
    """One connected, authenticated hub."""

    def __init__(self, realtime, ws: web.WebSocketResponse, session, connection_id: str):
        self.realtime = realtime
        self.ws = ws
        self.hub_id = session.hub_id
        self.tenant_id = session.tenant_id
        self.name = session.name
        self.printer_ids = set(session.printer_ids)
        self.acked_seq = session.acked_seq
        self.connection_id = connection_id
        self.live: dict[str, dict] = {}
        self.claim_code: str | None = None
        self.claim_expires_at: int | None = None
        self.last_rx = asyncio.get_running_loop().time()
        self.dropped_status = 0
        self._outbox: asyncio.Queue = asyncio.Queue(maxsize=OUTBOX_LIMIT)
        self._events: asyncio.Queue = asyncio.Queue()
        self._sent_commands: set[str] = set()
        self._delivering = False
        self._deliver_again = False
        self._tasks: set[asyncio.Task] = set()
        self._closing = False

    @property
    def identity(self) -> HubIdentity:
        """The hub as the event sink sees it."""
        return HubIdentity(self.hub_id, self.tenant_id)

    # --- lifecycle -------------------------------------------------------------------------
    async def run(self, hello_ok: dict) -> None:
        """Serve the socket until it closes: hello_ok first, then pending commands, then frames."""
        sender = asyncio.create_task(self._send_loop(), name=f"hub-send-{self.hub_id}")
        events = asyncio.create_task(self._event_loop(), name=f"hub-events-{self.hub_id}")
        try:
            self.send(hello_ok)
            self.spawn(self.deliver_pending())
            if self.tenant_id is None:
                self.spawn(self._claim_code_refresher())
            await self._receive_loop()
        finally:
            await cancel_quietly(sender)
            await cancel_quietly(events)
            for task in list(self._tasks):
                await cancel_quietly(task)

    async def close(self, code: int, reason: str) -> None:
        """Close the socket with `code` and a reason (idempotent)."""
        if self._closing:
            return
        self._closing = True
        if not self.ws.closed:
            await self.ws.close(code=code, message=close_reason(reason))

    def spawn(self, coro) -> asyncio.Task:
        """Run `coro` as a task owned by this connection (cancelled when it ends)."""
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub %s task failed", self.hub_id, exc_info=task.exception())

    # --- outgoing --------------------------------------------------------------------------
    def send(self, message: dict, check: bool = True) -> None:
        """Queue one message for the hub; a hub whose outbox is full is disconnected."""
        try:
            self._outbox.put_nowait(encode_hub_message(message, check=check))
        except asyncio.QueueFull:
            log.warning("hub %s is not reading (outbox full); closing", self.hub_id)
            self.spawn(self.close(CLOSE_INTERNAL, "outbox overflow"))

    async def _send_loop(self) -> None:
        while True:
            frame = await self._outbox.get()
            try:
                await self.ws.send_bytes(frame)
            except (ConnectionError, RuntimeError) as exc:
                log.info("hub %s send failed: %s", self.hub_id, exc)
                return

    async def ping(self) -> None:
        """Send a WebSocket ping (the keepalive sweeper calls this)."""
        try:
            await self.ws.ping()
        except (ConnectionError, RuntimeError):
            pass

    # --- incoming --------------------------------------------------------------------------
    async def _receive_loop(self) -> None:
        loop = asyncio.get_running_loop()
        frames = 0
        while True:
            frames += 1
            if frames % YIELD_EVERY == 0:
                # receive() returns without suspending while frames are buffered: share the loop.
                await asyncio.sleep(0)
            msg = await self.ws.receive()
            self.last_rx = loop.time()
            if msg.type == WSMsgType.BINARY:
                try:
                    message = decode_hub_frame(msg.data)
                except ProtocolError as exc:
                    log.warning("hub %s sent a malformed frame: %s", self.hub_id, exc)
                    await self.close(exc.close_code, str(exc))
                    return
                self.realtime.status_writer.note_hub_seen(self.hub_id)
                self._dispatch(message)
            elif msg.type == WSMsgType.PING:
                await self.ws.pong(msg.data)
            elif msg.type == WSMsgType.PONG:
                continue
            elif msg.type == WSMsgType.TEXT:
                await self.close(ProtocolError.close_code, "hub frames are binary msgpack")
                return
            else:  # CLOSE, CLOSING, CLOSED, ERROR (aiohttp already closed an oversize frame)
                return

    def _dispatch(self, message: dict) -> None:
        kind = message["type"]
        if kind == "printer_status":
            self._on_status(message)
        elif kind == "printer_event":
            self._events.put_nowait(message)
        elif kind == "command_ack":
            self.spawn(self._on_ack(message))
        elif kind == "file_progress":
            self._on_file_progress(message)
        elif kind == "printer_discovered":
            log.info("hub %s discovered %d printer(s)", self.hub_id, len(message["printers"]))
            if message.get("command_id"):
                self.spawn(
                    self._with_retries(
                        commands_service.record_discovery,
                        self.hub_id,
                        message["command_id"],
                        message["printers"],
                    )
                )
        elif kind == "hub_log":
            for line in message["lines"][:MAX_HUB_LOG_LINES]:
                log.info("hub %s: %s", self.hub_id, line[:500])
        elif kind == "hub_hello":
            log.warning("hub %s sent a second hub_hello; ignored", self.hub_id)

    def _on_status(self, message: dict) -> None:
        self.realtime.statuses_received += 1
        printer_id = message["printer_id"]
        if self.tenant_id is None or printer_id not in self.printer_ids:
            self.dropped_status += 1  # not this hub's printer: never reaches anyone
            return
        state = self.live.get(printer_id)
        if state is None:
            state = self.live[printer_id] = {}
        state.update(message["status"])
        self.realtime.status_writer.note_status(self.tenant_id, printer_id, message["status"])
        self.realtime.broadcast(
            self.tenant_id, self.dashboard_status(printer_id, message.get("ts"))
        )

    def dashboard_status(self, printer_id: str, ts: int | None = None) -> dict:
        """The dashboard `printer_status` of one printer from its merged live state."""
        state = self.live.get(printer_id, {})
        out = {
            "type": "printer_status",
            "printer_id": printer_id,
            "hub_id": self.hub_id,
            "status": state.get("state", "offline"),
        }
        for key in PROGRESS_KEYS:
            out[key] = state.get(key)
        if ts is not None:
            out["ts"] = ts
        out["detail"] = dict(state)
        return out

    def _on_file_progress(self, message: dict) -> None:
        if self.tenant_id is None or message["printer_id"] not in self.printer_ids:
            return
        self.realtime.broadcast(
            self.tenant_id,
            {
                "type": "file_progress",
                "job_id": message["job_id"],
                "printer_id": message["printer_id"],
                "command_id": message["command_id"],
                "bytes_sent": message["bytes_sent"],
                "bytes_total": message["bytes_total"],
            },
        )

    async def _on_ack(self, ack: dict) -> None:
        realtime = self.realtime
        result = await self._with_retries(
            commands_service.record_ack, realtime.database, self.identity, ack, realtime.event_sink
        )
        if result is None:
            return  # left pending: redelivered (and acked again) after the next reconnect
        first, messages = result
        if first and not ack["success"]:
            log.info(
                "hub %s refused command %s: %s", self.hub_id, ack["command_id"], ack.get("error")
            )
        self._broadcast_all(messages)

    async def _with_retries(self, fn, *args):
        """Run `fn` on the database pool, retrying transient database errors; None if it never
        succeeded (logged)."""
        for delay in (*EVENT_RETRY_DELAYS_S, None):
            try:
                return await self.realtime.db(fn, *args)
            except RETRYABLE_ERRORS as exc:
                if delay is None:
                    log.error("hub %s: %s failed for good: %s", self.hub_id, fn.__name__, exc)
                    return None
                await asyncio.sleep(delay)
        return None

    # --- events ------------------------------------------------------------------------------
    async def _event_loop(self) -> None:
        unacked = 0
        while True:
            if unacked and self._events.empty():
                self.send({"type": "event_ack", "seq": self.acked_seq})
                unacked = 0
            event = await self._events.get()
            if event["seq"] > self.acked_seq:
                outcome = await self._apply_event(event)
                if outcome is None:
                    return
                self.acked_seq = max(self.acked_seq, outcome.acked_seq)
                self._broadcast_all(outcome.messages)
            unacked += 1
            if unacked >= EVENT_ACK_EVERY:
                self.send({"type": "event_ack", "seq": self.acked_seq})
                unacked = 0

    async def _apply_event(self, event: dict):
        realtime = self.realtime
        for delay in (*EVENT_RETRY_DELAYS_S, None):
            try:
                return await realtime.db(
                    apply_printer_event,
                    realtime.database,
                    self.identity,
                    event,
                    realtime.event_sink,
                )
            except RETRYABLE_ERRORS as exc:
                if delay is None:
                    break
                log.warning(
                    "hub %s event seq %d: database error %s; retrying",
                    self.hub_id,
                    event["seq"],
                    exc,
                )
                await asyncio.sleep(delay)
        # Leave the event unacked: the hub keeps it in its outbox and resends after reconnecting.
        await self.close(CLOSE_INTERNAL, "event store unavailable")
        return None

    # --- commands ----------------------------------------------------------------------------
    async def deliver_pending(self) -> None:
        """Send every pending command not yet sent on this connection (oldest first)."""
        if self.tenant_id is None:
            return
        if self._delivering:
            self._deliver_again = True
            return
        self._delivering = True
        realtime = self.realtime
        try:
            while True:
                self._deliver_again = False
                rows = await realtime.db(
                    commands_service.pending_commands,
                    realtime.secretbox,
                    self.hub_id,
                    self.tenant_id,
                )
                fresh = [(cid, msg) for cid, msg in rows if cid not in self._sent_commands]
                if fresh:
                    # Count the attempt before sending: the ack may arrive before a later write.
                    await realtime.db(commands_service.mark_sent, [cid for cid, _ in fresh])
                for command_id, message in fresh:
                    self.send(message, check=False)  # validated when it was enqueued
                    self._sent_commands.add(command_id)
                if not self._deliver_again:
                    return
        finally:
            self._delivering = False

    # --- notices from the broker ---------------------------------------------------------------
    def on_notice(self, notice: dict) -> None:
        """Handle a broker notice on this hub's channel."""
        op = notice.get("op")
        if op == "deliver":
            self.spawn(self.deliver_pending())
        elif op in ("claim", "printers"):
            self.spawn(self.reload_session(announce=op == "claim"))
        elif op == "connected" and notice.get("connection_id") != self.connection_id:
            self.spawn(self.close(CLOSE_REPLACED, "hub connected again elsewhere"))

    async def reload_session(self, announce: bool) -> None:
        """Re-read tenant and printers (claimed, released, printers changed); tell the hub."""
        realtime = self.realtime
        session = await realtime.db(hubs_service.load_session, self.hub_id)
        old_tenant = self.tenant_id
        self.tenant_id, self.name = session.tenant_id, session.name
        removed = self.printer_ids - set(session.printer_ids)
        self.printer_ids = set(session.printer_ids)
        for printer_id in removed:
            self.live.pop(printer_id, None)
        realtime.status_writer.forget_printers(removed)
        if not announce:
            return
        update = {"type": "claim_update", "claimed": self.tenant_id is not None}
        if self.tenant_id is not None:
            update["tenant_id"] = self.tenant_id
            self.claim_code = None
            await realtime.claim_codes.revoke(self.hub_id)
        else:
            self.live.clear()
            self._sent_commands.clear()
            code, expires_at = await realtime.claim_codes.issue(self.hub_id)
            self.claim_code, self.claim_expires_at = code, expires_at
            update["claim_code"], update["claim_expires_at"] = code, expires_at
            self.spawn(self._claim_code_refresher())
        self.send(update)
        for tenant in {old_tenant, self.tenant_id} - {None}:
            realtime.broadcast(tenant, self.hub_status(online=tenant == self.tenant_id))
        if self.tenant_id is not None:
            await self.deliver_pending()

    async def _claim_code_refresher(self) -> None:
        """While unclaimed, replace the claim code shortly before it expires."""
        realtime = self.realtime
        while self.tenant_id is None:
            if self.claim_expires_at is None:
                return
            wait_ms = self.claim_expires_at - now_ms() - hubs_service.CLAIM_CODE_MIN_REMAINING_MS
            await asyncio.sleep(max(wait_ms, 1000) / 1000)
            if self.tenant_id is not None:
                return
            code, expires_at = await realtime.claim_codes.issue(self.hub_id)
            if code != self.claim_code:
                self.claim_code, self.claim_expires_at = code, expires_at
                self.send(
                    {
                        "type": "claim_update",
                        "claimed": False,
                        "claim_code": code,
                        "claim_expires_at": expires_at,
                    }
                )

    # --- dashboards -----------------------------------------------------------------------------
    def hub_status(self, online: bool = True) -> dict:
        """The dashboard `hub_status` of this hub."""
        return {
            "type": "hub_status",
            "hub_id": self.hub_id,
            "is_online": online,
            "printer_count": len(self.printer_ids),
        }

    def _broadcast_all(self, messages) -> None:
        if self.tenant_id is None:
            return
        for message in messages or ():
            self.realtime.broadcast(self.tenant_id, message)
