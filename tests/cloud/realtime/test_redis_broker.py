"""The Redis broker: messages cross broker instances (processes) once, in order, never echoed."""

import asyncio
import uuid

import pytest

from cloud.realtime.redis_broker import RedisBroker

pytestmark = pytest.mark.redis
REDIS_URL = "redis://127.0.0.1:6379/0"


async def test_messages_cross_instances_in_order_and_are_not_echoed():
    prefix = f"pftest-{uuid.uuid4().hex[:10]}:"
    a, b = RedisBroker(REDIS_URL, prefix), RedisBroker(REDIS_URL, prefix)
    await a.start()
    await b.start()
    try:
        got_a, got_b = [], []
        a.subscribe("tenant:t1", got_a.append)
        b.subscribe("tenant:t1", got_b.append)
        await a.wait_subscribed("tenant:t1")
        await b.wait_subscribed("tenant:t1")
        for n in range(500):
            a.publish("tenant:t1", {"type": "printer_status", "n": n})
        b.publish("tenant:t1", {"type": "pong"})
        await a.flush()
        await b.flush()

        async def settled():
            while len(got_b) < 501 or len(got_a) < 501:
                await asyncio.sleep(0.01)

        await asyncio.wait_for(settled(), 20)
        await asyncio.sleep(0.2)  # an echo would arrive now
        # Each side saw every message exactly once: its own locally, the other's through Redis.
        assert [m["n"] for m in got_a if "n" in m] == list(range(500))
        assert [m["n"] for m in got_b if "n" in m] == list(range(500))
        assert len(got_a) == len(got_b) == 501
        # Unsubscribed channels stop receiving.
        b.unsubscribe("tenant:t1", got_b.append)
        a.publish("tenant:t1", {"type": "after"})
        await a.flush()
        await asyncio.sleep(0.3)
        assert got_b[-1] != {"type": "after"}
    finally:
        await a.close()
        await b.close()


async def test_broker_recovers_after_a_redis_restart(tmp_path):
    """A private redis-server (ephemeral port) is killed and restarted under the brokers."""
    import shutil
    import socket
    import subprocess

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server binary not installed (apt-get install redis-server)")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]

    def start_server():
        return subprocess.Popen(
            [
                binary,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    async def wait_up():
        for _ in range(100):
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise TimeoutError("redis-server did not start")

    server = start_server()
    await wait_up()
    url = f"redis://127.0.0.1:{port}/0"
    a, b = RedisBroker(url, "t:"), RedisBroker(url, "t:")
    try:
        await a.start()
        await b.start()
        got = []
        b.subscribe("hub:h1", got.append)
        await b.wait_subscribed("hub:h1")
        server.kill()
        server.wait()
        a.publish("hub:h1", {"op": "during-outage"})  # queued; sent once Redis is back
        server = start_server()
        await wait_up()

        async def delivered():
            while not any(m.get("op") == "after" for m in got):
                a.publish("hub:h1", {"op": "after"})
                await asyncio.sleep(0.3)

        await asyncio.wait_for(delivered(), 30)
    finally:
        await asyncio.wait_for(a.close(), 10)
        await asyncio.wait_for(b.close(), 10)
        server.kill()
        server.wait()
