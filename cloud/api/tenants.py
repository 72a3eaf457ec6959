"""/api/v1/tenant: the caller's tenant (settings, deletion) and /api/v1/audit, its audit trail."""

import logging

from aiohttp import web

from cloud.api.operations import Call, OperationGroup, Param, register
from cloud.api.schemas import ID, NULLABLE_TIMESTAMP, TIMESTAMP, obj, text
from cloud.services import audit as audit_service
from cloud.services import tenants as tenants_service

log = logging.getLogger("cloud.api.tenants")

ops = OperationGroup(tag="tenant", resource="tenant", description="The tenant and its audit log")

TENANT = obj(
    {
        "id": ID,
        "name": {"type": "string"},
        "slug": {"type": "string"},
        "subscription_tier": text(nullable=True),
        "subscription_status": text(nullable=True),
        "settings": {"type": "object"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
    required=("id", "name", "slug", "settings", "created_at", "updated_at"),
)
AUDIT_ENTRY = obj(
    {
        "id": ID,
        "user_id": {"type": ["string", "null"]},
        "action": {"type": "string"},
        "entity_type": {"type": ["string", "null"]},
        "entity_id": {"type": ["string", "null"]},
        "details": {"type": ["object", "null"]},
        "ip_address": {"type": ["string", "null"]},
        "user_agent": {"type": ["string", "null"]},
        "created_at": NULLABLE_TIMESTAMP,
    },
    required=("id", "action", "created_at"),
)


@ops.get("/api/v1/tenant", role="viewer", response=TENANT)
async def get_tenant(call: Call):
    """The tenant of this token."""
    return await call.db(tenants_service.get_tenant, call.ctx)


@ops.patch(
    "/api/v1/tenant",
    role="admin",
    body=obj({"name": text(120, 1), "settings": {"type": "object", "maxProperties": 100}}),
    response=TENANT,
    example={"name": "North Farm"},
)
async def update_tenant(call: Call):
    """Rename the tenant or replace its settings."""
    call.audit.details = {"fields": sorted(call.body)}
    return await call.db(tenants_service.update_tenant, call.ctx, call.body)


@ops.delete("/api/v1/tenant", role="owner")
async def delete_tenant(call: Call):
    """Delete the tenant and everything it owns (owner only)."""
    call.audit.skip = True  # the audit rows go with the tenant; this log line remains
    await call.db(tenants_service.delete_tenant, call.ctx)
    log.warning(
        "tenant deleted",
        extra={"tenant_id": call.ctx.tenant_id, "user_id": call.user_id, "ip": call.ip},
    )


@ops.get(
    "/api/v1/audit",
    role="viewer",
    resource="audit_log",
    query=[
        Param("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 100}),
        Param("action", text(100), "only this action, e.g. printer.create_printer"),
    ],
    response={"type": "array", "items": AUDIT_ENTRY},
)
async def list_audit_log(call: Call):
    """Newest audit entries of the tenant."""
    return await call.db(
        audit_service.list_entries, call.ctx, call.query["limit"], call.query.get("action")
    )


def setup(app: web.Application) -> None:
    """Add the tenant routes."""
    register(app, ops)
