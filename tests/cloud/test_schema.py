"""The migrated schema is the spec's, column for column, on SQLite and on PostgreSQL."""

import sqlite3
from pathlib import Path

import pytest

from cloud.db import open_database
from cloud.db.introspect import schema_of
from cloud.db.migrate import discover, migrate, split_statements, translate_to_postgresql
from cloud.models import ALL_MODELS
from tests.conftest import postgres_database, sqlite_url

SPEC = Path(__file__).resolve().parents[2] / "docs" / "spec" / "printfarm-cloud-architecture.md"


def spec_schema_sql() -> str:
    """The SQL block under the spec's 'Complete Database Schema' heading, verbatim."""
    text = SPEC.read_text(encoding="utf-8")
    section = text[text.index("## Complete Database Schema") :]
    return section.split("```sql\n", 1)[1].split("```", 1)[0]


@pytest.fixture(scope="module")
def reference():
    """The spec's schema, executed as written on SQLite and read back."""
    connection = sqlite3.connect(":memory:")
    connection.executescript(spec_schema_sql())
    database = open_database("sqlite:///:memory:")
    database._state.conn = connection  # read the connection the spec ran on
    database._state.closed = False
    schema = schema_of(database)
    assert len(schema) == 22
    return schema


def strip_identity(schema: dict) -> dict:
    for table in schema.values():
        for column in table["columns"].values():
            column.pop("identity", None)
    return schema


def test_sqlite_schema_is_the_spec(tmp_path, reference):
    database = open_database(sqlite_url(tmp_path))
    migrate(database)
    actual = schema_of(database)
    for table, expected in reference.items():
        assert actual[table] == expected, table
    assert database.execute_sql("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert database.execute_sql("PRAGMA foreign_keys").fetchone()[0] == 1


@pytest.mark.postgres
def test_postgresql_schema_is_the_spec(reference):
    with postgres_database() as url:
        database = open_database(url)
        migrate(database)
        actual = schema_of(database)
        # AUTOINCREMENT's counterpart: an identity column, the only PostgreSQL-specific trait.
        assert actual["sync_logs"]["columns"]["id"]["identity"] is True
        actual = strip_identity(actual)
        for table, expected in reference.items():
            assert actual[table] == expected, table
        database.close_all()


@pytest.mark.postgres
def test_every_migration_is_equivalent_on_both_dialects(tmp_path):
    lite = open_database(sqlite_url(tmp_path))
    migrate(lite)
    with postgres_database() as url:
        pg = open_database(url)
        migrate(pg)
        assert strip_identity(schema_of(pg)) == strip_identity(schema_of(lite))
        pg.close_all()


def test_migrate_is_idempotent_and_recorded(tmp_path):
    database = open_database(sqlite_url(tmp_path))
    first = migrate(database)
    assert [m.version for m in first] == [m.version for m in discover()]
    assert migrate(database) == []
    versions = [r[0] for r in database.execute_sql("SELECT version FROM schema_migrations")]
    assert sorted(versions) == [m.version for m in discover()]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_failed_migration_rolls_back_whole_file(tmp_path, backend):
    folder = tmp_path / "migrations"
    folder.mkdir()
    (folder / "0001_good.sql").write_text("CREATE TABLE a (id TEXT PRIMARY KEY);\n")
    (folder / "0002_bad.sql").write_text(
        "CREATE TABLE b (id TEXT PRIMARY KEY);\nINSERT INTO missing_table VALUES (1);\n"
    )

    def run(url):
        database = open_database(url)
        with pytest.raises(Exception):  # noqa: B017 - either driver's error type
            migrate(database, folder)
        tables = set(schema_of(database))
        versions = {r[0] for r in database.execute_sql("SELECT version FROM schema_migrations")}
        assert tables == {"a"}
        assert versions == {"0001"}
        (folder / "0002_bad.sql").write_text("CREATE TABLE b (id TEXT PRIMARY KEY);\n")
        assert [m.version for m in migrate(database, folder)] == ["0002"]
        database.close()

    if backend == "sqlite":
        run(sqlite_url(tmp_path))
    else:
        with postgres_database() as url:
            run(url)


def test_models_match_tables_column_for_column(tmp_path):
    database = open_database(sqlite_url(tmp_path))
    migrate(database)
    schema = schema_of(database)
    for model in ALL_MODELS:
        table = schema[model._meta.table_name]
        fields = model._meta.columns
        assert set(fields) == set(table["columns"]), model.__name__
        for name, field in fields.items():
            column = table["columns"][name]
            if name not in table["primary_key"]:
                assert field.null == (not column["not_null"]), f"{model.__name__}.{name}"


def test_statement_splitter_ignores_comments_and_strings():
    sql = "CREATE TABLE t (a TEXT DEFAULT 'x;y'); -- a; comment\nINSERT INTO t VALUES ('z');"
    assert split_statements(sql) == [
        "CREATE TABLE t (a TEXT DEFAULT 'x;y')",
        "INSERT INTO t VALUES ('z')",
    ]


def test_postgresql_translation_keeps_comments_and_literals():
    sql = "x INTEGER DEFAULT 0, -- INTEGER note\ny REAL, z TEXT DEFAULT 'INTEGER'"
    translated = translate_to_postgresql(sql)
    assert "x BIGINT DEFAULT 0, -- INTEGER note" in translated
    assert "y DOUBLE PRECISION" in translated
    assert "z TEXT DEFAULT 'INTEGER'" in translated
    assert translate_to_postgresql("a INTEGER PRIMARY KEY AUTOINCREMENT").startswith(
        "a BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY"
    )
