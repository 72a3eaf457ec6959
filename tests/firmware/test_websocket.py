"""RFC 6455 client (firmware/net/websocket.py) in real MicroPython against real TLS servers."""

import asyncio
import base64
import hashlib
import os
import struct
import sys

import aiohttp
import pytest
from aiohttp import web

from tests.firmware.conftest import MPY_SCRIPTS, json_lines, mpy_cmd, mpy_env

pytestmark = pytest.mark.micropython

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


async def run_probe(url, ca, scenario, timeout=30):
    """Run mpy/ws_probe.py as a child while the test's server keeps serving on this loop."""
    proc = await asyncio.create_subprocess_exec(
        *mpy_cmd(MPY_SCRIPTS / "ws_probe.py", [url, ca, scenario]),
        env=mpy_env(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        out, err = await proc.communicate()
        raise AssertionError("probe hung: " + out.decode() + err.decode()) from None
    rows = json_lines(out.decode())
    assert proc.returncode == 0, out.decode() + err.decode()
    merged = {}
    for row in rows:
        merged.update(row)
    return merged


# -- aiohttp server: a real, independent WebSocket implementation to interoperate with ----------
@pytest.fixture
async def aio_server(pki):
    events = []

    async def handler(request):
        sock = web.WebSocketResponse(autoping=False, max_msg_size=1 << 20)
        await sock.prepare(request)
        async for msg in sock:
            events.append((msg.type, msg.data if msg.type != aiohttp.WSMsgType.CLOSE else None))
            if msg.type == aiohttp.WSMsgType.PING:
                await sock.pong(msg.data)
            elif msg.type == aiohttp.WSMsgType.BINARY:
                await sock.send_bytes(msg.data)
            elif msg.type == aiohttp.WSMsgType.TEXT:
                await sock.send_str(msg.data)
        events.append(("closed", sock.close_code))
        return sock

    app = web.Application()
    app.router.add_get("/ws", handler)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=pki.server_context())
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield port, events
    await runner.cleanup()


async def test_echo_over_tls_with_fragmentation_and_ping(aio_server, pki):
    port, events = aio_server
    got = await run_probe(f"wss://localhost:{port}/ws", str(pki.ca_path), "echo")
    assert got["connected"] and got["small"] and got["text"] == "h\u00e9llo"
    big = bytes(range(256)) * 240
    assert got["big_len"] == len(big)
    assert got["big_md5"] == hashlib.md5(big).hexdigest()
    assert got["pongs"] == 1 and got["done"]
    types = [t for t, _ in events]
    assert aiohttp.WSMsgType.PING in types
    assert events[-1] == ("closed", 1000)


async def test_untrusted_certificate_is_refused(aio_server, other_pki):
    port, events = aio_server
    got = await run_probe(f"wss://localhost:{port}/ws", str(other_pki.ca_path), "echo")
    assert "connect_error" in got and "connected" not in got


async def test_hostname_must_match_certificate(pki):
    # A server on 127.0.0.2 presenting the certificate for localhost/127.0.0.1: the chain is
    # trusted, the name is not, so the handshake must fail (and not for lack of a listener).
    if sys.platform != "linux":
        pytest.skip("127.0.0.2 is loopback only on Linux")

    async def handle(reader, writer):
        await reader.read(1024)
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.2", 0, ssl=pki.server_context())
    port = server.sockets[0].getsockname()[1]
    try:
        got = await run_probe(f"wss://127.0.0.2:{port}/ws", str(pki.ca_path), "echo")
    finally:
        server.close()
        await server.wait_closed()
    assert "TLS" in got["connect_error"] and "connected" not in got


# -- raw server: writes exact bytes to exercise the client's frame parser --------------------
def frame(opcode, payload=b"", fin=True, mask=False, rsv=0, length=None):
    n = len(payload) if length is None else length
    head = bytearray([(0x80 if fin else 0) | rsv | opcode])
    mbit = 0x80 if mask else 0
    if n < 126:
        head.append(mbit | n)
    elif n < 65536:
        head.append(mbit | 126)
        head += struct.pack("!H", n)
    else:
        head.append(mbit | 127)
        head += struct.pack("!Q", n)
    if mask:
        key = os.urandom(4)
        head += key
        payload = bytes(b ^ key[i % 4] for i, b in enumerate(payload))
    return bytes(head) + payload


async def read_client_frame(reader):
    b0, b1 = await reader.readexactly(2)
    assert b1 & 0x80, "client frames must be masked"
    n = b1 & 0x7F
    if n == 126:
        n = struct.unpack("!H", await reader.readexactly(2))[0]
    elif n == 127:
        n = struct.unpack("!Q", await reader.readexactly(8))[0]
    key = await reader.readexactly(4)
    data = await reader.readexactly(n)
    return b0 & 0x0F, bytes(b ^ key[i % 4] for i, b in enumerate(data))


def close_code(payload):
    return struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else None


@pytest.fixture
async def raw_server(pki):
    """start(script, tls=True, accept_override=None) -> port; the script gets (reader, writer)."""
    servers = []
    seen = []

    async def start(script, tls=True, bad_accept=False):
        async def handle(reader, writer):
            request = await reader.readuntil(b"\r\n\r\n")
            key = None
            for line in request.split(b"\r\n"):
                if line.lower().startswith(b"sec-websocket-key:"):
                    key = line.split(b":", 1)[1].strip()
            accept = base64.b64encode(hashlib.sha1(key + GUID).digest())
            if bad_accept:
                accept = base64.b64encode(b"x" * 20)
            writer.write(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Accept: " + accept + b"\r\n\r\n"
            )
            await writer.drain()
            try:
                seen.append(await script(reader, writer))
            finally:
                writer.close()

        server = await asyncio.start_server(
            handle, "127.0.0.1", 0, ssl=pki.server_context() if tls else None
        )
        servers.append(server)
        return server.sockets[0].getsockname()[1]

    yield start, seen
    for s in servers:
        s.close()
        await s.wait_closed()


async def expect_close(reader):
    """Read client frames until its close frame; returns (close code, frames before it)."""
    before = []
    while True:
        op, data = await read_client_frame(reader)
        if op == 0x8:
            return close_code(data), before
        before.append((op, data))


@pytest.mark.parametrize(
    "frames,code",
    [
        ([frame(0x2, length=70000)], 1009),  # header announces more than the 64 KiB cap
        ([frame(0x2, b"x" * 40000, fin=False), frame(0x0, b"y" * 30000)], 1009),
        ([frame(0x2, b"hi", mask=True)], 1002),  # servers must not mask
        ([frame(0x2, b"hi", rsv=0x40)], 1002),  # no extension negotiated
        ([frame(0x3, b"hi")], 1002),  # reserved opcode
        ([frame(0x9, b"p" * 10, fin=False)], 1002),  # fragmented control frame
        ([frame(0x0, b"orphan")], 1002),  # continuation without a start
        ([frame(0x1, b"\xff\xfe")], 1007),  # text that is not UTF-8
        ([frame(0x8, b"\x03\xe8")[:-1] + b""], None),  # truncated, then EOF: abnormal
    ],
    ids=[
        "oversize-header",
        "oversize-fragments",
        "masked",
        "rsv",
        "opcode",
        "fragmented-ping",
        "orphan-cont",
        "bad-utf8",
        "eof",
    ],
)
async def test_bad_frames_close_with_the_right_code(raw_server, pki, frames, code):
    start, seen = raw_server

    async def script(reader, writer):
        for f in frames:
            writer.write(f)
        await writer.drain()
        if code is None:
            # Drop TCP at once: a TLS close_notify that lands in mbedtls' buffer together with
            # data leaves MicroPython's poll blind until the peer closes TCP; the hub's
            # heartbeat timeout covers that case (test_cloud_link).
            writer.transport.abort()
            return None
        return await asyncio.wait_for(expect_close(reader), 20)

    port = await start(script)
    got = await run_probe(f"wss://localhost:{port}/ws", str(pki.ca_path), "listen")
    if code is None:
        assert got["closed"] == 1006 and not got["local"]
    else:
        assert got["closed"] == code and got["local"]
        assert seen[0][0] == code


async def test_fragmented_message_with_interleaved_ping_and_server_close(raw_server, pki):
    start, seen = raw_server

    async def script(reader, writer):
        writer.write(frame(0x1, "fr\u00e4".encode()[:3], fin=False))
        writer.write(frame(0x9, b"hb"))  # control frames may interleave with fragments
        writer.write(frame(0x0, "fr\u00e4".encode()[3:] + b"g", fin=False))
        writer.write(frame(0x0, b"ment"))
        writer.write(frame(0x2, b"\x01\x02"))
        writer.write(frame(0x8, struct.pack("!H", 4001) + b"go away"))
        await writer.drain()
        frames = []
        while True:
            op, data = await asyncio.wait_for(read_client_frame(reader), 20)
            frames.append((op, data))
            if op == 0x8:
                return frames

    port = await start(script)
    got = await run_probe(f"wss://localhost:{port}/ws", str(pki.ca_path), "listen")
    assert got["messages"] == ["fr\u00e4gment", "0102"]
    assert got["closed"] == 4001 and got["reason"] == "go away" and not got["local"]
    assert seen[0][0] == (0xA, b"hb")  # the pong echoes the ping payload
    assert seen[0][-1][0] == 0x8 and close_code(seen[0][-1][1]) == 4001


async def test_bad_accept_key_fails_the_handshake(raw_server, pki):
    start, _ = raw_server

    async def script(reader, writer):
        await reader.read(100)

    port = await start(script, bad_accept=True)
    got = await run_probe(f"wss://localhost:{port}/ws", str(pki.ca_path), "listen")
    assert "Accept" in got["handshake_error"]


async def test_plain_ws_url(raw_server):
    start, _ = raw_server

    async def script(reader, writer):
        writer.write(frame(0x2, b"plain"))
        writer.write(frame(0x8, struct.pack("!H", 1000)))
        await writer.drain()
        return await asyncio.wait_for(expect_close(reader), 20)

    port = await start(script, tls=False)
    got = await run_probe(f"ws://127.0.0.1:{port}/ws", "-", "listen")
    assert got["messages"] == [b"plain".hex()] and got["closed"] == 1000
