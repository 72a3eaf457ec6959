"""MicroPython side of `printfarm bench stream`: one hub transfer, timed on the device clock."""

import asyncio
import gc
import json
import sys
import time

import transfer
from drivers.bambu import BambuDriver
from drivers.base import DriverError
from net import tls


async def main():
    with open(sys.argv[1]) as f:  # a file: argv strings past ~256 bytes crash this port
        conf = json.load(f)
    with open(conf["printer_ca"], "rb") as f:
        ca = f.read()
    ctx = None
    if conf.get("origin_ca"):
        with open(conf["origin_ca"], "rb") as f:
            ctx = tls.client_context(f.read())
    drv = BambuDriver(conf["printer"], lambda *a: None, lambda *a: None, ca)
    peak = [0]

    def sample(*_):
        gc.collect()
        peak[0] = max(peak[0], gc.mem_alloc())

    sample()
    start = peak[0]  # firmware modules + the transfer buffer, before any byte moves
    t0 = time.ticks_ms()
    try:
        md5 = await transfer.stream_to_printer(
            conf["url"], drv, conf["name"], conf["size"], sample, None, conf["md5"], ctx
        )
        ms = time.ticks_diff(time.ticks_ms(), t0)
        sample()
        print(
            json.dumps(
                {"ok": True, "md5": md5, "ms": ms, "heap_peak": peak[0], "heap_start": start}
            )
        )
    except DriverError as e:
        print(json.dumps({"ok": False, "code": e.code, "message": e.message}))


asyncio.run(main())
