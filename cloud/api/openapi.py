"""/api/v1/openapi.json: the OpenAPI 3.1 document, built from the operation declarations."""

import copy

from aiohttp import web

from cloud.api.operations import PUBLIC, ROLE_RANK, USER, Operation, OperationRegistry
from cloud.api.schemas import ERROR
from cloud.keys import CONFIG, OPERATIONS

OPENAPI_PATH = "/api/v1/openapi.json"
API_VERSION = "1.0.0"

_ERROR_TEXT = {
    400: "Malformed request (e.g. invalid JSON)",
    401: "Missing, invalid or expired access token",
    403: "Role too low for this action (or, for signed URLs, a bad or expired signature)",
    404: "No such record in this tenant",
    405: "Method not allowed",
    409: "Conflicts with an existing record",
    413: "Request body too large",
    415: "Unsupported media type",
    416: "Requested byte range not satisfiable",
    422: "A field is invalid (error.field names it)",
    429: "Rate limited (see Retry-After)",
    503: "Service unavailable",
}


def _error_statuses(op: Operation) -> list[int]:
    statuses = [422, *op.errors]
    if op.body is not None or op.request_content is not None:
        statuses += [400, 413, 415]
    if op.access != PUBLIC:
        statuses.append(401)
    if op.tenant_scoped:
        statuses.append(403)
    if op.path_params or op.tenant_scoped:
        statuses.append(404)
    if op.mutating:
        statuses.append(409)
    if op.access != PUBLIC or op.rate_limit:
        statuses.append(429)
    if op.access == USER or op.rate_limit == "auth":
        statuses.append(403)
    if op.operation_id == "healthz":
        statuses.append(503)
    return sorted(set(statuses))


def _operation_object(op: Operation) -> dict:
    entry: dict = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
    }
    description = op.description or ""
    if op.tenant_scoped:
        description = (description + f"\n\nRequires role **{op.access}** or higher.").strip()
        entry["x-required-role"] = op.access
    if description:
        entry["description"] = description
    if op.access == PUBLIC:
        entry["security"] = []
    parameters = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for name in op.path_params
    ]
    for param in op.query:
        item = {
            "name": param.name,
            "in": "query",
            "required": param.required,
            "schema": param.schema,
        }
        if param.description:
            item["description"] = param.description
        parameters.append(item)
    if parameters:
        entry["parameters"] = parameters
    if op.body is not None:
        media = {"schema": op.body}
        if op.example is not None:
            media["example"] = op.example
        entry["requestBody"] = {"required": True, "content": {"application/json": media}}
    elif op.request_content is not None:
        entry["requestBody"] = {"required": True, "content": op.request_content}
    responses: dict = {}
    if op.response_content is not None:
        responses[str(op.status)] = {"description": "Success", "content": op.response_content}
    elif op.response is not None:
        responses[str(op.status)] = {
            "description": "Success",
            "content": {"application/json": {"schema": op.response}},
        }
    else:
        responses["204" if op.status == 200 else str(op.status)] = {
            "description": "Done, no content"
        }
    for status in _error_statuses(op):
        responses[str(status)] = {
            "description": _ERROR_TEXT[status],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
    entry["responses"] = responses
    return entry


def build_document(registry: OperationRegistry, server_url: str | None = None) -> dict:
    """The whole OpenAPI 3.1 document for the registered operations."""
    paths: dict = {}
    for op in registry.operations:
        paths.setdefault(op.doc_path, {})[op.method.lower()] = _operation_object(op)
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "PrintFarm Cloud API",
            "version": API_VERSION,
            "description": "REST API of the PrintFarm cloud. Roles: "
            + " < ".join(sorted(ROLE_RANK, key=ROLE_RANK.get))
            + '. Errors are {"error": {"code", "message", "field"?}}.',
        },
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "tags": [
            {"name": group.tag, "description": group.description}
            for group in registry.groups
            if group.operations
        ],
        "paths": paths,
        "components": {
            "schemas": {"Error": copy.deepcopy(ERROR)},
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
        "security": [{"bearerAuth": []}],
    }
    if server_url:
        document["servers"] = [{"url": server_url}]
    return document


def setup(app: web.Application) -> None:
    """Serve the document (built once, at start-up, when every module has registered)."""

    async def build(app: web.Application) -> None:
        app[_DOCUMENT] = build_document(app[OPERATIONS], app[CONFIG].public_url)

    async def serve_document(request: web.Request) -> web.Response:
        return web.json_response(request.app[_DOCUMENT])

    app.on_startup.append(build)
    app.router.add_route("GET", OPENAPI_PATH, serve_document, name="openapi")


_DOCUMENT = web.AppKey("openapi_document", dict)
