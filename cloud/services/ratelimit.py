"""Fixed-window rate limits of the spec's table, counted in the kv store, refused with 429."""

import math
import time

from cloud.config import RateLimit
from cloud.errors import ApiError


class RateLimiter:
    """`await hit(bucket, subject)` counts one request and raises 429 + Retry-After past the limit."""

    def __init__(self, kv, limits: dict[str, RateLimit], metrics=None):
        self._kv = kv
        self._limits = limits
        self._metrics = metrics

    async def hit(self, bucket: str, subject: str) -> None:
        """Count one request of `subject` (an IP, user or tenant id) in `bucket`."""
        limit = self._limits.get(bucket)
        if limit is None:
            return  # bucket disabled by configuration
        count, window_end_ms = await self._kv.incr(self.key(bucket, subject), limit.window_ms)
        self.check(bucket, count, window_end_ms)

    @staticmethod
    def key(bucket: str, subject: str) -> str:
        """The kv key counting `subject` in `bucket`."""
        return f"rate:{bucket}:{subject}"

    def counter_on_pool(self, bucket: str):
        """(incr_now, window_ms) when `bucket` counts in the database kv, so the caller can count
        inside a database call it makes anyway; None otherwise (Redis, or bucket off)."""
        limit = self._limits.get(bucket)
        incr_now = getattr(self._kv, "incr_now", None)
        if limit is None or incr_now is None:
            return None
        return incr_now, limit.window_ms

    def check(self, bucket: str, count: int, window_end_ms: int) -> None:
        """Raise 429 with Retry-After when `count` is past the bucket's limit."""
        limit = self._limits.get(bucket)
        if limit is None or count <= limit.limit:
            return
        retry_after = max(1, math.ceil((window_end_ms - time.time() * 1000) / 1000))
        if self._metrics is not None:
            self._metrics.rate_limited.labels(bucket).inc()
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests ({limit.limit} per {limit.window_ms // 1000} s); "
            f"retry in {retry_after} s",
            headers={"Retry-After": str(retry_after)},
        )
