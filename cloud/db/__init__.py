"""Database connection: one peewee database chosen by URL (SQLite file or PostgreSQL)."""

import os
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import peewee
from playhouse.pool import PooledPostgresqlDatabase

# Bound once at start-up by `bind_database`; every model's Meta.database points here.
database_proxy = peewee.DatabaseProxy()

DEFAULT_DATA_DIR = "data"
SQLITE_FILE_NAME = "printfarm.sqlite3"

# SQLite settings for a service: WAL so readers never block the writer, foreign keys enforced
# (the spec relies on ON DELETE rules), and a busy timeout instead of immediate "locked" errors.
SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    "synchronous": "normal",
    "busy_timeout": 5000,
    "cache_size": -16000,
}


def data_dir(explicit: str | None = None) -> Path:
    """The data folder: the flag, else PRINTFARM_DATA_DIR, else ./data."""
    return Path(explicit or os.environ.get("PRINTFARM_DATA_DIR") or DEFAULT_DATA_DIR)


def default_database_url(data_folder: str | os.PathLike | None = None) -> str:
    """PRINTFARM_DATABASE_URL, else a SQLite file inside the data folder."""
    env = os.environ.get("PRINTFARM_DATABASE_URL")
    if env:
        return env
    return "sqlite:///" + str((data_dir(data_folder) / SQLITE_FILE_NAME).resolve())


def open_database(url: str) -> peewee.Database:
    """Open (lazily connect) a database for `sqlite:///path` or `postgresql://…` URLs."""
    parsed = urlparse(url)
    scheme = parsed.scheme.split("+")[0]
    if scheme == "sqlite":
        path = unquote(parsed.path)
        if path.startswith("//"):  # sqlite:////abs/path
            path = path[1:]
        elif path.startswith("/") and parsed.netloc == "":
            path = path if path != "/:memory:" else ":memory:"
        if path not in (":memory:", "") and not path.startswith("file:"):
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        # Transactions take the write lock when they begin (BEGIN IMMEDIATE). A deferred one
        # that reads, then writes, fails at once with "database is locked" when another writer
        # committed in between (WAL cannot upgrade it, busy_timeout does not apply); an
        # immediate one waits its turn on busy_timeout instead.
        return peewee.SqliteDatabase(
            path or ":memory:", pragmas=SQLITE_PRAGMAS, lock_type="IMMEDIATE"
        )
    if scheme in ("postgres", "postgresql"):
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        return PooledPostgresqlDatabase(
            (parsed.path or "/").lstrip("/") or "postgres",
            user=unquote(parsed.username) if parsed.username else None,
            password=unquote(parsed.password) if parsed.password else None,
            host=parsed.hostname or "127.0.0.1",
            port=parsed.port or 5432,
            max_connections=int(options.pop("max_connections", 20)),
            stale_timeout=300,
            **options,
        )
    raise ValueError(
        f"unsupported database URL scheme {parsed.scheme!r} (use sqlite:/// or postgresql://)"
    )


def dialect(database: peewee.Database) -> str:
    """'sqlite' or 'postgresql' for an opened database."""
    return "postgresql" if isinstance(database, peewee.PostgresqlDatabase) else "sqlite"


def bind_database(database: peewee.Database) -> peewee.Database:
    """Point every model at `database` (call once at start-up or per test)."""
    database_proxy.initialize(database)
    return database
