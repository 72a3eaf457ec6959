"""Bench-only fetch(url, write): a minimal asyncio HTTP/1.0 GET (until firmware/net/http.py lands)."""

import asyncio

CHUNK = 1024  # read size (RAM cost: 1 KiB per read)


async def fetch(url, write):
    """Stream the body of an http:// URL into `await write(chunk)`; raises OSError on failure."""
    if not url.startswith("http://"):
        raise OSError("only http:// on the bench")
    hostport, _, path = url[7:].partition("/")
    host, _, port = hostport.partition(":")
    reader, writer = await asyncio.open_connection(host, int(port or 80))
    try:
        writer.write(("GET /%s HTTP/1.0\r\nHost: %s\r\n\r\n" % (path, hostport)).encode())
        await writer.drain()
        status = (await reader.readline()).split()
        if len(status) < 2 or status[1] != b"200":
            raise OSError("HTTP status %r" % (status,))
        length = None
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value.strip())
        got = 0
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            got += len(data)
            await write(data)
        if length is not None and got != length:
            raise OSError("connection closed after %d of %d bytes" % (got, length))
    finally:
        writer.close()
        await writer.wait_closed()
