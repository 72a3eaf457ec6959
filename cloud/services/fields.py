"""Declared request fields: type checks and conversion to column values; errors name the field."""

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cloud.errors import validation_error
from cloud.models import RecordNotFound

HEX_COLOR = re.compile(r"^#[0-9A-Fa-f]{6}([0-9A-Fa-f]{2})?$")
MAX_INT = 2**53  # what a JSON client can hold exactly; also well inside BIGINT
MAX_JSON_BYTES = 64 * 1024
_MISSING = object()


@dataclass(frozen=True)
class Field:
    """One writable field: kind is text|int|float|bool|enum|color|json|ref|timestamp."""

    kind: str = "text"
    required: bool = False
    nullable: bool = True
    max_length: int = 255
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple = ()
    ref: type | None = None  # a TenantModel the id must exist in, within the same tenant
    check: Callable[[Any], None] | None = None  # extra check for json (raises ValueError)
    create_only: bool = False


def text(max_length: int = 255, **kw) -> Field:
    """A string field (trimmed; empty means null unless required)."""
    return Field("text", max_length=max_length, **kw)


def integer(minimum=0, maximum=MAX_INT, **kw) -> Field:
    """An integer field within [minimum, maximum]."""
    return Field("int", minimum=minimum, maximum=maximum, **kw)


def number(minimum=0.0, maximum=1e12, **kw) -> Field:
    """A finite float field within [minimum, maximum]."""
    return Field("float", minimum=minimum, maximum=maximum, **kw)


def flag(**kw) -> Field:
    """A JSON boolean (never null: the column has a default meaning)."""
    kw.setdefault("nullable", False)
    return Field("bool", **kw)


def choice(*choices: str, **kw) -> Field:
    """One of the given strings (the spec's statuses and types; never null)."""
    kw.setdefault("nullable", False)
    return Field("enum", choices=choices, **kw)


def color(**kw) -> Field:
    """A #RRGGBB or #RRGGBBAA hex colour."""
    return Field("color", **kw)


def json_value(check=None, **kw) -> Field:
    """A JSON array/object stored as TEXT; `check` validates its structure."""
    return Field("json", check=check, **kw)


def reference(model: type, **kw) -> Field:
    """An id of a row of `model` in the caller's tenant."""
    return Field("ref", ref=model, **kw)


def timestamp(**kw) -> Field:
    """Epoch milliseconds."""
    return Field("timestamp", minimum=0, maximum=MAX_INT, **kw)


def clean(ctx, data, fields: dict[str, Field], *, partial: bool) -> dict:
    """Validate a request body against `fields`; return column values. partial = an update."""
    if not isinstance(data, dict):
        raise validation_error(None, "the request body must be a JSON object")
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise validation_error(unknown[0], f"unknown field '{unknown[0]}'")
    values = {}
    for name, spec in fields.items():
        raw = data.get(name, _MISSING)
        if raw is _MISSING:
            if spec.required and not partial:
                raise validation_error(name, f"'{name}' is required")
            continue
        if partial and spec.create_only:
            raise validation_error(name, f"'{name}' cannot be changed")
        values[name] = convert(ctx, name, raw, spec)
    return values


def convert(ctx, name: str, raw, spec: Field):
    """One value, checked and converted to its column form."""
    if raw is None or (
        spec.kind in ("text", "color", "ref") and isinstance(raw, str) and not raw.strip()
    ):
        if spec.required or not spec.nullable:
            raise validation_error(name, f"'{name}' must not be empty")
        return None
    kind = spec.kind
    if kind == "text":
        if not isinstance(raw, str):
            raise validation_error(name, f"'{name}' must be a string")
        value = raw.strip()
        if len(value) > spec.max_length:
            raise validation_error(name, f"'{name}' is longer than {spec.max_length} characters")
        if "\x00" in value:
            raise validation_error(name, f"'{name}' contains a NUL character")
        return value
    if kind in ("int", "timestamp"):
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise validation_error(name, f"'{name}' must be an integer")
        _check_range(name, raw, spec)
        return raw
    if kind == "float":
        if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not math.isfinite(raw):
            raise validation_error(name, f"'{name}' must be a number")
        _check_range(name, raw, spec)
        return float(raw)
    if kind == "bool":
        if not isinstance(raw, bool):
            raise validation_error(name, f"'{name}' must be true or false")
        return raw
    if kind == "enum":
        if raw not in spec.choices:
            raise validation_error(name, f"'{name}' must be one of: {', '.join(spec.choices)}")
        return raw
    if kind == "color":
        if not isinstance(raw, str) or not HEX_COLOR.match(raw.strip()):
            raise validation_error(name, f"'{name}' must be a hex colour like #1A2B3C")
        return raw.strip().upper()
    if kind == "json":
        if not isinstance(raw, (list, dict)):
            raise validation_error(name, f"'{name}' must be a JSON array or object")
        if spec.check is not None:
            try:
                spec.check(raw)
            except ValueError as exc:
                raise validation_error(name, f"'{name}': {exc}") from None
        encoded = json.dumps(raw, separators=(",", ":"), ensure_ascii=False)
        if len(encoded.encode()) > MAX_JSON_BYTES:
            raise validation_error(name, f"'{name}' is larger than {MAX_JSON_BYTES} bytes")
        return encoded
    if kind == "ref":
        if not isinstance(raw, str) or len(raw) > 64:
            raise validation_error(name, f"'{name}' must be an id string")
        try:
            spec.ref.get_scoped(ctx, raw.strip())
        except RecordNotFound:
            label = spec.ref.__name__
            raise validation_error(name, f"'{name}': no such {label} {raw!r}") from None
        return raw.strip()
    raise AssertionError(f"unknown field kind {kind}")


def _check_range(name, value, spec: Field) -> None:
    if spec.minimum is not None and value < spec.minimum:
        raise validation_error(name, f"'{name}' must be at least {spec.minimum:g}")
    if spec.maximum is not None and value > spec.maximum:
        raise validation_error(name, f"'{name}' must be at most {spec.maximum:g}")


def string_list(value) -> None:
    """Check for a JSON array of short strings (tags, printer ids)."""
    if not isinstance(value, list) or not all(isinstance(v, str) and len(v) <= 100 for v in value):
        raise ValueError("must be an array of strings")
    if len(value) > 100:
        raise ValueError("at most 100 entries")


def json_object(value) -> None:
    """Check for a JSON object."""
    if not isinstance(value, dict):
        raise ValueError("must be a JSON object")
