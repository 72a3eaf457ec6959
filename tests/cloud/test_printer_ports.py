"""Non-default printer ports (printer_ports, migrations/0011): stored, returned, validated and
carried to the hub in configure_printer (a simulated printer listens on ephemeral ports)."""

from tests.cloud.realtime.test_hubs_api import provision
from tools.bench.hub_client import SimHub


def configures(hub):
    return [c for c in hub.commands if c["type"] == "configure_printer"]


async def test_ports_reach_the_hub_and_the_api(sqlite_server):
    server = sqlite_server
    owner = await server.register()
    hub_id, secret = await provision(server)
    hub = SimHub(server.url.replace("http://", "ws://"), hub_id, secret)
    hello = await hub.connect()
    try:
        r = await owner.api.post("/api/v1/hubs/claim", json={"claim_code": hello["claim_code"]})
        assert r.status == 200, r.json
        body = {
            "name": "Sim-01",
            "model": "P1S",
            "hub_id": hub_id,
            "serial_number": "01P00A000000009",
            "ip_address": "127.0.0.1",
            "access_code": "12345678",
        }
        r = await owner.api.post("/api/v1/printers", json={**body, "mqtt_port": 0})
        assert r.status == 422  # out of range, nothing stored
        r = await owner.api.post(
            "/api/v1/printers", json={**body, "mqtt_port": 40001, "ftps_port": 40002}
        )
        assert r.status == 201, r.json
        printer_id = r.json["id"]
        assert (r.json["mqtt_port"], r.json["ftps_port"]) == (40001, 40002)
        added = (await hub.wait_for(configures))[0]
        assert added["action"] == "add"
        assert (added["printer"]["mqtt_port"], added["printer"]["ftps_port"]) == (40001, 40002)

        # A port change is pushed again; null returns to the default (the field is left out).
        r = await owner.api.patch(f"/api/v1/printers/{printer_id}", json={"ftps_port": None})
        assert r.status == 200 and r.json["ftps_port"] is None and r.json["mqtt_port"] == 40001
        update = (await hub.wait_for(lambda h: configures(h)[1:]))[0]
        assert update["action"] == "update"
        assert update["printer"]["mqtt_port"] == 40001 and "ftps_port" not in update["printer"]

        listed = (await owner.api.get("/api/v1/printers")).json["items"]
        assert [(p["mqtt_port"], p["ftps_port"]) for p in listed] == [(40001, None)]

        # A printer without ports: defaults (nothing sent), null in the API.
        r = await owner.api.post(
            "/api/v1/printers",
            json={**body, "name": "Real-02", "serial_number": "01P00A000000010"},
        )
        assert r.status == 201 and r.json["mqtt_port"] is None
        plain = (await hub.wait_for(lambda h: configures(h)[2:]))[0]
        assert "mqtt_port" not in plain["printer"] and "ftps_port" not in plain["printer"]

        # Another tenant cannot see or set them.
        other = await server.register()
        r = await other.api.patch(f"/api/v1/printers/{printer_id}", json={"mqtt_port": 1})
        assert r.status == 404
        r = await owner.api.delete(f"/api/v1/printers/{printer_id}")
        assert r.status in (200, 204)
    finally:
        await hub.close()


def test_model_matches_its_table(tmp_path):
    from cloud.db import open_database
    from cloud.db.introspect import schema_of
    from cloud.db.migrate import migrate
    from cloud.models.printer_ports import PrinterPorts
    from tests.conftest import sqlite_url

    database = open_database(sqlite_url(tmp_path))
    migrate(database)
    table = schema_of(database)["printer_ports"]
    assert set(PrinterPorts._meta.columns) == set(table["columns"])
    for name, field in PrinterPorts._meta.columns.items():
        if name not in table["primary_key"]:
            assert field.null == (not table["columns"][name]["not_null"]), name
