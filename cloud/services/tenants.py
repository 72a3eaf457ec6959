"""The tenant itself: read, rename/settings, delete (owner), and its audit trail."""

import json

from cloud.errors import ApiError
from cloud.models import Tenant, TenantContext, now_ms


def _tenant(ctx: TenantContext) -> Tenant:
    tenant = Tenant.get_or_none(Tenant.id == ctx.tenant_id)
    if tenant is None:
        raise ApiError(404, "not_found", "tenant not found")
    return tenant


def tenant_dict(tenant: Tenant) -> dict:
    """Public shape of the tenant, settings parsed."""
    return {
        "id": tenant.id,
        "name": tenant.name,
        "slug": tenant.slug,
        "subscription_tier": tenant.subscription_tier,
        "subscription_status": tenant.subscription_status,
        "settings": json.loads(tenant.settings) if tenant.settings else {},
        "created_at": tenant.created_at,
        "updated_at": tenant.updated_at,
    }


def get_tenant(ctx: TenantContext) -> dict:
    """The caller's tenant."""
    return tenant_dict(_tenant(ctx))


def update_tenant(ctx: TenantContext, changes: dict) -> dict:
    """Rename the tenant and/or replace its settings object."""
    values = {"updated_at": now_ms()}
    if "name" in changes:
        values["name"] = changes["name"]
    if "settings" in changes:
        values["settings"] = json.dumps(changes["settings"], sort_keys=True)
    Tenant.update(**values).where(Tenant.id == ctx.tenant_id).execute()
    return get_tenant(ctx)


def delete_tenant(ctx: TenantContext) -> None:
    """Delete the tenant and (by ON DELETE CASCADE) every row it owns."""
    Tenant.delete().where(Tenant.id == ctx.tenant_id).execute()
