"""Bench-only cloud link: newline-delimited JSON over TCP to the test's stand-in cloud.

Stands in for fwcore's WebSocket link until it lands: same duties seen from the platform
code (hub_hello with the boot report, `up`, recv() of commands, send()).
"""

import asyncio
import binascii
import json
import os


class BenchLink:
    """Connects to 127.0.0.1:$BENCH_CLOUD_PORT, says hello, queues the cloud's commands."""

    def __init__(self, report):
        self.report = report
        self.up = False
        self.commands = []
        self.ready = asyncio.Event()
        self.writer = None

    async def run(self):
        """Keep the link connected (retry every 200 ms)."""
        port = int(os.getenv("BENCH_CLOUD_PORT"))
        while True:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep_ms(200)
                continue
            self.writer = writer
            hello = {"type": "hub_hello", "hub_id": "bench-hub"}
            hello.update(self.report)
            await self.send(hello)
            while True:
                line = await reader.readline()
                if not line:
                    break
                msg = json.loads(line)
                if msg.get("type") == "hello_ok":
                    self.up = True
                    continue
                if isinstance(msg.get("signature"), str):
                    msg["signature"] = binascii.unhexlify(msg["signature"])
                self.commands.append(msg)
                self.ready.set()
            self.up = False
            self.writer = None
            writer.close()
            await asyncio.sleep_ms(200)

    async def recv(self):
        """Next command from the cloud."""
        while not self.commands:
            self.ready.clear()
            await self.ready.wait()
        return self.commands.pop(0)

    async def send(self, msg):
        """Send one message (dropped if the link is down, like a status snapshot)."""
        if self.writer is None:
            return
        self.writer.write((json.dumps(msg) + "\n").encode())
        await self.writer.drain()
