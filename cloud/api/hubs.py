"""/api/v1/hubs: list, rename, claim (by the code the hub shows), release, discovery; and the
factory registration route /api/v1/admin/hubs used by `printfarm hub provision`.

Factory registration is not a tenant action: it is authorised by the provisioning key (32 random
bytes in DATA_DIR/keys.json, or PRINTFARM_PROVISIONING_KEY, base64) sent as
`X-Provisioning-Key: <base64>`, compared in constant time, and rate limited per IP.
"""

import base64
import binascii
import hmac

from aiohttp import web

from cloud.api.operations import PUBLIC, Call, OperationGroup, register
from cloud.api.schemas import ID, NULLABLE_TIMESTAMP, TIMESTAMP, obj, text
from cloud.errors import ApiError, not_found
from cloud.keys import CONFIG, SECRETBOX
from cloud.models import RecordNotFound
from cloud.realtime.runtime import realtime_of
from cloud.services import commands as commands_service
from cloud.services import hubs as hubs_service

ops = OperationGroup(tag="hubs", resource="hub", description="ESP32 hubs: claiming and state")

_NULLABLE_TEXT = {"type": ["string", "null"]}
HUB = obj(
    {
        "id": ID,
        "name": _NULLABLE_TEXT,
        "firmware_version": _NULLABLE_TEXT,
        "hardware_revision": _NULLABLE_TEXT,
        "is_online": {"type": "boolean"},
        "last_seen_at": NULLABLE_TIMESTAMP,
        "local_ip_address": _NULLABLE_TEXT,
        "wifi_signal_strength": {"type": ["integer", "null"]},
        "printer_count": {"type": "integer", "minimum": 0},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
    required=("id", "is_online", "printer_count", "created_at", "updated_at"),
)
COMMAND = obj(
    {
        "command_id": ID,
        "hub_id": ID,
        "type": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "acked", "failed", "cancelled"]},
        "attempts": {"type": "integer"},
        "created_at": TIMESTAMP,
        "sent_at": NULLABLE_TIMESTAMP,
        "acked_at": NULLABLE_TIMESTAMP,
        "error": {"type": ["object", "null"]},
        "result": {"type": ["object", "null"]},
    },
    required=("command_id", "hub_id", "type", "status"),
)


@ops.get("/api/v1/hubs", role="viewer", response={"type": "array", "items": HUB})
async def list_hubs(call: Call):
    """Every hub of the tenant."""
    return await call.db(hubs_service.list_hubs, call.ctx)


@ops.get("/api/v1/hubs/{id}", role="viewer", response=HUB)
async def get_hub(call: Call):
    """One hub."""
    return await call.db(hubs_service.get_hub, call.ctx, call.params["id"])


@ops.patch(
    "/api/v1/hubs/{id}",
    role="admin",
    body=obj({"name": text(100, 1)}, required=("name",)),
    response=HUB,
    example={"name": "Rack A hub"},
)
async def rename_hub(call: Call):
    """Rename a hub."""
    call.audit.entity_id = call.params["id"]
    call.audit.details = {"name": call.body["name"]}
    return await call.db(hubs_service.rename_hub, call.ctx, call.params["id"], call.body["name"])


@ops.post(
    "/api/v1/hubs/claim",
    role="admin",
    body=obj({"claim_code": text(20, 4), "name": text(100, 1)}, required=("claim_code",)),
    response=HUB,
    rate_limit="auth",  # codes are guessable only by brute force: limit it per IP
    example={"claim_code": "K7QX-M3PA", "name": "Rack A hub"},
)
async def claim_hub(call: Call):
    """Bind an unclaimed hub to this tenant with the code it shows (10-minute TTL)."""
    realtime = realtime_of(call.app)
    hub_id = await realtime.claim_codes.lookup(call.body["claim_code"])
    if hub_id is None:
        raise ApiError(404, "invalid_claim_code", "no hub is showing that claim code (expired?)")
    try:
        hub = await call.db(hubs_service.claim_hub, call.ctx, hub_id, call.body.get("name"))
    except hubs_service.HubConflict as exc:
        raise ApiError(409, "already_claimed", str(exc)) from None
    await realtime.claim_codes.revoke(hub_id)
    realtime.notify_hub_changed(hub_id, claim=True)
    call.audit.entity_id = hub_id
    return hub


@ops.post("/api/v1/hubs/{id}/release", role="admin", response=obj({"id": ID}, additional=True))
async def release_hub(call: Call):
    """Return a hub to unclaimed: printers detached, pending commands cancelled."""
    hub_id = call.params["id"]
    result = await call.db(hubs_service.release_hub, call.ctx, hub_id)
    realtime_of(call.app).notify_hub_changed(hub_id, claim=True)
    call.audit.entity_id = hub_id
    return result


@ops.post(
    "/api/v1/hubs/{id}/discover",
    role="operator",
    status=202,
    body=obj({"duration_s": {"type": "integer", "minimum": 1, "maximum": 120}}),
    response=obj({"command_id": ID}),
    example={"duration_s": 10},
)
async def discover_printers(call: Call):
    """Ask the hub to look for printers on its LAN (results in the command's result)."""
    message = {"type": "discover_printers", "duration_s": (call.body or {}).get("duration_s", 10)}
    try:
        command_id = await commands_service.send_command(
            call.app, call.ctx, call.params["id"], message
        )
    except RecordNotFound:
        raise not_found("hub", call.params["id"]) from None
    call.audit.entity_id = call.params["id"]
    return {"command_id": command_id}


@ops.get("/api/v1/hubs/{id}/commands/{command_id}", role="viewer", response=COMMAND)
async def get_hub_command(call: Call):
    """Delivery state of one command sent to a hub."""
    status = await call.db(commands_service.command_status, call.ctx, call.params["command_id"])
    if status["hub_id"] != call.params["id"]:
        raise not_found("command", call.params["command_id"])
    return status


@ops.post(
    "/api/v1/admin/hubs",
    role=PUBLIC,
    status=201,
    rate_limit="auth",
    errors=(401,),  # wrong or missing provisioning key
    audit=False,  # no tenant yet; the service logs the registration (never the secret)
    body=obj(
        {
            "hub_id": {"type": "string", "pattern": hubs_service.HUB_ID_PATTERN.pattern},
            "secret": text(256, 32),
            "hardware_revision": text(50, 1),
        }
    ),
    response=obj({"hub_id": ID, "secret": {"type": "string"}}, required=("hub_id", "secret")),
    example={"hardware_revision": "rev-b"},
    description="Factory registration. Requires header X-Provisioning-Key (base64 key from "
    "DATA_DIR/keys.json `provisioning_key` or PRINTFARM_PROVISIONING_KEY). The secret is "
    "returned once and stored only AES-256-GCM sealed.",
)
async def provision_hub(call: Call):
    """Register a factory hub id and secret (unclaimed)."""
    _check_provisioning_key(call.request)
    body = call.body or {}
    try:
        hub_id, secret = await call.db(
            hubs_service.provision_hub,
            call.app[SECRETBOX],
            body.get("hub_id"),
            body.get("secret"),
            body.get("hardware_revision"),
        )
    except hubs_service.HubConflict as exc:
        raise ApiError(409, "conflict", str(exc), field="hub_id") from None
    except ValueError as exc:
        raise ApiError(422, "validation_error", str(exc)) from None
    return {"hub_id": hub_id, "secret": secret}


@ops.get(
    "/api/v1/admin/realtime/stats",
    role=PUBLIC,
    errors=(401,),  # wrong or missing provisioning key
    response=obj({"hubs": {"type": "integer"}}, additional=True),
    description="Operator figures of this process (hubs, dashboards, loop lag, status writes). "
    "Requires X-Provisioning-Key; `?reset=1` starts a new loop-lag window.",
)
async def realtime_stats(call: Call):
    """Real-time figures of the process that answers."""
    _check_provisioning_key(call.request)
    realtime = realtime_of(call.app)
    stats = realtime.stats()
    if call.request.query.get("reset") == "1":
        realtime.loop_monitor.reset()
    return stats


def _check_provisioning_key(request: web.Request) -> None:
    expected = request.app[CONFIG].secret("provisioning_key")
    given = request.headers.get("X-Provisioning-Key", "")
    try:
        raw = base64.b64decode(given, validate=True) if given else b""
    except (binascii.Error, ValueError):
        raw = b""
    if not raw or not hmac.compare_digest(raw, expected):
        raise ApiError(401, "unauthorized", "a valid X-Provisioning-Key header is required")


def setup(app: web.Application) -> None:
    """Add the hub routes."""
    register(app, ops)
