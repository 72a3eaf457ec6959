"""`/ws/hub/{hub_id}`: the HMAC challenge of docs/protocol.md, then a HubConnection for the socket.

Refusals (unknown hub, bad MAC, stale timestamp, malformed hello) send `error` and close 4401;
each is logged with the hub id and the reason, never with the secret or the MAC.
"""

import asyncio
import logging
import os
import uuid

from aiohttp import WSMsgType, web

from cloud.models import now_ms
from cloud.realtime.broker import channel_for_hub
from cloud.realtime.framing import (
    CLOSE_INTERNAL,
    CLOSE_REPLACED,
    CLOSE_UNAUTHORIZED,
    MAX_HUB_FRAME,
    ProtocolError,
    close_reason,
    decode_hub_frame,
    encode_hub_message,
)
from cloud.realtime.hub_connection import HubConnection
from cloud.services import hubs as hubs_service
from protocol.auth import verify_hub_mac

log = logging.getLogger(__name__)

NONCE_BYTES = 16
MAX_CLOCK_SKEW_MS = 5 * 60 * 1000
# Refused hellos per peer address per window before that address is refused without a look-up
# (counted per process; successes never count, so a farm behind one NAT reconnects freely).
MAX_AUTH_FAILURES = 20
AUTH_FAILURE_WINDOW_S = 60.0
MAX_TRACKED_PEERS = 10_000
CLOSE_TOO_MANY = 4429


class AuthFailures:
    """Fixed-window count of refused hellos per peer address."""

    def __init__(self):
        self._windows: dict[str, list] = {}  # peer -> [window start, count]

    def blocked(self, peer: str, now: float) -> bool:
        """True while `peer` has used up its failures in the current window."""
        window = self._windows.get(peer)
        if window is None or now - window[0] >= AUTH_FAILURE_WINDOW_S:
            return False
        return window[1] >= MAX_AUTH_FAILURES

    def record(self, peer: str, now: float) -> None:
        """Count one refused hello."""
        window = self._windows.get(peer)
        if window is None or now - window[0] >= AUTH_FAILURE_WINDOW_S:
            if len(self._windows) >= MAX_TRACKED_PEERS:
                self._windows = {
                    p: w for p, w in self._windows.items() if now - w[0] < AUTH_FAILURE_WINDOW_S
                }
            self._windows[peer] = [now, 1]
        else:
            window[1] += 1


class HubRegistry:
    """The hub connections held by this process, one per hub id."""

    def __init__(self, realtime):
        self.realtime = realtime
        self.connections: dict[str, HubConnection] = {}
        self.auth_failures = AuthFailures()

    def __len__(self) -> int:
        return len(self.connections)

    def get(self, hub_id: str) -> HubConnection | None:
        """The live connection of `hub_id` in this process, if any."""
        return self.connections.get(hub_id)

    async def register(self, conn: HubConnection) -> None:
        """Hold `conn`; a previous connection of the same hub (here or elsewhere) is closed."""
        old = self.connections.get(conn.hub_id)
        broker = self.realtime.broker
        if old is not None:
            broker.unsubscribe(channel_for_hub(old.hub_id), old.on_notice)
            await old.close(CLOSE_REPLACED, "hub connected again")
        self.connections[conn.hub_id] = conn
        # Tell other processes first (they close their stale socket), then listen ourselves.
        broker.publish(
            channel_for_hub(conn.hub_id), {"op": "connected", "connection_id": conn.connection_id}
        )
        broker.subscribe(channel_for_hub(conn.hub_id), conn.on_notice)

    def unregister(self, conn: HubConnection) -> None:
        """Forget `conn` if it is still the hub's current connection here."""
        if self.connections.get(conn.hub_id) is conn:
            del self.connections[conn.hub_id]
            self.realtime.broker.unsubscribe(channel_for_hub(conn.hub_id), conn.on_notice)

    async def sweep(self, heartbeat_s: float) -> None:
        """Ping every hub; close those silent for 3 x heartbeat (the protocol's keepalive)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() - 3 * heartbeat_s
        for conn in list(self.connections.values()):
            if conn.last_rx < deadline:
                log.info("hub %s silent for %ds; closing", conn.hub_id, 3 * heartbeat_s)
                await conn.close(1001, "keepalive timeout")
            else:
                await conn.ping()


async def handle_hub_socket(request: web.Request) -> web.WebSocketResponse:
    """The hub WebSocket endpoint."""
    from cloud.realtime.runtime import realtime_of

    realtime = realtime_of(request.app)
    path_hub_id = request.match_info["hub_id"]
    ws = web.WebSocketResponse(autoping=False, max_msg_size=MAX_HUB_FRAME, compress=False)
    await ws.prepare(request)
    peer = request.remote
    nonce = os.urandom(NONCE_BYTES)
    server_time = now_ms()
    await ws.send_bytes(
        encode_hub_message({"type": "auth_challenge", "nonce": nonce, "server_time": server_time})
    )
    hello = await _receive_hello(ws, realtime.settings.hello_timeout_s)
    if hello is None:
        return ws
    loop = asyncio.get_running_loop()
    failures = realtime.hubs.auth_failures
    if failures.blocked(peer or "", loop.time()):
        log.warning("hub %s from %s refused: too many failed hellos", path_hub_id[:64], peer)
        await _refuse(
            ws,
            "too_many_failures",
            "too many failed attempts; retry later",
            close_code=CLOSE_TOO_MANY,
        )
        return ws
    refusal, credentials = await _check_hello(realtime, path_hub_id, hello, nonce, server_time)
    if refusal is not None:
        code, log_reason = refusal
        failures.record(peer or "", loop.time())
        log.warning("hub %s from %s refused: %s", path_hub_id[:64], peer, log_reason)
        await _refuse(ws, code, "authentication refused" if code == "auth_failed" else log_reason)
        return ws

    connection_id = uuid.uuid4().hex
    try:
        session = await realtime.db(hubs_service.mark_connected, path_hub_id, connection_id, hello)
    except Exception:
        # The hub retries with backoff; nothing about this connection was half-recorded.
        log.exception("hub %s: could not record the connection", path_hub_id)
        await ws.close(code=CLOSE_INTERNAL, message=b"try again later")
        return ws
    conn = HubConnection(realtime, ws, session, connection_id)
    hello_ok = {
        "type": "hello_ok",
        "hub_id": session.hub_id,
        "claimed": session.tenant_id is not None,
        "acked_seq": session.acked_seq,
        "heartbeat_s": realtime.settings.heartbeat_s,
    }
    if session.tenant_id is not None:
        hello_ok["tenant_id"] = session.tenant_id
    else:
        code, expires_at = await realtime.claim_codes.issue(session.hub_id)
        conn.claim_code, conn.claim_expires_at = code, expires_at
        hello_ok["claim_code"], hello_ok["claim_expires_at"] = code, expires_at
    log.info(
        "hub %s connected from %s (firmware %s, %s, acked seq %d)",
        session.hub_id,
        peer,
        hello.get("firmware"),
        "claimed" if session.tenant_id else "unclaimed",
        session.acked_seq,
    )
    await realtime.hubs.register(conn)
    if session.tenant_id is not None:
        realtime.broadcast(session.tenant_id, conn.hub_status(online=True))
    try:
        await conn.run(hello_ok)
    finally:
        realtime.hubs.unregister(conn)
        realtime.status_writer.forget_printers(conn.live.keys())
        try:
            was_current = await realtime.db(
                hubs_service.mark_disconnected, conn.hub_id, connection_id
            )
        except Exception:
            log.exception("hub %s: could not record the disconnect", conn.hub_id)
            was_current = False
        if was_current and conn.tenant_id is not None:
            realtime.broadcast(conn.tenant_id, conn.hub_status(online=False))
        log.info("hub %s disconnected (close code %s)", conn.hub_id, ws.close_code)
    return ws


async def _receive_hello(ws: web.WebSocketResponse, timeout_s: float) -> dict | None:
    """The hub's hub_hello, or None after closing the socket (timeout, bad frame, wrong type)."""
    try:
        msg = await ws.receive(timeout=timeout_s)
    except TimeoutError:
        await _refuse(ws, "timeout", "no hub_hello in time")
        return None
    if msg.type != WSMsgType.BINARY:
        if msg.type == WSMsgType.TEXT:
            await ws.close(
                code=ProtocolError.close_code, message=close_reason("binary frames only")
            )
        return None
    try:
        hello = decode_hub_frame(msg.data)
    except ProtocolError as exc:
        await ws.close(code=exc.close_code, message=close_reason(str(exc)))
        return None
    if hello["type"] != "hub_hello":
        await _refuse(ws, "auth_required", "expected hub_hello")
        return None
    return hello


async def _check_hello(realtime, path_hub_id, hello, nonce, server_time):
    """(refusal (code, reason) or None, credentials)."""
    if hello["hub_id"] != path_hub_id:
        return ("auth_failed", "hello hub_id differs from the URL"), None
    if abs(hello["ts"] - server_time) > MAX_CLOCK_SKEW_MS:
        return ("stale_timestamp", "timestamp outside +-5 min of server time"), None
    credentials = await realtime.db(hubs_service.load_credentials, realtime.secretbox, path_hub_id)
    if credentials is None:
        return ("auth_failed", "unknown hub"), None
    if not verify_hub_mac(credentials.secret, nonce, path_hub_id, hello["ts"], hello["mac"]):
        return ("auth_failed", "bad MAC (forged, or replayed from another challenge)"), None
    return None, credentials


async def _refuse(
    ws: web.WebSocketResponse, code: str, message: str, close_code: int = CLOSE_UNAUTHORIZED
) -> None:
    try:
        await ws.send_bytes(encode_hub_message({"type": "error", "code": code, "message": message}))
    except (ConnectionError, RuntimeError):
        pass
    await ws.close(code=close_code, message=close_reason(message))
