"""Roles: every declared route follows the spec's role table, and every mutating route x every
role is enforced over HTTP. Routes added later by other modules are covered automatically."""

import pytest

from cloud.api.operations import ROLE_RANK, ROLES
from tests.cloud.declared import fill_path, operations

# The spec: Viewer read-only; Operator manages printers, jobs, inventory; Admin manages users
# and settings (and all operations); Owner has full access, billing, delete tenant.
ADMIN_TAGS = {"members", "tenant", "integrations"}
OWNER_ONLY = {"delete_tenant"}
# Things any member may do to themselves.
SELF_SERVICE = {"leave_tenant"}


def expected_role(op) -> str:
    """The least role the spec's table gives for this operation."""
    if not op.mutating:
        return "viewer"
    if op.operation_id in SELF_SERVICE:
        return "viewer"
    if op.operation_id in OWNER_ONLY:
        return "owner"
    if op.tag in ADMIN_TAGS:
        return "admin"
    return "operator"


def tenant_operations(server):
    return [op for op in operations(server) if op.tenant_scoped]


async def test_declared_roles_follow_the_spec(sqlite_server):
    wrong = [
        (op.method, op.path, op.access, expected_role(op))
        for op in tenant_operations(sqlite_server)
        if ROLE_RANK[op.access] < ROLE_RANK[expected_role(op)]
        or (not op.mutating and op.access != "viewer")
    ]
    assert wrong == []


async def _team(server):
    owner = await server.register()
    team = {"owner": owner}
    for role in ("admin", "operator", "viewer"):
        team[role] = await server.member_of(owner, role)
    return team


async def _call(op, account, body_kind: str):
    path = fill_path(op)
    if body_kind == "invalid":
        # RBAC runs before validation: a 422 here proves the role check passed, and nothing changes.
        return await account.api.request(op.method, path, json=[])
    if op.request_content is not None and op.body is None:
        return await account.api.request(op.method, path, data=b"")
    return await account.api.request(op.method, path)


async def test_every_mutating_route_times_every_role(sqlite_server):
    server = sqlite_server
    team = await _team(server)
    checked = 0
    for op in tenant_operations(server):
        if not op.mutating:
            continue
        for role in ROLES:
            allowed = ROLE_RANK[role] >= ROLE_RANK[op.access]
            if not allowed:
                r = await _call(op, team[role], "invalid" if op.body else "none")
                assert (r.status, r.error_code) == (403, "forbidden"), (
                    op.path,
                    op.method,
                    role,
                    r.json,
                )
            elif op.body is not None:
                r = await _call(op, team[role], "invalid")
                assert r.status == 422, (op.path, op.method, role, r.json)
            elif op.path_params:
                r = await _call(op, team[role], "none")  # random ids: 404, never 403
                assert r.status not in (401, 403) and r.status < 500, (op.path, role, r.json)
            else:
                # No body, no id: the call really acts, so give it a throwaway tenant.
                scratch_owner = await server.register()
                actor = (
                    scratch_owner
                    if role == "owner"
                    else await server.member_of(scratch_owner, role)
                )
                r = await _call(op, actor, "none")
                assert r.status not in (401, 403) and r.status < 500, (op.path, role, r.json)
            checked += 1
    assert checked >= 4 * 8  # the core routes alone; grows as modules add routes


async def test_viewer_can_read_every_route(sqlite_server):
    team = await _team(sqlite_server)
    for op in tenant_operations(sqlite_server):
        if op.mutating:
            continue
        r = await team["viewer"].api.get(fill_path(op))
        assert r.status not in (401, 403) and r.status < 500, (op.path, r.json)


@pytest.mark.parametrize("role", ["admin", "operator", "viewer"])
async def test_removed_member_loses_access_at_once(sqlite_server, role):
    owner = await sqlite_server.register()
    member = await sqlite_server.member_of(owner, role)
    assert (await member.api.get("/api/v1/printers")).status == 200
    assert (await owner.api.delete(f"/api/v1/members/{member.user_id}")).status == 204
    r = await member.api.get("/api/v1/printers")
    assert r.status == 401  # the token names a tenant the user no longer belongs to
