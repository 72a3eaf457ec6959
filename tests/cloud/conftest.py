"""Live-server fixtures for the cloud: a real aiohttp server on an ephemeral port over a fresh,
migrated database (SQLite, and PostgreSQL under the `postgres` marker), plus account helpers.

    async def test_something(live_server):
        owner = await live_server.register()                 # new user + tenant, role owner
        viewer = await live_server.member_of(owner, "viewer")  # another user in owner's tenant
        r = await owner.api.post("/api/v1/printers", json={"name": "P1", "model": "P1S"})
        assert r.status == 201, r.json
        assert (await viewer.api.delete(f"/api/v1/printers/{r.json['id']}")).status == 403
"""

import contextlib
import itertools
import json as jsonlib
import uuid
from dataclasses import dataclass, field

import aiohttp
import pytest
from aiohttp import web

from cloud.app import create_app
from cloud.config import Config, RateLimit, load_secrets
from cloud.workers.runtime import bound_to
from tests.conftest import postgres_database, sqlite_url

DEFAULT_PASSWORD = "correct horse battery staple"
# Argon2id with test-sized cost (1 pass, 8 MiB): same algorithm and code path, ~100x faster.
TEST_ARGON2 = (1, 8192, 1)
# Limits high enough never to trip in functional tests; the counting code still runs.
TEST_RATE_LIMITS = {
    "auth": RateLimit(100_000, 60_000),
    "api": RateLimit(100_000, 60_000),
    "upload": RateLimit(100_000, 3_600_000),
}
_serial = itertools.count(1)


@dataclass
class Response:
    """A finished HTTP exchange: status, parsed JSON (or None), headers, raw body."""

    status: int
    json: object
    headers: object  # case-insensitive multidict
    body: bytes

    @property
    def error_code(self) -> str | None:
        """`error.code` of an error body."""
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"].get("code")
        return None


class ApiClient:
    """HTTP client for the live server, optionally authenticated with a bearer token."""

    def __init__(self, server: "LiveServer", token: str | None = None):
        self.server = server
        self.token = token

    async def request(
        self, method: str, path: str, *, json=None, data=None, headers=None, params=None
    ) -> Response:
        """Send a request; `json` is encoded as application/json."""
        all_headers = dict(headers or {})
        if self.token and "Authorization" not in all_headers:
            all_headers["Authorization"] = f"Bearer {self.token}"
        if json is not None:
            data = jsonlib.dumps(json)
            all_headers.setdefault("Content-Type", "application/json")
        async with self.server.session.request(
            method, self.server.url + path, data=data, headers=all_headers, params=params
        ) as response:
            body = await response.read()
            try:
                parsed = jsonlib.loads(body) if body else None
            except ValueError:
                parsed = None
            return Response(response.status, parsed, response.headers.copy(), body)

    async def get(self, path, **kw) -> Response:
        return await self.request("GET", path, **kw)

    async def post(self, path, **kw) -> Response:
        return await self.request("POST", path, **kw)

    async def put(self, path, **kw) -> Response:
        return await self.request("PUT", path, **kw)

    async def patch(self, path, **kw) -> Response:
        return await self.request("PATCH", path, **kw)

    async def delete(self, path, **kw) -> Response:
        return await self.request("DELETE", path, **kw)


@dataclass
class Account:
    """A logged-in user: ids, credentials, tokens, and `api` (a client carrying the access token)."""

    user_id: str
    tenant_id: str
    email: str
    password: str
    role: str
    access_token: str
    refresh_token: str
    api: ApiClient


@dataclass
class LiveServer:
    """A running cloud: base `url`, the `app` object (registry, config), an HTTP session."""

    url: str
    app: web.Application
    config: Config
    session: aiohttp.ClientSession
    accounts: list = field(default_factory=list)

    def client(self, token: str | None = None) -> ApiClient:
        """An HTTP client (anonymous unless `token`)."""
        return ApiClient(self, token)

    def _account(self, session: dict, password: str) -> Account:
        account = Account(
            user_id=session["user"]["id"],
            tenant_id=session["tenant"]["id"],
            email=session["user"]["email"],
            password=password,
            role=session["role"],
            access_token=session["access_token"],
            refresh_token=session["refresh_token"],
            api=self.client(session["access_token"]),
        )
        self.accounts.append(account)
        return account

    async def register(
        self,
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        tenant_name: str | None = None,
    ) -> Account:
        """Register a new user with a new tenant (role owner)."""
        n = next(_serial)
        email = email or f"user{n}-{uuid.uuid4().hex[:6]}@example.com"
        r = await self.client().post(
            "/api/v1/auth/register",
            json={
                "email": email,
                "password": password,
                "tenant_name": tenant_name or f"Farm {n}",
                "name": f"User {n}",
            },
        )
        assert r.status == 201, r.json
        return self._account(r.json, password)

    async def login(
        self, email: str, password: str = DEFAULT_PASSWORD, tenant_id: str | None = None
    ) -> Account:
        """Log in (optionally into a chosen tenant)."""
        body = {"email": email, "password": password}
        if tenant_id:
            body["tenant_id"] = tenant_id
        r = await self.client().post("/api/v1/auth/login", json=body)
        assert r.status == 200, r.json
        return self._account(r.json, password)

    async def member_of(self, owner: Account, role: str) -> Account:
        """A new user added to `owner`'s tenant with `role`, logged into that tenant."""
        newcomer = await self.register()
        r = await owner.api.post("/api/v1/members", json={"email": newcomer.email, "role": role})
        assert r.status == 201, r.json
        return await self.login(newcomer.email, tenant_id=owner.tenant_id)


def make_config(tmp_path, database_url: str, **overrides) -> Config:
    """A Config for tests: fresh data folder, fast Argon2id, response schema checks on."""
    data_dir = tmp_path / f"data-{uuid.uuid4().hex[:6]}"
    values = dict(
        data_dir=data_dir,
        database_url=database_url,
        storage_url="file://" + str(data_dir / "storage"),
        port=0,
        secrets=load_secrets(data_dir, env={}),
        rate_limits=dict(TEST_RATE_LIMITS),
        argon2=TEST_ARGON2,
        db_threads=4,
        validate_responses=True,
    )
    values.update(overrides)
    return Config(**values)


@contextlib.asynccontextmanager
async def running_server(config: Config, setup=None):
    """Start the app on 127.0.0.1:<ephemeral> and yield a LiveServer; stop it gracefully.
    `setup(app)`, if given, runs before start (e.g. to register test-only operations)."""
    app = create_app(config)
    if setup is not None:
        setup(app)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    bound_to(app, "127.0.0.1", port)
    session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
    try:
        yield LiveServer(f"http://127.0.0.1:{port}", app, config, session)
    finally:
        await session.close()
        await runner.cleanup()


@contextlib.asynccontextmanager
async def server_on(backend: str, tmp_path, setup=None, **overrides):
    """A live server over a fresh database of `backend` ('sqlite' or 'postgresql')."""
    if backend == "postgresql":
        with postgres_database(migrated=True) as url:
            async with running_server(make_config(tmp_path, url, **overrides), setup) as server:
                yield server
    else:
        config = make_config(tmp_path, sqlite_url(tmp_path), **overrides)
        async with running_server(config, setup) as server:
            yield server


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def live_server(request, tmp_path):
    """A live server on SQLite, and once more on PostgreSQL."""
    async with server_on(request.param, tmp_path) as server:
        yield server


@pytest.fixture
async def sqlite_server(tmp_path):
    """A live server on SQLite only (for tests whose subject is not the database)."""
    async with server_on("sqlite", tmp_path) as server:
        yield server


@pytest.fixture
def server_factory(tmp_path):
    """`async with server_factory(backend="sqlite", setup=None, **config_overrides) as server:`."""

    def factory(backend: str = "sqlite", setup=None, **overrides):
        return server_on(backend, tmp_path, setup, **overrides)

    return factory
