"""MicroPython side of tests/firmware/test_ftps.py: uploads a generated file over implicit FTPS."""

import asyncio
import json
import sys

from drivers.bambu import BambuDriver
from drivers.base import DriverError
from net import tls

# Deterministic content: byte i of the file is PATTERN[i % 256] (tests recompute it).
PATTERN = bytes([(i * 31 + 7) & 0xFF for i in range(256)])
BIG = PATTERN * 17  # 4352 bytes: any 4096-byte window at any phase


class PatternReader:
    """Produces `size` bytes of the pattern, 4 KB at most per read."""

    def __init__(self, size):
        self.size = size
        self.off = 0

    async def readinto(self, mv):
        n = min(len(mv), 4096, self.size - self.off)
        if n <= 0:
            return 0
        p = self.off % 256
        mv[:n] = BIG[p : p + n]
        self.off += n
        await asyncio.sleep_ms(0)
        return n


def out(**kw):
    print(json.dumps(kw))


async def main():
    host, port, ca, name, size = sys.argv[1:6]
    reuse = len(sys.argv) > 6 and sys.argv[6] == "reuse"
    size = int(size)
    with open(ca, "rb") as f:
        ca_data = f.read()
    cfg = {
        "printer_id": "p1",
        "serial": "01P00A000000001",
        "ip": host,
        "access_code": "12345678",
        "ftps_port": int(port),
        "require_session_reuse": reuse,
    }
    drv = BambuDriver(cfg, lambda *a: None, lambda *a: None, ca_data=ca_data)
    calls = []
    try:
        md5 = await drv.send_file(name, PatternReader(size), size, calls.append)
        out(ok=True, md5=md5, progress_calls=len(calls), last=calls[-1] if calls else 0)
    except DriverError as e:
        out(ok=False, code=e.code, message=e.message, progress=calls[-1] if calls else 0)
    out(session_reuse_runtime=tls.SESSION_REUSE)


asyncio.run(main())
