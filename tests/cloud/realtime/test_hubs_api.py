"""The full cloud (create_app): factory registration, claiming, printers pushed to hubs, dashboards
with real access tokens, releasing; on SQLite and PostgreSQL."""

import asyncio
import base64

from tests.cloud.realtime.test_dashboard_socket import Dashboard, statuses
from tools.bench.hub_client import SimHub


class LiveFarm:
    """Adapter so the Dashboard test client can talk to a live server."""

    def __init__(self, server):
        self.ws_url = server.url.replace("http://", "ws://")


def provisioning_headers(server):
    key = server.config.secret("provisioning_key")
    return {"X-Provisioning-Key": base64.b64encode(key).decode()}


async def provision(server) -> tuple[str, str]:
    r = await server.client().post(
        "/api/v1/admin/hubs",
        json={"hardware_revision": "rev-b"},
        headers=provisioning_headers(server),
    )
    assert r.status == 201, r.json
    return r.json["hub_id"], r.json["secret"]


async def test_provisioning_needs_the_key(sqlite_server):
    anonymous = sqlite_server.client()
    r = await anonymous.post("/api/v1/admin/hubs", json={})
    assert r.status == 401
    wrong = base64.b64encode(b"x" * 32).decode()
    r = await anonymous.post("/api/v1/admin/hubs", json={}, headers={"X-Provisioning-Key": wrong})
    assert r.status == 401
    hub_id, secret = await provision(sqlite_server)
    assert len(secret) == 64
    r = await anonymous.post(
        "/api/v1/admin/hubs", json={"hub_id": hub_id}, headers=provisioning_headers(sqlite_server)
    )
    assert r.status == 409


async def test_claim_configure_dashboard_release(live_server):
    server = live_server
    owner = await server.register()
    other = await server.register()
    viewer = await server.member_of(owner, "viewer")
    hub_id, secret = await provision(server)
    hub = SimHub(server.url.replace("http://", "ws://"), hub_id, secret)
    hello = await hub.connect()
    try:
        assert hello["claimed"] is False
        code = hello["claim_code"]
        # A viewer may not claim; a wrong code is 404; the owner claims.
        r = await viewer.api.post("/api/v1/hubs/claim", json={"claim_code": code})
        assert r.status == 403
        r = await owner.api.post("/api/v1/hubs/claim", json={"claim_code": "WRONGCOD"})
        assert r.status == 404 and r.error_code == "invalid_claim_code"
        r = await owner.api.post(
            "/api/v1/hubs/claim",
            json={"claim_code": code.lower()[:4] + "-" + code[4:], "name": "Rack A"},
        )
        assert r.status == 200, r.json
        assert r.json["name"] == "Rack A"
        update = await hub.wait_for(lambda h: h.claim_updates)
        assert update[0] == {"type": "claim_update", "claimed": True, "tenant_id": owner.tenant_id}
        # The code is spent: the other tenant cannot use it.
        r = await other.api.post("/api/v1/hubs/claim", json={"claim_code": code})
        assert r.status == 404
        r = await other.api.get(f"/api/v1/hubs/{hub_id}")
        assert r.status == 404
        r = await owner.api.get("/api/v1/hubs")
        assert [(h["id"], h["is_online"]) for h in r.json] == [(hub_id, True)]

        # A printer added through the API reaches the hub with configure_printer.
        r = await owner.api.post(
            "/api/v1/printers",
            json={
                "name": "P1",
                "model": "P1S",
                "hub_id": hub_id,
                "serial_number": "01S0001",
                "ip_address": "192.0.2.7",
                "access_code": "CODE1234",
            },
        )
        assert r.status == 201, r.json
        printer_id = r.json["id"]
        configured = await hub.wait_for(
            lambda h: [c for c in h.commands if c["type"] == "configure_printer"]
        )
        assert configured[0]["action"] == "add"
        assert configured[0]["printer"]["access_code"] == "CODE1234"
        assert configured[0]["printer"]["printer_id"] == printer_id

        # Its status reaches the owner's dashboard (real access token), not the other tenant's.
        dash = await Dashboard(LiveFarm(server), owner.access_token).open()
        dash_other = await Dashboard(LiveFarm(server), other.access_token).open()
        realtime = server.app[__import__("cloud.keys", fromlist=["REALTIME"]).REALTIME]
        conn = realtime.hubs.get(hub_id)
        await hub.wait_for(lambda h: printer_id in conn.printer_ids)
        await hub.send_status(printer_id, {"state": "printing", "progress": 12})
        got = await dash.wait_for(lambda ms: statuses(ms, printer_id))
        assert got[0]["progress"] == 12
        await dash_other.send({"type": "ping"})
        await dash_other.wait_for(lambda ms: any(m["type"] == "pong" for m in ms))
        assert statuses(dash_other.messages, live=False) == []
        await dash.close()
        await dash_other.close()

        # Discovery command, its findings and delivery state through the API.
        found = {"serial": "01S00C", "model": "P1S", "name": "Bambu P1S", "ip": "192.0.2.44"}
        hub.discoverable = [found]
        r = await owner.api.post(f"/api/v1/hubs/{hub_id}/discover", json={"duration_s": 5})
        assert r.status == 202, r.json
        command_id = r.json["command_id"]
        await hub.wait_for(lambda h: any(c["command_id"] == command_id for c in h.commands))
        for _ in range(200):
            r = await owner.api.get(f"/api/v1/hubs/{hub_id}/commands/{command_id}")
            if r.json["status"] == "acked":
                break
            await asyncio.sleep(0.02)
        assert r.json["status"] == "acked"
        assert r.json["result"] == {"printers": [found]}
        r = await other.api.get(f"/api/v1/hubs/{hub_id}/commands/{command_id}")
        assert r.status == 404

        # Release: the hub is told, shows a new code, and the printer is detached.
        r = await owner.api.post(f"/api/v1/hubs/{hub_id}/release")
        assert r.status == 200, r.json
        released = await hub.wait_for(lambda h: [u for u in h.claim_updates if not u["claimed"]])
        assert len(released[0]["claim_code"]) == 8
        r = await owner.api.get(f"/api/v1/printers/{printer_id}")
        assert r.json["hub_id"] is None
        r = await owner.api.get("/api/v1/hubs")
        assert r.json == []
    finally:
        await hub.close()


async def test_printfarm_hub_provision_command(sqlite_server, capsys):
    import json

    from tools.cli import main

    key = provisioning_headers(sqlite_server)["X-Provisioning-Key"]
    argv = ["hub", "provision", "--cloud", sqlite_server.url, "--key", key, "--count", "2"]
    assert await asyncio.to_thread(main, argv) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert len(lines) == 2 and all(len(line["secret"]) == 64 for line in lines)
    # The registered hubs authenticate.
    hub = SimHub(
        sqlite_server.url.replace("http://", "ws://"), lines[0]["hub_id"], lines[0]["secret"]
    )
    assert (await hub.connect())["claimed"] is False
    await hub.close()
    wrong = ["hub", "provision", "--cloud", sqlite_server.url, "--key", "d3Jvbmc="]
    assert await asyncio.to_thread(main, wrong) == 1
