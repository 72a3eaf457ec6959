"""Queue operations on the queue_messages table; blocking peewee calls (run them off the loop)."""

import json
import random
from dataclasses import dataclass

import peewee

from cloud.db import database_proxy, dialect
from cloud.models.base import now_ms

# The spec's queues. Producers name one of these; anything else is a programming error.
QUEUES = ("print-events", "file-processing", "notifications", "shopify-sync")

READY, LEASED, DONE, DEAD = "ready", "leased", "done", "dead"
DEFAULT_LEASE_MS = 60_000
DEFAULT_MAX_ATTEMPTS = 8
BACKOFF_BASE_MS = 1_000
BACKOFF_CAP_MS = 15 * 60_000

_COLUMNS = (
    "id, queue, tenant_id, payload, dedupe_key, status, attempts, max_attempts, "
    "available_at, leased_until, lease_owner, last_error, created_at, updated_at, completed_at"
)


@dataclass(frozen=True)
class Message:
    """One queued message as a consumer sees it."""

    id: int
    queue: str
    tenant_id: str | None
    payload: dict
    dedupe_key: str | None
    status: str
    attempts: int
    max_attempts: int
    available_at: int
    leased_until: int | None
    lease_owner: str | None
    last_error: str | None
    created_at: int
    updated_at: int
    completed_at: int | None

    @classmethod
    def from_row(cls, row) -> "Message":
        values = list(row)
        values[3] = json.loads(values[3])
        return cls(*values)


def backoff_ms(attempts: int) -> int:
    """Delay before retry number `attempts`: exponential, capped, with full jitter."""
    ceiling = min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * (2 ** max(0, attempts - 1)))
    return ceiling // 2 + random.randint(0, ceiling // 2)


class QueueStore:
    """Enqueue, lease, ack, fail and inspect messages. Every method is one short transaction."""

    def __init__(self, database: peewee.Database | None = None):
        self.database = database or database_proxy

    # -- placeholders differ between drivers ---------------------------------------------------
    def _sql(self, text: str) -> str:
        return text if self._dialect() == "postgresql" else text.replace("%s", "?")

    def _dialect(self) -> str:
        db = self.database.obj if isinstance(self.database, peewee.DatabaseProxy) else self.database
        return dialect(db)

    def _execute(self, text: str, params=()):
        return self.database.execute_sql(self._sql(text), params)

    # -- producing ------------------------------------------------------------------------------
    def enqueue(
        self,
        queue: str,
        payload: dict,
        *,
        tenant_id: str | None = None,
        dedupe_key: str | None = None,
        delay_ms: int = 0,
        max_attempts: int = DEFAULT_MAX_ATTEMPTS,
    ) -> int | None:
        """Add a message (inside the caller's transaction if one is open, so the message and
        the state change that caused it commit together). Returns its id, or None when a
        message with the same dedupe_key already exists."""
        if queue not in QUEUES:
            raise ValueError(f"unknown queue {queue!r}; one of {', '.join(QUEUES)}")
        now = now_ms()
        body = json.dumps(payload, separators=(",", ":"), sort_keys=True)
        insert = (
            "INSERT INTO queue_messages (queue, tenant_id, payload, dedupe_key, status, attempts, "
            "max_attempts, available_at, created_at, updated_at) "
            "VALUES (%s, %s, %s, %s, 'ready', 0, %s, %s, %s, %s) "
            "ON CONFLICT (queue, dedupe_key) DO NOTHING RETURNING id"
        )
        params = (queue, tenant_id, body, dedupe_key, max_attempts, now + delay_ms, now, now)
        with self.database.atomic():
            row = self._execute(insert, params).fetchone()
        return row[0] if row else None

    # -- consuming ------------------------------------------------------------------------------
    def lease(
        self, queue: str, owner: str, limit: int = 10, lease_ms: int = DEFAULT_LEASE_MS
    ) -> list[Message]:
        """Take up to `limit` due messages for `owner`. A message whose lease ran out (its
        consumer died) is due again. On PostgreSQL, SKIP LOCKED lets many processes lease at
        once without ever handing one message to two of them; SQLite has a single writer."""
        now = now_ms()
        lock = " FOR UPDATE SKIP LOCKED" if self._dialect() == "postgresql" else ""
        query = (
            "UPDATE queue_messages SET status = 'leased', lease_owner = %s, leased_until = %s, "
            "attempts = attempts + 1, updated_at = %s "
            "WHERE id IN (SELECT id FROM queue_messages WHERE queue = %s AND "
            "((status = 'ready' AND available_at <= %s) OR (status = 'leased' AND leased_until < %s)) "
            f"ORDER BY available_at, id LIMIT %s{lock}) RETURNING {_COLUMNS}"
        )
        with self.database.atomic():
            rows = self._execute(
                query, (owner, now + lease_ms, now, queue, now, now, limit)
            ).fetchall()
        return sorted((Message.from_row(r) for r in rows), key=lambda m: (m.available_at, m.id))

    def ack(self, message_id: int, owner: str) -> bool:
        """Mark done. False when the lease was lost (another consumer may have it now)."""
        now = now_ms()
        with self.database.atomic():
            cursor = self._execute(
                "UPDATE queue_messages SET status = 'done', completed_at = %s, updated_at = %s, "
                "leased_until = NULL WHERE id = %s AND status = 'leased' AND lease_owner = %s",
                (now, now, message_id, owner),
            )
        return cursor.rowcount == 1

    def fail(
        self,
        message_id: int,
        owner: str,
        error: str,
        *,
        permanent: bool = False,
        delay_ms: int | None = None,
    ) -> str | None:
        """Record a failure: back to 'ready' after a backoff (at least `delay_ms` when the remote
        said when to come back), or 'dead' after max_attempts or at once when `permanent`.
        Returns the new status, or None when the lease was lost."""
        now = now_ms()
        with self.database.atomic():
            row = self._execute(
                "SELECT attempts, max_attempts FROM queue_messages "
                "WHERE id = %s AND status = 'leased' AND lease_owner = %s",
                (message_id, owner),
            ).fetchone()
            if row is None:
                return None
            attempts, max_attempts = row
            status = DEAD if permanent or attempts >= max_attempts else READY
            wait = max(backoff_ms(attempts), delay_ms or 0)
            self._execute(
                "UPDATE queue_messages SET status = %s, available_at = %s, leased_until = NULL, "
                "lease_owner = NULL, last_error = %s, updated_at = %s WHERE id = %s",
                (status, now + wait, error[:2000], now, message_id),
            )
        return status

    # -- inspecting and repairing -----------------------------------------------------------------
    def dead_letters(
        self, queue: str | None = None, tenant_id: str | None = None, limit: int = 100
    ) -> list[Message]:
        """Messages that exhausted their attempts, newest first (optionally one queue / tenant)."""
        where, params = ["status = 'dead'"], []
        if queue:
            where.append("queue = %s")
            params.append(queue)
        if tenant_id:
            where.append("tenant_id = %s")
            params.append(tenant_id)
        rows = self._execute(
            f"SELECT {_COLUMNS} FROM queue_messages WHERE {' AND '.join(where)} "
            "ORDER BY updated_at DESC, id DESC LIMIT %s",
            (*params, limit),
        ).fetchall()
        return [Message.from_row(r) for r in rows]

    def retry_dead(self, message_id: int, tenant_id: str | None = None) -> bool:
        """Give a dead letter a fresh set of attempts (an operator fixed the cause)."""
        now = now_ms()
        tenant_clause = " AND tenant_id = %s" if tenant_id else ""
        params = (now, now, message_id) + ((tenant_id,) if tenant_id else ())
        with self.database.atomic():
            cursor = self._execute(
                "UPDATE queue_messages SET status = 'ready', attempts = 0, available_at = %s, "
                f"updated_at = %s WHERE id = %s AND status = 'dead'{tenant_clause}",
                params,
            )
        return cursor.rowcount == 1

    def depth(self) -> dict[str, dict[str, int]]:
        """{queue: {status: count}} for metrics (done messages excluded)."""
        out: dict[str, dict[str, int]] = {q: {READY: 0, LEASED: 0, DEAD: 0} for q in QUEUES}
        for queue, status, count in self._execute(
            "SELECT queue, status, COUNT(*) FROM queue_messages WHERE status <> 'done' GROUP BY queue, status"
        ):
            out.setdefault(queue, {})[status] = count
        return out

    def purge_done(self, older_than_ms: int) -> int:
        """Delete completed messages older than the cut-off; returns how many."""
        with self.database.atomic():
            cursor = self._execute(
                "DELETE FROM queue_messages WHERE status = 'done' AND completed_at < %s",
                (now_ms() - older_than_ms,),
            )
        return cursor.rowcount
