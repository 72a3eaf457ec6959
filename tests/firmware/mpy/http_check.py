"""MicroPython side of tests/firmware/test_http.py: one net.http Download, result as JSON."""

import asyncio
import binascii
import hashlib
import json
import sys

from net import http


def out(**kw):
    print(json.dumps(kw))


async def main():
    mode = sys.argv[1]
    if mode == "parse":
        for url in sys.argv[2:]:
            try:
                out(url=url, parts=list(http.parse_url(url)))
            except http.HTTPError as e:
                out(url=url, error=e.message)
        return
    url = sys.argv[2]
    size = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] != "-" else None
    timeout = int(sys.argv[4]) if len(sys.argv) > 4 else 5000
    d = http.Download(url, None, size, timeout_ms=timeout, max_resumes=2)
    h = hashlib.md5()
    buf = bytearray(4096)
    mv = memoryview(buf)
    total = 0
    try:
        await d.open()
        while True:
            n = await d.readinto(mv)
            if not n:
                break
            h.update(mv[:n])
            total += n
        out(ok=True, size=total, md5=str(binascii.hexlify(h.digest()), "ascii"), resumes=d.resumes)
    except http.HTTPError as e:
        out(ok=False, status=e.status, message=e.message, got=total)
    finally:
        await d.close()


asyncio.run(main())
