"""Shared fixtures: databases on SQLite and PostgreSQL (real servers, unique names per test)."""

import contextlib
import os
import uuid

import peewee
import pytest

from cloud.db import bind_database, open_database
from cloud.db.migrate import migrate

PG_ADMIN_URL = os.environ.get("PRINTFARM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


@contextlib.contextmanager
def postgres_database(prefix: str = "pf_test"):
    """Create an empty PostgreSQL database with a unique name; drop it afterwards. Yields its URL."""
    admin = open_database(PG_ADMIN_URL)
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    admin.connect()
    try:
        admin.execute_sql(f'CREATE DATABASE "{name}"')
    finally:
        admin.close()
    try:
        yield f"{base}/{name}"
    finally:
        admin.connect()
        try:
            admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            admin.close()


def sqlite_url(folder) -> str:
    """URL of a fresh SQLite file inside `folder`."""
    return f"sqlite:///{folder}/printfarm-{uuid.uuid4().hex[:8]}.sqlite3"


@pytest.fixture
def sqlite_db(tmp_path) -> peewee.Database:
    """A migrated SQLite database bound to the models."""
    database = open_database(sqlite_url(tmp_path))
    migrate(database)
    bind_database(database)
    yield database
    database.close()


@pytest.fixture
def postgresql_db() -> peewee.Database:
    """A migrated PostgreSQL database bound to the models."""
    with postgres_database() as url:
        database = open_database(url)
        migrate(database)
        bind_database(database)
        yield database
        database.close_all()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request):
    """The same test once on SQLite and once on PostgreSQL."""
    yield request.getfixturevalue(f"{request.param}_db")
