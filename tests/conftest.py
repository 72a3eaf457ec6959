"""Shared fixtures: databases on SQLite and PostgreSQL (real servers, unique names per test)."""

import contextlib
import hashlib
import os
import uuid

import peewee
import pytest

from cloud.db import bind_database, open_database
from cloud.db.migrate import discover, migrate

PG_ADMIN_URL = os.environ.get("PRINTFARM_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


_template: dict[str, str] = {}


def _admin():
    return open_database(PG_ADMIN_URL)


def _migrated_template() -> str:
    """Name of a database migrated once per test process; tests clone it (much faster than
    migrating each time). Its name carries the migrations' digest, so a changed file rebuilds it."""
    if "name" not in _template:
        digest = hashlib.sha1(b"".join(m.path.read_bytes() for m in discover())).hexdigest()[:10]
        name = f"pf_tmpl_{os.getpid()}_{digest}"
        admin = _admin()
        admin.connect()
        try:
            admin.execute_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            admin.execute_sql(f'CREATE DATABASE "{name}"')
        finally:
            admin.close()
        database = open_database(f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}")
        migrate(database)
        database.close_all()
        _template["name"] = name
    return _template["name"]


@pytest.fixture(scope="session", autouse=True)
def _drop_postgres_template():
    """Drop this process's template database at the end of the session."""
    yield
    if "name" in _template:
        admin = _admin()
        admin.connect()
        try:
            admin.execute_sql(f'DROP DATABASE IF EXISTS "{_template.pop("name")}" WITH (FORCE)')
        finally:
            admin.close()


@contextlib.contextmanager
def postgres_database(prefix: str = "pf_test", migrated: bool = False):
    """Create a PostgreSQL database with a unique name (empty, or already migrated when
    `migrated`); drop it afterwards. Yields its URL."""
    template = f' TEMPLATE "{_migrated_template()}"' if migrated else ""
    admin = _admin()
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    admin.connect()
    try:
        admin.execute_sql(f'CREATE DATABASE "{name}"{template}')
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
    with postgres_database(migrated=True) as url:
        database = open_database(url)
        bind_database(database)
        yield database
        database.close_all()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request):
    """The same test once on SQLite and once on PostgreSQL."""
    yield request.getfixturevalue(f"{request.param}_db")
