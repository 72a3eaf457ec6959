"""JSON schemas derived from the services' field declarations, and the standard CRUD operations
(list/get/create/update/delete) declared once per resource through the operation layer."""

from collections.abc import Callable

import peewee

from cloud.api.operations import Call, OperationGroup, Param
from cloud.api.schemas import DEFAULT_PAGE_SIZE, MAX_INT64, MAX_PAGE_SIZE, obj, page_of
from cloud.models.base import FlagField
from cloud.services.crud import Resource
from cloud.services.fields import HEX_COLOR, Field

ANY_JSON = {"type": ["object", "array", "null"]}


def field_schema(spec: Field) -> dict:
    """JSON Schema of one writable field (the service re-checks what a schema cannot say)."""
    kind = spec.kind
    if kind in ("text", "ref"):
        schema = {"type": "string", "maxLength": spec.max_length if kind == "text" else 64}
        if spec.required:
            schema["minLength"] = 1
    elif kind in ("int", "timestamp"):
        schema = {"type": "integer", "minimum": spec.minimum, "maximum": spec.maximum}
    elif kind == "float":
        schema = {"type": "number", "minimum": spec.minimum, "maximum": spec.maximum}
    elif kind == "bool":
        schema = {"type": "boolean"}
    elif kind == "enum":
        schema = {"type": "string", "enum": list(spec.choices)}
    elif kind == "color":
        schema = {"type": "string", "pattern": HEX_COLOR.pattern}
    elif kind == "json":
        schema = {"type": ["object", "array"]}
    else:
        raise AssertionError(kind)
    if not spec.required and spec.nullable:
        schema["type"] = (
            [schema["type"], "null"]
            if isinstance(schema["type"], str)
            else [
                *schema["type"],
                "null",
            ]
        )
        if "enum" in schema:
            schema["enum"] = [*schema["enum"], None]
    return schema


def body_schema(fields: dict[str, Field], *, partial: bool, extra: dict | None = None) -> dict:
    """Request body of a create (required fields enforced) or an update (at least one field)."""
    properties = {
        name: field_schema(spec)
        for name, spec in fields.items()
        if not (partial and spec.create_only)
    }
    properties.update(extra or {})
    if partial:
        return {**obj(properties), "minProperties": 1}
    required = [name for name, spec in fields.items() if spec.required]
    return obj(properties, required=required)


def _column_schema(field: peewee.Field, json_columns) -> dict:
    if field.name in json_columns:
        return ANY_JSON
    if isinstance(field, FlagField):
        kind = "boolean"
    elif isinstance(field, (peewee.IntegerField, peewee.AutoField)):
        kind = "integer"
    elif isinstance(field, peewee.FloatField):
        kind = "number"
    else:
        kind = "string"
    return {"type": kind} if field.primary_key else {"type": [kind, "null"]}


def row_schema(resource: Resource, *, extra: dict | None = None, omit=()) -> dict:
    """Response schema of one row as crud.to_api renders it (+ extra computed properties)."""
    model = resource.model
    json_columns = resource.json_columns
    properties = {
        name: _column_schema(field, json_columns)
        for name, field in model._meta.fields.items()
        if name not in resource.hidden and name not in omit
    }
    properties.update(extra or {})
    required = [n for n in ("id", "created_at") if n in properties]
    return obj(properties, required=required)


def list_query(resource: Resource, extra: list[Param] = ()) -> list[Param]:
    """Declared query parameters of a list: page, sort, the resource's filters, q, from/to."""
    sorts = [s for name in resource.sortable for s in (name, "-" + name)]
    params = [
        Param(
            "limit",
            {
                "type": "integer",
                "minimum": 1,
                "maximum": MAX_PAGE_SIZE,
                "default": DEFAULT_PAGE_SIZE,
            },
        ),
        Param("offset", {"type": "integer", "minimum": 0, "maximum": 10_000_000, "default": 0}),
        Param(
            "sort",
            {"type": "string", "enum": sorts, "default": resource.default_sort},
            "field to sort by; '-' for descending (ties break on id)",
        ),
    ]
    for name, spec in resource.filters.items():
        if spec.kind == "bool":
            schema = {"type": "boolean"}
        elif spec.kind == "enum":
            schema = {"type": "string", "enum": list(spec.choices)}
        elif spec.kind == "int":
            schema = {"type": "integer"}
        else:
            schema = {"type": "string", "maxLength": 255}
        params.append(Param(name, schema, f"only rows whose {spec.column} equals this"))
    if resource.search:
        params.append(
            Param(
                "q",
                {"type": "string", "maxLength": 100},
                f"case-insensitive search in {', '.join(resource.search)}",
            )
        )
    if resource.date_column:
        bound = {"type": "integer", "minimum": 0, "maximum": MAX_INT64}
        params.append(Param("from", bound, f"{resource.date_column} >= this (epoch ms)"))
        params.append(Param("to", bound, f"{resource.date_column} < this (epoch ms)"))
    params.extend(extra)
    return params


def declare_crud(
    ops: OperationGroup,
    resource: Resource,
    path: str,
    *,
    plural: str,
    singular: str,
    list_fn: Callable,
    get_fn: Callable,
    create_fn: Callable | None,
    update_fn: Callable | None,
    delete_fn: Callable | None,
    example: dict,
    update_example: dict,
    response: dict | None = None,
    list_item: dict | None = None,
    read_role: str = "viewer",
    write_role: str = "operator",
    create_body: dict | None = None,
    extra_query: list[Param] = (),
) -> None:
    """Declare GET path, POST path, GET/PATCH/DELETE path/{id} for one resource."""
    item = response or row_schema(resource)

    async def list_handler(call: Call):
        return await call.db(list_fn, call.ctx, call.query)

    _declare(
        ops,
        "GET",
        path,
        f"list_{plural}",
        list_handler,
        read_role,
        f"A page of {plural.replace('_', ' ')}, filtered and stably sorted.",
        query=list_query(resource, extra_query),
        response=page_of(list_item or item),
    )

    async def get_handler(call: Call):
        return await call.db(get_fn, call.ctx, call.params["id"])

    _declare(
        ops,
        "GET",
        path + "/{id}",
        f"get_{singular}",
        get_handler,
        read_role,
        f"One {singular.replace('_', ' ')}.",
        response=item,
    )

    if create_fn is not None:

        async def create_handler(call: Call):
            return await call.db(create_fn, call.ctx, call.body)

        _declare(
            ops,
            "POST",
            path,
            f"create_{singular}",
            create_handler,
            write_role,
            f"Create a {singular.replace('_', ' ')}.",
            status=201,
            body=create_body or body_schema(resource.fields, partial=False),
            response=item,
            example=example,
        )

    if update_fn is not None:

        async def update_handler(call: Call):
            call.audit.details = {"fields": sorted(call.body)}
            return await call.db(update_fn, call.ctx, call.params["id"], call.body)

        _declare(
            ops,
            "PATCH",
            path + "/{id}",
            f"update_{singular}",
            update_handler,
            write_role,
            f"Change some fields of a {singular.replace('_', ' ')}.",
            body=body_schema(resource.fields, partial=True),
            response=item,
            example=update_example,
        )

    if delete_fn is not None:

        async def delete_handler(call: Call):
            await call.db(delete_fn, call.ctx, call.params["id"])

        _declare(
            ops,
            "DELETE",
            path + "/{id}",
            f"delete_{singular}",
            delete_handler,
            write_role,
            f"Delete a {singular.replace('_', ' ')}.",
        )


def _declare(ops, method, path, name, handler, role, summary, **options):
    handler.__name__ = handler.__qualname__ = name
    handler.__doc__ = summary
    ops.operation(method, path, role=role, summary=summary, **options)(handler)
