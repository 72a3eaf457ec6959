"""Every resource route x every role (allowed or 403), anonymous (401) and another tenant (404)."""

import re

import pytest

from cloud.api.operations import PUBLIC, ROLE_RANK, ROLES
from cloud.keys import OPERATIONS

# The API groups of this module set (printers, auth, members... are tested by their owners).
TAGS = {
    "files",
    "products",
    "skus",
    "inventory",
    "orders",
    "worklist",
    "assembly",
    "colors",
    "plates",
    "wiki",
    "camera",
    "automation",
    "analytics",
    "integrations",
}
JPEG = b"\xff\xd8\xff\xe0" + b"\x00" * 64


async def make_fixtures(owner, tmp_path) -> dict:
    """One record of every resource in the owner's tenant; {placeholder name: value} per tag."""
    from tests.cloud.resources.test_api_files import upload_multipart
    from tests.cloud.resources.threemf_fixtures import write_bambu_3mf

    api = owner.api

    async def made(path, body):
        r = await api.post(path, json=body)
        assert r.status == 201, (path, r.json)
        return r.json

    product = await made("/api/v1/products", {"name": "Hook"})
    sku = await made("/api/v1/skus", {"product_id": product["id"], "sku": "H-1", "color": "Red"})
    good = await made("/api/v1/inventory", {"product_sku_id": sku["id"], "current_stock": 50})
    order = await made(
        "/api/v1/orders", {"items": [{"sku": "H-1", "product_name": "Hook", "quantity": 1}]}
    )
    path = tmp_path / f"{owner.tenant_id}.3mf"
    write_bambu_3mf(path)
    file = (await upload_multipart(owner, path, name="hook.3mf")).json
    camera = await made("/api/v1/camera", {"name": "Cam"})
    assert (
        await api.put(
            f"/api/v1/camera/{camera['id']}/snapshot",
            data=JPEG,
            headers={"Content-Type": "image/jpeg"},
        )
    ).status == 200
    r = await api.put(
        "/api/v1/integrations/shopify",
        json={
            "shop_domain": f"shop-{owner.tenant_id[:8]}.myshopify.com",
            "webhook_secret": "0123456789abcdef0123",
        },
    )
    assert r.status == 200, r.json
    return {
        "files": {"id": file["id"]},
        "products": {"id": product["id"]},
        "skus": {"id": sku["id"]},
        "inventory": {"id": good["id"]},
        "orders": {"id": order["id"], "item_id": order["items"][0]["id"]},
        "worklist": {
            "id": (await made("/api/v1/worklist", {"title": "T", "task_type": "collection"}))["id"]
        },
        "assembly": {
            "id": (await made("/api/v1/assembly", {"finished_good_id": good["id"]}))["id"]
        },
        "colors": {
            "id": (
                await made(
                    "/api/v1/colors",
                    {"color_name": "Red", "hex_code": "#FF0000", "filament_type": "PLA"},
                )
            )["id"]
        },
        "plates": {"id": (await made("/api/v1/plates", {"name": "PEI"}))["id"]},
        "wiki": {
            "slug": (
                await made(
                    "/api/v1/wiki", {"slug": f"start-{owner.tenant_id[:8]}", "title": "Start"}
                )
            )["slug"]
        },
        "camera": {"id": camera["id"]},
        "automation": {
            "id": (
                await made(
                    "/api/v1/automation/rules",
                    {
                        "name": "R",
                        "trigger_type": "print_failed",
                        "actions": [{"type": "notify", "message": "failed"}],
                    },
                )
            )["id"]
        },
        "analytics": {},
        "integrations": {},
    }


def fill(path: str, values: dict) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: values[m.group(1)], path)


async def call(account_api, op, values):
    path = fill(op.path, values)
    if op.path.endswith("/snapshot") and op.method == "PUT":
        return await account_api.put(path, data=JPEG, headers={"Content-Type": "image/jpeg"})
    if op.method == "POST" and op.path == "/api/v1/files":
        return await account_api.post(
            path,
            data=b"x",
            params={"name": "m.3mf"},
            headers={"Content-Type": "application/octet-stream"},
        )
    body = op.example if op.body is not None else None
    return await account_api.request(op.method, path, json=body)


@pytest.mark.slow
async def test_roles_tenants_and_anonymous(live_server, tmp_path):
    owner = await live_server.register()
    stranger = await live_server.register()
    members = {role: await live_server.member_of(owner, role) for role in ROLES if role != "owner"}
    members["owner"] = owner
    ours = await make_fixtures(owner, tmp_path)
    theirs = await make_fixtures(stranger, tmp_path)
    operations = [
        op
        for op in live_server.app[OPERATIONS].operations
        if op.tag in TAGS and op.access != PUBLIC
    ]
    assert len(operations) >= 70

    anonymous = live_server.client()
    for op in operations:
        r = await call(anonymous, op, ours[op.tag] or {})
        assert r.status == 401, (op.method, op.path)

    # Another tenant's ids are "not found", for every route with an id (never 403, never 200).
    for op in operations:
        if not op.path_params:
            continue
        r = await call(stranger.api, op, ours[op.tag])
        assert r.status == 404, (op.method, op.path, r.status, r.json)

    # Every role against every route: below the required role is 403, at or above is not.
    for op in operations:
        for role, account in members.items():
            r = await call(account.api, op, ours[op.tag])
            allowed = ROLE_RANK[role] >= ROLE_RANK[op.access]
            if allowed:
                assert r.status not in (401, 403), (role, op.method, op.path, r.json)
                assert r.status < 500, (role, op.method, op.path, r.json)
            else:
                assert r.status == 403, (role, op.method, op.path, r.status)
        if op.method == "DELETE":  # later roles and routes need the record back
            ours = await make_fixtures_again(owner, tmp_path, ours, op.tag)

    # The stranger's own data survived all of the above.
    for tag, values in theirs.items():
        for op in operations:
            if op.tag == tag and op.method == "GET" and op.path_params:
                r = await call(stranger.api, op, values)
                assert r.status == 200, (op.path, r.json)


async def make_fixtures_again(owner, tmp_path, current, tag):
    """Recreate what a DELETE removed (fresh names: the originals may still exist)."""
    import uuid

    from tests.cloud.resources.test_api_files import upload_multipart
    from tests.cloud.resources.threemf_fixtures import write_bambu_3mf

    api = owner.api
    suffix = uuid.uuid4().hex[:6]
    values = dict(current)
    if tag == "files":
        path = tmp_path / f"again-{suffix}.3mf"
        write_bambu_3mf(path)
        values["files"] = {"id": (await upload_multipart(owner, path)).json["id"]}
    elif tag == "products":
        values["products"] = {
            "id": (await api.post("/api/v1/products", json={"name": f"P{suffix}"})).json["id"]
        }
    elif tag == "skus":
        product = (await api.post("/api/v1/products", json={"name": f"S{suffix}"})).json
        values["skus"] = {
            "id": (
                await api.post(
                    "/api/v1/skus",
                    json={"product_id": product["id"], "sku": f"S-{suffix}", "color": "Red"},
                )
            ).json["id"]
        }
    elif tag == "inventory":
        product = (await api.post("/api/v1/products", json={"name": f"I{suffix}"})).json
        sku = (
            await api.post(
                "/api/v1/skus",
                json={"product_id": product["id"], "sku": f"I-{suffix}", "color": "Red"},
            )
        ).json
        values["inventory"] = {
            "id": (
                await api.post(
                    "/api/v1/inventory", json={"product_sku_id": sku["id"], "current_stock": 50}
                )
            ).json["id"]
        }
    elif tag == "orders":
        order = (
            await api.post(
                "/api/v1/orders", json={"items": [{"sku": "X", "product_name": "X", "quantity": 1}]}
            )
        ).json
        values["orders"] = {"id": order["id"], "item_id": order["items"][0]["id"]}
    elif tag == "worklist":
        values["worklist"] = {
            "id": (
                await api.post("/api/v1/worklist", json={"title": "T", "task_type": "collection"})
            ).json["id"]
        }
    elif tag == "assembly":
        values["assembly"] = {
            "id": (
                await api.post(
                    "/api/v1/assembly", json={"finished_good_id": values["inventory"]["id"]}
                )
            ).json["id"]
        }
    elif tag == "colors":
        values["colors"] = {
            "id": (
                await api.post(
                    "/api/v1/colors",
                    json={"color_name": suffix, "hex_code": "#FF0000", "filament_type": "PLA"},
                )
            ).json["id"]
        }
    elif tag == "plates":
        values["plates"] = {
            "id": (await api.post("/api/v1/plates", json={"name": suffix})).json["id"]
        }
    elif tag == "wiki":
        values["wiki"] = {
            "slug": (
                await api.post("/api/v1/wiki", json={"slug": f"s{suffix}", "title": "S"})
            ).json["slug"]
        }
    elif tag == "camera":
        values["camera"] = {"id": (await api.post("/api/v1/camera", json={"name": "C"})).json["id"]}
    elif tag == "automation":
        values["automation"] = {
            "id": (
                await api.post(
                    "/api/v1/automation/rules",
                    json={
                        "name": "R",
                        "trigger_type": "print_failed",
                        "actions": [{"type": "notify", "message": "m"}],
                    },
                )
            ).json["id"]
        }
    elif tag == "integrations":
        await api.put(
            "/api/v1/integrations/shopify",
            json={
                "shop_domain": f"shop-{owner.tenant_id[:8]}.myshopify.com",
                "webhook_secret": "0123456789abcdef0123",
            },
        )
    return values
