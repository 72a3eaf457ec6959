"""Read a live database's schema into one dialect-neutral shape, so SQLite and PostgreSQL compare."""

import re

import peewee

from cloud.db import dialect

# The translation rules of cloud.db.migrate, read backwards.
_PG_TYPES = {"text": "TEXT", "bigint": "INTEGER", "double precision": "REAL", "bytea": "BLOB"}
_PG_ON_DELETE = {
    "a": "NO ACTION",
    "r": "RESTRICT",
    "c": "CASCADE",
    "n": "SET NULL",
    "d": "SET DEFAULT",
}


def schema_of(database: peewee.Database, skip=("schema_migrations",)) -> dict:
    """{table: {columns, primary_key, uniques, foreign_keys, indexes}} for every user table."""
    reader = _postgres if dialect(database) == "postgresql" else _sqlite
    return {name: info for name, info in reader(database).items() if name not in skip}


def _normalise_default(value):
    if value is None:
        return None
    text = str(value)
    text = re.sub(r"::[a-z ]+$", "", text)  # PostgreSQL casts: 'free'::text
    return text.strip()


def _sqlite(database) -> dict:
    out = {}
    tables = [
        r[0]
        for r in database.execute_sql(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
        )
    ]
    for table in tables:
        columns, pk = {}, []
        for _cid, name, col_type, notnull, default, pk_pos in database.execute_sql(
            f'PRAGMA table_info("{table}")'
        ):
            columns[name] = {
                "type": col_type.upper(),
                "not_null": bool(notnull) or pk_pos > 0,
                "default": _normalise_default(default),
            }
            if pk_pos:
                pk.append((pk_pos, name))
        uniques, indexes = set(), {}
        for _seq, index_name, unique, origin, _partial in database.execute_sql(
            f'PRAGMA index_list("{table}")'
        ):
            cols = tuple(r[2] for r in database.execute_sql(f'PRAGMA index_info("{index_name}")'))
            if origin == "u":
                uniques.add(cols)
            elif origin == "c":
                indexes[index_name] = {"columns": cols, "unique": bool(unique)}
        fks = {}
        for row in database.execute_sql(f'PRAGMA foreign_key_list("{table}")'):
            fk_id, _seq, ref_table, from_col, to_col, _on_update, on_delete = row[:7]
            entry = fks.setdefault(
                fk_id,
                {"columns": [], "ref_table": ref_table, "ref_columns": [], "on_delete": on_delete},
            )
            entry["columns"].append(from_col)
            entry["ref_columns"].append(to_col)
        out[table] = {
            "columns": columns,
            "primary_key": tuple(name for _pos, name in sorted(pk)),
            "uniques": uniques,
            "foreign_keys": {
                (tuple(f["columns"]), f["ref_table"], tuple(f["ref_columns"]), f["on_delete"])
                for f in fks.values()
            },
            "indexes": indexes,
        }
    return out


def _postgres(database) -> dict:
    out = {}
    tables = [
        r[0]
        for r in database.execute_sql(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
    ]
    for table in tables:
        columns = {}
        for name, data_type, nullable, default, identity in database.execute_sql(
            "SELECT column_name, data_type, is_nullable, column_default, is_identity "
            "FROM information_schema.columns WHERE table_schema = current_schema() "
            "AND table_name = %s ORDER BY ordinal_position",
            (table,),
        ):
            columns[name] = {
                "type": _PG_TYPES.get(data_type, data_type.upper()),
                "not_null": nullable == "NO",
                "default": _normalise_default(default),
                "identity": identity == "YES",
            }
        constraints = database.execute_sql(
            "SELECT c.contype, c.confdeltype, "
            "ARRAY(SELECT a.attname FROM unnest(c.conkey) WITH ORDINALITY k(n, i) "
            "      JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.n ORDER BY k.i), "
            "cf.relname, "
            "ARRAY(SELECT a.attname FROM unnest(c.confkey) WITH ORDINALITY k(n, i) "
            "      JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.n ORDER BY k.i) "
            "FROM pg_constraint c JOIN pg_class t ON t.oid = c.conrelid "
            "LEFT JOIN pg_class cf ON cf.oid = c.confrelid "
            "WHERE t.relname = %s AND t.relnamespace = current_schema()::regnamespace",
            (table,),
        ).fetchall()
        pk, uniques, fks = (), set(), set()
        for contype, deltype, cols, ref_table, ref_cols in constraints:
            if contype == "p":
                pk = tuple(cols)
            elif contype == "u":
                uniques.add(tuple(cols))
            elif contype == "f":
                fks.add((tuple(cols), ref_table, tuple(ref_cols), _PG_ON_DELETE[deltype]))
        indexes = {}
        for index_name, unique, cols in database.execute_sql(
            "SELECT i.relname, x.indisunique, "
            "ARRAY(SELECT a.attname FROM unnest(x.indkey) WITH ORDINALITY k(n, o) "
            "      JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.n ORDER BY k.o) "
            "FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "JOIN pg_class t ON t.oid = x.indrelid "
            "WHERE t.relname = %s AND t.relnamespace = current_schema()::regnamespace "
            "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)",
            (table,),
        ):
            indexes[index_name] = {"columns": tuple(cols), "unique": unique}
        out[table] = {
            "columns": columns,
            "primary_key": pk,
            "uniques": uniques,
            "foreign_keys": fks,
            "indexes": indexes,
        }
    return out
