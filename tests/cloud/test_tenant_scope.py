"""The tenant scope: no query on a tenant-owned table runs without a tenant, and scopes never leak."""

import pytest

from cloud.models import (
    Printer,
    RecordNotFound,
    Tenant,
    TenantContext,
    TenantScopeError,
    new_id,
    now_ms,
    system_access,
)


def make_tenant(slug: str) -> TenantContext:
    now = now_ms()
    tenant = Tenant.create(
        id=new_id(), name=slug.title(), slug=slug, created_at=now, updated_at=now
    )
    return TenantContext(tenant_id=tenant.id)


def test_unscoped_queries_are_errors(any_db):
    for call in (
        Printer.select,
        Printer.delete,
        lambda: Printer.update(name="x"),
        lambda: Printer.insert(name="x"),
        lambda: Printer.get_by_id("x"),
    ):
        with pytest.raises(TenantScopeError):
            call()


def test_scopes_never_leak_between_tenants(any_db):
    a, b = make_tenant("alpha"), make_tenant("beta")
    pa = Printer.create_scoped(a, name="P1", model="P1S", cleared=True)
    pb = Printer.create_scoped(b, name="P1", model="X1C")
    assert [p.id for p in Printer.scoped(a)] == [pa.id]
    assert Printer.get_scoped(b, pb.id).model == "X1C"
    with pytest.raises(RecordNotFound):
        Printer.get_scoped(a, pb.id)
    assert Printer.update_scoped(a, status="idle").where(Printer.id == pb.id).execute() == 0
    assert Printer.delete_scoped(a).where(Printer.id == pb.id).execute() == 0
    assert Printer.get_scoped(b, pb.id).status == "offline"  # the spec's default
    with system_access():
        assert Printer.select().count() == 2


def test_tenant_comes_from_context_only(any_db):
    a, b = make_tenant("alpha"), make_tenant("beta")
    with pytest.raises(TenantScopeError):
        Printer.create_scoped(a, tenant_id=b.tenant_id, name="x", model="P1S")
    with pytest.raises(TenantScopeError):
        Printer.update_scoped(a, tenant_id=b.tenant_id)
    with pytest.raises(TenantScopeError):
        Printer.scoped(TenantContext(tenant_id=""))


def test_flags_round_trip_as_booleans_and_timestamps_are_milliseconds(any_db):
    a = make_tenant("alpha")
    printer = Printer.create_scoped(a, name="P1", model="P1S", in_maintenance=True)
    loaded = Printer.get_scoped(a, printer.id)
    assert loaded.in_maintenance is True and loaded.cleared is True
    assert loaded.created_at > 1_600_000_000_000  # epoch ms, not seconds
    loaded.cleared = False
    loaded.save()
    assert Printer.get_scoped(a, printer.id).cleared is False


def test_foreign_keys_cascade_on_tenant_delete(any_db):
    a = make_tenant("alpha")
    Printer.create_scoped(a, name="P1", model="P1S")
    Tenant.delete().where(Tenant.id == a.tenant_id).execute()
    with system_access():
        assert Printer.select().count() == 0
