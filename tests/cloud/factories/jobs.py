"""Factories for the job routes: print jobs (through the API) and dead letters (real failed work)."""

from cloud.db.executor import run_db
from cloud.queue import QueueStore
from tests.cloud.factories.resources import make_print_file


async def make_print_job(account, server) -> dict:
    print_file = await make_print_file(account, server)
    r = await account.api.post("/api/v1/jobs", json={"print_file_id": print_file["id"]})
    assert r.status == 201, r.json
    return {"id": r.json["id"]}


def _dead_letter(tenant_id: str) -> int:
    store = QueueStore()
    message_id = store.enqueue(
        "notifications",
        {"kind": "webhook", "url": "http://127.0.0.1:9/"},
        tenant_id=tenant_id,
        max_attempts=1,
        delay_ms=3_600_000,
    )
    # Lease it as if it were due (a worker of the live server must not race us for it).
    store._execute("UPDATE queue_messages SET available_at = 0 WHERE id = %s", (message_id,))
    (message,) = [
        m for m in store.lease("notifications", "factory", limit=50) if m.id == message_id
    ]
    assert store.fail(message.id, "factory", "connection refused") == "dead"
    return message_id


async def make_dead_letter(account, server) -> dict:
    return {"id": f"dl-{await run_db(server.app, _dead_letter, account.tenant_id)}"}


FACTORIES = {"print_job": make_print_job, "dead_letter": make_dead_letter}
