"""Printers over HTTP: CRUD, validation naming the field, uniqueness, pagination, filters, stable
sorting; access codes sealed with AES-256-GCM at rest and never returned."""

import json

import pytest

from cloud.db.executor import run_db
from cloud.keys import SECRETBOX
from cloud.models import Hub, Printer, TenantContext, new_id, now_ms, system_access
from cloud.security.secretbox import SecretBoxError
from cloud.services.printers import access_code_context, reveal_access_code


async def test_crud_round_trip(live_server):
    owner = await live_server.register()
    api = owner.api
    r = await api.post(
        "/api/v1/printers",
        json={
            "name": "P1S-01",
            "model": "P1S",
            "ip_address": "192.168.1.50",
            "printer_id": 1,
            "nozzle_size": 0.4,
        },
    )
    assert r.status == 201, r.json
    printer = r.json
    assert (
        printer["status"] == "offline"
        and printer["is_active"] is True
        and printer["has_access_code"] is False
    )
    got = await api.get(f"/api/v1/printers/{printer['id']}")
    assert got.json == printer
    r = await api.patch(
        f"/api/v1/printers/{printer['id']}", json={"location": "Rack B", "in_maintenance": True}
    )
    assert r.status == 200 and r.json["location"] == "Rack B" and r.json["in_maintenance"] is True
    assert r.json["updated_at"] >= printer["updated_at"]
    assert (await api.delete(f"/api/v1/printers/{printer['id']}")).status == 204
    assert (await api.get(f"/api/v1/printers/{printer['id']}")).status == 404
    assert (await api.delete(f"/api/v1/printers/{printer['id']}")).status == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"model": "P1S"}, "name"),
        ({"name": "", "model": "P1S"}, "name"),
        ({"name": "x", "model": "P1S", "printer_id": "one"}, "printer_id"),
        ({"name": "x", "model": "P1S", "connection_type": "serial"}, "connection_type"),
        ({"name": "x", "model": "P1S", "current_color_hex": "red"}, "current_color_hex"),
        ({"name": "x", "model": "P1S", "filament_level": 101}, "filament_level"),
        ({"name": "x", "model": "P1S", "tenant_id": "other"}, "tenant_id"),
        ({"name": "x", "model": "P1S", "status": "printing"}, "status"),
        ({"name": "x", "model": "P1S", "hub_id": "no-such-hub"}, "hub_id"),
        ({"name": "x", "model": "P1S", "printer_id": 2**70}, "printer_id"),
    ],
)
async def test_validation_errors_name_the_field(sqlite_server, body, field):
    owner = await sqlite_server.register()
    r = await owner.api.post("/api/v1/printers", json=body)
    assert r.status == 422, r.json
    assert r.json["error"]["field"] == field
    assert field in r.json["error"]["message"]
    assert (await owner.api.get("/api/v1/printers")).json["total"] == 0  # nothing was created


async def test_unique_name_and_number_within_tenant(live_server):
    a = await live_server.register()
    b = await live_server.register()
    assert (
        await a.api.post("/api/v1/printers", json={"name": "P1", "model": "P1S", "printer_id": 1})
    ).status == 201
    r = await a.api.post("/api/v1/printers", json={"name": "P1", "model": "X1C"})
    assert (r.status, r.json["error"]["field"]) == (409, "name")
    r = await a.api.post("/api/v1/printers", json={"name": "P2", "model": "X1C", "printer_id": 1})
    assert (r.status, r.json["error"]["field"]) == (409, "printer_id")
    # Another tenant may use the same name and number.
    assert (
        await b.api.post("/api/v1/printers", json={"name": "P1", "model": "P1S", "printer_id": 1})
    ).status == 201
    second = await a.api.post("/api/v1/printers", json={"name": "P2", "model": "X1C"})
    r = await a.api.patch(f"/api/v1/printers/{second.json['id']}", json={"name": "P1"})
    assert (r.status, r.json["error"]["field"]) == (409, "name")
    r = await a.api.patch(f"/api/v1/printers/{second.json['id']}", json={})
    assert r.status == 422


async def test_access_code_is_sealed_at_rest_and_never_returned(live_server):
    owner = await live_server.register()
    r = await owner.api.post(
        "/api/v1/printers", json={"name": "P1", "model": "P1S", "access_code": "31415926"}
    )
    printer_id = r.json["id"]
    for response in (
        r,
        await owner.api.get(f"/api/v1/printers/{printer_id}"),
        await owner.api.get("/api/v1/printers"),
    ):
        assert "31415926" not in json.dumps(response.json)
        assert "access_code" not in json.dumps(response.json).replace("has_access_code", "")
    audit = await owner.api.get("/api/v1/audit")
    assert "31415926" not in json.dumps(audit.json)
    assert r.json["has_access_code"] is True
    box = live_server.app[SECRETBOX]

    def stored():
        with system_access():
            return Printer.get_by_id(printer_id)

    row = await run_db(live_server.app, stored)
    assert row.access_code.startswith("v1:") and "31415926" not in row.access_code
    assert reveal_access_code(box, row) == "31415926"
    # Bound to its row: the same ciphertext under another printer's context does not open.
    with pytest.raises(SecretBoxError):
        box.decrypt(row.access_code, access_code_context(owner.tenant_id, "another-printer"))
    # Clearing.
    r = await owner.api.patch(f"/api/v1/printers/{printer_id}", json={"access_code": None})
    assert r.json["has_access_code"] is False


async def test_hub_reference_must_be_in_tenant(live_server):
    a = await live_server.register()
    b = await live_server.register()

    def make_hub(tenant_id):
        now = now_ms()
        hub = Hub.create_scoped(
            TenantContext(tenant_id), id=new_id(), name="hub", created_at=now, updated_at=now
        )
        return hub.id

    hub_a = await run_db(live_server.app, make_hub, a.tenant_id)
    hub_b = await run_db(live_server.app, make_hub, b.tenant_id)
    assert (
        await a.api.post("/api/v1/printers", json={"name": "P1", "model": "P1S", "hub_id": hub_a})
    ).status == 201
    r = await a.api.post("/api/v1/printers", json={"name": "P2", "model": "P1S", "hub_id": hub_b})
    assert (r.status, r.json["error"]["field"]) == (422, "hub_id")
    listed = await a.api.get("/api/v1/printers", params={"hub_id": hub_a})
    assert [p["name"] for p in listed.json["items"]] == ["P1"]


async def test_pagination_filters_and_stable_sorting(live_server):
    owner = await live_server.register()
    api = owner.api
    for i in range(12):
        body = {
            "name": f"Printer {i:02d}",
            "model": "X1C" if i % 3 == 0 else "P1S",
            "sort_order": i % 2,  # many ties: the id breaks them
            "location": "Rack A" if i < 6 else "Rack B",
            "is_active": i != 5,
        }
        assert (await api.post("/api/v1/printers", json=body)).status == 201
    seen = []
    for offset in range(0, 12, 5):
        r = await api.get(
            "/api/v1/printers", params={"limit": 5, "offset": offset, "sort": "sort_order"}
        )
        assert r.json["total"] == 12 and r.json["limit"] == 5 and r.json["offset"] == offset
        seen += [p["id"] for p in r.json["items"]]
    assert len(seen) == len(set(seen)) == 12  # no row repeated or skipped across pages
    full = (await api.get("/api/v1/printers", params={"limit": 200, "sort": "sort_order"})).json[
        "items"
    ]
    assert [p["id"] for p in full] == seen
    assert [(p["sort_order"], p["id"]) for p in full] == sorted(
        (p["sort_order"], p["id"]) for p in full
    )
    desc = (await api.get("/api/v1/printers", params={"sort": "-name"})).json["items"]
    assert [p["name"] for p in desc] == sorted((p["name"] for p in desc), reverse=True)
    r = await api.get("/api/v1/printers", params={"model": "X1C"})
    assert r.json["total"] == 4
    r = await api.get("/api/v1/printers", params={"q": "rack b", "is_active": "true"})
    assert r.json["total"] == 6
    r = await api.get("/api/v1/printers", params={"is_active": "false"})
    assert [p["name"] for p in r.json["items"]] == ["Printer 05"]
    r = await api.get("/api/v1/printers", params={"q": "100%_"})
    assert r.json["total"] == 0  # wildcards in search text are literal
    r = await api.get("/api/v1/printers", params={"status": "offline"})
    assert r.json["total"] == 12
    for params, field in (
        ({"limit": "0"}, "limit"),
        ({"limit": "abc"}, "limit"),
        ({"sort": "password"}, "sort"),
        ({"status": "sleeping"}, "status"),
        ({"is_active": "maybe"}, "is_active"),
    ):
        r = await api.get("/api/v1/printers", params=params)
        assert (r.status, r.json["error"]["field"]) == (422, field), params
