"""Exactly-once effects on top of at-least-once delivery: a ledger of applied effect keys."""

import peewee

from cloud.db import database_proxy, dialect
from cloud.models.base import now_ms


def claim_effect(effect_key: str, tenant_id: str | None) -> bool:
    """Record `effect_key` inside the caller's transaction; False if it was applied before."""
    db = database_proxy.obj if isinstance(database_proxy, peewee.DatabaseProxy) else database_proxy
    mark = "%s" if dialect(db) == "postgresql" else "?"
    cursor = database_proxy.execute_sql(
        f"INSERT INTO applied_effects (effect_key, tenant_id, created_at) VALUES ({mark}, {mark}, {mark}) "
        "ON CONFLICT (effect_key) DO NOTHING",
        (effect_key, tenant_id, now_ms()),
    )
    return cursor.rowcount == 1
