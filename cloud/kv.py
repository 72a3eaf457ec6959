"""Key-value store for short-lived shared state (rate limits, claim codes): DB table or Redis."""

import asyncio
import contextlib
import logging
import time

from aiohttp import web

from cloud.db import dialect
from cloud.db.executor import run_db
from cloud.keys import CONFIG, DATABASE, KV

log = logging.getLogger("cloud.kv")

SWEEP_INTERVAL_S = 60.0


def _now_ms() -> int:
    return int(time.time() * 1000)


class KeyValueStore:
    """The interface: text values with optional TTL, and fixed-window counters."""

    async def get(self, key: str) -> str | None:
        """The live value of `key`, or None (missing or expired)."""
        raise NotImplementedError

    async def set(self, key: str, value: str, ttl_ms: int | None = None) -> None:
        """Store `value`, expiring after `ttl_ms` when given."""
        raise NotImplementedError

    async def set_if_absent(self, key: str, value: str, ttl_ms: int | None = None) -> bool:
        """Store `value` only if `key` holds no live value; True when stored."""
        raise NotImplementedError

    async def delete(self, key: str) -> None:
        """Remove `key`."""
        raise NotImplementedError

    async def incr(self, key: str, window_ms: int) -> tuple[int, int]:
        """Count one hit in the window that started at the first hit: (count, window_end_ms)."""
        raise NotImplementedError

    async def close(self) -> None:
        """Release connections."""


class DatabaseKeyValueStore(KeyValueStore):
    """kv_entries table, used through the database pool; expired rows are swept periodically."""

    def __init__(self, app: web.Application):
        self._app = app

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if dialect(self._app[DATABASE]) == "postgresql" else text

    def _execute(self, sql: str, params: tuple):
        return self._app[DATABASE].execute_sql(self._sql(sql), params)

    async def get(self, key):
        def read():
            row = self._execute(
                "SELECT value FROM kv_entries WHERE key = ? AND (expires_at IS NULL OR expires_at > ?)",
                (key, _now_ms()),
            ).fetchone()
            return row[0] if row else None

        return await run_db(self._app, read)

    async def set(self, key, value, ttl_ms=None):
        expires = _now_ms() + ttl_ms if ttl_ms else None
        await run_db(
            self._app,
            self._execute,
            "INSERT INTO kv_entries (key, value, counter, expires_at) VALUES (?, ?, 0, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = 0, "
            "expires_at = excluded.expires_at",
            (key, value, expires),
        )

    async def set_if_absent(self, key, value, ttl_ms=None):
        now = _now_ms()
        expires = now + ttl_ms if ttl_ms else None

        def write():
            # Replace only an expired row; a live one stays and nothing is returned.
            row = self._execute(
                "INSERT INTO kv_entries (key, value, counter, expires_at) VALUES (?, ?, 0, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value, counter = 0, "
                "expires_at = excluded.expires_at "
                "WHERE kv_entries.expires_at IS NOT NULL AND kv_entries.expires_at <= ? "
                "RETURNING key",
                (key, value, expires, now),
            ).fetchone()
            return row is not None

        return await run_db(self._app, write)

    async def delete(self, key):
        await run_db(self._app, self._execute, "DELETE FROM kv_entries WHERE key = ?", (key,))

    def incr_now(self, key: str, window_ms: int) -> tuple[int, int]:
        """`incr` for code already on the database pool (one hop for several small queries)."""
        now = _now_ms()
        count, expires = self._execute(
            "INSERT INTO kv_entries (key, value, counter, expires_at) VALUES (?, NULL, 1, ?) "
            "ON CONFLICT (key) DO UPDATE SET "
            "counter = CASE WHEN kv_entries.expires_at <= ? THEN 1 "
            "ELSE kv_entries.counter + 1 END, "
            "expires_at = CASE WHEN kv_entries.expires_at <= ? THEN excluded.expires_at "
            "ELSE kv_entries.expires_at END "
            "RETURNING counter, expires_at",
            (key, now + window_ms, now, now),
        ).fetchone()
        return int(count), int(expires)

    async def incr(self, key, window_ms):
        return await run_db(self._app, self.incr_now, key, window_ms)

    async def sweep(self) -> None:
        """Delete expired rows."""
        await run_db(
            self._app,
            self._execute,
            "DELETE FROM kv_entries WHERE expires_at IS NOT NULL AND expires_at <= ?",
            (_now_ms(),),
        )


class RedisKeyValueStore(KeyValueStore):
    """Redis with a key prefix (several deployments or test runs can share one server)."""

    def __init__(self, url: str, prefix: str):
        import redis.asyncio as redis

        self._redis = redis.from_url(url, decode_responses=True)
        self._prefix = prefix

    def _k(self, key: str) -> str:
        return self._prefix + key

    async def get(self, key):
        return await self._redis.get(self._k(key))

    async def set(self, key, value, ttl_ms=None):
        await self._redis.set(self._k(key), value, px=ttl_ms or None)

    async def set_if_absent(self, key, value, ttl_ms=None):
        return bool(await self._redis.set(self._k(key), value, px=ttl_ms or None, nx=True))

    async def delete(self, key):
        await self._redis.delete(self._k(key))

    async def incr(self, key, window_ms):
        name = self._k(key)
        async with self._redis.pipeline(transaction=True) as pipe:
            pipe.set(name, 0, px=window_ms, nx=True)
            pipe.incr(name)
            pipe.pttl(name)
            _, count, ttl = await pipe.execute()
        return int(count), _now_ms() + max(int(ttl), 0)

    async def close(self):
        await self._redis.aclose()


def setup(app: web.Application) -> None:
    """Pick the backend (Redis when configured) and sweep expired rows of the table backend."""

    async def lifecycle(app: web.Application):
        config = app[CONFIG]
        if config.redis_url:
            app[KV] = RedisKeyValueStore(config.redis_url, config.redis_prefix)
            sweeper = None
        else:
            app[KV] = DatabaseKeyValueStore(app)
            sweeper = asyncio.create_task(_sweep_forever(app[KV]))
        yield
        if sweeper is not None:
            sweeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sweeper
        await app[KV].close()

    app.cleanup_ctx.append(lifecycle)


async def _sweep_forever(store: DatabaseKeyValueStore) -> None:
    while True:
        await asyncio.sleep(SWEEP_INTERVAL_S)
        try:
            await store.sweep()
        except Exception:  # a failed sweep must not end the sweeper; the next one retries
            log.exception("kv sweep failed")
