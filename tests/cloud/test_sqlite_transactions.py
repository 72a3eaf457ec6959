"""SQLite transactions that read then write must not fail with "database is locked" when another
connection commits in between (seen live: hub command acks racing status writes)."""

import threading

from cloud.db import open_database
from tests.conftest import sqlite_url


def test_read_then_write_transaction_survives_a_concurrent_commit(tmp_path):
    database = open_database(sqlite_url(tmp_path))
    database.execute_sql("CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER)")
    database.execute_sql("INSERT INTO counters VALUES ('a', 0), ('b', 0)")
    database.close()
    read_done = threading.Event()
    other_done = threading.Event()
    errors = []

    def reader_writer():
        try:
            with database.atomic():
                database.execute_sql("SELECT value FROM counters WHERE name = 'a'").fetchone()
                read_done.set()
                # Give the other connection its chance to commit first (it cannot, with the
                # write lock taken up front; then this wait simply ends).
                other_done.wait(0.5)
                database.execute_sql("UPDATE counters SET value = value + 1 WHERE name = 'a'")
        except Exception as e:  # the failure under test
            errors.append(e)
        finally:
            database.close()

    def other_writer():
        read_done.wait(10)
        try:
            database.execute_sql("UPDATE counters SET value = value + 1 WHERE name = 'b'")
        except Exception as e:
            errors.append(e)
        finally:
            other_done.set()
            database.close()

    threads = [threading.Thread(target=reader_writer), threading.Thread(target=other_writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    rows = dict(database.execute_sql("SELECT name, value FROM counters").fetchall())
    assert rows == {"a": 1, "b": 1}
