"""/api/v1/camera: camera configurations; latest snapshot upload and fetch."""

from aiohttp import web

from cloud.api.operations import Call, OperationGroup, register
from cloud.api.resource_routes import declare_crud, row_schema
from cloud.errors import ApiError
from cloud.keys import STORAGE
from cloud.services import cameras as service
from cloud.storage import serving

ops = OperationGroup(tag="camera", resource="camera", description="Cameras and snapshots")

CAMERA = row_schema(service.CAMERAS)
SNAPSHOT_CHUNK_BYTES = 64 * 1024


@ops.put(
    "/api/v1/camera/{id}/snapshot",
    role="operator",
    request_content={"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
    response=CAMERA,
    action="camera.upload_snapshot",
)
async def upload_camera_snapshot(call: Call):
    """Replace the camera's latest snapshot (JPEG body, at most 5 MiB)."""
    await call.db(service.get_camera, call.ctx, call.params["id"])  # 404 before anything else
    if call.request.content_type not in ("image/jpeg", "application/octet-stream"):
        raise ApiError(415, "unsupported_media_type", "send the snapshot as image/jpeg")
    chunks = call.request.content.iter_chunked(SNAPSHOT_CHUNK_BYTES)
    return await service.store_snapshot(
        call.db, call.app[STORAGE], call.ctx, call.params["id"], chunks
    )


@ops.get(
    "/api/v1/camera/{id}/snapshot",
    role="viewer",
    response_content={"image/jpeg": {"schema": {"type": "string", "format": "binary"}}},
)
async def get_camera_snapshot(call: Call):
    """The camera's latest snapshot as JPEG (404 until one was uploaded)."""
    key, taken_at = await service.latest_snapshot(
        call.db, call.app[STORAGE], call.ctx, call.params["id"]
    )
    response = await serving.serve_object(call.request, call.app[STORAGE], key)
    return response


declare_crud(
    ops,
    service.CAMERAS,
    "/api/v1/camera",
    plural="cameras",
    singular="camera",
    list_fn=service.list_cameras,
    get_fn=service.get_camera,
    create_fn=service.create_camera,
    update_fn=service.update_camera,
    delete_fn=None,  # below: the snapshot object goes too
    example={
        "name": "Bay 1 overview",
        "camera_type": "ip",
        "stream_url": "rtsps://10.0.0.5:322/live",
    },
    update_example={"is_active": False},
)


@ops.delete("/api/v1/camera/{id}", role="operator")
async def delete_camera(call: Call):
    """Delete a camera and its stored snapshot."""
    await call.db(service.delete_camera, call.ctx, call.params["id"])
    await call.app[STORAGE].delete(service.snapshot_key(call.ctx, call.params["id"]))


def setup(app: web.Application) -> None:
    """Open storage, then add the camera routes."""
    serving.setup(app)
    register(app, ops)
