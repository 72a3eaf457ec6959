"""/api/v1/files: 3MF uploads streamed to storage, metadata, signed downloads and thumbnails."""

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from cloud.api.operations import Call, OperationGroup, Param, register
from cloud.api.resource_routes import declare_crud, row_schema
from cloud.api.schemas import TIMESTAMP, obj
from cloud.errors import ApiError, validation_error
from cloud.keys import CONFIG, STORAGE, URL_SIGNER
from cloud.services import file_processing
from cloud.services import files as service
from cloud.storage import serving

ops = OperationGroup(tag="files", resource="print_file", description="Print files (3MF)")

UPLOAD_CHUNK_BYTES = 256 * 1024
_TEXT = {"type": ["string", "null"]}
PLATE = obj(
    {
        "plate_index": {"type": "integer"},
        "gcode_path": {"type": "string"},
        "gcode_md5": {"type": "string"},
        "gcode_size_bytes": {"type": ["integer", "null"]},
        "print_time_seconds": {"type": ["integer", "null"]},
        "filament_weight_grams": {"type": ["number", "null"]},
        "filament_length_meters": {"type": ["number", "null"]},
        "filament_type": _TEXT,
        "layer_count": {"type": ["integer", "null"]},
        "object_count": {"type": ["integer", "null"]},
        "bed_type": _TEXT,
    },
    required=("plate_index", "gcode_path", "gcode_md5"),
)
DETAILS = {
    "sha256": _TEXT,
    "md5": _TEXT,
    "plate_count": {"type": ["integer", "null"]},
    "printer_model": _TEXT,
    "slicer_version": _TEXT,
}
FILE_ITEM = row_schema(service.FILES, extra=DETAILS, omit=("file_key",))
PRINT_FILE = row_schema(
    service.FILES,
    extra={**DETAILS, "plates": {"type": "array", "items": PLATE}},
    omit=("file_key",),
)
SIGNED = obj(
    {
        "url": {"type": "string"},
        "path": {"type": "string"},
        "expires_at": TIMESTAMP,
        "size": {"type": ["integer", "null"]},
        "sha256": _TEXT,
        "md5": _TEXT,
    },
    required=("url", "path", "expires_at"),
)
UPLOAD_PARAMS = [
    Param("name", {"type": "string", "maxLength": 255}, "file name (raw uploads; ends in .3mf)"),
    Param("product_id", {"type": "string", "maxLength": 64}, "product this file prints"),
    Param("number_of_units", {"type": "integer", "minimum": 1, "maximum": 10000}),
]
_BINARY = {"type": "string", "format": "binary"}


def _max_upload_bytes(app) -> int:
    return getattr(app[CONFIG], "max_upload_bytes", None) or service.DEFAULT_MAX_UPLOAD_BYTES


@ops.post(
    "/api/v1/files",
    role="operator",
    status=201,
    query=UPLOAD_PARAMS,
    rate_limit="upload",
    request_content={
        "multipart/form-data": {
            "schema": obj(
                {
                    "name": {"type": "string"},
                    "product_id": {"type": "string"},
                    "number_of_units": {"type": "string"},
                    "file": _BINARY,
                },
                required=("file",),
            )
        },
        "application/octet-stream": {"schema": _BINARY},
    },
    response=PRINT_FILE,
    action="print_file.upload",
)
async def upload_file(call: Call):
    """Upload a sliced 3MF (multipart `file`, or the raw body with ?name=): streamed to storage,
    SHA-256 and 3MF metadata recorded, thumbnail extracted. A bad file leaves nothing behind."""
    request = call.request
    fields = {k: call.query.get(k) for k in ("name", "product_id", "number_of_units")}
    if request.content_type == "multipart/form-data":
        chunks = await _multipart_file(request, fields)
    elif request.content_type in ("application/octet-stream", "model/3mf", ""):
        if not request.body_exists:
            raise validation_error("file", "the request has no body")
        chunks = request.content.iter_chunked(UPLOAD_CHUNK_BYTES)
    else:
        raise ApiError(415, "unsupported_media_type", "send multipart/form-data or a raw body")
    record = await service.upload_print_file(
        call.db,
        call.app[STORAGE],
        call.ctx,
        chunks,
        name=fields["name"],
        product_id=fields["product_id"],
        number_of_units=fields["number_of_units"],
        max_bytes=_max_upload_bytes(call.app),
        uploaded_by=call.ctx.user_id,
    )
    call.audit.details = {
        "name": record["name"],
        "size": record["file_size_bytes"],
        "sha256": record["sha256"],
    }
    return record


async def _multipart_file(request: web.Request, fields: dict):
    """Read small form fields up to the `file` part; return that part's chunk iterator."""
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                raise validation_error("file", "the form has no 'file' part")
            if part.name == "file":
                fields["name"] = fields["name"] or part.filename
                return _part_chunks(part)
            if part.name in ("name", "product_id", "number_of_units"):
                value = (await part.read(decode=True))[:1024].decode("utf-8", "replace").strip()
                if part.name == "number_of_units":
                    if not value.isdigit():
                        raise validation_error("number_of_units", "must be a positive integer")
                    fields[part.name] = int(value)
                else:
                    fields[part.name] = value or None
            else:
                await part.release()
    except (ValueError, AssertionError, HttpProcessingError) as exc:  # malformed framing
        raise _malformed(exc) from None


async def _part_chunks(part):
    try:
        while True:
            chunk = await part.read_chunk(UPLOAD_CHUNK_BYTES)
            if not chunk:
                return
            yield chunk
    except (ValueError, AssertionError, HttpProcessingError) as exc:
        raise _malformed(exc) from None


def _malformed(exc: Exception) -> ApiError:
    message = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
    return ApiError(400, "bad_request", f"malformed multipart body: {message}")


def _absolute(call: Call, signed: dict) -> dict:
    base = call.app[CONFIG].public_url or f"{call.request.scheme}://{call.request.host}"
    return {**signed, "path": signed["url"], "url": base.rstrip("/") + signed["url"]}


@ops.get("/api/v1/files/{id}/download", role="viewer", response=SIGNED)
async def get_file_download_url(call: Call):
    """A signed URL of the 3MF valid for 15 minutes (supports Range, for resumable downloads)."""
    signed = await call.db(service.download_url, call.ctx, call.app[URL_SIGNER], call.params["id"])
    return _absolute(call, signed)


@ops.get("/api/v1/files/{id}/thumbnail", role="viewer", response=SIGNED)
async def get_file_thumbnail_url(call: Call):
    """A signed URL of the file's plate thumbnail (PNG); 404 if the 3MF had none."""
    signed = await call.db(service.thumbnail_url, call.ctx, call.app[URL_SIGNER], call.params["id"])
    if signed is None:
        raise ApiError(404, "not_found", "this print file has no thumbnail")
    return _absolute(call, signed)


declare_crud(
    ops,
    service.FILES,
    "/api/v1/files",
    plural="files",
    singular="file",
    list_fn=service.list_files,
    get_fn=service.get_file,
    create_fn=None,  # uploads above
    update_fn=service.update_file,
    delete_fn=None,  # below: rows, then stored objects
    response=PRINT_FILE,
    list_item=FILE_ITEM,  # lists show the details but not the plates
    example={},
    update_example={"name": "cable-hook-v2.3mf", "number_of_units": 4},
)


REPROCESS_RESULT = obj(
    {
        "status": {"type": "string", "enum": ["queued"]},
        "file_id": {"type": "string"},
        "already_queued": {"type": "boolean"},
    },
    required=("status", "file_id", "already_queued"),
)


@ops.post(
    "/api/v1/files/{id}/reprocess",
    role="operator",
    status=202,
    response=REPROCESS_RESULT,
    action="print_file.reprocess",
)
async def reprocess_file(call: Call):
    """Re-read the stored 3MF's metadata, plates and thumbnail in the background
    (file-processing queue); the file keeps its current metadata until that is done."""
    return await call.db(file_processing.enqueue_reprocess, call.ctx, call.params["id"])


@ops.delete("/api/v1/files/{id}", role="operator")
async def delete_file(call: Call):
    """Delete a print file and its stored 3MF and thumbnail (409 while print jobs use it)."""
    await service.delete_print_file(call.db, call.app[STORAGE], call.ctx, call.params["id"])


def setup(app: web.Application) -> None:
    """Open storage (and the signed download route), then add the file routes."""
    serving.setup(app)
    register(app, ops)
