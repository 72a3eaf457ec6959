"""Small asyncio MQTT 3.1.1 client (TLS, keepalive, QoS 0/1, size cap) for printer brokers."""

import asyncio
import struct
import time

from net import tls

try:
    from micropython import const
except ImportError:  # CPython (tooling only)

    def const(x):
        return x


# Largest packet accepted; bigger ones are skipped and counted (Bambu full reports reach ~36 KB).
MAX_PACKET = const(65536)
# Each connection reads acks and delta reports (P1/A1 deltas: well under 4 KB) into its own
# buffer. Larger packets (full reports, 5-36 KB) go through ONE buffer shared by every
# connection and taken in turn, so five printers' full reports cost one report's RAM, not five.
RX_BUF = const(4096)  # RAM: 4 KB per connection
SKIP_CHUNK = const(512)  # RAM: 512 B, only while discarding an oversized packet

# The shared large-packet buffer: grown to 1.25x the largest packet seen (1 KB steps, at most
# MAX_PACKET), then kept. The lock is held only while one packet is read and handed over.
_big = [None]
_big_lock = asyncio.Lock()


def _big_buffer(n, cap):
    if _big[0] is None or len(_big[0]) < n:
        _big[0] = None  # let the old one go before allocating the larger one
        _big[0] = bytearray(min(cap, (n + n // 4 + 1023) & ~1023))
    return _big[0]


CONNECT = const(0x10)
CONNACK = const(0x20)
PUBLISH = const(0x30)
PUBACK = const(0x40)
SUBSCRIBE = const(0x82)
SUBACK = const(0x90)
PINGREQ = const(0xC0)
PINGRESP = const(0xD0)
DISCONNECT = const(0xE0)

# CONNACK return codes (MQTT 3.1.1 §3.2.2.3).
CONNACK_REASONS = {
    1: "unacceptable protocol version",
    2: "client identifier rejected",
    3: "server unavailable",
    4: "bad user name or password",
    5: "not authorized",
}


class MQTTError(Exception):
    """Protocol-level failure; `code` is a CONNACK return code or 0 for anything else."""

    def __init__(self, message, code=0):
        super().__init__(message)
        self.code = code
        self.message = message


def _utf8(s):
    b = s.encode() if isinstance(s, str) else bytes(s)
    return struct.pack("!H", len(b)) + b


def _remaining_length(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return out


def _packet(first, body):
    return bytes([first]) + _remaining_length(len(body)) + body


class MQTTClient:
    """One MQTT session over one socket; the caller's task owns it and runs `loop()`."""

    def __init__(
        self,
        client_id,
        user=None,
        password=None,
        keepalive_s=30,
        max_packet=MAX_PACKET,
        timeout_ms=15000,
        on_message=None,
    ):
        # on_message(topic, payload_memoryview) runs synchronously; the memoryview is valid only
        # during the call (the receive buffer is reused).
        self.on_message = on_message
        self.client_id = client_id
        self.user = user
        self.password = password
        self.keepalive_ms = keepalive_s * 1000
        self.max_packet = max_packet
        self.timeout_ms = timeout_ms
        self.stream = None
        self.dropped = 0  # packets skipped for exceeding max_packet
        self._buf = bytearray(RX_BUF)
        self._hdr = bytearray(1)
        self._pid = 0
        self._acks = {}  # packet id -> asyncio.Event, for QoS 1 publishes in flight
        self._lock = asyncio.Lock()  # one writer at a time: loop pings and callers publish
        self._last_rx = 0
        self._last_tx = 0
        self._looping = False

    @property
    def connected(self):
        """True between a successful connect() and the end of the session."""
        return self.stream is not None

    async def connect(self, host, port, ctx=None, server_hostname=None):
        """Open the socket, send CONNECT (clean session) and wait for CONNACK; raise on refusal."""
        self.stream = await tls.open_stream(host, port, ctx, server_hostname, self.timeout_ms)
        try:
            flags = 0x02  # clean session
            payload = _utf8(self.client_id)
            if self.user is not None:
                flags |= 0x80
                payload += _utf8(self.user)
                if self.password is not None:
                    flags |= 0x40
                    payload += _utf8(self.password)
            body = (
                b"\x00\x04MQTT\x04" + bytes([flags]) + struct.pack("!H", self.keepalive_ms // 1000)
            )
            await self._send(_packet(CONNECT, body + payload))
            ptype, n = await self._read_header(self.timeout_ms)
            if ptype != CONNACK or n != 2:
                raise MQTTError("expected CONNACK, got packet type " + hex(ptype))
            mv = await self._read_body(n)
            if mv[1] != 0:
                code = mv[1]
                raise MQTTError(
                    "connection refused: " + CONNACK_REASONS.get(code, "code " + str(code)), code
                )
        except BaseException:
            await self.close()
            raise

    async def subscribe(self, topic, qos=0):
        """Subscribe and wait for SUBACK. Call before loop() runs (it reads the reply inline)."""
        pid = self._next_pid()
        body = struct.pack("!H", pid) + _utf8(topic) + bytes([qos])
        await self._send(_packet(SUBSCRIBE, body))
        mv = await self._read_until(SUBACK, "no SUBACK")
        if len(mv) < 3 or mv[2] == 0x80:
            raise MQTTError("subscription refused: " + topic)

    async def _read_until(self, kind, error):
        # Before loop() owns the socket, replies are read here; other packets are dispatched.
        deadline = time.ticks_add(time.ticks_ms(), self.timeout_ms)
        while True:
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left <= 0:
                raise MQTTError(error)
            ptype, n = await self._read_header(left)
            if ptype & 0xF0 == kind:
                return await self._read_body(n)
            await self._dispatch(ptype, n)

    async def publish(self, topic, payload, qos=0):
        """Publish bytes/str; with qos=1 wait for the broker's PUBACK."""
        if isinstance(payload, str):
            payload = payload.encode()
        if qos:
            pid = self._next_pid()
            ev = asyncio.Event()
            self._acks[pid] = ev
            body = _utf8(topic) + struct.pack("!H", pid) + payload
            try:
                await self._send(_packet(PUBLISH | 0x02, body))
                if self._looping:
                    await asyncio.wait_for_ms(ev.wait(), self.timeout_ms)
                else:
                    while not ev.is_set():
                        await self._dispatch(PUBACK, 2, await self._read_until(PUBACK, "no PUBACK"))
                if self.stream is None:
                    raise MQTTError("connection lost before PUBACK")
            except asyncio.TimeoutError:
                raise MQTTError("no PUBACK")
            finally:
                self._acks.pop(pid, None)
        else:
            await self._send(_packet(PUBLISH, _utf8(topic) + payload))

    async def loop(self):
        """Read packets until the session ends; keepalive pings and dead-peer detection included.

        Raises MQTTError/ConnectError/OSError when the link ends (never returns normally while
        connected).
        """
        half = self.keepalive_ms // 2
        self._looping = True
        try:
            while self.stream is not None:
                try:
                    ptype, n = await self._read_header(half, idle_ok=True)
                except _Idle:
                    ptype = None
                now = time.ticks_ms()
                if time.ticks_diff(now, self._last_rx) > self.keepalive_ms * 3 // 2:
                    raise MQTTError("keepalive timeout: broker silent")
                if time.ticks_diff(now, self._last_tx) >= half:
                    await self._send(bytes([PINGREQ, 0]))
                if ptype is not None:
                    await self._dispatch(ptype, n)
        finally:
            self._looping = False
        raise MQTTError("connection closed")

    async def disconnect(self):
        """Send DISCONNECT (best effort) and close the socket."""
        if self.stream is not None:
            try:
                await self._send(bytes([DISCONNECT, 0]))
            except Exception:
                pass
        await self.close()

    async def close(self):
        """Close the socket without a DISCONNECT (the broker then fires any will)."""
        stream, self.stream = self.stream, None
        await tls.close(stream)
        for ev in self._acks.values():
            ev.set()

    # internals

    def _next_pid(self):
        self._pid = self._pid % 65535 + 1
        return self._pid

    async def _send(self, data):
        if self.stream is None:
            raise MQTTError("not connected")
        async with self._lock:
            await tls.write_all(self.stream, data, self.timeout_ms)
        self._last_tx = time.ticks_ms()

    async def _read_header(self, first_timeout_ms, idle_ok=False):
        # The first byte may take long (idle broker); the rest of a packet must follow promptly.
        mv = memoryview(self._hdr)
        try:
            n = await tls.read_into(self.stream, mv, first_timeout_ms)
        except tls.ConnectError:
            if idle_ok:
                raise _Idle()
            raise
        if not n:
            raise MQTTError("connection closed by broker")
        ptype = self._hdr[0]
        length = 0
        shift = 0
        for _ in range(4):
            await tls.read_exact(self.stream, mv, self.timeout_ms)
            length |= (self._hdr[0] & 0x7F) << shift
            if not self._hdr[0] & 0x80:
                break
            shift += 7
        else:
            raise MQTTError("malformed remaining length")
        self._last_rx = time.ticks_ms()
        return ptype, length

    async def _read_body(self, n, buf=None):
        buf = buf if buf is not None else self._buf
        if n > len(buf):
            raise MQTTError("oversized packet (%d bytes)" % n)
        mv = memoryview(buf)[:n]
        if n:
            await tls.read_exact(self.stream, mv, self.timeout_ms)
        self._last_rx = time.ticks_ms()
        return mv

    async def _skip(self, n):
        chunk = bytearray(min(SKIP_CHUNK, n))
        mv = memoryview(chunk)
        while n:
            k = min(n, len(chunk))
            await tls.read_exact(self.stream, mv[:k], self.timeout_ms)
            n -= k
        self._last_rx = time.ticks_ms()

    async def _dispatch(self, ptype, n, body=None):
        kind = ptype & 0xF0
        if kind == PUBLISH:
            if n > self.max_packet:
                self.dropped += 1
                await self._skip(n)
                return
            if n <= len(self._buf):
                pid = self._deliver(ptype, await self._read_body(n), n)
            else:
                # A stalled peer holds the shared buffer at most timeout_ms (then it is cut).
                async with _big_lock:
                    big = _big_buffer(n, self.max_packet)
                    pid = self._deliver(ptype, await self._read_body(n, big), n)
            if pid is not None:
                await self._send(bytes([PUBACK, 2, pid >> 8, pid & 0xFF]))
        elif kind == PUBACK:
            mv = body if body is not None else await self._read_body(n)
            ev = self._acks.get((mv[0] << 8) | mv[1]) if n >= 2 else None
            if ev is not None:
                ev.set()
        elif kind == PINGRESP:
            if n:
                await self._skip(n)
        elif n > len(self._buf):
            raise MQTTError("oversized control packet")
        else:
            await self._read_body(n)  # SUBACK late, UNSUBACK...: nothing to do

    def _deliver(self, ptype, mv, n):
        # Parse a PUBLISH body and hand it to on_message; returns the packet id to PUBACK.
        if n < 2:
            raise MQTTError("malformed PUBLISH")
        tlen = (mv[0] << 8) | mv[1]
        qos = (ptype >> 1) & 3
        pos = 2 + tlen
        if pos + (2 if qos else 0) > n:
            raise MQTTError("malformed PUBLISH")
        topic = str(bytes(mv[2:pos]), "utf-8")
        pid = None
        if qos:
            pid = (mv[pos] << 8) | mv[pos + 1]
            pos += 2
        if self.on_message is not None:
            self.on_message(topic, mv[pos:n])
        return pid if qos == 1 else None


class _Idle(Exception):
    pass
