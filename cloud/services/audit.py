"""The audit log: who did what to which entity, from where (one row per mutation)."""

import json

from cloud.models import AuditLog, TenantContext, now_ms

MAX_DETAILS_CHARS = 8000


def record(
    *,
    tenant_id: str,
    user_id: str | None,
    action: str,
    entity_type: str | None = None,
    entity_id: str | None = None,
    details: dict | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
) -> AuditLog:
    """Append one audit row (details as JSON, truncated so a huge body cannot bloat the log)."""
    text = json.dumps(details, default=str, sort_keys=True) if details else None
    if text and len(text) > MAX_DETAILS_CHARS:
        text = json.dumps({"truncated": True, "preview": text[:MAX_DETAILS_CHARS]})
    return AuditLog.create_scoped(
        TenantContext(tenant_id),
        user_id=user_id,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        details=text,
        ip_address=ip_address,
        user_agent=user_agent,
        created_at=now_ms(),
    )


def list_entries(ctx: TenantContext, limit: int = 100, action: str | None = None) -> list[dict]:
    """Newest audit rows of the tenant."""
    query = AuditLog.scoped(ctx)
    if action:
        query = query.where(AuditLog.action == action)
    rows = query.order_by(AuditLog.created_at.desc(), AuditLog.id.desc()).limit(limit)
    return [
        {
            **row.to_dict(exclude=("tenant_id",)),
            "details": json.loads(row.details) if row.details else None,
        }
        for row in rows
    ]
