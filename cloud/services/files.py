"""Print files: streamed 3MF uploads (metadata, plates, thumbnail), listing, signed downloads."""

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

import peewee

from cloud.errors import ApiError, conflict, validation_error
from cloud.models import PrintFile, Product, new_id, now_ms
from cloud.models.file_details import PrintFileDetail, PrintFilePlate
from cloud.services import crud
from cloud.services.fields import clean, integer, reference, text
from cloud.storage import (
    ObjectTooLarge,
    Storage,
    UrlSigner,
    print_file_key,
    thumbnail_key,
)
from cloud.threemf import ThreeMFError, read_metadata, read_thumbnail

log = logging.getLogger("cloud.files")

DEFAULT_MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # large multi-plate projects reach ~200 MiB
DOWNLOAD_TTL_MS = 15 * 60 * 1000
# A print command may wait in a hub's queue or be redelivered after a reconnect: longer links.
PRINT_URL_TTL_MS = 6 * 3600 * 1000
FILE_SUFFIX = ".3mf"

RunDb = Callable[..., Awaitable]

FILES = crud.Resource(
    name="print file",
    model=PrintFile,
    fields={
        "name": text(255, required=True),
        "product_id": reference(Product),
        "number_of_units": integer(1, 10_000),
    },
    unique=(("name",),),
    filters={
        "product_id": crud.Filter("product_id"),
        "printer_model_id": crud.Filter("printer_model_id"),
        "filament_type": crud.Filter("filament_type"),
    },
    search=("name",),
    sortable=("name", "created_at", "updated_at", "file_size_bytes", "print_time_seconds"),
    default_sort="-created_at",
)

PLATE_COLUMNS = (
    "plate_index",
    "gcode_path",
    "gcode_md5",
    "gcode_size_bytes",
    "print_time_seconds",
    "filament_weight_grams",
    "filament_length_meters",
    "filament_type",
    "layer_count",
    "object_count",
    "bed_type",
)


def check_name(name) -> str:
    """A file name as staff see it: no path separators, ends in .3mf."""
    if not isinstance(name, str) or not name.strip():
        raise validation_error("name", "'name' is required")
    name = name.strip()
    if len(name) > 255 or any(c in name for c in "/\\\x00") or name in (".", ".."):
        raise validation_error("name", "'name' must be a plain file name (no path)")
    if not name.lower().endswith(FILE_SUFFIX):
        raise validation_error("name", "'name' must end in .3mf")
    return name


def check_upload(ctx, name, product_id, number_of_units) -> dict:
    """Validate upload form fields before any byte is read (fails fast, stores nothing)."""
    data = {"name": check_name(name)}
    if product_id is not None:
        data["product_id"] = product_id
    if number_of_units is not None:
        data["number_of_units"] = number_of_units
    values = clean(ctx, data, FILES.fields, partial=False)
    exists = PrintFile.scoped(ctx).where(PrintFile.name == values["name"]).exists()
    if exists:
        raise conflict("name", f"a print file named {values['name']!r} already exists")
    return values


async def upload_print_file(
    run_db: RunDb,
    storage: Storage,
    ctx,
    chunks: AsyncIterator[bytes],
    *,
    name: str,
    product_id: str | None = None,
    number_of_units: int | None = None,
    max_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
    uploaded_by: str | None = None,
) -> dict:
    """Stream an upload to storage, read its 3MF metadata from disk, record it; returns the file.

    Nothing stays behind on failure: not the spooled bytes, not the stored objects, not a row.
    """
    values = await run_db(check_upload, ctx, name, product_id, number_of_units)
    try:
        spool = await storage.spool(chunks, max_bytes=max_bytes)
    except ObjectTooLarge:
        raise ApiError(
            413, "payload_too_large", f"the file is larger than {max_bytes} bytes"
        ) from None
    stored_keys = []
    try:
        if spool.size == 0:
            raise validation_error("file", "the upload is empty")
        loop = asyncio.get_running_loop()
        try:
            meta = await loop.run_in_executor(None, read_metadata, spool.path)
        except ThreeMFError as exc:
            raise ApiError(422, exc.code, str(exc), field="file") from None
        thumbnail = None
        first = next((p for p in meta.plates if p.thumbnail_path), None)
        if first is not None:
            thumbnail = await loop.run_in_executor(
                None, read_thumbnail, spool.path, first.thumbnail_path
            )
        file_id = new_id()
        key = print_file_key(ctx.tenant_id, file_id)
        await storage.commit(spool, key)
        stored_keys.append(key)
        thumb_key = None
        if thumbnail is not None:
            thumb_key = thumbnail_key(ctx.tenant_id, file_id)
            await storage.put_bytes(thumb_key, thumbnail)
            stored_keys.append(thumb_key)
        return await run_db(
            _record_upload,
            ctx,
            file_id,
            key,
            thumb_key,
            spool,
            meta,
            values,
            uploaded_by,
        )
    except BaseException:
        # A failed upload leaves nothing behind (shielded: a cancelled request still cleans up).
        for stored in stored_keys:
            try:
                await asyncio.shield(storage.delete(stored))
            except Exception:  # the original error matters more; log the leak
                log.exception("could not remove %s after a failed upload", stored)
        raise
    finally:
        await asyncio.shield(spool.discard())


def _record_upload(ctx, file_id, key, thumb_key, spool, meta, values, uploaded_by):
    now = now_ms()
    try:
        with crud.write_transaction():
            PrintFile.create_scoped(
                ctx,
                id=file_id,
                name=values["name"],
                product_id=values.get("product_id"),
                number_of_units=values.get("number_of_units") or 1,
                file_key=key,
                file_size_bytes=spool.size,
                **metadata_columns(meta),
                thumbnail_url=f"/api/v1/files/{file_id}/thumbnail" if thumb_key else None,
                created_at=now,
            )
            PrintFileDetail.create_scoped(
                ctx,
                print_file_id=file_id,
                sha256=spool.sha256,
                md5=spool.md5,
                plate_count=meta.plate_count,
                thumbnail_key=thumb_key,
                printer_model=meta.printer_model,
                slicer_version=meta.slicer_version,
                uploaded_by=uploaded_by,
                created_at=now,
            )
            for plate in meta.plates:
                PrintFilePlate.create_scoped(
                    ctx, print_file_id=file_id, **plate_columns(plate), created_at=now
                )
    except peewee.IntegrityError:
        raise conflict("name", f"a print file named {values['name']!r} already exists") from None
    return get_file(ctx, file_id)


def metadata_columns(meta) -> dict:
    """print_files columns read from a 3MF (uploads and file-processing write the same)."""
    return {
        "print_time_seconds": meta.print_time_seconds,
        "filament_weight_grams": meta.filament_weight_grams,
        "filament_length_meters": meta.filament_length_meters,
        "filament_type": meta.filament_type,
        "printer_model_id": meta.printer_model_id,
        "nozzle_diameter": meta.nozzle_diameter,
        "layer_count": meta.layer_count,
        "object_count": meta.object_count or 1,
        "curr_bed_type": meta.curr_bed_type,
        "default_print_profile": meta.default_print_profile,
    }


def plate_columns(plate) -> dict:
    """print_file_plates columns of one sliced plate."""
    return {
        "plate_index": plate.index,
        "gcode_path": plate.gcode_path,
        "gcode_md5": plate.gcode_md5,
        "gcode_size_bytes": plate.gcode_size_bytes,
        "print_time_seconds": plate.print_time_seconds,
        "filament_weight_grams": plate.filament_weight_grams,
        "filament_length_meters": plate.filament_length_meters,
        "filament_type": ";".join(plate.filament_types) or None,
        "layer_count": plate.layer_count,
        "object_count": plate.object_count,
        "bed_type": plate.bed_type,
    }


def _with_details(ctx, rows: list[dict], plates: bool) -> list[dict]:
    ids = [row["id"] for row in rows]
    if not ids:
        return rows
    details = {
        d.print_file_id: d
        for d in PrintFileDetail.scoped(ctx).where(PrintFileDetail.print_file_id.in_(ids))
    }
    for row in rows:
        detail = details.get(row["id"])
        row["sha256"] = detail.sha256 if detail else None
        row["md5"] = detail.md5 if detail else None
        row["plate_count"] = detail.plate_count if detail else None
        row["printer_model"] = detail.printer_model if detail else None
        row["slicer_version"] = detail.slicer_version if detail else None
        row.pop("file_key", None)  # storage layout is internal; downloads go through signed URLs
    if plates:
        for row in rows:
            query = (
                PrintFilePlate.scoped(ctx)
                .where(PrintFilePlate.print_file_id == row["id"])
                .order_by(PrintFilePlate.plate_index)
            )
            row["plates"] = [{c: getattr(p, c) for c in PLATE_COLUMNS} for p in query]
    return rows


def list_files(ctx, params) -> dict:
    """One page of print files (filters: product_id, printer_model_id, filament_type; q: name)."""
    page = crud.list_rows(ctx, FILES, params)
    page["items"] = _with_details(ctx, page["items"], plates=False)
    return page


def get_file(ctx, file_id) -> dict:
    """One print file with its plates."""
    row = crud.to_api(FILES, crud.get_row(ctx, FILES, file_id))
    return _with_details(ctx, [row], plates=True)[0]


def update_file(ctx, file_id, data) -> dict:
    """Rename a file or link it to a product / change units per print."""
    if isinstance(data, dict) and "name" in data:
        data = {**data, "name": check_name(data["name"])}
    values = clean(ctx, data, FILES.fields, partial=True)
    crud.update_row(ctx, FILES, file_id, values)
    return get_file(ctx, file_id)


def delete_file_record(ctx, file_id) -> list[str]:
    """Delete a file's rows (409 while print jobs reference it); returns storage keys to remove."""
    with crud.write_transaction():
        row = crud.get_row(ctx, FILES, file_id)
        detail = PrintFileDetail.scoped(ctx).where(PrintFileDetail.print_file_id == row.id).first()
        keys = [row.file_key] + ([detail.thumbnail_key] if detail and detail.thumbnail_key else [])
        try:
            with crud.write_transaction():  # savepoint: the RESTRICT error leaves the rest intact
                PrintFilePlate.delete_scoped(ctx).where(
                    PrintFilePlate.print_file_id == row.id
                ).execute()
                PrintFileDetail.delete_scoped(ctx).where(
                    PrintFileDetail.print_file_id == row.id
                ).execute()
                row.delete_instance()
        except peewee.IntegrityError:
            raise conflict(None, "print jobs still use this file; delete them first") from None
    return keys


async def delete_print_file(run_db: RunDb, storage: Storage, ctx, file_id) -> None:
    """Delete the rows, then the stored objects."""
    keys = await run_db(delete_file_record, ctx, file_id)
    for key in keys:
        await storage.delete(key)


def download_url(ctx, signer: UrlSigner, file_id, ttl_ms: int = DOWNLOAD_TTL_MS) -> dict:
    """A signed, expiring URL of the stored 3MF (the one hubs download with Range resume)."""
    row = crud.get_row(ctx, FILES, file_id)
    signed = signer.sign(row.file_key, ttl_ms=ttl_ms)
    detail = PrintFileDetail.scoped(ctx).where(PrintFileDetail.print_file_id == row.id).first()
    return {
        "url": signed.path,
        "expires_at": signed.expires_at,
        "size": row.file_size_bytes,
        "sha256": detail.sha256 if detail else None,
        "md5": detail.md5 if detail else None,
    }


def print_source(
    ctx,
    signer: UrlSigner,
    file_id,
    *,
    public_url: str,
    plate_index: int = 1,
    ttl_ms: int = PRINT_URL_TTL_MS,
) -> dict:
    """The file fields of a hub `print_command` (docs/protocol.md): a signed absolute
    `file_url`, `file_name`, `file_size`, `file_md5` and the `plate` to print."""
    row = crud.get_row(ctx, FILES, file_id)
    plate = (
        PrintFilePlate.scoped(ctx)
        .where(PrintFilePlate.print_file_id == row.id, PrintFilePlate.plate_index == plate_index)
        .first()
    )
    if plate is None:
        raise validation_error("plate", f"the file has no sliced plate {plate_index}")
    link = download_url(ctx, signer, row.id, ttl_ms=ttl_ms)
    source = {
        "file_url": public_url.rstrip("/") + link["url"],
        "file_name": row.name,
        "file_size": row.file_size_bytes,
        "plate": plate_index,
    }
    if link["md5"]:
        source["file_md5"] = link["md5"]
    return source


def thumbnail_url(ctx, signer: UrlSigner, file_id, ttl_ms: int = DOWNLOAD_TTL_MS) -> dict | None:
    """A signed URL of the file's thumbnail PNG, None if it has none."""
    row = crud.get_row(ctx, FILES, file_id)
    detail = PrintFileDetail.scoped(ctx).where(PrintFileDetail.print_file_id == row.id).first()
    if detail is None or not detail.thumbnail_key:
        return None
    signed = signer.sign(detail.thumbnail_key, ttl_ms=ttl_ms)
    return {"url": signed.path, "expires_at": signed.expires_at}
