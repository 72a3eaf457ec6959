"""The kv store on both backends: TTL, set-if-absent, atomic fixed-window counters."""

import asyncio
import uuid

import pytest

from cloud.keys import KV
from cloud.kv import RedisKeyValueStore


async def _exercise(kv):
    key = f"k-{uuid.uuid4().hex}"
    assert await kv.get(key) is None
    await kv.set(key, "v1")
    assert await kv.get(key) == "v1"
    assert await kv.set_if_absent(key, "v2") is False
    await kv.delete(key)
    assert await kv.set_if_absent(key, "v3", ttl_ms=200) is True
    assert await kv.get(key) == "v3"
    await asyncio.sleep(0.35)
    assert await kv.get(key) is None
    assert await kv.set_if_absent(key, "v4") is True  # an expired value does not block
    counter = f"c-{uuid.uuid4().hex}"
    counts = await asyncio.gather(*(kv.incr(counter, 60_000) for _ in range(20)))
    assert sorted(c for c, _ in counts) == list(range(1, 21))  # atomic under concurrency
    ends = [end for _, end in counts]
    assert max(ends) - min(ends) < 1000  # one window (Redis derives the end from a rounded TTL)
    short = f"s-{uuid.uuid4().hex}"
    assert (await kv.incr(short, 150))[0] == 1
    assert (await kv.incr(short, 150))[0] == 2
    await asyncio.sleep(0.3)
    assert (await kv.incr(short, 150))[0] == 1  # a new window


async def test_database_kv(live_server):
    await _exercise(live_server.app[KV])


async def test_database_kv_sweep(sqlite_server):
    kv = sqlite_server.app[KV]
    await kv.set("gone", "x", ttl_ms=1)
    await asyncio.sleep(0.01)
    await kv.sweep()
    from cloud.db.executor import run_db
    from cloud.models.auth import KvEntry

    assert (
        await run_db(sqlite_server.app, lambda: KvEntry.get_or_none(KvEntry.key == "gone")) is None
    )


@pytest.mark.redis
async def test_redis_kv():
    kv = RedisKeyValueStore("redis://127.0.0.1:6379/0", prefix=f"pftest:{uuid.uuid4().hex}:")
    try:
        await _exercise(kv)
    finally:
        await kv.close()
