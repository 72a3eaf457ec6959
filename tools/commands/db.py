"""`printfarm db`: apply and inspect database migrations."""


def register(subparsers) -> None:
    """Add the `db` group."""
    parser = subparsers.add_parser("db", help="database migrations")
    sub = parser.add_subparsers(dest="db_command", metavar="ACTION")
    sub.required = True
    for name, func, text in (
        ("migrate", _migrate, "apply pending migrations (idempotent)"),
        ("status", _status, "list migrations and whether each is applied"),
    ):
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.add_argument(
            "--database-url",
            help="sqlite:///PATH or postgresql://USER@HOST:PORT/DB "
            "(env PRINTFARM_DATABASE_URL; default a SQLite file in the data folder)",
        )
        cmd.add_argument("--data-dir", help="data folder (env PRINTFARM_DATA_DIR, default ./data)")
        cmd.set_defaults(func=func)


def _open(args):
    from cloud.db import default_database_url, open_database

    url = args.database_url or default_database_url(args.data_dir)
    return url, open_database(url)


def _migrate(args) -> int:
    from cloud.db.migrate import migrate

    url, database = _open(args)
    applied = migrate(database)
    for migration in applied:
        print(f"applied {migration.version}_{migration.name}")
    print(f"{len(applied)} migration(s) applied; database is current ({_redact(url)})")
    return 0


def _status(args) -> int:
    from cloud.db.migrate import applied_versions, discover

    url, database = _open(args)
    done = applied_versions(database)
    for migration in discover():
        state = "applied" if migration.version in done else "pending"
        print(f"{migration.version}_{migration.name}: {state}")
    return 0


def _redact(url: str) -> str:
    """Hide a password in a database URL before printing it."""
    from urllib.parse import urlparse

    parsed = urlparse(url)
    if parsed.password:
        return url.replace(f":{parsed.password}@", ":***@")
    return url
