"""The OpenAPI 3.1 contract: every registered route documented, real responses match their
schemas, and schemathesis fuzzing of a live `printfarm cloud serve` finds no 5xx."""

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp
import jsonschema_rs

from cloud.api.operations import OperationGroup, register
from tests.cloud.declared import fill_path, operations, valid_body

ROOT = Path(__file__).resolve().parents[2]
# Served outside the contract: Prometheus text, the document itself, WebSockets.
UNDOCUMENTED_OK = ("/metrics", "/api/v1/openapi.json")


def _is_websocket(path: str) -> bool:
    return path.startswith("/ws/")


async def test_every_registered_route_is_documented(sqlite_server):
    document = (await sqlite_server.client().get("/api/v1/openapi.json")).json
    assert document["openapi"] == "3.1.0"
    documented = {
        (path, method.upper()) for path, item in document["paths"].items() for method in item
    }
    registered = set()
    for route in sqlite_server.app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter")
        if route.method == "HEAD" or path in UNDOCUMENTED_OK or _is_websocket(path):
            continue
        registered.add((path, route.method))
    assert registered - documented == set(), "routes added without an operation declaration"
    assert documented - registered == set()
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))
    for path, item in document["paths"].items():
        for method, op in item.items():
            assert op["summary"], (method, path)
            assert any(code.startswith("2") for code in op["responses"]), (method, path)
            # Every schema in the document compiles (JSON Schema 2020-12).
            for response in op["responses"].values():
                for media in response.get("content", {}).values():
                    jsonschema_rs.Draft202012Validator(_resolve(document, media["schema"]))


def _resolve(document: dict, schema: dict) -> dict:
    ref = schema.get("$ref", "")
    if ref.startswith("#/components/schemas/"):
        return document["components"]["schemas"][ref.rsplit("/", 1)[1]]
    return schema


def _check(document: dict, op, response) -> None:
    """A real response conforms to what the document says for its operation and status."""
    entry = document["paths"][op.doc_path][op.method.lower()]
    declared = entry["responses"].get(str(response.status))
    assert declared is not None, (op.method, op.path, response.status, response.json)
    content = declared.get("content", {}).get("application/json")
    if content is None:
        assert not response.body, (op.method, op.path)
        return
    validator = jsonschema_rs.Draft202012Validator(_resolve(document, content["schema"]))
    errors = [e.message for e in validator.iter_errors(response.json)]
    assert errors == [], (op.method, op.path, response.status, errors)


async def test_real_responses_match_the_document(live_server):
    """Call every tenant route as an owner (with real ids from the factories) and as a stranger,
    and validate each response against the served document."""
    from tests.cloud.factories import all_factories

    server = live_server
    document = (await server.client().get("/api/v1/openapi.json")).json
    owner = await server.register()
    stranger = live_server.client()
    rows = {resource: await factory(owner, server) for resource, factory in all_factories().items()}
    checked = 0
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    for op in sorted(operations(server), key=lambda op: order[op.method]):
        if op.operation_id in ("delete_tenant", "leave_tenant", "logout", "change_password"):
            continue  # they end this owner's session; covered by their own tests
        path = fill_path(op, rows.get(op.resource))
        body = valid_body(op)
        kwargs = {"json": body} if body is not None else {}
        _check(document, op, await owner.api.request(op.method, path, **kwargs))
        _check(document, op, await stranger.request(op.method, path, **kwargs))
        checked += 1
    assert checked >= 15


def _bad_route(app):
    group = OperationGroup(tag="test")

    @group.get(
        "/api/v1/test-bad-response", role="viewer", response={"type": "object", "required": ["id"]}
    )
    async def bad_response(call):
        return {"no_id": True}

    register(app, group)


async def test_response_schema_check_catches_drift(server_factory):
    async with server_factory(setup=_bad_route) as server:
        owner = await server.register()
        r = await owner.api.get("/api/v1/test-bad-response")
        assert (r.status, r.error_code) == (500, "response_schema_mismatch")


async def _start_cli_server(tmp_path) -> tuple[subprocess.Popen, str]:
    env = {
        **os.environ,
        "PRINTFARM_ARGON2": "1,8192,1",
        "PRINTFARM_RATE_LIMITS": "off",
        "PRINTFARM_VALIDATE_RESPONSES": "1",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tools.cli",
        "cloud",
        "serve",
        "--port",
        "0",
        "--data-dir",
        str(tmp_path / "data"),
        cwd=ROOT,
        env=env,
        stderr=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.DEVNULL,
    )
    async with asyncio.timeout(30):
        while True:
            line = await process.stderr.readline()
            assert line, "server exited before listening"
            entry = json.loads(line)
            if entry["msg"] == "listening":
                return process, entry["url"]


async def test_schemathesis_finds_no_server_errors(tmp_path):
    process, url = await _start_cli_server(tmp_path)
    drain = asyncio.create_task(process.stderr.read())  # keep the log pipe from filling up
    try:
        async with aiohttp.ClientSession() as session:
            body = {
                "email": "fuzz@example.com",
                "password": "fuzzing password",
                "tenant_name": "Fuzz",
            }
            async with session.post(url + "/api/v1/auth/register", json=body) as r:
                token = (await r.json())["access_token"]
        st = Path(sys.executable).with_name("st")
        command = [
            str(st),
            "run",
            url + "/api/v1/openapi.json",
            "-H",
            f"Authorization: Bearer {token}",
            "--checks",
            "all",
            # Semantically invalid but schema-valid data (an unknown hub_id) is rightly a 422.
            "--exclude-checks",
            "positive_data_acceptance",
            "--exclude-operation-id",
            "delete_tenant",  # would end the run's own tenant
            "--max-examples",
            "8",
            "--seed",
            "20261129",
            "--workers",
            "2",
            "--generation-database",
            "none",
            "--no-color",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "report"),
        ]
        result = await asyncio.to_thread(
            subprocess.run, command, capture_output=True, text=True, timeout=600, cwd=tmp_path
        )
        assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
        generated = re.search(r"(\d+) generated", result.stdout)
        assert generated and int(generated.group(1)) >= 200, result.stdout[-3000:]
        assert "failure" not in result.stdout.splitlines()[-1]
    finally:
        process.send_signal(signal.SIGTERM)
        async with asyncio.timeout(30):
            await process.wait()
        drain.cancel()
