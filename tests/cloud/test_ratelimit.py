"""Rate limits of the spec's table over HTTP: 429 with Retry-After; auth per IP, API per user,
uploads per tenant; counters in the kv store (database table, and Redis when configured)."""

import asyncio

import pytest

from cloud.api.operations import OperationGroup, register
from cloud.config import DEFAULT_RATE_LIMITS, RateLimit, parse_rate_limits


def test_spec_table_is_the_default():
    assert {
        "auth": RateLimit(10, 60_000),
        "api": RateLimit(100, 60_000),
        "upload": RateLimit(20, 3_600_000),
    } == DEFAULT_RATE_LIMITS
    assert parse_rate_limits("off") == {}
    assert parse_rate_limits("api=5/1000")["api"] == RateLimit(5, 1000)
    with pytest.raises(ValueError):
        parse_rate_limits("bogus=1/2")


async def test_auth_endpoints_limited_per_ip(server_factory):
    async with server_factory(rate_limits=dict(DEFAULT_RATE_LIMITS)) as server:
        anon = server.client()
        body = {"email": "nobody@example.com", "password": "wrong-password"}
        statuses = [(await anon.post("/api/v1/auth/login", json=body)).status for _ in range(10)]
        assert statuses == [401] * 10
        r = await anon.post("/api/v1/auth/login", json=body)
        assert (r.status, r.error_code) == (429, "rate_limited")
        assert 1 <= int(r.headers["Retry-After"]) <= 60
        # Register and refresh share the per-IP auth bucket.
        r = await anon.post(
            "/api/v1/auth/register",
            json={"email": "x@example.com", "password": "long enough pw", "tenant_name": "F"},
        )
        assert r.status == 429


async def test_api_limited_per_user(server_factory):
    limits = {**DEFAULT_RATE_LIMITS, "api": RateLimit(5, 60_000), "auth": RateLimit(100, 60_000)}
    async with server_factory(rate_limits=limits) as server:
        alice = await server.register()
        bob = await server.register()
        statuses = [(await alice.api.get("/api/v1/printers")).status for _ in range(6)]
        assert statuses == [200] * 5 + [429]
        assert (await bob.api.get("/api/v1/printers")).status == 200  # per user, not global
        metrics = (await server.client().get("/metrics")).body.decode()
        assert 'printfarm_rate_limited_total{bucket="api"} 1.0' in metrics


async def test_window_resets(server_factory):
    limits = {**DEFAULT_RATE_LIMITS, "api": RateLimit(2, 1000), "auth": RateLimit(100, 60_000)}
    async with server_factory(rate_limits=limits) as server:
        alice = await server.register()
        first = [await alice.api.get("/api/v1/printers") for _ in range(3)]
        assert [r.status for r in first] == [200, 200, 429]
        await asyncio.sleep(int(first[2].headers["Retry-After"]) + 0.2)
        assert (await alice.api.get("/api/v1/printers")).status == 200


def _upload_route(app):
    group = OperationGroup(tag="test", resource="thing")

    @group.post(
        "/api/v1/test-upload", role="operator", rate_limit="upload", response={"type": "object"}
    )
    async def upload_thing(call):
        return {"ok": True}

    register(app, group)


async def test_uploads_limited_per_tenant(server_factory):
    limits = {
        **DEFAULT_RATE_LIMITS,
        "upload": RateLimit(2, 3_600_000),
        "auth": RateLimit(100, 60_000),
    }
    async with server_factory(rate_limits=limits, setup=_upload_route) as server:
        owner = await server.register()
        colleague = await server.member_of(owner, "operator")
        assert (await owner.api.post("/api/v1/test-upload")).status == 200
        assert (await colleague.api.post("/api/v1/test-upload")).status == 200
        r = await owner.api.post("/api/v1/test-upload")  # the tenant's budget, whoever uploads
        assert r.status == 429 and int(r.headers["Retry-After"]) > 3000
        stranger = await server.register()
        assert (await stranger.api.post("/api/v1/test-upload")).status == 200


@pytest.mark.redis
async def test_counters_live_in_redis_when_configured(server_factory):
    import uuid

    from cloud.keys import KV
    from cloud.kv import RedisKeyValueStore

    prefix = f"pftest:{uuid.uuid4().hex}:"
    limits = {**DEFAULT_RATE_LIMITS, "api": RateLimit(3, 60_000), "auth": RateLimit(100, 60_000)}
    async with server_factory(
        rate_limits=limits, redis_url="redis://127.0.0.1:6379/0", redis_prefix=prefix
    ) as server:
        assert isinstance(server.app[KV], RedisKeyValueStore)
        alice = await server.register()
        statuses = [(await alice.api.get("/api/v1/printers")).status for _ in range(4)]
        assert statuses == [200, 200, 200, 429]
        import redis.asyncio as redis

        client = redis.from_url("redis://127.0.0.1:6379/0", decode_responses=True)
        try:
            assert await client.get(f"{prefix}rate:api:{alice.user_id}") == "4"
            await client.delete(*[k async for k in client.scan_iter(prefix + "*")])
        finally:
            await client.aclose()
