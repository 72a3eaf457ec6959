"""Durable queue: at-least-once, retries with backoff, dead letters, no double lease."""

import asyncio
import threading

import pytest

from cloud.db import bind_database, open_database
from cloud.queue import QueueStore, QueueWorker
from cloud.queue import store as store_module
from tests.conftest import postgres_database


def test_enqueue_lease_ack(any_db):
    store = QueueStore()
    first = store.enqueue("print-events", {"job_id": "j1"})
    second = store.enqueue("print-events", {"job_id": "j2"})
    leased = store.lease("print-events", "w1", limit=10)
    assert [m.id for m in leased] == [first, second]
    assert leased[0].payload == {"job_id": "j1"} and leased[0].attempts == 1
    assert store.lease("print-events", "w2") == []  # leased messages are not handed out twice
    assert store.ack(first, "w1") is True
    assert store.ack(first, "w1") is False  # already done
    assert store.ack(second, "someone-else") is False  # not the lease owner
    assert store.depth()["print-events"]["leased"] == 1


def test_unknown_queue_is_refused(any_db):
    with pytest.raises(ValueError, match="unknown queue"):
        QueueStore().enqueue("print-event", {})


def test_dedupe_key_makes_enqueue_idempotent(any_db):
    store = QueueStore()
    assert store.enqueue("shopify-sync", {"order": 1}, dedupe_key="order-1") is not None
    assert store.enqueue("shopify-sync", {"order": 1}, dedupe_key="order-1") is None
    assert len(store.lease("shopify-sync", "w")) == 1


def test_expired_lease_is_redelivered(any_db):
    store = QueueStore()
    message_id = store.enqueue("notifications", {"n": 1})
    assert store.lease("notifications", "crashed", lease_ms=-1)  # lease already run out
    again = store.lease("notifications", "w2")
    assert [m.id for m in again] == [message_id] and again[0].attempts == 2
    assert store.ack(message_id, "crashed") is False  # the dead consumer lost it
    assert store.ack(message_id, "w2") is True


def test_failures_back_off_then_dead_letter_then_retry(any_db, monkeypatch):
    monkeypatch.setattr(store_module, "backoff_ms", lambda attempts: -1)  # due immediately
    store = QueueStore()
    message_id = store.enqueue("file-processing", {"f": 1}, max_attempts=3)
    for expected in ("ready", "ready", "dead"):
        (message,) = store.lease("file-processing", "w")
        assert store.fail(message.id, "w", "boom") == expected
    assert store.lease("file-processing", "w") == []
    dead = store.dead_letters("file-processing")
    assert [m.id for m in dead] == [message_id] and dead[0].last_error == "boom"
    assert store.retry_dead(message_id) is True
    assert [m.id for m in store.lease("file-processing", "w")] == [message_id]


def test_backoff_grows_and_is_capped():
    assert 500 <= store_module.backoff_ms(1) <= 1000
    assert 4000 <= store_module.backoff_ms(4) <= 8000
    assert store_module.backoff_ms(50) <= store_module.BACKOFF_CAP_MS


async def test_worker_processes_and_survives_handler_errors(any_db, monkeypatch):
    monkeypatch.setattr(store_module, "backoff_ms", lambda attempts: -1)
    store = QueueStore()
    seen = []

    async def handler(message):
        seen.append(message.payload["n"])
        if message.payload["n"] == 2 and message.attempts == 1:
            raise RuntimeError("transient")

    for n in (1, 2, 3):
        store.enqueue("print-events", {"n": n})

    async def run_inline(fn, *args):  # SQLite in-test: same thread keeps one connection
        return fn(*args)

    worker = QueueWorker("print-events", handler, store=store, run_db=run_inline)
    assert await worker.drain() == 4  # 1, 2 (fails), 3, then 2 again
    assert sorted(seen) == [1, 2, 2, 3]
    assert worker.failed == 1 and worker.processed == 3
    assert store.depth()["print-events"] == {"ready": 0, "leased": 0, "dead": 0}


@pytest.mark.postgres
def test_concurrent_consumers_never_share_a_message():
    """Four threads with their own PostgreSQL connections lease from one queue at once."""
    with postgres_database() as url:
        database = open_database(url)
        from cloud.db.migrate import migrate

        migrate(database)
        bind_database(database)
        store = QueueStore(database)
        total = 400
        for n in range(total):
            store.enqueue("print-events", {"n": n})
        taken: list[list[int]] = [[] for _ in range(4)]
        start = threading.Barrier(4)

        def consume(slot):
            start.wait()
            while batch := store.lease("print-events", f"w{slot}", limit=7):
                for message in batch:
                    taken[slot].append(message.payload["n"])
                    assert store.ack(message.id, f"w{slot}")
            database.close()

        threads = [threading.Thread(target=consume, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        everything = [n for part in taken for n in part]
        assert sorted(everything) == list(range(total))  # each exactly once
        assert sum(1 for part in taken if part) >= 2  # really concurrent
        database.close_all()


def test_worker_wakes_on_notify(sqlite_db):
    async def scenario():
        store = QueueStore()
        done = asyncio.Event()

        async def handler(message):
            done.set()

        async def run_inline(fn, *args):
            return fn(*args)

        worker = QueueWorker(
            "notifications", handler, store=store, run_db=run_inline, poll_interval=30
        )
        worker.start()
        await asyncio.sleep(0)
        store.enqueue("notifications", {"x": 1})
        worker.notify()
        await asyncio.wait_for(done.wait(), 10)  # failure guard: the 30 s poll would not fire
        await worker.stop()

    asyncio.run(scenario())
