"""Fixtures: a real aiohttp server on an ephemeral port with the real-time core on a real database."""

import functools
import os
from concurrent.futures import ThreadPoolExecutor

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from cloud.db.executor import run_db
from cloud.keys import DATABASE, DB_EXECUTOR
from cloud.kv import DatabaseKeyValueStore
from cloud.models import Printer, Tenant, TenantContext, TenantMember, User, new_id, now_ms
from cloud.realtime.broker import Broker
from cloud.realtime.runtime import Realtime, RealtimeSettings, install
from cloud.security.secretbox import SecretBox
from cloud.security.tokens import AccessTokens
from cloud.services import hubs as hubs_service


class Farm:
    """A running server plus helpers to create tenants, users, hubs and printers."""

    def __init__(self, server, realtime, database, box, tokens):
        self.server = server
        self.realtime = realtime
        self.database = database
        self.box = box
        self.tokens = tokens

    def issue_token(self, user_id: str, tenant_id: str) -> str:
        """A real access token (restcore's AccessTokens)."""
        return self.tokens.issue(user_id, tenant_id)[0]

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
        return ctx, self.issue_token(ctx.user_id, ctx.tenant_id)

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
async def farm(any_db):
    """The real-time core behind a real HTTP server (port 0), on SQLite and on PostgreSQL, with
    the real secret box, access tokens, kv store and database pool."""
    app = web.Application()
    app[DATABASE] = any_db
    app[DB_EXECUTOR] = ThreadPoolExecutor(max_workers=4, thread_name_prefix="db")
    box = SecretBox(os.urandom(32))
    tokens = AccessTokens(os.urandom(32), 15 * 60 * 1000)

    def verify(token: str) -> tuple[str, str]:
        claims = tokens.verify(token)
        return claims.user_id, claims.tenant_id

    realtime = Realtime(
        run_db=functools.partial(run_db, app),
        database=any_db,
        broker=Broker(),
        secretbox=box,
        kv=DatabaseKeyValueStore(app),
        verify_token=verify,
        settings=RealtimeSettings(
            heartbeat_s=5, status_flush_s=0.2, dashboard_send_timeout_s=2, tune_gc=False
        ),
    )
    install(app, realtime)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    try:
        yield Farm(server, realtime, any_db, box, tokens)
    finally:
        await server.close()
        app[DB_EXECUTOR].shutdown(wait=True)
