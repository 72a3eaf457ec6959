"""MicroPython side of the driver/transfer suites: runs BambuDrivers, obeys JSON lines on stdin."""

import asyncio
import gc
import json
import sys

import transfer
from drivers.bambu import BambuDriver
from drivers.base import DriverError
from net import tls


def out(**kw):
    print(json.dumps(kw))


def read(path):
    with open(path, "rb") as f:
        return f.read()


class Harness:
    def __init__(self, conf):
        self.conf = conf
        ca = read(conf["ca"]) if conf.get("ca") else None
        self.drivers = {}
        for cfg in conf["printers"]:
            self.drivers[cfg["printer_id"]] = BambuDriver(cfg, self.on_status, self.on_event, ca)
            if cfg.get("test_resume_job"):  # the hub had a job running here before a reboot
                self.drivers[cfg["printer_id"]].resume_job()
        self.http_ctx = None
        if conf.get("origin_ca"):
            self.http_ctx = tls.client_context(read(conf["origin_ca"]))
        self.cancels = {}
        self.heap_peak = 0

    def on_status(self, pid, changes):
        out(t="status", p=pid, s=changes)

    def on_event(self, pid, event, data):
        out(t="event", p=pid, e=event, d=data)

    def sample_heap(self):
        gc.collect()
        used = gc.mem_alloc()
        if used > self.heap_peak:
            self.heap_peak = used

    async def op(self, req):
        rid = req.get("id")
        op = req["op"]
        try:
            d = self.drivers.get(req.get("p"))
            if op == "start_print":
                r = await d.start_print(
                    req["name"], req.get("md5"), req.get("plate", 1), req.get("options")
                )
            elif op == "control":
                r = await d.control(req["action"], req.get("args"))
            elif op == "stream":
                ev = asyncio.Event()
                self.cancels[rid] = ev
                self.heap_peak = 0
                self.sample_heap()

                def progress(sent, total):
                    self.sample_heap()
                    out(t="progress", id=rid, sent=sent, total=total)

                md5 = await transfer.stream_to_printer(
                    req["url"],
                    d,
                    req["name"],
                    req["size"],
                    progress,
                    ev,
                    req.get("md5"),
                    self.http_ctx,
                )
                self.sample_heap()
                r = {"md5": md5, "heap_peak": self.heap_peak}
            elif op == "cancel":
                self.cancels[req["target"]].set()
                r = {}
            elif op == "status":
                r = d.status()
            elif op == "mem":
                gc.collect()
                r = {"alloc": gc.mem_alloc(), "free": gc.mem_free()}
            else:
                r = {"unknown": op}
            out(t="result", id=rid, ok=True, r=r)
        except DriverError as e:
            out(t="result", id=rid, ok=False, code=e.code, message=e.message)
        except Exception as e:
            out(t="result", id=rid, ok=False, code="exception", message=repr(e))
        finally:
            self.cancels.pop(rid, None)

    async def main(self):
        tasks = []
        if self.conf.get("run", True):
            for d in self.drivers.values():
                tasks.append(asyncio.create_task(d.run()))
        out(t="ready")
        reader = asyncio.StreamReader(sys.stdin)
        while True:
            line = await reader.readline()
            if not line:
                break
            req = json.loads(line)
            if req["op"] == "quit":
                break
            asyncio.create_task(self.op(req))
        for d in self.drivers.values():
            await d.stop()
        for t in tasks:
            await t
        out(t="bye")


asyncio.run(Harness(json.loads(read(sys.argv[1]))).main())
