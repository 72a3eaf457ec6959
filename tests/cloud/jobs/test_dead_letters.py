"""Dead letters through the API: a tenant sees and retries only its own failed work."""

from tests.cloud.factories.jobs import make_dead_letter
from tests.cloud.jobs.test_job_flow import poll


async def test_list_and_retry_dead_letters(sqlite_server):
    owner = await sqlite_server.register()
    other = await sqlite_server.register()
    viewer = await sqlite_server.member_of(owner, "viewer")
    dead = await make_dead_letter(owner, sqlite_server)
    listed = await viewer.api.get("/api/v1/queues/dead-letters", params={"queue": "notifications"})
    assert listed.status == 200
    (item,) = listed.json["items"]
    assert item["id"] == dead["id"] and item["id"].startswith("dl-")
    assert "connection refused" in item["last_error"] and item["attempts"] == 1
    assert (await other.api.get("/api/v1/queues/dead-letters")).json["items"] == []
    assert (await viewer.api.post(f"/api/v1/queues/dead-letters/{dead['id']}/retry")).status == 403
    assert (await other.api.post(f"/api/v1/queues/dead-letters/{dead['id']}/retry")).status == 404
    r = await owner.api.post(f"/api/v1/queues/dead-letters/{dead['id']}/retry")
    assert r.status == 200 and r.json == {"id": dead["id"], "status": "ready"}
    # The worker runs it again at once; the endpoint still refuses, so it is dead once more.
    again = await poll(
        lambda: owner.api.get("/api/v1/queues/dead-letters"),
        lambda r: r.json["items"] and r.json["items"][0]["updated_at"] > item["updated_at"],
    )
    assert "127.0.0.1:9" in again.json["items"][0]["last_error"]
    for bad in ("1", "dl-x", "dl-" + "9" * 30):
        assert (await owner.api.post(f"/api/v1/queues/dead-letters/{bad}/retry")).status == 404
