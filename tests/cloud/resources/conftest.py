"""Fixtures for the resource services: two tenants with users in the migrated database."""

import pytest

from cloud.models import Tenant, TenantContext, TenantMember, User, new_id, now_ms, system_access


def make_tenant(slug: str, role: str = "owner") -> TenantContext:
    """A tenant with one member of `role`; returns that member's context."""
    now = now_ms()
    tenant = Tenant.create(
        id=new_id(), name=slug.title(), slug=slug, created_at=now, updated_at=now
    )
    user = User.create(
        id=new_id(), email=f"{slug}-{new_id()[:8]}@example.com", created_at=now, updated_at=now
    )
    with system_access():
        TenantMember.insert(
            tenant_id=tenant.id, user_id=user.id, role=role, created_at=now
        ).execute()
    return TenantContext(tenant_id=tenant.id, user_id=user.id, role=role)


@pytest.fixture
def tenants(any_db):
    """Two unrelated tenants (alpha, beta) on SQLite and on PostgreSQL."""
    return make_tenant("alpha"), make_tenant("beta")
