"""Declared resources and their generic list/get/create/update/delete, always in the tenant scope."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field

import peewee

from cloud.db import database_proxy, executor
from cloud.errors import conflict, not_found, validation_error
from cloud.models import RecordNotFound
from cloud.services import listing
from cloud.services.fields import MAX_INT, Field

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_SEARCH_LENGTH = 100


@dataclass(frozen=True)
class Filter:
    """A list filter: query parameter -> column; kind is text|enum|bool|int."""

    column: str
    kind: str = "text"
    choices: tuple = ()


@dataclass
class Resource:
    """Everything the generic operations need to know about one tenant-owned table."""

    name: str  # singular, used in messages and audit entity_type
    model: type
    fields: dict[str, Field]
    unique: tuple[tuple[str, ...], ...] = ()
    filters: dict[str, Filter] = field(default_factory=dict)
    search: tuple[str, ...] = ()
    sortable: tuple[str, ...] = ("created_at",)
    default_sort: str = "-created_at"
    date_column: str | None = "created_at"
    hidden: tuple[str, ...] = ("tenant_id",)

    @property
    def json_columns(self) -> tuple[str, ...]:
        """Columns holding JSON text, decoded on the way out."""
        return tuple(n for n, f in self.fields.items() if f.kind == "json")


def write_transaction():
    """A transaction for read-then-write work (BEGIN IMMEDIATE on SQLite; see cloud.db.executor)."""
    return executor.write_transaction(database_proxy.obj)


def to_api(resource: Resource, row) -> dict:
    """A row as its JSON representation (JSON columns decoded, hidden columns dropped)."""
    data = row.to_dict(exclude=resource.hidden)
    for column in resource.json_columns:
        if data.get(column) is not None:
            try:
                data[column] = json.loads(data[column])
            except ValueError:
                data[column] = None  # legacy rows written by other tools
    return data


def get_row(ctx, resource: Resource, record_id):
    """The row in the caller's tenant, else a 404 ApiError."""
    if not isinstance(record_id, str) or len(record_id) > 64:
        raise not_found(resource.name, record_id)
    try:
        return resource.model.get_scoped(ctx, record_id)
    except RecordNotFound:
        raise not_found(resource.name, record_id) from None


def create_row(ctx, resource: Resource, values: dict):
    """Insert a row (values already cleaned) in the caller's tenant; 409 on a unique clash."""
    with write_transaction():
        _check_unique(ctx, resource, values, exclude_id=None)
        try:
            row = resource.model.create_scoped(ctx, **values)
        except peewee.IntegrityError as exc:
            raise conflict(None, f"{resource.name} clashes with an existing one") from exc
        # Read back so column defaults come out in their Python types (flags as bools).
        return resource.model.get_scoped(ctx, row._pk)


def update_row(ctx, resource: Resource, record_id, values: dict):
    """Update a row of the caller's tenant with cleaned values; returns the updated row."""
    with write_transaction():
        row = get_row(ctx, resource, record_id)
        if not values:
            return row
        merged = {**row.to_dict(), **values}
        _check_unique(ctx, resource, merged, exclude_id=row.id)
        model = resource.model
        try:
            model.update_scoped(ctx, **values).where(model.id == row.id).execute()
        except peewee.IntegrityError as exc:
            raise conflict(None, f"{resource.name} clashes with an existing one") from exc
        return model.get_scoped(ctx, row.id)


def delete_row(ctx, resource: Resource, record_id) -> None:
    """Delete a row of the caller's tenant (404 if absent); 409 if other rows still need it."""
    with write_transaction():
        row = get_row(ctx, resource, record_id)
        try:
            row.delete_instance()
        except peewee.IntegrityError as exc:
            raise conflict(None, f"{resource.name} is still in use") from exc


def _check_unique(ctx, resource: Resource, values: dict, exclude_id) -> None:
    model = resource.model
    for columns in resource.unique:
        if any(values.get(c) is None for c in columns):
            continue
        query = model.scoped(ctx)
        for column in columns:
            query = query.where(getattr(model, column) == values[column])
        if exclude_id is not None:
            query = query.where(model.id != exclude_id)
        if query.exists():
            label = " + ".join(columns)
            raise conflict(columns[0], f"a {resource.name} with this {label} already exists")


def list_rows(ctx, resource: Resource, params: Mapping[str, str], query=None) -> dict:
    """One page of rows: filters, search `q`, date range `from`/`to`, stable `sort`.

    Returns {"items", "total", "limit", "offset"}; unknown parameters are a 422.
    """
    model = resource.model
    allowed = {"limit", "offset", "sort", *resource.filters}
    if resource.search:
        allowed.add("q")
    if resource.date_column:
        allowed |= {"from", "to"}
    for key in params:
        if key not in allowed:
            raise validation_error(key, f"unknown query parameter '{key}'")
    limit = _int_param(params, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = _int_param(params, "offset", 0, 0, MAX_INT)
    query = model.scoped(ctx) if query is None else query
    for name, spec in resource.filters.items():
        if name in params:
            column = getattr(model, spec.column)
            query = query.where(column == _filter_value(name, params[name], spec))
    if resource.date_column:
        column = getattr(model, resource.date_column)
        if "from" in params:
            query = query.where(column >= _int_param(params, "from", 0, 0, MAX_INT))
        if "to" in params:
            query = query.where(column < _int_param(params, "to", 0, 0, MAX_INT))
    if params.get("q"):
        query = query.where(search_clause(model, resource.search, params["q"]))
    sort = params.get("sort", resource.default_sort)
    if sort.lstrip("-") not in resource.sortable:
        raise validation_error(
            "sort", f"'sort' must be one of: {', '.join(resource.sortable)} (prefix - for desc)"
        )
    # listing.page: ties break on the id and NULLs sort last on both dialects, so pages never
    # repeat or skip rows and SQLite and PostgreSQL agree.
    sort_fields = {name: getattr(model, name) for name in resource.sortable}
    return listing.page(
        query,
        model,
        sort=sort,
        sort_fields=sort_fields,
        limit=limit,
        offset=offset,
        render=lambda row: to_api(resource, row),
    )


def search_clause(model, columns: tuple[str, ...], text: str):
    """Case-insensitive substring match over `columns` (LIKE wildcards in `text` are literal)."""
    if len(text) > MAX_SEARCH_LENGTH:
        raise validation_error("q", f"'q' is longer than {MAX_SEARCH_LENGTH} characters")
    clause = None
    for name in columns:
        match = listing.contains(getattr(model, name), text)
        clause = match if clause is None else (clause | match)
    return clause


def _int_param(params, name, default, minimum, maximum) -> int:
    raw = params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except (TypeError, ValueError):
        raise validation_error(name, f"'{name}' must be an integer") from None
    if not minimum <= value <= maximum:
        raise validation_error(name, f"'{name}' must be between {minimum} and {maximum}")
    return value


def _filter_value(name: str, raw: str, spec: Filter):
    if spec.kind == "bool":
        if isinstance(raw, bool):  # already typed by the operation layer
            return raw
        if raw not in ("true", "false"):
            raise validation_error(name, f"'{name}' must be true or false")
        return raw == "true"
    if spec.kind == "enum" and raw not in spec.choices:
        raise validation_error(name, f"'{name}' must be one of: {', '.join(spec.choices)}")
    if spec.kind == "int":
        return _int_param({name: raw}, name, 0, -MAX_INT, MAX_INT)
    if spec.kind == "enum":
        return raw
    if not isinstance(raw, str) or len(raw) > 255:
        raise validation_error(name, f"'{name}' must be a string of at most 255 characters")
    return raw
