"""Camera configurations and their latest snapshot (stored in object storage, one per camera)."""

import re
from collections.abc import AsyncIterator, Awaitable, Callable

from cloud.errors import ApiError, not_found, validation_error
from cloud.models import Camera, Hub, Printer, now_ms
from cloud.services import crud
from cloud.services.fields import choice, clean, flag, reference, text
from cloud.storage import ObjectNotFound, ObjectTooLarge, Storage, camera_snapshot_key

CAMERA_TYPES = ("bambu", "ip", "usb")
MAX_SNAPSHOT_BYTES = 5 * 1024 * 1024  # a 1080p JPEG is ~300 KiB; generous but bounded
JPEG_MAGIC = b"\xff\xd8\xff"
_STREAM_URL = re.compile(r"^(https?|rtsps?)://[^\s]+$")

CAMERAS = crud.Resource(
    name="camera",
    model=Camera,
    fields={
        "name": text(200, required=True),
        "printer_id": reference(Printer),
        "hub_id": reference(Hub),
        "stream_url": text(2000),
        "snapshot_url": text(2000),
        "camera_type": choice(*CAMERA_TYPES),
        "is_active": flag(),
    },
    filters={
        "printer_id": crud.Filter("printer_id"),
        "hub_id": crud.Filter("hub_id"),
        "camera_type": crud.Filter("camera_type", "enum", CAMERA_TYPES),
        "is_active": crud.Filter("is_active", "bool"),
    },
    search=("name",),
    sortable=("name", "created_at", "updated_at", "last_snapshot_at"),
    default_sort="name",
)

RunDb = Callable[..., Awaitable]


def _check_urls(values: dict) -> None:
    for name in ("stream_url", "snapshot_url"):
        if values.get(name) is not None and not _STREAM_URL.match(values[name]):
            raise validation_error(name, f"'{name}' must be an http(s):// or rtsp(s):// URL")


def list_cameras(ctx, params) -> dict:
    """One page of cameras (filters: printer_id, hub_id, camera_type, is_active)."""
    return crud.list_rows(ctx, CAMERAS, params)


def get_camera(ctx, camera_id) -> dict:
    """One camera."""
    return crud.to_api(CAMERAS, crud.get_row(ctx, CAMERAS, camera_id))


def create_camera(ctx, data) -> dict:
    """Create a camera configuration."""
    values = clean(ctx, data, CAMERAS.fields, partial=False)
    _check_urls(values)
    return crud.to_api(CAMERAS, crud.create_row(ctx, CAMERAS, values))


def update_camera(ctx, camera_id, data) -> dict:
    """Change a camera configuration."""
    values = clean(ctx, data, CAMERAS.fields, partial=True)
    _check_urls(values)
    return crud.to_api(CAMERAS, crud.update_row(ctx, CAMERAS, camera_id, values))


def delete_camera(ctx, camera_id) -> None:
    """Delete a camera (its snapshot object is removed by the caller via snapshot_key)."""
    crud.delete_row(ctx, CAMERAS, camera_id)


def _mark_snapshot(ctx, camera_id, at: int) -> dict:
    Camera.update_scoped(ctx, last_snapshot_at=at).where(Camera.id == camera_id).execute()
    return get_camera(ctx, camera_id)


async def store_snapshot(
    run_db: RunDb, storage: Storage, ctx, camera_id, chunks: AsyncIterator[bytes]
) -> dict:
    """Replace the camera's latest snapshot with a JPEG stream; returns the camera."""
    await run_db(get_camera, ctx, camera_id)  # 404 before reading the body
    key = camera_snapshot_key(ctx.tenant_id, camera_id)
    try:
        spool = await storage.spool(chunks, max_bytes=MAX_SNAPSHOT_BYTES)
    except ObjectTooLarge:
        raise ApiError(
            413, "payload_too_large", f"snapshot is larger than {MAX_SNAPSHOT_BYTES} bytes"
        ) from None
    try:
        with open(spool.path, "rb") as handle:  # three bytes: cheap enough for the loop
            magic = handle.read(3)
        if magic != JPEG_MAGIC:
            raise validation_error("body", "the snapshot must be a JPEG image")
        await storage.commit(spool, key)
    finally:
        await spool.discard()
    return await run_db(_mark_snapshot, ctx, camera_id, now_ms())


async def latest_snapshot(run_db: RunDb, storage: Storage, ctx, camera_id) -> tuple[str, int]:
    """(storage key, last_snapshot_at) of the camera's latest snapshot, 404 if there is none."""
    camera = await run_db(get_camera, ctx, camera_id)
    key = camera_snapshot_key(ctx.tenant_id, camera["id"])
    try:
        await storage.size(key)
    except ObjectNotFound:
        raise not_found("snapshot of camera", camera_id) from None
    return key, camera["last_snapshot_at"]


def snapshot_key(ctx, camera_id) -> str:
    """Storage key of a camera's snapshot."""
    return camera_snapshot_key(ctx.tenant_id, camera_id)
