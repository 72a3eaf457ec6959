"""Database work off the event loop: `await run_db(app, fn, *args)` runs peewee code on a pool."""

import asyncio
import contextlib
import contextvars
import functools
import time
from concurrent.futures import ThreadPoolExecutor

import peewee
from aiohttp import web

from cloud.db import dialect
from cloud.keys import CONFIG, DATABASE, DB_EXECUTOR, METRICS


def setup(app: web.Application) -> None:
    """Create the bounded pool at start-up and close it (and the connections) at shutdown."""

    async def lifecycle(app: web.Application):
        size = app[CONFIG].db_threads
        app[DB_EXECUTOR] = ThreadPoolExecutor(max_workers=size, thread_name_prefix="db")
        yield
        executor = app[DB_EXECUTOR]
        database = app[DATABASE]
        # Close each worker thread's connection in that thread, then the pool itself.
        await asyncio.gather(
            *(
                asyncio.get_running_loop().run_in_executor(executor, _close_connection, database)
                for _ in range(size)
            ),
            return_exceptions=True,
        )
        executor.shutdown(wait=True)
        if hasattr(database, "close_all"):
            database.close_all()

    app.cleanup_ctx.append(lifecycle)


def _close_connection(database: peewee.Database) -> None:
    if not database.is_closed():
        database.close()


async def run_db(app: web.Application, fn, *args, **kwargs):
    """Run `fn(*args, **kwargs)` on the database pool and return its result (or raise its error)."""
    database = app[DATABASE]
    metrics = app.get(METRICS)
    call = functools.partial(_in_thread, database, metrics, fn, args, kwargs)
    context = contextvars.copy_context()  # request id reaches log lines written in the thread
    return await asyncio.get_running_loop().run_in_executor(app[DB_EXECUTOR], context.run, call)


def _in_thread(database, metrics, fn, args, kwargs):
    database.connect(reuse_if_open=True)
    started = time.perf_counter()
    try:
        return fn(*args, **kwargs)
    except (peewee.InterfaceError, peewee.OperationalError):
        # A broken connection (server restart, pool stale) must not poison this thread forever.
        with contextlib.suppress(Exception):
            database.close()
        raise
    finally:
        if metrics is not None:
            metrics.db_seconds.observe(time.perf_counter() - started)


def write_transaction(database: peewee.Database):
    """A transaction for read-then-write work. On SQLite it takes the write lock up front
    (BEGIN IMMEDIATE) so two writers queue on busy_timeout instead of failing with 'locked'."""
    if dialect(database) == "sqlite":
        return database.atomic("IMMEDIATE")
    return database.atomic()
