"""The cloud application: `create_app(config)` wires every module explicitly; `serve` runs it."""

import asyncio
import logging
import signal

from aiohttp import web

from cloud import kv, metrics
from cloud.api import (
    analytics,
    assembly,
    auth,
    automation,
    cameras,
    colors,
    downloads,
    files,
    health,
    hubs,
    integrations,
    inventory,
    jobs,
    members,
    openapi,
    orders,
    plates,
    printers,
    products,
    skus,
    tenants,
    wiki,
    worklist,
)
from cloud.config import Config
from cloud.db import bind_database, open_database
from cloud.db import executor as db_executor
from cloud.db.executor import run_db
from cloud.db.migrate import migrate
from cloud.errors import error_middleware
from cloud.keys import CONFIG, DATABASE, KV, METRICS, PASSWORDS, RATE_LIMITER, SECRETBOX, TOKENS
from cloud.logging import request_id_middleware
from cloud.realtime import runtime as realtime_runtime
from cloud.security.passwords import PasswordHasher
from cloud.security.secretbox import SecretBox
from cloud.security.tokens import AccessTokens
from cloud.services.ratelimit import RateLimiter
from cloud.workers import runtime as workers_runtime

log = logging.getLogger("cloud.app")


def create_app(config: Config, *, run_migrations: bool = True) -> web.Application:
    """Build the application for `config` (nothing connects until it starts)."""
    app = web.Application(
        middlewares=[request_id_middleware, metrics.metrics_middleware, error_middleware],
        client_max_size=config.max_body_bytes,
    )
    app[CONFIG] = config
    database = open_database(config.database_url)
    bind_database(database)  # models reach the database through one proxy
    app[DATABASE] = database
    app[TOKENS] = AccessTokens(config.secret("jwt_secret"), config.access_token_ttl_ms)
    app[PASSWORDS] = PasswordHasher(config.argon2)
    app[SECRETBOX] = SecretBox(config.secret("secretbox_key"))

    # Order matters: the pool first (everything else uses it), then the schema, then kv.
    metrics.setup(app)
    db_executor.setup(app)
    if run_migrations:
        app.cleanup_ctx.append(_migrations)
    kv.setup(app)
    app.cleanup_ctx.append(_rate_limiter)

    # Routes: one setup line per API module (others add theirs here).
    health.setup(app)
    auth.setup(app)
    tenants.setup(app)
    members.setup(app)
    printers.setup(app)
    downloads.setup(app)
    files.setup(app)
    products.setup(app)
    skus.setup(app)
    inventory.setup(app)
    orders.setup(app)
    worklist.setup(app)
    assembly.setup(app)
    colors.setup(app)
    plates.setup(app)
    wiki.setup(app)
    cameras.setup(app)
    automation.setup(app)
    analytics.setup(app)
    integrations.setup(app)
    realtime_runtime.setup(app)
    workers_runtime.setup(app)  # after realtime: it broadcasts through it
    hubs.setup(app)
    jobs.setup(app)
    openapi.setup(app)  # last: documents every operation registered above
    return app


async def _migrations(app: web.Application):
    applied = await run_db(app, migrate, app[DATABASE])
    for migration in applied:
        log.info("applied migration %s_%s", migration.version, migration.name)
    yield


async def _rate_limiter(app: web.Application):
    app[RATE_LIMITER] = RateLimiter(app[KV], app[CONFIG].rate_limits, app[METRICS])
    yield


async def serve(config: Config, ready: asyncio.Event | None = None) -> None:
    """Run until SIGTERM/SIGINT, then shut down gracefully (in-flight requests finish)."""
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=config.shutdown_timeout_s)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    port = runner.addresses[0][1] if runner.addresses else config.port
    workers_runtime.bound_to(app, config.host, port)
    log.info(
        "listening",
        extra={"host": config.host, "port": port, "url": f"http://{config.host}:{port}"},
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()
        log.info("stopped")
