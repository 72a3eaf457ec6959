"""A small cloud hub endpoint for firmware tests: aiohttp, real TLS, docs/protocol.md, C msgpack.

It stands in for the cloud's /ws/hub/{id} until the real one lands: it authenticates with the
HMAC challenge, applies printer events idempotently by seq, acks cumulatively, redelivers
unacknowledged commands on every session and records everything a test wants to look at.
"""

import asyncio
import os
import time

from aiohttp import WSMsgType, web

from protocol import ProtocolError, codec, messages
from protocol.auth import verify_hub_mac
from protocol.limits import MAX_HUB_FRAME

CLOCK_WINDOW_MS = 5 * 60 * 1000
CLOSE_AUTH = 4401


def now_ms():
    return time.time_ns() // 1_000_000


class HubState:
    """What the cloud knows about one hub."""

    def __init__(self, hub_id, secret):
        self.hub_id = hub_id
        self.secret = secret
        self.acked_seq = 0
        self.events = []  # applied printer_event messages, in order
        self.replays = 0  # printer_event frames with seq <= acked_seq (ignored)
        self.lost_events = []  # frames dropped while accept_events is off
        self.statuses = []
        self.acks = []  # every command_ack received
        self.progress = []
        self.logs = []
        self.received = []  # every validated message
        self.pending = {}  # command_id -> command map, redelivered until acked
        self.sessions = 0  # successful hello_ok
        self.auth_failures = 0
        self.hellos = []
        self.close_codes = []  # close codes the hub sent us
        self.ws = None


class TestCloud:
    """aiohttp app serving /ws/hub/{hub_id}; knobs let tests misbehave on purpose."""

    __test__ = False

    def __init__(self, heartbeat_s=30, claimed=True):
        self.hubs = {}
        self.heartbeat_s = heartbeat_s
        self.claimed = claimed
        self.ack_events = True  # False: apply events but never send event_ack
        self.accept_events = True  # False: events are lost in flight (neither applied nor acked)
        self.accept_acks = True  # False: command acks are lost (the command stays pending)
        self.silent = False  # True: after hello_ok, neither read nor answer pings
        self.connections = 0
        self.used_nonces = set()
        self.changed = asyncio.Condition()
        self.runner = None
        self.port = None

    def add_hub(self, hub_id, secret):
        """Register a hub (the factory database)."""
        self.hubs[hub_id] = HubState(hub_id, secret)
        return self.hubs[hub_id]

    async def start(self, ssl_context=None):
        """Listen on an ephemeral loopback port; returns the base URL for the hub."""
        app = web.Application()
        app.router.add_get("/ws/hub/{hub_id}", self._handle)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0, ssl_context=ssl_context)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]
        scheme = "wss" if ssl_context else "ws"
        host = "localhost" if ssl_context else "127.0.0.1"
        return f"{scheme}://{host}:{self.port}"

    async def stop(self):
        """Close every socket and the listener."""
        self.silent = False
        if self.runner:
            await self.runner.cleanup()

    async def _notify(self):
        async with self.changed:
            self.changed.notify_all()

    async def wait_for(self, predicate, timeout=30.0):
        """Wait until predicate() is truthy (re-checked on every received frame)."""

        async def loop():
            async with self.changed:
                while True:
                    value = predicate()
                    if value:
                        return value
                    try:
                        await asyncio.wait_for(self.changed.wait(), 0.5)
                    except TimeoutError:
                        pass

        return await asyncio.wait_for(loop(), timeout)

    # -- commands -------------------------------------------------------------------------
    async def send_command(self, hub_id, command):
        """Queue a command (redelivered each session until acked) and send it now if connected."""
        hub = self.hubs[hub_id]
        msg = messages.validate(dict(command), messages.CLOUD_TO_HUB)
        hub.pending[msg["command_id"]] = msg
        if hub.ws is not None and not hub.ws.closed:
            await hub.ws.send_bytes(codec.packb(msg))

    async def send_raw(self, hub_id, data):
        """Send arbitrary bytes as one binary frame (malformed/oversize tests)."""
        await self.hubs[hub_id].ws.send_bytes(data)

    async def drop(self, hub_id):
        """Cut the hub's connection without a closing handshake (a cloud outage)."""
        ws = self.hubs[hub_id].ws
        if ws is not None and ws._req is not None and ws._req.transport is not None:
            ws._req.transport.abort()

    # -- the endpoint -----------------------------------------------------------------------
    async def _handle(self, request):
        self.connections += 1
        hub_id = request.match_info["hub_id"]
        ws = web.WebSocketResponse(max_msg_size=MAX_HUB_FRAME, autoping=True)
        await ws.prepare(request)
        hub = self.hubs.get(hub_id)
        try:
            await self._session(ws, hub_id, hub)
        finally:
            if hub is not None:
                if ws.close_code is not None:
                    hub.close_codes.append(ws.close_code)
                if hub.ws is ws:
                    hub.ws = None
            await self._notify()
        return ws

    async def _refuse(self, ws, hub, code, message):
        if hub is not None:
            hub.auth_failures += 1
        await ws.send_bytes(codec.packb({"type": "error", "code": code, "message": message}))
        await ws.close(code=CLOSE_AUTH, message=message.encode())

    async def _recv_msg(self, ws, timeout=None):
        msg = await ws.receive(timeout=timeout)
        if msg.type != WSMsgType.BINARY:
            return None, msg
        try:
            obj = codec.unpackb(msg.data, MAX_HUB_FRAME)
            return messages.validate(obj, messages.HUB_TO_CLOUD), msg
        except ProtocolError as e:
            await ws.close(code=e.close_code, message=str(e)[:100].encode())
            raise

    async def _session(self, ws, hub_id, hub):
        nonce = os.urandom(16)
        server_time = now_ms()
        await ws.send_bytes(
            codec.packb({"type": "auth_challenge", "nonce": nonce, "server_time": server_time})
        )
        hello, _ = await self._recv_msg(ws, timeout=30)
        if hello is None or hello["type"] != "hub_hello":
            await ws.close(code=1008, message=b"hub_hello expected")
            return
        if hub is None or hello["hub_id"] != hub_id:
            await self._refuse(ws, hub, "unknown_hub", "unknown hub")
            return
        hub.hellos.append(hello)
        if nonce in self.used_nonces:
            await self._refuse(ws, hub, "auth_failed", "nonce reused")
            return
        self.used_nonces.add(nonce)
        if abs(hello["ts"] - server_time) > CLOCK_WINDOW_MS:
            await self._refuse(ws, hub, "auth_failed", "clock skew")
            return
        if not verify_hub_mac(hub.secret, nonce, hub_id, hello["ts"], hello["mac"]):
            await self._refuse(ws, hub, "auth_failed", "bad mac")
            await self._notify()
            return
        hub.ws = ws
        hub.sessions += 1
        await ws.send_bytes(
            codec.packb(
                {
                    "type": "hello_ok",
                    "hub_id": hub_id,
                    "claimed": self.claimed,
                    "acked_seq": hub.acked_seq,
                    "heartbeat_s": self.heartbeat_s,
                }
                | (
                    {}
                    if self.claimed
                    else {"claim_code": "ABC123", "claim_expires_at": now_ms() + 600_000}
                )
            )
        )
        for cmd in list(hub.pending.values()):  # redelivery of everything unacknowledged
            await ws.send_bytes(codec.packb(cmd))
        await self._notify()
        if self.silent:
            # No reads: pings go unanswered, as with a hung cloud, until the hub hangs up.
            transport = ws._req.transport
            while self.silent and transport is not None and not transport.is_closing():
                await asyncio.sleep(0.1)
            return
        while True:
            try:
                msg, raw = await self._recv_msg(ws)
            except ProtocolError:
                return
            if msg is None:
                if raw.type in (
                    WSMsgType.CLOSE,
                    WSMsgType.CLOSING,
                    WSMsgType.CLOSED,
                    WSMsgType.ERROR,
                ):
                    return
                await ws.close(code=1003, message=b"binary frames only")
                return
            await self._apply(ws, hub, msg)
            await self._notify()

    async def _apply(self, ws, hub, msg):
        hub.received.append(msg)
        kind = msg["type"]
        if kind == "printer_event":
            if not self.accept_events:
                hub.lost_events.append(msg)
                return
            if msg["seq"] > hub.acked_seq:
                hub.events.append(msg)
                hub.acked_seq = msg["seq"]
            else:
                hub.replays += 1
            if self.ack_events:
                await ws.send_bytes(codec.packb({"type": "event_ack", "seq": hub.acked_seq}))
        elif kind == "printer_status":
            hub.statuses.append(msg)
        elif kind == "command_ack":
            hub.acks.append(msg)
            if self.accept_acks:
                hub.pending.pop(msg["command_id"], None)
        elif kind == "file_progress":
            hub.progress.append(msg)
        elif kind == "hub_log":
            hub.logs.extend(msg["lines"])
