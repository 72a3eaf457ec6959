"""Model base classes, the tenant scope every tenant-owned query goes through, and shared fields."""

import contextlib
import contextvars
import time
import uuid
from dataclasses import dataclass

import peewee

from cloud.db import database_proxy


def now_ms() -> int:
    """Current time as integer epoch milliseconds: the one timestamp unit of every table."""
    return int(time.time() * 1000)


def new_id() -> str:
    """A new primary key: a random UUID as text (the spec's ids are TEXT)."""
    return str(uuid.uuid4())


class FlagField(peewee.IntegerField):
    """A boolean stored as INTEGER 0/1, as the spec's schema does (bool in Python)."""

    def db_value(self, value):
        return None if value is None else int(bool(value))

    def python_value(self, value):
        return None if value is None else bool(value)


class TenantScopeError(RuntimeError):
    """A tenant-owned table was queried without a tenant context: a programming error."""


class RecordNotFound(LookupError):
    """No row with that id in the caller's tenant (another tenant's row is 'not found' too)."""

    def __init__(self, model: type, record_id):
        super().__init__(f"{model.__name__} {record_id!r} not found")
        self.model = model
        self.record_id = record_id


@dataclass(frozen=True)
class TenantContext:
    """Who is acting and for which tenant, derived from the authenticated membership only."""

    tenant_id: str
    user_id: str | None = None
    role: str | None = None


class BaseModel(peewee.Model):
    """Base of every model: bound to the configured database, table names as in the spec."""

    class Meta:
        database = database_proxy
        legacy_table_names = False

    def to_dict(self, exclude: tuple[str, ...] = ()) -> dict:
        """Column values keyed by column name."""
        return {
            name: getattr(self, name)
            for name in self._meta.sorted_field_names
            if name not in exclude
        }


# Set only inside the scoped constructors below and inside instance save/delete, so a bare
# `Printer.select()` anywhere else raises instead of silently reading every tenant's rows.
_scope_open = contextvars.ContextVar("tenant_scope_open", default=False)


@contextlib.contextmanager
def system_access():
    """Let trusted system code (workers, the hub link) query across tenants; use sparingly."""
    token = _scope_open.set(True)
    try:
        yield
    finally:
        _scope_open.reset(token)


class TenantModel(BaseModel):
    """A table with a tenant_id column: every query must name the tenant through a context."""

    # --- guarded peewee entry points -------------------------------------------------------
    @classmethod
    def _check_scope(cls, operation: str) -> None:
        if not _scope_open.get():
            raise TenantScopeError(
                f"{cls.__name__}.{operation}() without a tenant: use {cls.__name__}.scoped(ctx) "
                f"or system_access()"
            )

    @classmethod
    def select(cls, *fields):
        cls._check_scope("select")
        return super().select(*fields)

    @classmethod
    def update(cls, __data=None, **update):
        cls._check_scope("update")
        return super().update(__data, **update)

    @classmethod
    def delete(cls):
        cls._check_scope("delete")
        return super().delete()

    @classmethod
    def insert(cls, __data=None, **insert):
        cls._check_scope("insert")
        return super().insert(__data, **insert)

    @classmethod
    def insert_many(cls, rows, fields=None):
        cls._check_scope("insert_many")
        return super().insert_many(rows, fields)

    def save(self, *args, **kwargs):
        """Save this row; it must already carry a tenant_id (tables where it may be NULL aside)."""
        if self.tenant_id is None and not self._meta.fields["tenant_id"].null:
            raise TenantScopeError(f"{type(self).__name__} saved without tenant_id")
        with system_access():
            return super().save(*args, **kwargs)

    def delete_instance(self, *args, **kwargs):
        """Delete this row (already loaded through a scope)."""
        with system_access():
            return super().delete_instance(*args, **kwargs)

    # --- the scoped API ----------------------------------------------------------------------
    @classmethod
    def scoped(cls, ctx: TenantContext, *fields):
        """SELECT restricted to the context's tenant."""
        with system_access():
            return super().select(*fields).where(cls.tenant_id == _tenant_of(ctx))

    @classmethod
    def get_scoped(cls, ctx: TenantContext, record_id):
        """The row with that id in the context's tenant, else RecordNotFound."""
        row = cls.scoped(ctx).where(cls._meta.primary_key == record_id).first()
        if row is None:
            raise RecordNotFound(cls, record_id)
        return row

    @classmethod
    def create_scoped(cls, ctx: TenantContext, **values):
        """Insert a row owned by the context's tenant; a tenant_id in `values` is refused."""
        if "tenant_id" in values:
            raise TenantScopeError("tenant_id comes from the context, never from the caller")
        now = now_ms()
        for stamp in ("created_at", "updated_at"):
            if stamp in cls._meta.fields and values.get(stamp) is None:
                values[stamp] = now
        row = cls(tenant_id=_tenant_of(ctx), **values)
        row.save(force_insert=True)
        return row

    @classmethod
    def update_scoped(cls, ctx: TenantContext, **values):
        """UPDATE restricted to the context's tenant (add .where() and .execute())."""
        if "tenant_id" in values:
            raise TenantScopeError("a row never moves to another tenant")
        if "updated_at" in cls._meta.fields:
            values.setdefault("updated_at", now_ms())
        with system_access():
            return super().update(**values).where(cls.tenant_id == _tenant_of(ctx))

    @classmethod
    def delete_scoped(cls, ctx: TenantContext):
        """DELETE restricted to the context's tenant (add .where() and .execute())."""
        with system_access():
            return super().delete().where(cls.tenant_id == _tenant_of(ctx))


def _tenant_of(ctx: TenantContext) -> str:
    if not isinstance(ctx, TenantContext) or not ctx.tenant_id:
        raise TenantScopeError("a TenantContext with a tenant_id is required")
    return ctx.tenant_id
