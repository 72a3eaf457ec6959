"""Declare each REST operation once; derive its aiohttp route, auth + RBAC check, tenant context,
rate limits, request validation, audit entry and OpenAPI entry from that one declaration.

    ops = OperationGroup(tag="printers", resource="printer")

    @ops.get("/api/v1/printers/{id}", role="viewer", response=PRINTER)
    async def get_printer(call: Call):
        return await call.db(printers.get, call.ctx, call.params["id"])

    def setup(app):
        register(app, ops)
"""

import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import jsonschema_rs
import peewee
from aiohttp import web

from cloud.db.executor import run_db
from cloud.errors import ApiError, validation_error
from cloud.keys import CALLER, CONFIG, OPERATIONS, RATE_LIMITER, TOKENS
from cloud.models import TenantContext
from cloud.security.tokens import TokenError
from cloud.services import audit as audit_service
from cloud.services import auth as auth_service

log = logging.getLogger("cloud.api")

# Roles in increasing power (the spec's table). A route names the least role it needs.
ROLES = ("viewer", "operator", "admin", "owner")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
PUBLIC = "public"  # no token at all
USER = "user"  # any valid access token; no tenant role needed (e.g. /auth/me)
MUTATING_METHODS = ("POST", "PUT", "PATCH", "DELETE")

Handler = Callable[["Call"], Awaitable[Any]]
_PLACEHOLDER = re.compile(r"\{(\w+)(?::[^{}]+)?\}")
_PLACEHOLDER_WITH_REGEX = re.compile(r"\{(\w+):[^{}]+\}")


@dataclass(frozen=True)
class Param:
    """A query parameter: name, JSON schema (type drives coercion from text), description."""

    name: str
    schema: dict
    description: str = ""
    required: bool = False


@dataclass
class Operation:
    """One declared route. `access` is PUBLIC, USER or the least role of the tenant member."""

    method: str
    path: str
    handler: Handler
    summary: str
    access: str
    tag: str
    resource: str | None = None
    body: dict | None = None
    response: dict | None = None
    status: int = 200
    query: list[Param] = field(default_factory=list)
    rate_limit: str | None = None  # extra bucket besides "api": "auth" (per IP) or "upload"
    audit: bool | None = None  # default: every mutating method
    action: str | None = None  # audit action; default "<resource>.<handler name>"
    # Non-JSON request bodies (uploads): OpenAPI content map; the handler reads the stream.
    request_content: dict | None = None
    # Non-JSON responses (CSV, files, redirects): OpenAPI content map; handler returns a Response.
    response_content: dict | None = None
    example: dict | None = None  # a valid request body (OpenAPI example; used by generic tests)
    errors: tuple = ()  # extra error statuses the handler itself answers (documented in OpenAPI)
    description: str = ""
    _body_validator: Any = field(default=None, repr=False)
    _response_validator: Any = field(default=None, repr=False)
    _param_validators: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.access not in (PUBLIC, USER) and self.access not in ROLE_RANK:
            raise ValueError(f"{self.operation_id}: unknown access {self.access!r}")
        if self.body is not None:
            self._body_validator = jsonschema_rs.Draft202012Validator(self.body)
        if self.response is not None:
            self._response_validator = jsonschema_rs.Draft202012Validator(self.response)
        for param in self.query:
            self._param_validators[param.name] = jsonschema_rs.Draft202012Validator(param.schema)
        if self.audit is None:
            self.audit = self.method in MUTATING_METHODS
        if self.action is None:
            self.action = f"{self.resource or self.tag}.{self.handler.__name__}"

    @property
    def operation_id(self) -> str:
        """Unique, stable name (the handler's function name)."""
        return self.handler.__name__

    @property
    def tenant_scoped(self) -> bool:
        """True when the route acts inside the caller's tenant with a role check."""
        return self.access in ROLE_RANK

    @property
    def mutating(self) -> bool:
        """True for POST/PUT/PATCH/DELETE."""
        return self.method in MUTATING_METHODS

    @property
    def path_params(self) -> list[str]:
        """Names of the {placeholders} in the path, in order ({key:regex} gives key)."""
        return _PLACEHOLDER.findall(self.path)

    @property
    def doc_path(self) -> str:
        """The path as OpenAPI and aiohttp's canonical form write it (regexes dropped)."""
        return _PLACEHOLDER_WITH_REGEX.sub(r"{\1}", self.path)


class OperationGroup:
    """The operations of one API module (one tag), declared with decorators."""

    def __init__(self, tag: str, resource: str | None = None, description: str = ""):
        self.tag = tag
        self.resource = resource
        self.description = description
        self.operations: list[Operation] = []

    def operation(self, method: str, path: str, *, role: str, summary: str = "", **options):
        """Decorator declaring `method path` handled by the decorated coroutine."""

        def decorate(handler: Handler) -> Handler:
            doc = (handler.__doc__ or "").strip()
            self.operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    handler=handler,
                    summary=summary or doc.split("\n")[0],
                    access=role,
                    tag=self.tag,
                    resource=options.pop("resource", self.resource),
                    **options,
                )
            )
            return handler

        return decorate

    def get(self, path, *, role, **options):
        """Declare a GET."""
        return self.operation("GET", path, role=role, **options)

    def post(self, path, *, role, **options):
        """Declare a POST."""
        return self.operation("POST", path, role=role, **options)

    def put(self, path, *, role, **options):
        """Declare a PUT."""
        return self.operation("PUT", path, role=role, **options)

    def patch(self, path, *, role, **options):
        """Declare a PATCH."""
        return self.operation("PATCH", path, role=role, **options)

    def delete(self, path, *, role, **options):
        """Declare a DELETE."""
        return self.operation("DELETE", path, role=role, **options)


class OperationRegistry:
    """Every operation of the application, in registration order (OpenAPI and tests read it)."""

    def __init__(self):
        self.operations: list[Operation] = []
        self.groups: list[OperationGroup] = []

    def find(self, method: str, path: str) -> Operation | None:
        """The operation declared for exactly `method path`."""
        for op in self.operations:
            if op.method == method and op.path == path:
                return op
        return None


def register(app: web.Application, group: OperationGroup) -> None:
    """Add a group's routes to the app (call from the module's setup(app))."""
    registry = app.get(OPERATIONS)
    if registry is None:
        registry = app[OPERATIONS] = OperationRegistry()
    registry.groups.append(group)
    for op in group.operations:
        if registry.find(op.method, op.path):
            raise ValueError(f"{op.method} {op.path} declared twice")
        if any(other.operation_id == op.operation_id for other in registry.operations):
            raise ValueError(f"operation id {op.operation_id!r} declared twice")
        registry.operations.append(op)
        app.router.add_route(op.method, op.path, _make_route_handler(op), name=op.operation_id)


@dataclass
class AuditEntry:
    """What the audit row of a mutation will say; handlers refine it through `call.audit`."""

    action: str
    entity_type: str | None
    entity_id: str | None = None
    details: dict = field(default_factory=dict)
    tenant_id: str | None = None
    user_id: str | None = None
    skip: bool = False


class Call:
    """Everything a handler needs: validated input, the caller, the tenant context, db access."""

    def __init__(self, request: web.Request, op: Operation):
        self.request = request
        self.app = request.app
        self.op = op
        self.params: dict[str, str] = dict(request.match_info)
        self.query: dict[str, Any] = {}
        self.body: Any = None
        self.user_id: str | None = None
        self.ctx: TenantContext | None = None
        self.api_count: tuple[int, int] | None = None  # (count, window end) when counted early
        self.ip = client_ip(request)
        self.user_agent = request.headers.get("User-Agent", "")[:512]
        self.audit = AuditEntry(op.action, op.resource)

    async def db(self, fn, *args, **kwargs):
        """Run service code on the database pool."""
        return await run_db(self.app, fn, *args, **kwargs)

    async def record_audit(self, result=None) -> None:
        """Write the audit row now (e.g. for a refusal worth recording); the layer then skips it."""
        await _write_audit(self, result)
        self.audit.skip = True


def client_ip(request: web.Request) -> str:
    """The client's address (first X-Forwarded-For hop only when the proxy is trusted)."""
    if request.app[CONFIG].trust_forwarded:
        forwarded = request.headers.get("X-Forwarded-For", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.remote or "unknown"


def _bearer_token(request: web.Request) -> str:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(
            401,
            "unauthorized",
            "missing bearer token",
            headers={"WWW-Authenticate": 'Bearer realm="printfarm"'},
        )
    return token.strip()


def _first_error(validator, instance, prefix: str | None = None) -> ApiError | None:
    """The first schema violation as a 422 naming the field (dotted path), or None."""
    for error in validator.iter_errors(instance):
        path = [str(p) for p in error.instance_path]
        kind = error.kind
        if isinstance(kind, jsonschema_rs.ValidationErrorKind.Required):
            path.append(str(kind.property))
        elif isinstance(kind, jsonschema_rs.ValidationErrorKind.AdditionalProperties):
            path.append(str(kind.unexpected[0]))
        name = ".".join(([prefix] if prefix else []) + path) or None
        message = error.message if len(error.message) < 300 else error.message[:300] + "…"
        return validation_error(name, f"{name}: {message}" if name else message)
    return None


_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no")


def _coerce(param: Param, raw: str):
    """Turn a query string value into the param's JSON type (or raise a 422 naming it)."""
    kinds = param.schema.get("type", "string")
    kinds = kinds if isinstance(kinds, list) else [kinds]
    try:
        if "integer" in kinds:
            return int(raw)
        if "number" in kinds:
            value = float(raw)
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return value
        if "boolean" in kinds:
            if raw.lower() in _TRUE:
                return True
            if raw.lower() in _FALSE:
                return False
            raise ValueError
    except ValueError:
        raise validation_error(
            param.name, f"{param.name}: expected {'/'.join(kinds)}, got {raw[:40]!r}"
        ) from None
    return raw


def _parse_query(op: Operation, request: web.Request) -> dict:
    values = {}
    for param in op.query:
        raw = request.query.get(param.name)
        if raw is None:
            if param.required:
                raise validation_error(param.name, f"{param.name}: required query parameter")
            if "default" in param.schema:
                values[param.name] = param.schema["default"]
            continue
        value = _coerce(param, raw)
        try:
            error = _first_error(op._param_validators[param.name], value, prefix=param.name)
        except UnicodeEncodeError:
            raise validation_error(param.name, f"{param.name}: invalid unicode") from None
        if error:
            raise error
        values[param.name] = value
    return values


async def _parse_body(op: Operation, request: web.Request):
    if not request.body_exists:
        raise ApiError(400, "invalid_json", "request body required (JSON)")
    content_type = request.content_type
    if content_type not in (
        "application/json",
        "application/octet-stream",
        "",
    ) and not content_type.endswith("+json"):
        raise ApiError(415, "unsupported_media_type", "send application/json")
    raw = await request.read()
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "request body is not valid JSON") from None
    try:
        error = _first_error(op._body_validator, body)
    except UnicodeEncodeError:
        # JSON may spell lone surrogates (\ud800) that no database or UTF-8 encoder accepts.
        raise ApiError(400, "invalid_json", "request body contains invalid unicode") from None
    if error:
        raise error
    return body


async def _authenticate(call: Call, op: Operation) -> None:
    """Access token -> user; for tenant routes, membership -> role -> TenantContext (never the body)."""
    try:
        claims = call.app[TOKENS].verify(_bearer_token(call.request))
    except TokenError as exc:
        raise ApiError(
            401,
            "unauthorized",
            str(exc),
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from None
    call.user_id = claims.user_id
    call.request[CALLER] = (claims.user_id, claims.tenant_id)
    limiter = call.app.get(RATE_LIMITER)
    counter = limiter.counter_on_pool("api") if limiter is not None else None
    if counter is not None:
        # One trip to the pool for the per-request reads/writes: role, password age, API counter.
        (role, changed_at, revoked), call.api_count = await call.db(
            _caller_and_count, claims, counter, limiter.key("api", claims.user_id)
        )
    else:
        role, changed_at, revoked = await call.db(
            auth_service.caller, claims.user_id, claims.tenant_id, claims.session_id
        )
    if changed_at is not None and claims.issued_at_ms < changed_at:
        # A password change ends every session at once, access tokens included.
        raise ApiError(401, "unauthorized", "access token predates a password change; log in again")
    if revoked:
        # Logged out, or its refresh token was replayed (theft): the access token ends too.
        raise ApiError(401, "unauthorized", "this session has ended; log in again")
    if op.access == USER:
        call.ctx = TenantContext(claims.tenant_id, claims.user_id, role)
        return
    if role is None:
        raise ApiError(401, "unauthorized", "no longer a member of this tenant; log in again")
    call.ctx = TenantContext(claims.tenant_id, claims.user_id, role)
    if ROLE_RANK.get(role, -1) < ROLE_RANK[op.access]:
        raise ApiError(403, "forbidden", f"this action needs the {op.access} role or higher")


def _caller_and_count(claims, counter, key: str):
    incr_now, window_ms = counter
    caller = auth_service.caller(claims.user_id, claims.tenant_id, claims.session_id)
    return caller, incr_now(key, window_ms)


async def _rate_limit(call: Call, op: Operation) -> None:
    limiter = call.app.get(RATE_LIMITER)
    if limiter is None:
        return
    if op.rate_limit == "auth":
        await limiter.hit("auth", call.ip)
    if call.api_count is not None:
        limiter.check("api", *call.api_count)  # counted with the membership check
    elif call.user_id is not None:
        await limiter.hit("api", call.user_id)
    if op.rate_limit == "upload" and call.ctx is not None:
        await limiter.hit("upload", call.ctx.tenant_id)


_TRANSIENT_MARKERS = ("locked", "busy", "connection", "server closed", "terminating", "timeout")


def _transient(exc: Exception) -> bool:
    """A database error that retrying can cure (lock contention, a dropped connection)."""
    text = str(exc).lower()
    return any(marker in text for marker in _TRANSIENT_MARKERS)


def _encodable(text: str) -> bool:
    try:
        text.encode()
        return True
    except UnicodeEncodeError:  # lone surrogates from percent-decoded invalid UTF-8
        return False


def _make_route_handler(op: Operation):
    async def route_handler(request: web.Request) -> web.StreamResponse:
        call = Call(request, op)
        try:
            return await _serve(call, op)
        except peewee.OperationalError as exc:
            if not _transient(exc):
                raise  # a bug (bad SQL): logged as a 500
            log.warning("database unavailable in %s: %s", op.operation_id, exc)
        except peewee.InterfaceError as exc:
            log.warning("database connection lost in %s: %s", op.operation_id, exc)
        raise ApiError(
            503, "unavailable", "database busy or unreachable; retry", headers={"Retry-After": "1"}
        )

    route_handler.__name__ = op.operation_id
    return route_handler


async def _serve(call: Call, op: Operation) -> web.StreamResponse:
    """Authenticate, limit, validate, run the handler, audit, respond."""
    for value in call.params.values():
        if not value.isprintable() or not _encodable(value):
            raise ApiError(404, "not_found", "no such record")  # undecodable id: nothing has it
    if op.rate_limit == "auth" and op.access == PUBLIC:
        await _rate_limit(call, op)  # per-IP limit comes before any work
    if op.access != PUBLIC:
        await _authenticate(call, op)
        await _rate_limit(call, op)
    call.query = _parse_query(op, call.request)
    if op.body is not None:
        call.body = await _parse_body(op, call.request)
    try:
        result = await op.handler(call)
    except peewee.IntegrityError:
        raise ApiError(409, "conflict", "conflicts with an existing record") from None
    except peewee.DataError:
        raise ApiError(422, "validation_error", "a value is out of range for its field") from None
    if op.audit and not call.audit.skip:
        try:
            await _write_audit(call, result)
        except Exception:
            # The change is committed: answering an error now would invite a duplicate retry.
            # The entry goes to the log instead, where it is not lost.
            log.exception(
                "audit write failed",
                extra={
                    "audit_action": call.audit.action,
                    "audit_entity_id": call.audit.entity_id,
                    "audit_user_id": call.user_id,
                    "audit_ip": call.ip,
                },
            )
    return _respond(call, op, result)


def _respond(call: Call, op: Operation, result) -> web.StreamResponse:
    if isinstance(result, web.StreamResponse):
        return result
    if result is None and op.response is None:
        return web.Response(status=op.status if op.status != 200 else 204)
    if op._response_validator is not None and call.app[CONFIG].validate_responses:
        error = _first_error(op._response_validator, result)
        if error:
            log.error("response of %s breaks its schema: %s", op.operation_id, error.message)
            raise ApiError(500, "response_schema_mismatch", error.message)
    return web.json_response(result, status=op.status)


async def _write_audit(call: Call, result) -> None:
    entry = call.audit
    tenant_id = entry.tenant_id or (call.ctx.tenant_id if call.ctx else None)
    if tenant_id is None:
        return  # nothing happened inside a tenant (e.g. a refused login)
    if entry.entity_id is None:
        entry.entity_id = call.params.get("id") or (
            result.get("id")
            if isinstance(result, dict) and isinstance(result.get("id"), str)
            else None
        )
    await call.db(
        audit_service.record,
        tenant_id=tenant_id,
        user_id=entry.user_id or call.user_id,
        action=entry.action,
        entity_type=entry.entity_type,
        entity_id=entry.entity_id,
        details=entry.details,
        ip_address=call.ip,
        user_agent=call.user_agent,
    )
