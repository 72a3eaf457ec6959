"""A lightweight simulated hub speaking the real hub protocol (tests and `printfarm bench fanout`).

Many of these run in one process: each is one aiohttp WebSocket plus a few dicts. It answers the
challenge with the real MAC, keeps an outbox of sequence-numbered events until acked (resending
after reconnect, as the firmware does), acks every command once and records what it received.
"""

import asyncio
import contextlib
import time

import aiohttp

from protocol.auth import hub_mac
from protocol.codec import packb, unpackb
from protocol.limits import MAX_HUB_FRAME


class HubRefused(Exception):
    """The cloud refused the hello (error frame and/or close 4401)."""

    def __init__(self, code, close_code):
        super().__init__(f"refused: {code} (close {close_code})")
        self.code = code
        self.close_code = close_code


class SimHub:
    """One simulated hub."""

    def __init__(self, base_url: str, hub_id: str, secret: str, firmware: str = "sim-1.0"):
        self.base_url = base_url.rstrip("/")
        self.hub_id = hub_id
        self.secret = secret
        self.firmware = firmware
        self.seq = 0
        self.outbox: dict[int, dict] = {}  # seq -> event, until acked
        self.acked_seq = 0
        self.hello_ok: dict | None = None
        self.received: list[dict] = []
        self.commands: list[dict] = []
        self.claim_updates: list[dict] = []
        self.auto_ack = True
        self.discoverable: list[dict] = []  # answered to discover_printers
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._session: aiohttp.ClientSession | None = None
        self._reader: asyncio.Task | None = None
        self._changed = asyncio.Event()
        self.close_code: int | None = None

    async def connect(
        self,
        session: aiohttp.ClientSession | None = None,
        ts_offset_ms: int = 0,
        mac_override: bytes | None = None,
    ) -> dict:
        """Open the socket, authenticate, resend unacked events; return hello_ok."""
        if session is None:
            self._session = session = aiohttp.ClientSession()
        self.ws = await session.ws_connect(
            f"{self.base_url}/ws/hub/{self.hub_id}", max_msg_size=MAX_HUB_FRAME, autoping=True
        )
        challenge = unpackb(await self.ws.receive_bytes(timeout=10))
        ts = int(time.time() * 1000) + ts_offset_ms
        mac = mac_override or hub_mac(self.secret, challenge["nonce"], self.hub_id, ts)
        self.last_hello = {
            "type": "hub_hello",
            "hub_id": self.hub_id,
            "firmware": self.firmware,
            "ts": ts,
            "mac": mac,
            "last_acked_seq": self.acked_seq,
        }
        await self.ws.send_bytes(packb(self.last_hello))
        msg = await self.ws.receive(timeout=10)
        if msg.type != aiohttp.WSMsgType.BINARY:
            raise HubRefused(None, self.ws.close_code)
        reply = unpackb(msg.data)
        if reply["type"] != "hello_ok":
            await self.ws.receive(timeout=10)  # the close frame
            raise HubRefused(reply.get("code"), self.ws.close_code)
        self.hello_ok = reply
        self._drop_acked(reply["acked_seq"])
        self._reader = asyncio.create_task(self._read_loop())
        for seq in sorted(self.outbox):
            await self.send(self.outbox[seq])
        return reply

    async def close(self) -> None:
        """Close the socket (and the session if this hub made it)."""
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def send(self, message: dict) -> None:
        """Send one message."""
        await self.ws.send_bytes(packb(message))

    async def send_status(self, printer_id: str, status: dict, ts: int | None = None) -> None:
        """Send a printer_status."""
        message = {"type": "printer_status", "printer_id": printer_id, "status": status}
        message["ts"] = ts if ts is not None else int(time.time() * 1000)
        await self.send(message)

    async def emit_event(self, printer_id: str, event: str, **fields) -> int:
        """Add a sequence-numbered printer_event to the outbox and send it; return its seq."""
        self.seq += 1
        message = {
            "type": "printer_event",
            "seq": self.seq,
            "printer_id": printer_id,
            "event": event,
            "ts": int(time.time() * 1000),
            **fields,
        }
        self.outbox[self.seq] = message
        if self.ws is not None and not self.ws.closed:
            await self.send(message)
        return self.seq

    async def wait_for(self, predicate, timeout: float = 10.0):
        """Wait until predicate(self) is truthy (failure guard timeout); return its value."""

        async def poll():
            while True:
                value = predicate(self)
                if value:
                    return value
                self._changed.clear()
                # Woken by a frame, or re-checked shortly (the predicate may watch the server).
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), 0.05)

        return await asyncio.wait_for(poll(), timeout)

    def _drop_acked(self, seq: int) -> None:
        self.acked_seq = max(self.acked_seq, seq)
        for old in [s for s in self.outbox if s <= seq]:
            del self.outbox[old]

    async def _read_loop(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type != aiohttp.WSMsgType.BINARY:
                    break
                message = unpackb(msg.data)
                self.received.append(message)
                kind = message["type"]
                if kind == "event_ack":
                    self._drop_acked(message["seq"])
                elif kind == "claim_update":
                    self.claim_updates.append(message)
                elif "command_id" in message:
                    self.commands.append(message)
                    if kind == "discover_printers" and self.auto_ack:
                        await self.send(
                            {
                                "type": "printer_discovered",
                                "command_id": message["command_id"],
                                "printers": self.discoverable,
                            }
                        )
                    if self.auto_ack:
                        await self.send(
                            {
                                "type": "command_ack",
                                "command_id": message["command_id"],
                                "success": True,
                            }
                        )
                self._changed.set()
        finally:
            self.close_code = self.ws.close_code
            self._changed.set()
