"""Wiki (drafts hidden from viewers, content stored verbatim), automation rule validation, cameras."""

import dataclasses

import pytest

from cloud.errors import ApiError
from cloud.services import automation_rules, cameras, wiki
from cloud.storage import LocalFolderStorage


def error_of(call, *args) -> ApiError:
    with pytest.raises(ApiError) as info:
        call(*args)
    return info.value


def test_wiki_drafts_and_verbatim_content(tenants):
    a, b = tenants
    viewer = dataclasses.replace(a, role="viewer")
    hostile = "# Title\n<script>alert(1)</script>\n{{ 7*7 }} ${7*7} <img src=x onerror=alert(1)>"
    draft = wiki.create_article(a, {"slug": "bed-levelling", "title": "Bed", "content": hostile})
    assert draft["is_published"] is False and draft["created_by"] == a.user_id
    assert wiki.get_article(a, "bed-levelling")["content"] == hostile  # stored, never rendered
    assert error_of(wiki.get_article, viewer, "bed-levelling").status == 404
    assert wiki.list_articles(viewer, {})["total"] == 0
    wiki.update_article(a, "bed-levelling", {"is_published": True, "tags": ["bed", "pei"]})
    assert wiki.get_article(viewer, "bed-levelling")["tags"] == ["bed", "pei"]
    assert error_of(wiki.get_article, b, "bed-levelling").status == 404
    for body, field in (
        ({"slug": "Bad Slug", "title": "x"}, "slug"),
        ({"slug": "ok", "title": ""}, "title"),
        ({"slug": "ok", "title": "x", "tags": "bed"}, "tags"),
    ):
        assert error_of(wiki.create_article, a, body).field == field
    assert error_of(wiki.create_article, a, {"slug": "bed-levelling", "title": "x"}).status == 409
    renamed = wiki.update_article(a, "bed-levelling", {"slug": "levelling"})
    assert renamed["slug"] == "levelling"
    wiki.delete_article(a, "levelling")
    assert error_of(wiki.get_article, a, "levelling").status == 404


GOOD_RULE = {
    "name": "Collect finished prints",
    "trigger_type": "print_complete",
    "trigger_config": {"printer_ids": ["p1"]},
    "conditions": [{"field": "data.filament_type", "op": "in", "value": ["PLA", "PETG"]}],
    "actions": [
        {"type": "create_worklist_task", "title": "Collect", "task_type": "collection"},
        {"type": "notify", "message": "done"},
    ],
}


def test_automation_rules_validation(tenants):
    """The API stores what the engine's validator (docs/automation.md) accepts, nothing else."""
    a, b = tenants
    rule = automation_rules.create_rule(a, GOOD_RULE)
    assert rule["actions"][0]["type"] == "create_worklist_task" and rule["trigger_count"] == 0
    schedule = automation_rules.create_rule(
        a,
        {
            "name": "Hourly",
            "trigger_type": "schedule",
            "trigger_config": {"every_minutes": 60},
            "actions": [{"type": "send_webhook", "url": "https://example.com/hook"}],
        },
    )
    assert schedule["trigger_config"] == {"every_minutes": 60}
    bad = [
        ({"trigger_type": "print_exploded"}, "trigger_type"),
        ({"trigger_config": {"printer_ids": "p1"}}, "trigger_config.printer_ids"),
        ({"trigger_config": {"colour": 1}}, "trigger_config"),
        ({"trigger_type": "schedule", "trigger_config": {}}, "trigger_config.every_minutes"),
        ({"conditions": [{"field": "x", "op": "like", "value": 1}]}, "conditions[0].op"),
        ({"conditions": [{"field": "Bad Field", "op": "eq", "value": 1}]}, "conditions[0].field"),
        ({"conditions": [{"field": "x", "op": "in", "value": 1}]}, "conditions[0].value"),
        ({"conditions": {"field": "x"}}, "conditions"),
        ({"actions": []}, "actions"),
        ({"actions": [{"type": "launch_rocket"}]}, "actions[0].type"),
        ({"actions": [{"type": "send_webhook", "url": "ftp://x"}]}, "actions[0].url"),
        ({"actions": [{"type": "notify"}]}, "actions[0].message"),
        ({"actions": [{"type": "queue_job", "sku_id": "s", "count": 0}]}, "actions[0].count"),
        ({"actions": "notify"}, "actions"),
    ]
    for change, field in bad:
        err = error_of(automation_rules.create_rule, a, {**GOOD_RULE, **change})
        assert (err.status, err.field) == (422, field), change
    # Updates are validated against the merged rule.
    err = error_of(automation_rules.update_rule, a, rule["id"], {"trigger_type": "schedule"})
    assert err.field == "trigger_config.every_minutes"
    updated = automation_rules.update_rule(a, rule["id"], {"is_active": False})
    assert updated["is_active"] is False
    assert automation_rules.list_rules(a, {"trigger_type": "schedule"})["total"] == 1
    assert error_of(automation_rules.get_rule, b, rule["id"]).status == 404


async def body(data: bytes):
    yield data


async def test_camera_config_and_snapshots(tenants, tmp_path):
    a, b = tenants
    storage = LocalFolderStorage(tmp_path / "store")

    async def run_db(fn, *args):
        return fn(*args)

    camera = cameras.create_camera(a, {"name": "Bay 1", "stream_url": "rtsps://10.0.0.5:322/live"})
    assert camera["camera_type"] == "bambu"
    assert error_of(
        cameras.create_camera, a, {"name": "x", "stream_url": "javascript:x"}
    ).field == ("stream_url")
    with pytest.raises(ApiError) as info:
        await cameras.latest_snapshot(run_db, storage, a, camera["id"])
    assert info.value.status == 404
    jpeg = b"\xff\xd8\xff\xe0" + b"\x00" * 100
    stored = await cameras.store_snapshot(run_db, storage, a, camera["id"], body(jpeg))
    assert stored["last_snapshot_at"] is not None
    key, _ = await cameras.latest_snapshot(run_db, storage, a, camera["id"])
    assert (
        key.startswith(f"{a.tenant_id}/camera-snapshots/") and await storage.read_bytes(key) == jpeg
    )
    with pytest.raises(ApiError) as info:
        await cameras.store_snapshot(run_db, storage, a, camera["id"], body(b"GIF89a"))
    assert (info.value.status, info.value.field) == (422, "body")
    assert await storage.read_bytes(key) == jpeg  # the bad upload replaced nothing
    with pytest.raises(ApiError) as info:
        await cameras.store_snapshot(run_db, storage, b, camera["id"], body(jpeg))
    assert info.value.status == 404
    with pytest.raises(ApiError) as info:
        big = jpeg + b"\x00" * cameras.MAX_SNAPSHOT_BYTES
        await cameras.store_snapshot(run_db, storage, a, camera["id"], body(big))
    assert info.value.status == 413
    await storage.close()
