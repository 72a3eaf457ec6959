"""The service shell: /healthz, /metrics, request ids, JSON errors, keys file, and
`printfarm cloud serve` as a real process (JSON logs, graceful SIGTERM)."""

import asyncio
import json
import os
import signal
import stat
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from cloud.config import Config, load_secrets
from cloud.db import open_database
from cloud.keys import OPERATIONS
from tests.conftest import PG_ADMIN_URL

ROOT = Path(__file__).resolve().parents[2]


async def test_healthz_and_metrics(live_server):
    anon = live_server.client()
    r = await anon.get("/healthz")
    assert (r.status, r.json) == (200, {"status": "ok", "database": "ok"})
    owner = await live_server.register()
    await owner.api.get("/api/v1/printers")
    await owner.api.get("/api/v1/printers/nope")
    r = await anon.get("/metrics")
    assert r.status == 200 and r.headers["Content-Type"].startswith("text/plain")
    text = r.body.decode()
    assert (
        'printfarm_http_request_duration_seconds_count{method="GET",route="/api/v1/printers"} 1.0'
        in text
    )
    assert (
        'printfarm_http_errors_total{code="not_found",method="GET",route="/api/v1/printers/{id}"} 1.0'
        in text
    )
    await owner.api.post("/api/v1/printers", json={"name": "P1", "model": "P1S"})
    text = (await anon.get("/metrics")).body.decode()
    assert "printfarm_printers_online_ratio 0.0" in text  # one printer, not connected
    for gauge in (
        "printfarm_hub_connections",
        "printfarm_dashboard_connections",
        "printfarm_queue_depth",
        "printfarm_db_call_duration_seconds",
    ):
        assert gauge in text


async def test_errors_are_json_with_the_right_status(sqlite_server):
    anon = sqlite_server.client()
    r = await anon.get("/api/v1/no-such-route")
    assert (r.status, r.error_code) == (404, "not_found")
    r = await anon.request("PUT", "/api/v1/auth/login", json={})
    assert (r.status, r.error_code) == (405, "method_not_allowed")
    r = await anon.post(
        "/api/v1/auth/login",
        data=b"x" * (2 * 1024 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert (r.status, r.error_code) == (413, "payload_too_large")
    r = await anon.post(
        "/api/v1/auth/login",
        data=b"email=a",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert (r.status, r.error_code) == (415, "unsupported_media_type")
    r = await anon.post("/api/v1/auth/login")
    assert (r.status, r.error_code) == (400, "invalid_json")
    r = await anon.post(
        "/api/v1/auth/login",
        data=b'{"email": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert r.status in (400, 422)


async def test_request_ids_are_echoed_or_generated(sqlite_server):
    anon = sqlite_server.client()
    r = await anon.get("/healthz", headers={"X-Request-Id": "trace-123"})
    assert r.headers["X-Request-Id"] == "trace-123"
    r = await anon.get("/healthz", headers={"X-Request-Id": "bad id with spaces"})
    generated = r.headers["X-Request-Id"]
    assert generated != "bad id with spaces" and len(generated) == 32
    r = await anon.get("/api/v1/missing")
    assert len(r.headers["X-Request-Id"]) == 32  # errors carry one too


def test_keys_generated_once_with_mode_0600(tmp_path):
    first = load_secrets(tmp_path, env={})
    path = tmp_path / "keys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_secrets(tmp_path, env={}) == first  # stable across restarts
    assert {len(v) for v in first.values()} == {32}
    import base64

    path.chmod(0o644)  # e.g. copied from a backup
    assert load_secrets(tmp_path, env={}) == first
    assert stat.S_IMODE(path.stat().st_mode) == 0o600  # tightened again
    override = base64.b64encode(b"k" * 32).decode()
    assert load_secrets(tmp_path, env={"PRINTFARM_JWT_SECRET": override})["jwt_secret"] == b"k" * 32


def test_config_flags_beat_environment(tmp_path):
    env = {
        "PRINTFARM_PORT": "9000",
        "PRINTFARM_HOST": "0.0.0.0",
        "PRINTFARM_DATA_DIR": str(tmp_path / "d"),
    }
    config = Config.load(env=env, port=9100)
    assert (config.port, config.host) == (9100, "0.0.0.0")
    assert (
        config.database_url.startswith("sqlite:///") and str(tmp_path / "d") in config.database_url
    )
    assert config.storage_url.startswith("file://")


async def test_cli_serve_logs_json_and_shuts_down_gracefully(tmp_path):
    env = {**os.environ, "PRINTFARM_ARGON2": "1,8192,1", "PRINTFARM_RATE_LIMITS": "off"}
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tools.cli",
        "cloud",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "data"),
        cwd=ROOT,
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    lines = []
    try:
        async with asyncio.timeout(30):
            while True:
                line = await process.stderr.readline()
                assert line, b"".join(lines)
                lines.append(line)
                entry = json.loads(line)
                if entry["msg"] == "listening":
                    url = entry["url"]
                    break
        async with (
            aiohttp.ClientSession() as session,
            session.get(url + "/healthz", headers={"X-Request-Id": "cli-test-1"}) as r,
        ):
            assert r.status == 200
        async with aiohttp.ClientSession() as session:
            body = {"email": "log@example.com", "password": "long enough pw", "tenant_name": "Logs"}
            async with session.post(url + "/api/v1/auth/register", json=body) as r:
                session_json = await r.json()
            headers = {"Authorization": "Bearer " + session_json["access_token"]}
            async with session.get(url + "/api/v1/printers", headers=headers) as r:
                assert r.status == 200
        assert stat.S_IMODE((tmp_path / "data" / "keys.json").stat().st_mode) == 0o600
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            rest = await process.stderr.read()
            code = await process.wait()
    finally:
        if process.returncode is None:
            process.kill()
    assert code == 0
    entries = [json.loads(x) for x in lines + rest.splitlines(keepends=True) if x.strip()]
    access = [e for e in entries if e["logger"] == "cloud.access"]
    assert access and access[0]["request_id"] == "cli-test-1" and access[0]["status"] == 200
    listed = next(e for e in access if e["path"] == "/api/v1/printers")
    assert listed["user_id"] == session_json["user"]["id"]
    assert listed["tenant_id"] == session_json["tenant"]["id"]
    logged = json.dumps(entries)  # no secrets in the log
    assert session_json["access_token"] not in logged
    assert session_json["refresh_token"] not in logged and "long enough pw" not in logged
    assert entries[-1]["msg"] == "stopped"


SLOW_STARTED = web.AppKey("slow_started", asyncio.Event)


def _slow_route(app):
    from cloud.api.operations import PUBLIC, OperationGroup, register

    group = OperationGroup(tag="test")

    @group.get("/api/v1/test-slow", role=PUBLIC, response={"type": "object"})
    async def slow(call):
        call.app[SLOW_STARTED].set()
        await asyncio.sleep(0.5)
        return {"finished": True}

    register(app, group)


async def test_shutdown_lets_in_flight_requests_finish(tmp_path):
    from cloud.app import create_app
    from tests.cloud.conftest import make_config
    from tests.conftest import sqlite_url

    app = create_app(make_config(tmp_path, sqlite_url(tmp_path)))
    _slow_route(app)
    app[SLOW_STARTED] = asyncio.Event()
    runner = web.AppRunner(app, shutdown_timeout=10)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    url = f"http://127.0.0.1:{runner.addresses[0][1]}/api/v1/test-slow"
    async with aiohttp.ClientSession() as session:

        async def fetch():
            async with session.get(url) as r:
                return r.status, await r.json()

        request = asyncio.create_task(fetch())
        await asyncio.wait_for(app[SLOW_STARTED].wait(), 10)
        await runner.cleanup()  # what SIGTERM does in `cloud serve`
        assert await request == (200, {"finished": True})


async def test_undecodable_path_ids_are_404(sqlite_server):
    owner = await sqlite_server.register()
    r = await owner.api.get("/api/v1/printers/%ED%A0%80")
    assert r.status == 404


async def test_allow_header_lists_only_the_declared_methods(sqlite_server):
    # /api/v1/auth/accept-invitation and the like are static; a sibling {id} route must not leak
    # its methods into Allow.
    anon = sqlite_server.client()
    r = await anon.request("OPTIONS", "/api/v1/auth/login")
    assert r.status == 405 and r.headers["Allow"] == "POST"
    ops = {(op.method, op.path) for op in sqlite_server.app[OPERATIONS].operations}
    for path in sorted({p for _, p in ops}):
        if "{" in path:
            continue
        r = await anon.request("OPTIONS", path)
        declared = sorted(m for m, p in ops if p == path)
        assert r.status == 405 and r.headers["Allow"].split(",") == declared, (
            path,
            r.headers.get("Allow"),
        )


def _failing_routes(app):
    import peewee

    from cloud.api.operations import PUBLIC, OperationGroup, register

    group = OperationGroup(tag="test")

    @group.get("/api/v1/test-locked", role=PUBLIC, response={"type": "object"})
    async def locked(call):
        def work():
            raise peewee.OperationalError("database is locked")

        return await call.db(work)

    @group.get("/api/v1/test-bad-sql", role=PUBLIC, response={"type": "object"})
    async def bad_sql(call):
        def work():
            raise peewee.OperationalError("no such column: nonsense")

        return await call.db(work)

    register(app, group)


async def test_transient_database_errors_are_503_and_bugs_500(server_factory):
    async with server_factory(setup=_failing_routes) as server:
        anon = server.client()
        r = await anon.get("/api/v1/test-locked")
        assert (r.status, r.error_code, r.headers["Retry-After"]) == (503, "unavailable", "1")
        r = await anon.get("/api/v1/test-bad-sql")
        assert (r.status, r.error_code) == (500, "internal_error")
        assert "nonsense" not in r.body.decode()  # internals stay in the log


@pytest.mark.postgres
async def test_recovers_when_postgresql_drops_its_connections(server_factory):
    async with server_factory(backend="postgresql") as server:
        owner = await server.register()
        assert (await owner.api.get("/api/v1/printers")).status == 200
        name = server.config.database_url.rsplit("/", 1)[1]
        admin = open_database(PG_ADMIN_URL)
        admin.connect()
        try:  # what a PostgreSQL restart or failover does to every open connection
            admin.execute_sql(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,)
            )
        finally:
            admin.close()
        statuses = [(await owner.api.get("/api/v1/printers")).status for _ in range(12)]
        assert set(statuses) <= {200, 503}, statuses  # never a 500
        assert statuses.count(503) <= server.config.db_threads  # one per pooled thread at most
        assert statuses[-3:] == [200, 200, 200]
