"""Helpers for tests that walk every declared operation: fill paths, build valid bodies."""

import uuid

from cloud.api.operations import Operation
from cloud.keys import OPERATIONS


def operations(server) -> list[Operation]:
    """Every operation registered in the live server's app."""
    return list(server.app[OPERATIONS].operations)


def fill_path(op: Operation, params: dict | None = None) -> str:
    """The op's path with placeholders replaced (random ids for those not given)."""
    path = op.doc_path
    for name in op.path_params:
        value = (params or {}).get(name) or f"missing-{uuid.uuid4().hex[:12]}"
        path = path.replace("{" + name + "}", value)
    return path


def minimal_instance(schema: dict):
    """A small value valid for a (simple) JSON schema: required properties only."""
    if "const" in schema:
        return schema["const"]
    if "enum" in schema:
        return next(v for v in schema["enum"] if v is not None)
    for combinator in ("anyOf", "oneOf"):
        if combinator in schema:
            return minimal_instance(schema[combinator][0])
    kinds = schema.get("type", "object")
    kind = next((k for k in kinds if k != "null"), "null") if isinstance(kinds, list) else kinds
    if kind == "object":
        props = schema.get("properties", {})
        return {name: minimal_instance(props.get(name, {})) for name in schema.get("required", [])}
    if kind == "array":
        return [minimal_instance(schema.get("items", {})) for _ in range(schema.get("minItems", 0))]
    if kind == "string":
        if "pattern" in schema and "@" in schema["pattern"]:
            return "someone@example.com"
        if "pattern" in schema and "#" in schema["pattern"]:
            return "#336699"
        return "x" * max(schema.get("minLength", 1), 1)
    if kind == "integer":
        return (
            max(schema.get("minimum", 1), 1)
            if schema.get("maximum", 2) >= 1
            else schema.get("minimum", 0)
        )
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return True
    return None


def valid_body(op: Operation):
    """The declared example, else a minimal instance of the body schema (None: no JSON body)."""
    if op.body is None:
        return None
    if op.example is not None:
        return op.example
    return minimal_instance(op.body)
