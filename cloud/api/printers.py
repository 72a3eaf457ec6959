"""/api/v1/printers: printer CRUD, filtered and paged lists; access codes are write-only."""

from aiohttp import web

from cloud.api.operations import Call, OperationGroup, Param, register
from cloud.api.schemas import (
    ID,
    NULLABLE_TIMESTAMP,
    TIMESTAMP,
    integer,
    list_params,
    obj,
    page_of,
    text,
)
from cloud.db.executor import run_db
from cloud.keys import METRICS, SECRETBOX
from cloud.services import commands as commands_service
from cloud.services import printers as printers_service

ops = OperationGroup(tag="printers", resource="printer", description="Printers and their state")

# The spec's strings.
STATUSES = ["idle", "printing", "paused", "maintenance", "offline", "error"]
CONNECTION_TYPES = ["bambu", "prusa", "octoprint", "klipper", "other"]

NULLABLE_BOOL = {"type": ["boolean", "null"]}
# Fields the hub holds a copy of (configure_printer): changing one pushes the printer again.
HUB_FIELDS = {
    "hub_id",
    "serial_number",
    "ip_address",
    "access_code",
    "model",
    "name",
    "mqtt_port",
    "ftps_port",
}
HEX_COLOR = {"type": ["string", "null"], "pattern": "^#[0-9A-Fa-f]{6}$"}

# Fields a client may write (status and connection state come from the hub).
WRITABLE = {
    "name": text(100, 1),
    "model": text(50, 1),
    "manufacturer": text(50, nullable=True),
    "printer_id": integer(1, 1_000_000, nullable=True),
    "connection_type": {"type": "string", "enum": CONNECTION_TYPES},
    "ip_address": {"type": ["string", "null"], "maxLength": 255, "pattern": r"^[A-Za-z0-9.:\-]+$"},
    "serial_number": text(64, nullable=True),
    "access_code": {
        "type": ["string", "null"],
        "minLength": 1,
        "maxLength": 64,
        "writeOnly": True,
        "description": "LAN access code; stored AES-256-GCM sealed, never returned",
    },
    "hub_id": {"type": ["string", "null"], "minLength": 1, "maxLength": 64},
    "current_color": text(50, nullable=True),
    "current_color_hex": HEX_COLOR,
    "current_filament_type": text(30, nullable=True),
    "current_build_plate": text(50, nullable=True),
    "filament_level": integer(0, 100, nullable=True),
    "nozzle_size": {"type": ["number", "null"], "exclusiveMinimum": 0, "maximum": 5},
    "location": text(100, nullable=True),
    "last_maintenance_date": NULLABLE_TIMESTAMP,
    "in_maintenance": NULLABLE_BOOL,
    "maintenance_type": text(50, nullable=True),
    "is_active": NULLABLE_BOOL,
    "cleared": NULLABLE_BOOL,
    "sort_order": integer(-1_000_000, 1_000_000, nullable=True),
    # Only when not Bambu's defaults (8883 / 990): simulated printers, port forwards.
    "mqtt_port": integer(1, 65535, nullable=True),
    "ftps_port": integer(1, 65535, nullable=True),
}

_NULLABLE_TEXT = {"type": ["string", "null"]}
PRINTER = obj(
    {
        "id": ID,
        "hub_id": _NULLABLE_TEXT,
        "name": {"type": "string"},
        "model": {"type": "string"},
        "manufacturer": _NULLABLE_TEXT,
        "firmware_version": _NULLABLE_TEXT,
        "printer_id": {"type": ["integer", "null"]},
        "connection_type": _NULLABLE_TEXT,
        "ip_address": _NULLABLE_TEXT,
        "serial_number": _NULLABLE_TEXT,
        "has_access_code": {"type": "boolean"},
        "status": {"type": ["string", "null"], "enum": [*STATUSES, None]},
        "is_connected": NULLABLE_BOOL,
        "last_connection_attempt": NULLABLE_TIMESTAMP,
        "connection_error": _NULLABLE_TEXT,
        "current_color": _NULLABLE_TEXT,
        "current_color_hex": _NULLABLE_TEXT,
        "current_filament_type": _NULLABLE_TEXT,
        "current_build_plate": _NULLABLE_TEXT,
        "filament_level": {"type": ["integer", "null"]},
        "nozzle_size": {"type": ["number", "null"]},
        "location": _NULLABLE_TEXT,
        "total_print_time": {"type": ["integer", "null"]},
        "last_maintenance_date": NULLABLE_TIMESTAMP,
        "in_maintenance": NULLABLE_BOOL,
        "maintenance_type": _NULLABLE_TEXT,
        "is_active": NULLABLE_BOOL,
        "cleared": NULLABLE_BOOL,
        "sort_order": {"type": ["integer", "null"]},
        "mqtt_port": {"type": ["integer", "null"]},
        "ftps_port": {"type": ["integer", "null"]},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
    required=("id", "name", "model", "status", "has_access_code", "created_at", "updated_at"),
)
EXAMPLE = {
    "name": "P1S-01",
    "model": "P1S",
    "manufacturer": "Bambu Lab",
    "serial_number": "01P00A000000001",
    "ip_address": "192.168.1.50",
    "access_code": "12345678",
    "printer_id": 1,
}


@ops.get(
    "/api/v1/printers",
    role="viewer",
    query=list_params(
        printers_service.SORT_FIELDS,
        "sort_order",
        filters=[
            Param("status", {"type": "string", "enum": STATUSES}),
            Param("hub_id", ID),
            Param("is_active", {"type": "boolean"}),
            Param("in_maintenance", {"type": "boolean"}),
            Param("model", text(50)),
            Param("q", text(100), "search in name, serial number and location"),
        ],
    ),
    response=page_of(PRINTER),
)
async def list_printers(call: Call):
    """A page of printers, filtered and stably sorted."""
    return await call.db(printers_service.list_printers, call.ctx, **call.query)


@ops.post(
    "/api/v1/printers",
    role="operator",
    status=201,
    body=obj(WRITABLE, required=("name", "model")),
    response=PRINTER,
    example=EXAMPLE,
)
async def create_printer(call: Call):
    """Add a printer (access code sealed at rest)."""
    printer = await call.db(
        printers_service.create_printer, call.ctx, call.app[SECRETBOX], call.body
    )
    call.audit.details = _audit_fields(call.body)
    await commands_service.sync_printer(call.app, call.ctx, printer["id"])  # configure_printer
    return printer


@ops.get("/api/v1/printers/{id}", role="viewer", response=PRINTER)
async def get_printer(call: Call):
    """One printer."""
    return await call.db(printers_service.get_printer, call.ctx, call.params["id"])


@ops.patch(
    "/api/v1/printers/{id}",
    role="operator",
    body={**obj(WRITABLE), "minProperties": 1},
    response=PRINTER,
    example={"location": "Rack B", "sort_order": 3},
)
async def update_printer(call: Call):
    """Change some fields of a printer; `access_code: null` clears the code."""
    before = await call.db(printers_service.get_printer, call.ctx, call.params["id"])
    printer = await call.db(
        printers_service.update_printer, call.ctx, call.app[SECRETBOX], call.params["id"], call.body
    )
    call.audit.details = _audit_fields(call.body)
    if HUB_FIELDS & set(call.body):  # the hub's copy of the configuration changed
        await commands_service.sync_printer(call.app, call.ctx, printer["id"], before["hub_id"])
    return printer


@ops.delete("/api/v1/printers/{id}", role="operator")
async def delete_printer(call: Call):
    """Delete a printer."""
    before = await call.db(printers_service.get_printer, call.ctx, call.params["id"])
    await call.db(printers_service.delete_printer, call.ctx, call.params["id"])
    await commands_service.sync_printer(
        call.app, call.ctx, call.params["id"], before["hub_id"], deleted=True
    )


def _audit_fields(body: dict) -> dict:
    """What changed, with secrets masked."""
    return {k: ("***" if k in printers_service.SECRET_FIELDS and v else v) for k, v in body.items()}


async def _refresh_online_ratio(app: web.Application) -> None:
    ratio = await run_db(app, printers_service.online_ratio)
    app[METRICS].printers_online_ratio.set(ratio if ratio is not None else 0)


def setup(app: web.Application) -> None:
    """Add the printer routes and the printers-online gauge."""
    register(app, ops)
    app[METRICS].scrape_hooks.append(_refresh_online_ratio)
