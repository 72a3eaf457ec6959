"""file-processing: a real 3MF from hub_sim re-read from storage into its print file, once."""

import functools
import hashlib

import aiohttp
import pytest

from cloud.db.executor import run_db
from cloud.keys import STORAGE
from cloud.models import PrintFile, TenantContext
from cloud.models.file_details import PrintFileDetail, PrintFilePlate
from cloud.queue import QueueStore, QueueWorker
from cloud.services import file_processing
from cloud.storage import LocalFolderStorage, print_file_key
from cloud.threemf import PNG_SIGNATURE
from cloud.workers.file_processing import make_handler
from hub_sim.threemf import write_3mf
from tests.cloud import model_factories as f
from tests.cloud.workers.conftest import run_inline


async def _chunks(data: bytes):
    yield data


@pytest.fixture
async def farm(any_db, tmp_path):
    """A tenant, local storage, and a file-processing worker over them."""
    storage = LocalFolderStorage(tmp_path / "storage")
    worker = QueueWorker("file-processing", make_handler(run_inline, storage), run_db=run_inline)
    yield f.tenant(), storage, worker
    await storage.close()


async def _bare_file(ctx, storage, data: bytes, name="bracket.3mf") -> PrintFile:
    """A print file recorded without any 3MF metadata (as before details existed)."""
    row = PrintFile.create_scoped(
        ctx, name=name, file_key="pending", printer_model_id=None, number_of_units=1
    )
    key = print_file_key(ctx.tenant_id, row.id)
    await storage.put(key, _chunks(data), max_bytes=len(data))
    PrintFile.update_scoped(ctx, file_key=key).where(PrintFile.id == row.id).execute()
    return row


def _plates(ctx, file_id):
    query = PrintFilePlate.scoped(ctx).where(PrintFilePlate.print_file_id == file_id)
    return sorted((p.plate_index, p.gcode_md5, p.layer_count) for p in query)


async def test_missing_details_are_extracted_once(farm, tmp_path):
    ctx, storage, worker = farm
    info = write_3mf(
        tmp_path / "b.3mf", printer_model="X1C", plate_count=2, layers=40, filament_type="PETG"
    )
    data = info.path.read_bytes()
    row = await _bare_file(ctx, storage, data)

    assert file_processing.enqueue_missing_details() == 1
    assert file_processing.enqueue_missing_details() == 0  # already queued
    assert await worker.drain() == 1

    updated = PrintFile.get_scoped(ctx, row.id)
    assert updated.printer_model_id == "BL-P001" and updated.filament_type == "PETG"
    assert updated.file_size_bytes == len(data) and updated.print_time_seconds
    assert updated.thumbnail_url == f"/api/v1/files/{row.id}/thumbnail"
    detail = PrintFileDetail.scoped(ctx).where(PrintFileDetail.print_file_id == row.id).get()
    assert detail.sha256 == hashlib.sha256(data).hexdigest() and detail.plate_count == 2
    assert detail.md5 == hashlib.md5(data).hexdigest() == info.md5
    thumbnail = await storage.read_bytes(detail.thumbnail_key)
    assert thumbnail.startswith(PNG_SIGNATURE)
    expected = sorted((p.index, p.gcode_md5, p.layers) for p in info.plates)
    assert _plates(ctx, row.id) == expected

    # Reprocessing (an operator's request, or a redelivery) writes the same, never twice.
    assert file_processing.enqueue_reprocess(ctx, row.id)["already_queued"] is False
    assert file_processing.enqueue_reprocess(ctx, row.id)["already_queued"] is True
    assert await worker.drain() == 1
    assert _plates(ctx, row.id) == expected
    assert PrintFileDetail.scoped(ctx).where(PrintFileDetail.print_file_id == row.id).count() == 1


async def test_unreadable_or_changed_files_dead_letter_with_the_reason(farm, tmp_path):
    ctx, storage, worker = farm
    not_3mf = await _bare_file(ctx, storage, b"this is not a zip archive", name="junk.3mf")
    info = write_3mf(tmp_path / "ok.3mf")
    changed = await _bare_file(ctx, storage, info.path.read_bytes(), name="changed.3mf")
    PrintFileDetail.create_scoped(ctx, print_file_id=changed.id, sha256="0" * 64, plate_count=1)
    missing = await _bare_file(ctx, storage, info.path.read_bytes(), name="missing.3mf")
    await storage.delete(print_file_key(ctx.tenant_id, missing.id))
    for row in (not_3mf, changed, missing):
        file_processing.enqueue_reprocess(ctx, row.id)

    await worker.drain()

    reasons = {
        d.payload["file_id"]: d.last_error for d in QueueStore().dead_letters("file-processing")
    }
    assert set(reasons) == {not_3mf.id, changed.id, missing.id}
    assert "not_3mf" in reasons[not_3mf.id]
    assert "re-upload" in reasons[changed.id]
    assert "missing" in reasons[missing.id]
    assert all(d.attempts == 1 for d in QueueStore().dead_letters("file-processing"))
    assert PrintFile.get_scoped(ctx, changed.id).printer_model_id is None  # nothing written


async def test_file_deleted_before_processing_is_done_quietly(farm, tmp_path):
    ctx, storage, worker = farm
    row = await _bare_file(ctx, storage, write_3mf(tmp_path / "x.3mf").path.read_bytes())
    file_processing.enqueue_reprocess(ctx, row.id)
    PrintFile.delete_scoped(ctx).where(PrintFile.id == row.id).execute()
    assert await worker.drain() == 1
    assert QueueStore().dead_letters("file-processing") == []


async def test_reprocess_route_queues_for_operators_only(live_server, tmp_path):
    server = live_server
    owner = await server.register()
    viewer = await server.member_of(owner, "viewer")
    stranger = await server.register()
    path = write_3mf(tmp_path / "hook.3mf", plate_count=1).path
    form = aiohttp.FormData()
    form.add_field("file", path.read_bytes(), filename="hook.3mf")
    r = await owner.api.post("/api/v1/files", data=form)
    assert r.status == 201, r.json
    file_id, uploaded = r.json["id"], r.json

    r = await owner.api.post(f"/api/v1/files/{file_id}/reprocess")
    assert r.status == 202 and r.json == {
        "status": "queued",
        "file_id": file_id,
        "already_queued": False,
    }
    assert (await viewer.api.post(f"/api/v1/files/{file_id}/reprocess")).status == 403
    assert (await stranger.api.post(f"/api/v1/files/{file_id}/reprocess")).status == 404

    db = functools.partial(run_db, server.app)
    worker = QueueWorker("file-processing", make_handler(db, server.app[STORAGE]), run_db=db)
    assert await worker.drain() == 1
    r = await owner.api.get(f"/api/v1/files/{file_id}")
    keep = ("sha256", "md5", "plates", "printer_model_id", "print_time_seconds", "thumbnail_url")
    assert {k: r.json[k] for k in keep} == {k: uploaded[k] for k in keep}

    def plate_rows():
        ctx = TenantContext(tenant_id=owner.tenant_id)
        return PrintFilePlate.scoped(ctx).where(PrintFilePlate.print_file_id == file_id).count()

    assert await db(plate_rows) == 1


async def test_unusable_messages_dead_letter(farm):
    ctx, _storage, worker = farm
    store = QueueStore()
    wrong_kind = store.enqueue("file-processing", {"kind": "transcode"}, tenant_id=ctx.tenant_id)
    no_tenant = store.enqueue("file-processing", {"kind": "extract_metadata", "file_id": "x"})
    await worker.drain()
    dead = {d.id: d for d in store.dead_letters("file-processing")}
    assert set(dead) == {wrong_kind, no_tenant}
    assert all(d.attempts == 1 and "unusable" in d.last_error for d in dead.values())
