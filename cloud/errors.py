"""ApiError, the one error type of the cloud, and the middleware that maps errors to JSON."""

import json
import logging

from aiohttp import web

from cloud.keys import ERROR_CODE, OPERATIONS
from cloud.models import RecordNotFound

log = logging.getLogger("cloud.errors")


class ApiError(Exception):
    """A client-visible failure: HTTP status, stable machine code, human message, optional field."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        headers: dict | None = None,
    ):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = headers or {}

    def body(self) -> dict:
        """The JSON body: {"error": {"code", "message"[, "field"]}}."""
        error = {"code": self.code, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
        return {"error": error}

    def response(self) -> web.Response:
        """This error as an aiohttp JSON response."""
        return web.json_response(self.body(), status=self.status, headers=self.headers)

    def frame(self) -> dict:
        """This error as a WebSocket message: {"type": "error", "code", "message"[, "field"]}."""
        return {"type": "error", **self.body()["error"]}


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


# aiohttp's own HTTP errors (no route, wrong method, body too large) keep their status but get
# our JSON shape and a stable code.
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def from_http_exception(exc: web.HTTPException) -> ApiError:
    """Translate an aiohttp HTTPException (4xx) into an ApiError."""
    code = _HTTP_CODES.get(exc.status, "http_error")
    headers = {}
    if exc.status == 405 and "Allow" in exc.headers:
        headers["Allow"] = exc.headers["Allow"]
    return ApiError(exc.status, code, exc.reason or code, headers=headers)


def _declared_methods(request: web.Request) -> set[str]:
    """Methods declared for exactly this (static) path. aiohttp's own Allow also lists those of a
    sibling `{id}` route the path happens to match (/hubs/claim vs /hubs/{id})."""
    registry = request.app.get(OPERATIONS)
    if registry is None:
        return set()
    return {op.method for op in registry.operations if op.path == request.path}


@web.middleware
async def error_middleware(request: web.Request, handler):
    """Map ApiError, RecordNotFound and aiohttp 4xx to JSON; anything else is a logged 500."""
    try:
        return await handler(request)
    except ApiError as exc:
        request[ERROR_CODE] = exc.code
        return exc.response()
    except RecordNotFound as exc:
        request[ERROR_CODE] = "not_found"
        return not_found(exc.model.__name__.lower()).response()
    except web.HTTPException as exc:
        if exc.status < 400 or exc.status == 101:
            raise  # redirects / upgrades / 2xx raised on purpose
        if exc.content_type == "application/json":
            try:
                json.loads(exc.text or "")
                raise
            except ValueError:
                pass
        error = from_http_exception(exc)
        if exc.status == 405:
            declared = _declared_methods(request)
            if declared:
                error.headers["Allow"] = ",".join(sorted(declared))
        request[ERROR_CODE] = error.code
        return error.response()
    except ConnectionResetError:
        raise
    except Exception:
        log.exception("unhandled error in %s %s", request.method, request.path)
        request[ERROR_CODE] = "internal_error"
        return ApiError(500, "internal_error", "internal server error").response()
