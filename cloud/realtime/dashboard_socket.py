"""`/ws/dashboard`: auth message first, then the tenant's live messages; subscribe/unsubscribe/ping.

Subprotocol `printfarm.msgpack` frames every message as one binary msgpack map; `printfarm.json`
(also the default when the client asks for none) as one JSON text frame.
"""

import logging

from aiohttp import WSMsgType, web

from cloud.realtime.dashboard import DashboardClient
from cloud.realtime.framing import (
    CLOSE_UNAUTHORIZED,
    DASHBOARD_SUBPROTOCOLS,
    MAX_DASHBOARD_FRAME,
    SUBPROTOCOL_MSGPACK,
    OutboundMessage,
    ProtocolError,
    close_reason,
    decode_dashboard_frame,
)

log = logging.getLogger(__name__)

MAX_CONNECTIONS_PER_USER = 10  # the spec's rate-limit table: WebSocket connections per user
MAX_SUBSCRIPTIONS = 10_000
CLOSE_TOO_MANY = 4429


async def handle_dashboard_socket(request: web.Request) -> web.WebSocketResponse:
    """The dashboard WebSocket endpoint."""
    from cloud.realtime.runtime import realtime_of

    realtime = realtime_of(request.app)
    settings = realtime.settings
    ws = web.WebSocketResponse(
        protocols=DASHBOARD_SUBPROTOCOLS,
        max_msg_size=MAX_DASHBOARD_FRAME,
        heartbeat=settings.heartbeat_s,
    )
    await ws.prepare(request)
    use_json = ws.ws_protocol != SUBPROTOCOL_MSGPACK

    async def reply(message: dict) -> None:
        wrapped = OutboundMessage(message)
        if use_json:
            await ws.send_str(wrapped.as_json())
        else:
            await ws.send_bytes(wrapped.as_msgpack())

    identity = await _authenticate(realtime, ws, reply, use_json, settings.dashboard_auth_timeout_s)
    if identity is None:
        return ws
    user_id, tenant_id = identity
    if realtime.dashboards.user_connections(user_id) >= MAX_CONNECTIONS_PER_USER:
        await reply({"type": "auth_error", "message": "too many dashboard connections"})
        await ws.close(code=CLOSE_TOO_MANY, message=b"too many connections for this user")
        return ws
    # Snapshot first, then join the broadcast: anything broadcast from now on is newer and,
    # being coalesced by key, replaces the snapshot's entry if that was not sent yet. The
    # client hears auth_success only once it is registered (same loop step, no await between).
    snapshot = await realtime.snapshot(tenant_id)
    await reply({"type": "auth_success", "user_id": user_id, "tenant_id": tenant_id})
    client = DashboardClient(
        ws,
        user_id,
        tenant_id,
        use_json,
        max_queue=settings.dashboard_max_backlog,
        send_timeout_s=settings.dashboard_send_timeout_s,
        transport=request.transport,
    )
    client.start()
    realtime.dashboards.add(client)
    for message in snapshot:
        client.offer(OutboundMessage(message))
    try:
        await _serve(ws, client, use_json)
    finally:
        realtime.dashboards.remove(client)
        await client.stop()
    return ws


async def _authenticate(realtime, ws, reply, use_json, timeout_s):
    """(user_id, tenant_id) from the first message, else None after refusing (close 4401)."""
    try:
        msg = await ws.receive(timeout=timeout_s)
    except TimeoutError:
        await _refuse(ws, reply, "auth message expected first")
        return None
    if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
        return None
    try:
        message = decode_dashboard_frame(msg.data, use_json)
    except ProtocolError as exc:
        await ws.close(code=exc.close_code, message=close_reason(str(exc)))
        return None
    if message["type"] != "auth":
        await _refuse(ws, reply, "auth message expected first")
        return None
    identity = await realtime.authenticate_dashboard(message["token"])
    if identity is None:
        await _refuse(ws, reply, "invalid or expired token")
    return identity


async def _refuse(ws, reply, text: str) -> None:
    try:
        await reply({"type": "auth_error", "message": text})
    except (ConnectionError, RuntimeError):
        pass
    await ws.close(code=CLOSE_UNAUTHORIZED, message=close_reason(text))


async def _serve(ws: web.WebSocketResponse, client: DashboardClient, use_json: bool) -> None:
    async for msg in ws:
        if msg.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
            break
        try:
            message = decode_dashboard_frame(msg.data, use_json)
        except ProtocolError as exc:
            log.info("dashboard of user %s sent a malformed frame: %s", client.user_id, exc)
            await ws.close(code=exc.close_code, message=close_reason(str(exc)))
            return
        kind = message["type"]
        if kind == "ping":
            client.send_now({"type": "pong"})
        elif kind == "subscribe":
            current = client.subscriptions or set()
            if len(current) + len(message["printers"]) > MAX_SUBSCRIPTIONS:
                client.send_now(
                    {
                        "type": "error",
                        "code": "too_many_subscriptions",
                        "message": f"at most {MAX_SUBSCRIPTIONS} printers",
                    }
                )
                continue
            client.subscriptions = current | set(message["printers"])
        elif kind == "unsubscribe":
            if client.subscriptions is not None:
                client.subscriptions -= set(message["printers"])
        elif kind == "auth":
            client.send_now(
                {
                    "type": "error",
                    "code": "already_authenticated",
                    "message": "this socket is already authenticated",
                }
            )
