"""JSON Schema building blocks shared by every route declaration (OpenAPI 3.1 = JSON Schema 2020-12)."""

from cloud.api.operations import Param

# Epoch milliseconds everywhere; bounded so no client can overflow a BIGINT.
MAX_INT64 = 2**63 - 1
TIMESTAMP = {"type": "integer", "minimum": 0, "maximum": MAX_INT64}
NULLABLE_TIMESTAMP = {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_INT64}
ID = {"type": "string", "minLength": 1, "maxLength": 64}
ROLE = {"type": "string", "enum": ["owner", "admin", "operator", "viewer"]}
EMAIL = {"type": "string", "maxLength": 254, "pattern": r"^[^@\s]+@[^@\s]+\.[^@\s]+$"}

ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "field": {"type": "string"},
            },
        }
    },
}

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200


def text(max_length: int = 255, min_length: int = 0, nullable: bool = False) -> dict:
    """A bounded string (optionally nullable)."""
    schema = {"type": ["string", "null"] if nullable else "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    return schema


def integer(minimum: int = 0, maximum: int = MAX_INT64, nullable: bool = False) -> dict:
    """A bounded integer (optionally nullable)."""
    return {
        "type": ["integer", "null"] if nullable else "integer",
        "minimum": minimum,
        "maximum": maximum,
    }


def obj(properties: dict, required=(), additional: bool = False) -> dict:
    """An object schema; unknown fields are refused by default so typos surface as 422."""
    schema = {"type": "object", "properties": properties, "additionalProperties": additional}
    if required:
        schema["required"] = list(required)
    return schema


def page_of(item: dict) -> dict:
    """The envelope of every list: items, total count, and the window asked for."""
    return obj(
        {
            "items": {"type": "array", "items": item},
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
            "offset": {"type": "integer", "minimum": 0},
        },
        required=("items", "total", "limit", "offset"),
    )


def list_params(sort_fields, default_sort: str, filters=()) -> list[Param]:
    """limit/offset/sort (+ the resource's filters). Sorting is stable: ties break on id."""
    sorts = [f for name in sort_fields for f in (name, "-" + name)]
    return [
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
            {"type": "string", "enum": sorts, "default": default_sort},
            "field to sort by; '-' for descending",
        ),
        *filters,
    ]
