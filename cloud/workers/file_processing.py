"""Consumer of the file-processing queue: 3MF metadata and thumbnail for a stored print file.

Message: {"kind": "extract_metadata", "file_id"} with the file's tenant as the message tenant.
A file that is not a readable 3MF, a missing stored object, or bytes that no longer match the
SHA-256 recorded at upload dead-letter at once (retrying cannot change them); storage and
database hiccups are retried with backoff.
"""

import asyncio
import logging

from cloud.queue.store import Message
from cloud.queue.worker import PermanentFailure
from cloud.services import file_processing as service
from cloud.storage import ObjectNotFound, Storage, thumbnail_key
from cloud.threemf import ThreeMFError, read_metadata, read_thumbnail

log = logging.getLogger("cloud.workers.file_processing")

# Stored files passed the upload limit; this only guards against a runaway object.
MAX_STORED_BYTES = 4 * 1024 * 1024 * 1024


def make_handler(run_db, storage: Storage):
    """A QueueWorker handler. `run_db(fn, *args)` runs on the DB pool; `storage` holds the 3MFs."""

    async def handle(message: Message) -> None:
        kind = message.payload.get("kind")
        file_id = message.payload.get("file_id")
        if kind != "extract_metadata" or not file_id or not message.tenant_id:
            raise PermanentFailure(f"unusable file-processing message: {message.payload!r}")
        await process_file(run_db, storage, message.tenant_id, file_id)

    return handle


async def process_file(run_db, storage: Storage, tenant_id: str, file_id: str) -> bool:
    """Re-read one stored 3MF and record its metadata; False if the file no longer exists."""
    target = await run_db(service.stored_file, tenant_id, file_id)
    if target is None:
        return False
    try:
        spool = await storage.spool(storage.open(target["file_key"]), max_bytes=MAX_STORED_BYTES)
    except ObjectNotFound as exc:
        raise PermanentFailure(f"print file {file_id}: its stored 3MF is missing") from exc
    try:
        if target["sha256"] and spool.sha256 != target["sha256"]:
            raise PermanentFailure(
                f"print file {file_id}: stored bytes have SHA-256 {spool.sha256}, not the "
                f"{target['sha256']} recorded at upload; re-upload the file"
            )
        loop = asyncio.get_running_loop()
        try:
            meta = await loop.run_in_executor(None, read_metadata, spool.path)
        except ThreeMFError as exc:
            raise PermanentFailure(f"print file {file_id}: {exc.code}: {exc}") from exc
        first = next((p for p in meta.plates if p.thumbnail_path), None)
        thumbnail = None
        if first is not None:
            thumbnail = await loop.run_in_executor(
                None, read_thumbnail, spool.path, first.thumbnail_path
            )
        thumb_key = None
        if thumbnail is not None:
            thumb_key = thumbnail_key(tenant_id, file_id)
            await storage.put_bytes(thumb_key, thumbnail)
        applied = await run_db(service.apply_metadata, tenant_id, file_id, spool, meta, thumb_key)
        if not applied and thumb_key:  # deleted while we read it: leave nothing behind
            await storage.delete(thumb_key)
        log.info("print file %s: metadata re-read (%s plates)", file_id, meta.plate_count)
        return applied
    finally:
        await asyncio.shield(spool.discard())
