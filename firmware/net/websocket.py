"""RFC 6455 WebSocket client over asyncio streams, plain or TLS with certificate verification."""

import asyncio
import binascii
import hashlib
import os
import struct
import time

from net.url import split_url

try:
    from micropython import const
except ImportError:  # CPython (tests importing the module for constants)

    def const(x):
        return x


OP_CONT = const(0x0)
OP_TEXT = const(0x1)
OP_BINARY = const(0x2)
OP_CLOSE = const(0x8)
OP_PING = const(0x9)
OP_PONG = const(0xA)

CLOSE_NORMAL = const(1000)
CLOSE_GOING_AWAY = const(1001)
CLOSE_PROTOCOL_ERROR = const(1002)
CLOSE_UNSUPPORTED = const(1003)
CLOSE_NO_STATUS = const(1005)
CLOSE_ABNORMAL = const(1006)
CLOSE_BAD_DATA = const(1007)
CLOSE_POLICY = const(1008)
CLOSE_TOO_BIG = const(1009)
CLOSE_INTERNAL = const(1011)

# Largest reassembled message accepted (the hub protocol's MAX_HUB_FRAME). A message is held
# whole in RAM once, so this is also the worst-case receive buffer: 64 KiB.
MAX_MESSAGE = const(65536)
# Outgoing payloads are masked and written in chunks of this size: 512 B of transient RAM per
# chunk (plus the equal-sized integer XOR temporaries), whatever the message size.
MASK_CHUNK = const(512)
# Outgoing messages larger than this are split into continuation frames.
SEND_FRAGMENT = const(16384)
# Handshake: the response status line and headers together (bounds RAM spent on a bad server).
MAX_HANDSHAKE_BYTES = const(4096)
HANDSHAKE_TIMEOUT_MS = const(15000)
CLOSE_TIMEOUT_MS = const(2000)
_CONTROL_MAX = const(125)  # RFC 6455 5.5: control payloads fit in 125 bytes

_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
_VALID_CLOSE_CODES = (1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 1014)


class ConnectionClosed(Exception):
    """The WebSocket is closed: `code`/`reason` say why, `local` is True when we closed it."""

    def __init__(self, code, reason="", local=False):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        self.local = local


class HandshakeError(Exception):
    """The opening HTTP upgrade failed (status, headers or accept key)."""


def parse_url(url):
    """Split ws[s]://host[:port]/path into (secure, host, port, path)."""
    scheme, host, port, path = split_url(url, ("ws", "wss"))
    return scheme == "wss", host, port, path


def pem_certificates(bundle):
    """The DER certificates in a PEM bundle (a DER input is returned as the only one)."""
    if not bundle.lstrip().startswith(b"-----BEGIN"):
        return [bytes(bundle)]
    certs = []
    begin = b"-----BEGIN CERTIFICATE-----"
    end = b"-----END CERTIFICATE-----"
    pos = 0
    while True:
        start = bundle.find(begin, pos)
        if start < 0:
            break
        stop = bundle.find(end, start)
        if stop < 0:
            raise ValueError("unterminated PEM certificate")
        body = bundle[start + len(begin) : stop].replace(b"\r", b"").replace(b"\n", b"")
        certs.append(binascii.a2b_base64(body))
        pos = stop + len(end)
    if not certs:
        raise ValueError("no certificate in CA bundle")
    return certs


def tls_context(ca_bundle):
    """A TLS client context that requires the server certificate to chain to the bundle.

    The bundle is PEM (one or more certificates) or one DER certificate. The MicroPython build
    parses DER only, so PEM is decoded here and each certificate added to the trust chain.
    """
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.verify_mode = ssl.CERT_REQUIRED
    for der in pem_certificates(ca_bundle):
        ctx.load_verify_locations(cadata=der)
    return ctx


def _accept_key(key):
    return binascii.b2a_base64(hashlib.sha1(key + _GUID).digest()).strip()


def mask_payload(data, mask):
    """XOR data with the 4-byte mask (RFC 6455 5.3); works on whole integers for speed."""
    n = len(data)
    if not n:
        return b""
    key = mask * ((n + 3) >> 2)
    if len(key) != n:
        key = key[:n]
    return (int.from_bytes(data, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")


class WebSocket:
    """An open client WebSocket: one reader task calls recv(); any task may send()."""

    def __init__(self, reader, writer, max_message=MAX_MESSAGE):
        self._r = reader
        self._w = writer
        self.max_message = max_message
        self._lock = asyncio.Lock()  # one frame at a time on the wire
        self.close_sent = False
        self.closed = False
        self.last_rx_ms = time.ticks_ms()  # any frame from the peer counts as life
        self.pongs = 0

    # -- sending ---------------------------------------------------------------------------
    async def _send_frame(self, opcode, payload, fin=True):
        n = len(payload)
        header = bytearray(14)  # 2 + 8 (length) + 4 (mask) at most
        header[0] = (0x80 if fin else 0) | opcode
        if n < 126:
            header[1] = 0x80 | n
            pos = 2
        elif n < 65536:
            header[1] = 0x80 | 126
            struct.pack_into("!H", header, 2, n)
            pos = 4
        else:
            header[1] = 0x80 | 127
            struct.pack_into("!Q", header, 2, n)
            pos = 10
        mask = os.urandom(4)
        header[pos : pos + 4] = mask
        self._w.write(memoryview(header)[: pos + 4])
        view = memoryview(payload)
        # MASK_CHUNK is a multiple of 4, so every chunk starts at mask offset 0.
        for off in range(0, n, MASK_CHUNK):
            self._w.write(mask_payload(view[off : off + MASK_CHUNK], mask))
            await self._w.drain()
        if not n:
            await self._w.drain()

    async def send(self, data):
        """Send one message: bytes as binary, str as text; large ones go out fragmented."""
        if self.close_sent or self.closed:
            raise ConnectionClosed(CLOSE_ABNORMAL, "send after close", True)
        if isinstance(data, str):
            data, opcode = data.encode(), OP_TEXT
        else:
            opcode = OP_BINARY
        n = len(data)
        async with self._lock:
            if n <= SEND_FRAGMENT:
                await self._send_frame(opcode, data)
                return
            view = memoryview(data)
            for off in range(0, n, SEND_FRAGMENT):
                last = off + SEND_FRAGMENT >= n
                await self._send_frame(
                    opcode if off == 0 else OP_CONT, view[off : off + SEND_FRAGMENT], last
                )

    async def ping(self, payload=b""):
        """Send a ping; the peer's pong refreshes last_rx_ms."""
        if len(payload) > _CONTROL_MAX:
            raise ValueError("ping payload too long")
        async with self._lock:
            await self._send_frame(OP_PING, payload)

    async def _send_close(self, code, reason):
        if self.close_sent:
            return
        self.close_sent = True
        payload = (
            b"" if code == CLOSE_NO_STATUS else struct.pack("!H", code) + reason.encode()[:123]
        )
        try:
            async with self._lock:
                await asyncio.wait_for_ms(self._send_frame(OP_CLOSE, payload), CLOSE_TIMEOUT_MS)
        except Exception:
            pass  # the peer may already be gone; the socket is closed next anyway

    async def close(self, code=CLOSE_NORMAL, reason=""):
        """Send a close frame (best effort) and release the socket."""
        if not self.closed:
            await self._send_close(code, reason)
        self.abort()

    def abort(self):
        """Drop the socket at once, without a closing handshake."""
        if self.closed:
            return
        self.closed = True
        try:
            self._w.close()
        except Exception:
            pass

    async def _fail(self, code, reason):
        await self.close(code, reason)
        raise ConnectionClosed(code, reason, True)

    # -- receiving -------------------------------------------------------------------------
    async def _read(self, n):
        data = await self._r.readexactly(n)
        if len(data) != n:
            raise EOFError
        return data

    async def _read_frame(self):
        head = await self._read(2)
        b0, b1 = head[0], head[1]
        fin = b0 & 0x80
        opcode = b0 & 0x0F
        if b0 & 0x70:
            await self._fail(CLOSE_PROTOCOL_ERROR, "reserved bits set")
        if b1 & 0x80:
            await self._fail(CLOSE_PROTOCOL_ERROR, "masked frame from server")
        n = b1 & 0x7F
        if n == 126:
            n = struct.unpack("!H", await self._read(2))[0]
        elif n == 127:
            n = struct.unpack("!Q", await self._read(8))[0]
        if opcode >= OP_CLOSE:
            if n > _CONTROL_MAX or not fin:
                await self._fail(CLOSE_PROTOCOL_ERROR, "bad control frame")
        elif opcode not in (OP_CONT, OP_TEXT, OP_BINARY):
            await self._fail(CLOSE_PROTOCOL_ERROR, "unknown opcode")
        if n > self.max_message:
            # Checked before reading: an oversized frame never reaches RAM.
            await self._fail(CLOSE_TOO_BIG, "frame too big")
        payload = await self._read(n) if n else b""
        self.last_rx_ms = time.ticks_ms()
        return fin, opcode, payload

    async def _on_close_frame(self, payload):
        if len(payload) >= 2:
            code = struct.unpack("!H", payload[:2])[0]
            try:
                reason = payload[2:].decode()
            except UnicodeError:
                await self._fail(CLOSE_BAD_DATA, "bad close reason")
            if code not in _VALID_CLOSE_CODES and not 3000 <= code <= 4999:
                await self._fail(CLOSE_PROTOCOL_ERROR, "bad close code")
        elif len(payload) == 1:
            await self._fail(CLOSE_PROTOCOL_ERROR, "bad close frame")
        else:
            code, reason = CLOSE_NO_STATUS, ""
        await self._send_close(code, "")  # echo, as RFC 6455 5.5.1 asks
        self.abort()
        raise ConnectionClosed(code, reason, False)

    async def recv(self):
        """Next data message (bytes, or str for text); control frames are handled on the way."""
        if self.closed:
            raise ConnectionClosed(CLOSE_ABNORMAL, "closed", True)
        message = None  # bytearray while reassembling fragments
        opcode = None
        try:
            while True:
                fin, op, payload = await self._read_frame()
                if op == OP_PING:
                    if not self.close_sent:
                        async with self._lock:
                            await self._send_frame(OP_PONG, payload)
                    continue
                if op == OP_PONG:
                    self.pongs += 1
                    continue
                if op == OP_CLOSE:
                    await self._on_close_frame(payload)
                if op == OP_CONT:
                    if message is None:
                        await self._fail(CLOSE_PROTOCOL_ERROR, "continuation without start")
                    if len(message) + len(payload) > self.max_message:
                        await self._fail(CLOSE_TOO_BIG, "message too big")
                    message.extend(payload)
                else:
                    if message is not None:
                        await self._fail(CLOSE_PROTOCOL_ERROR, "interleaved data frame")
                    opcode = op
                    if fin:
                        message = payload
                    else:
                        message = bytearray(payload)
                if fin:
                    break
        except (OSError, EOFError) as e:
            self.abort()
            raise ConnectionClosed(CLOSE_ABNORMAL, "connection lost: %r" % (e,), False)
        if opcode == OP_TEXT:
            try:
                return bytes(message).decode()
            except UnicodeError:
                await self._fail(CLOSE_BAD_DATA, "invalid UTF-8")
        return bytes(message)


async def _handshake(reader, writer, host, port, path, extra_headers):
    key = binascii.b2a_base64(os.urandom(16)).strip()
    default_port = port in (80, 443)
    lines = [
        "GET %s HTTP/1.1" % path,
        "Host: %s" % (host if default_port else "%s:%d" % (host, port)),
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: %s" % key.decode(),
        "Sec-WebSocket-Version: 13",
    ]
    for name, value in extra_headers or ():
        lines.append("%s: %s" % (name, value))
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    await writer.drain()
    status = await reader.readline()
    total = len(status)
    parts = status.split(None, 2)
    if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.1") or parts[1] != b"101":
        raise HandshakeError("upgrade refused: %s" % status.strip().decode("utf-8", "replace"))
    accept = None
    upgrade_ok = False
    while True:
        line = await reader.readline()
        total += len(line)
        if total > MAX_HANDSHAKE_BYTES:
            raise HandshakeError("handshake response too large")
        if not line:
            raise HandshakeError("connection closed during handshake")
        if line in (b"\r\n", b"\n"):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        value = value.strip()
        if name == b"sec-websocket-accept":
            accept = value
        elif name == b"upgrade":
            upgrade_ok = value.lower() == b"websocket"
    if not upgrade_ok:
        raise HandshakeError("no Upgrade: websocket in response")
    if accept != _accept_key(key):
        raise HandshakeError("bad Sec-WebSocket-Accept")


async def connect(
    url, ssl=None, headers=None, max_message=MAX_MESSAGE, timeout_ms=HANDSHAKE_TIMEOUT_MS
):
    """Open a WebSocket; wss:// needs `ssl`, an SSLContext that verifies the server (tls_context)."""
    secure, host, port, path = parse_url(url)
    if secure and ssl is None:
        raise ValueError("wss:// needs a verifying SSLContext")
    reader = writer = None
    try:
        reader, writer = await asyncio.wait_for_ms(
            asyncio.open_connection(host, port, ssl=ssl if secure else None), timeout_ms
        )
        await asyncio.wait_for_ms(_handshake(reader, writer, host, port, path, headers), timeout_ms)
    except BaseException as e:
        if writer is not None:
            writer.close()
        if isinstance(e, ValueError):
            # mbedtls reports a failed verification or handshake as ValueError: to callers it
            # is a network failure like any other.
            raise OSError("TLS: " + str(e).strip())
        raise
    return WebSocket(reader, writer, max_message)
