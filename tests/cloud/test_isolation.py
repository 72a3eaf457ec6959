"""Tenant isolation, generically over every declared tenant-scoped route: tenant A never sees,
changes or deletes tenant B's rows (404), and no list of A ever contains an id of B."""

import json

from tests.cloud.declared import fill_path, operations, valid_body
from tests.cloud.factories import all_factories


def _resources_with_items(server):
    return {op.resource for op in operations(server) if op.tenant_scoped and op.path_params}


async def _populate(server, account, factories) -> dict:
    """One row of every resource in `account`'s tenant: {resource: path params}."""
    return {resource: await factory(account, server) for resource, factory in factories.items()}


async def test_every_item_resource_has_an_isolation_factory(sqlite_server):
    missing = _resources_with_items(sqlite_server) - set(all_factories())
    assert missing == set(), f"add FACTORIES for {sorted(missing)} in tests/cloud/factories/"


async def test_tenant_a_cannot_see_or_touch_tenant_b(live_server):
    server = live_server
    factories = all_factories()
    a = await server.register()
    b = await server.register()
    await _populate(server, a, factories)  # A has data too: lists are not trivially empty
    b_rows = await _populate(server, b, factories)
    b_ids = {b.tenant_id, b.user_id} | {v for params in b_rows.values() for v in params.values()}

    ops = [op for op in operations(server) if op.tenant_scoped]
    item_ops = [op for op in ops if op.path_params]
    getters = {op.resource: op for op in item_ops if op.method == "GET"}

    async def snapshot():
        return {
            resource: (await b.api.get(fill_path(getters[resource], b_rows[resource]))).json
            for resource in b_rows
            if resource in getters
        }

    before = await snapshot()
    # Reads, then changes, then deletes: every one answers 404 for B's ids.
    order = {"GET": 0, "POST": 1, "PUT": 1, "PATCH": 1, "DELETE": 2}
    for op in sorted(item_ops, key=lambda op: order[op.method]):
        path = fill_path(op, b_rows[op.resource])
        body = valid_body(op)
        r = (
            await a.api.request(op.method, path, json=body)
            if body is not None
            else await a.api.request(op.method, path)
        )
        assert (r.status, r.error_code) == (404, "not_found"), (
            op.method,
            op.path,
            r.status,
            r.json,
        )
    assert await snapshot() == before  # nothing of B changed

    # No list or other read of A mentions anything of B.
    for op in ops:
        if op.method != "GET" or op.path_params:
            continue
        r = await a.api.get(op.path)
        assert r.status == 200, (op.path, r.json)
        text = json.dumps(r.json)
        leaked = [i for i in b_ids if i in text]
        assert leaked == [], (op.path, leaked)
