"""file-processing: re-read a stored 3MF's metadata, plates and thumbnail into its print file.

Uploads extract inline (the uploader gets the metadata, and a corrupt file is refused before
it exists). The queue covers what that cannot: files recorded without details (imported or
stored before the details table existed) and an operator's "reprocess" after an upgrade that
reads more of a 3MF. Writing the same bytes' metadata twice changes nothing, so redelivery is
harmless.
"""

import peewee

from cloud.models import PrintFile, TenantContext, now_ms, system_access
from cloud.models.file_details import PrintFileDetail, PrintFilePlate
from cloud.queue.store import QueueStore
from cloud.services import crud, files

QUEUE = "file-processing"
REQUEST_WINDOW_MS = 60_000  # repeated "reprocess" clicks within a minute queue one message
BACKFILL_BATCH = 500


class StoredBytesChanged(Exception):
    """The stored object's SHA-256 is not the one recorded at upload: storage damage."""


def enqueue_reprocess(ctx, file_id: str) -> dict:
    """Queue a metadata re-read of one of the tenant's files (404 for anyone else's)."""
    row = crud.get_row(ctx, files.FILES, file_id)
    message_id = QueueStore().enqueue(
        QUEUE,
        {"kind": "extract_metadata", "file_id": row.id},
        tenant_id=ctx.tenant_id,
        dedupe_key=f"file-reprocess:{row.id}:{now_ms() // REQUEST_WINDOW_MS}",
    )
    return {"status": "queued", "file_id": row.id, "already_queued": message_id is None}


def enqueue_missing_details(limit: int = BACKFILL_BATCH) -> int:
    """Queue every print file (any tenant) that has no details row yet; returns how many.
    System code, e.g. at start-up; the dedupe key keeps repeated calls from piling up."""
    with system_access():
        missing = (
            PrintFile.select(PrintFile.id, PrintFile.tenant_id)
            .join(
                PrintFileDetail,
                on=(PrintFileDetail.print_file_id == PrintFile.id),
                join_type=peewee.JOIN.LEFT_OUTER,
            )
            .where(PrintFileDetail.print_file_id.is_null())
            .limit(limit)
        )
        rows = [(row.tenant_id, row.id) for row in missing]
    store, queued = QueueStore(), 0
    for tenant_id, file_id in rows:
        queued += (
            store.enqueue(
                QUEUE,
                {"kind": "extract_metadata", "file_id": file_id},
                tenant_id=tenant_id,
                dedupe_key=f"file-backfill:{file_id}",
            )
            is not None
        )
    return queued


def stored_file(tenant_id: str, file_id: str) -> dict | None:
    """Where the file's bytes are and the SHA-256 recorded for them; None if it was deleted."""
    ctx = TenantContext(tenant_id=tenant_id)
    row = PrintFile.scoped(ctx).where(PrintFile.id == file_id).first()
    if row is None:
        return None
    detail = PrintFileDetail.scoped(ctx).where(PrintFileDetail.print_file_id == file_id).first()
    return {"file_key": row.file_key, "sha256": detail.sha256 if detail else None}


def apply_metadata(tenant_id: str, file_id: str, spool, meta, thumb_key: str | None) -> bool:
    """Write what the 3MF says into print_files, its details and plates, in one transaction.
    False when the file was deleted meanwhile (the caller removes the new thumbnail)."""
    ctx = TenantContext(tenant_id=tenant_id)
    now = now_ms()
    with crud.write_transaction():
        row = PrintFile.scoped(ctx).where(PrintFile.id == file_id).first()
        if row is None:
            return False
        values = {**files.metadata_columns(meta), "file_size_bytes": spool.size}
        if thumb_key:
            values["thumbnail_url"] = f"/api/v1/files/{file_id}/thumbnail"
        PrintFile.update_scoped(ctx, **values).where(PrintFile.id == file_id).execute()
        detail = PrintFileDetail.scoped(ctx).where(PrintFileDetail.print_file_id == file_id)
        details = {
            "sha256": spool.sha256,
            "md5": spool.md5,
            "plate_count": meta.plate_count,
            "printer_model": meta.printer_model,
            "slicer_version": meta.slicer_version,
        }
        if thumb_key:
            details["thumbnail_key"] = thumb_key
        if detail.exists():
            PrintFileDetail.update_scoped(ctx, **details).where(
                PrintFileDetail.print_file_id == file_id
            ).execute()
        else:
            PrintFileDetail.create_scoped(ctx, print_file_id=file_id, created_at=now, **details)
        PrintFilePlate.delete_scoped(ctx).where(PrintFilePlate.print_file_id == file_id).execute()
        for plate in meta.plates:
            PrintFilePlate.create_scoped(
                ctx, print_file_id=file_id, created_at=now, **files.plate_columns(plate)
            )
    return True
