"""The database pool: work runs off the event loop, errors come back, and concurrent
read-then-write transactions on SQLite queue for the lock instead of failing."""

import asyncio
import threading

from cloud.db import bind_database, open_database
from cloud.db.executor import run_db, write_transaction
from cloud.db.migrate import migrate
from cloud.keys import DATABASE
from cloud.models.auth import KvEntry
from tests.conftest import sqlite_url


def test_concurrent_read_then_write_transactions_never_fail_on_sqlite(tmp_path):
    database = open_database(sqlite_url(tmp_path))
    migrate(database)
    bind_database(database)
    errors = []

    def worker(n: int):
        try:
            for i in range(25):
                with database.atomic():  # plain atomic(), as services write it
                    count = KvEntry.select().count()  # read first...
                    KvEntry.create(key=f"w{n}-{i}", value=str(count))  # ...then write
        except Exception as exc:  # collected: the assertion below names it
            errors.append(exc)
        finally:
            database.close()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert KvEntry.select().count() == 8 * 25
    with write_transaction(database):
        KvEntry.create(key="explicit", value="x")
    database.close()


async def test_run_db_runs_off_the_loop_and_returns_errors(sqlite_server):
    app = sqlite_server.app
    loop_thread = threading.get_ident()
    assert await run_db(app, threading.get_ident) != loop_thread

    def boom():
        raise LookupError("from the pool")

    try:
        await run_db(app, boom)
    except LookupError as exc:
        assert str(exc) == "from the pool"
    else:
        raise AssertionError("the error did not come back")
    # Many concurrent calls are bounded by the pool and all complete.
    results = await asyncio.gather(*(run_db(app, lambda i=i: i * 2) for i in range(100)))
    assert results == [i * 2 for i in range(100)]
    assert app[DATABASE] is not None
