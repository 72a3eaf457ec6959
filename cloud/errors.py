"""ApiError, the one error type of the cloud (placeholder until restcore's module lands on main)."""


class ApiError(Exception):
    """A client-visible failure: HTTP status, stable machine code, human message, optional field."""

    def __init__(self, status: int, code: str, message: str, field=None, headers=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}


def not_found(what: str, record_id=None) -> ApiError:
    """404 for a missing row (also what another tenant's row looks like)."""
    suffix = f" {record_id}" if record_id is not None else ""
    return ApiError(404, "not_found", f"{what}{suffix} not found")


def validation_error(field: str | None, message: str) -> ApiError:
    """422 naming the offending field."""
    return ApiError(422, "validation_error", message, field=field)


def conflict(field: str | None, message: str) -> ApiError:
    """409 for a uniqueness clash, naming the field."""
    return ApiError(409, "conflict", message, field=field)
