"""MicroPython side of test_websocket: runs one scenario against a test server, prints JSON."""

import asyncio
import hashlib
import json
import sys

from net import websocket as ws

URL, CA, SCENARIO = sys.argv[1], sys.argv[2], sys.argv[3]


def out(**kw):
    print(json.dumps(kw))


def context():
    if CA == "-":
        return None
    with open(CA, "rb") as f:
        return ws.tls_context(f.read())


async def recv_until_closed(sock):
    got = []
    try:
        while True:
            got.append(await sock.recv())
    except ws.ConnectionClosed as e:
        out(closed=e.code, reason=e.reason, local=e.local, got=len(got))
        return got


async def main():
    try:
        sock = await ws.connect(URL, ssl=context())
    except ws.HandshakeError as e:
        out(handshake_error=str(e))
        return
    except OSError as e:
        out(connect_error=str(e))
        return
    out(connected=True)
    if SCENARIO == "echo":
        small = b"\x00\x01\x02hello"
        big = bytes(range(256)) * 240  # 61440 bytes: sent as 4 fragments, echoed as one frame
        await sock.send(small)
        await sock.send("h\u00e9llo")
        await sock.send(big)
        a = await sock.recv()
        b = await sock.recv()
        c = await sock.recv()
        out(small=a == small, text=b, big_len=len(c), big_md5=hashlib.md5(c).digest().hex())
        await sock.ping(b"abc")
        await sock.send(b"after-ping")
        await sock.recv()
        out(pongs=sock.pongs)
        await sock.close(1000, "bye")
        out(done=True)
    elif SCENARIO == "listen":
        got = await recv_until_closed(sock)
        out(messages=[g if isinstance(g, str) else g.hex() for g in got], pongs=sock.pongs)


asyncio.run(main())
