"""Fixtures: a real aiohttp server on an ephemeral port with the real-time core on a real database."""

import asyncio
import functools
import os
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cloud.models import Printer, Tenant, TenantContext, TenantMember, User, new_id, now_ms
from cloud.realtime.broker import Broker
from cloud.realtime.runtime import Realtime, RealtimeSettings, install
from cloud.services import hubs as hubs_service

TEST_JWT_SECRET = os.urandom(32)


class AesBox:
    """AES-256-GCM box with the secretbox interface (encrypt/decrypt with a context)."""

    def __init__(self):
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))

    def encrypt(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        return (nonce + self._aead.encrypt(nonce, plaintext.encode(), context.encode())).hex()

    def decrypt(self, token: str, context: str) -> str:
        raw = bytes.fromhex(token)
        return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()


class MemoryKv:
    """kv store in memory with TTLs."""

    def __init__(self):
        self.data = {}

    async def get(self, key):
        value = self.data.get(key)
        if value is None or (value[1] is not None and value[1] < now_ms()):
            return None
        return value[0]

    async def set(self, key, value, ttl_ms=None):
        self.data[key] = (value, now_ms() + ttl_ms if ttl_ms else None)

    async def delete(self, key):
        self.data.pop(key, None)


def issue_token(user_id: str, tenant_id: str, ttl_s: int = 900) -> str:
    now = int(time.time())
    return jwt.encode(
        {"sub": user_id, "tid": tenant_id, "iat": now, "exp": now + ttl_s},
        TEST_JWT_SECRET,
        algorithm="HS256",
    )


def verify_token(token: str) -> tuple[str, str]:
    try:
        claims = jwt.decode(token, TEST_JWT_SECRET, algorithms=["HS256"])
    except jwt.PyJWTError as exc:
        raise ValueError(str(exc)) from None
    return claims["sub"], claims["tid"]


class Farm:
    """A running server plus helpers to create tenants, users, hubs and printers."""

    def __init__(self, server, realtime, database, box):
        self.server = server
        self.realtime = realtime
        self.database = database
        self.box = box

    @property
    def url(self) -> str:
        return str(self.server.make_url("/")).rstrip("/")

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    async def db(self, fn, *args):
        return await self.realtime.db(fn, *args)

    async def tenant(self, slug: str) -> tuple[TenantContext, str]:
        """A tenant with an owner user; returns (ctx, dashboard token)."""

        def create():
            now = now_ms()
            tenant = Tenant.create(
                id=new_id(), name=slug, slug=slug, created_at=now, updated_at=now
            )
            user = User.create(
                id=new_id(), email=f"{slug}@example.com", created_at=now, updated_at=now
            )
            ctx = TenantContext(tenant.id, user.id, "owner")
            TenantMember.create_scoped(ctx, user_id=user.id, role="owner")
            return ctx

        ctx = await self.db(create)
        return ctx, issue_token(ctx.user_id, ctx.tenant_id)

    async def hub(self, ctx: TenantContext | None, printers: int = 0) -> tuple[str, str, list[str]]:
        """A provisioned hub (claimed by ctx if given) with printers; (hub_id, secret, printer ids)."""

        def create():
            hub_id, secret = hubs_service.provision_hub(self.box)
            ids = []
            if ctx is not None:
                hubs_service.claim_hub(ctx, hub_id, "hub")
                for n in range(printers):
                    row = Printer.create_scoped(ctx, hub_id=hub_id, name=f"P{n}", model="P1S")
                    ids.append(row.id)
            return hub_id, secret, ids

        return await self.db(create)


@pytest.fixture
async def farm(sqlite_db):
    """The real-time core on a real SQLite database behind a real HTTP server (port 0)."""
    executor = ThreadPoolExecutor(max_workers=4, thread_name_prefix="db")

    async def run_db(fn, *args):
        def call():
            sqlite_db.connect(reuse_if_open=True)
            return fn(*args)

        return await asyncio.get_running_loop().run_in_executor(executor, functools.partial(call))

    box = AesBox()
    realtime = Realtime(
        run_db=run_db,
        database=sqlite_db,
        broker=Broker(),
        secretbox=box,
        kv=MemoryKv(),
        verify_token=verify_token,
        settings=RealtimeSettings(heartbeat_s=5, status_flush_s=0.2, dashboard_send_timeout_s=2),
    )
    app = web.Application()
    install(app, realtime)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield Farm(server, realtime, sqlite_db, box)
    finally:
        await server.close()
        executor.shutdown(wait=True)
