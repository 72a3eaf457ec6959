"""/ws/dashboard: auth first, both subprotocols, tenant isolation, subscriptions, slow clients."""

import asyncio
import json

import aiohttp
import pytest

from protocol.codec import packb, unpackb
from tools.bench.hub_client import SimHub


class Dashboard:
    """A dashboard test client collecting what it receives."""

    def __init__(self, farm, token, protocol="printfarm.msgpack"):
        self.farm = farm
        self.token = token
        self.protocol = protocol
        self.messages = []
        self.session = None
        self.ws = None
        self._reader = None

    @property
    def use_json(self):
        return self.protocol != "printfarm.msgpack"

    async def open(self, auth=True):
        self.session = aiohttp.ClientSession()
        protocols = (self.protocol,) if self.protocol else ()
        self.ws = await self.session.ws_connect(
            f"{self.farm.ws_url}/ws/dashboard", protocols=protocols
        )
        if auth:
            await self.send({"type": "auth", "token": self.token})
            reply = await self.receive_one()
            assert reply["type"] == "auth_success", reply
            self._reader = asyncio.create_task(self._read())
        return self

    async def send(self, message):
        if self.use_json:
            await self.ws.send_str(json.dumps(message))
        else:
            await self.ws.send_bytes(packb(message))

    async def receive_one(self):
        msg = await self.ws.receive(timeout=10)
        if msg.type == aiohttp.WSMsgType.TEXT:
            return json.loads(msg.data)
        if msg.type == aiohttp.WSMsgType.BINARY:
            return unpackb(msg.data, max_size=1 << 20)
        return {"closed": self.ws.close_code}

    async def _read(self):
        while True:
            message = await self.receive_one()
            if "closed" in message:
                return
            self.messages.append(message)

    async def wait_for(self, predicate, timeout=10):
        async def poll():
            while not predicate(self.messages):
                await asyncio.sleep(0.01)
            return predicate(self.messages)

        return await asyncio.wait_for(poll(), timeout)

    async def close(self):
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        if self.session is not None:
            await self.session.close()


def statuses(messages, printer_id=None, live=True):
    """printer_status messages; live=True keeps hub reports (they carry the hub's `ts`), not
    the snapshot a dashboard starts from."""
    return [
        m
        for m in messages
        if m["type"] == "printer_status"
        and (printer_id is None or m["printer_id"] == printer_id)
        and (not live or "ts" in m)
    ]


@pytest.mark.parametrize("protocol", ["printfarm.msgpack", "printfarm.json", None])
async def test_dashboard_sees_its_tenants_status_only(farm, protocol):
    alpha, alpha_token = await farm.tenant("alpha")
    beta, beta_token = await farm.tenant("beta")
    hub_a, secret_a, printers_a = await farm.hub(alpha, printers=1)
    hub_b, secret_b, printers_b = await farm.hub(beta, printers=1)
    dash_a = await Dashboard(farm, alpha_token, protocol).open()
    dash_b = await Dashboard(farm, beta_token, protocol).open()
    hubs = [SimHub(farm.ws_url, hub_a, secret_a), SimHub(farm.ws_url, hub_b, secret_b)]
    for hub in hubs:
        await hub.connect()
    try:
        await hubs[0].send_status(
            printers_a[0], {"state": "printing", "progress": 42, "current_layer": 7}
        )
        await hubs[1].send_status(printers_b[0], {"state": "idle"})
        got = await dash_a.wait_for(lambda ms: statuses(ms))
        assert got[0]["printer_id"] == printers_a[0]
        assert got[0]["status"] == "printing"
        assert got[0]["progress"] == 42 and got[0]["current_layer"] == 7
        await dash_b.wait_for(lambda ms: statuses(ms))
        # Isolation: by the time b has its own status, a never saw b's printer (and vice versa).
        await hubs[0].send_status(printers_a[0], {"progress": 43})
        await dash_a.wait_for(lambda ms: len(statuses(ms)) >= 2)
        assert {m["printer_id"] for m in statuses(dash_a.messages, live=False)} == {printers_a[0]}
        assert {m["printer_id"] for m in statuses(dash_b.messages, live=False)} == {printers_b[0]}
        assert all(m.get("hub_id") != hub_b for m in dash_a.messages)
    finally:
        for hub in hubs:
            await hub.close()
        await dash_a.close()
        await dash_b.close()


async def test_auth_must_come_first_and_bad_tokens_are_refused(farm):
    alpha, token = await farm.tenant("alpha")
    # Not auth first.
    dash = await Dashboard(farm, token).open(auth=False)
    await dash.send({"type": "ping"})
    assert (await dash.receive_one())["type"] == "auth_error"
    assert (await dash.receive_one()) == {"closed": 4401}
    await dash.close()
    # Forged token, and a valid token of a user who is not a member of that tenant.
    outsider = farm.issue_token("no-such-user", alpha.tenant_id)
    for bad in ("not-a-jwt", outsider):
        dash = await Dashboard(farm, bad).open(auth=False)
        await dash.send({"type": "auth", "token": bad})
        reply = await dash.receive_one()
        assert reply["type"] == "auth_error"
        assert (await dash.receive_one()) == {"closed": 4401}
        await dash.close()


async def test_malformed_dashboard_frame_closes_1007(farm):
    _, token = await farm.tenant("alpha")
    dash = await Dashboard(farm, token, "printfarm.json").open(auth=False)
    await dash.ws.send_str("{not json")
    assert (await dash.receive_one()) == {"closed": 1007}
    await dash.close()


async def test_subscribe_unsubscribe_and_ping(farm):
    alpha, token = await farm.tenant("alpha")
    hub_id, secret, printers = await farm.hub(alpha, printers=2)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    dash = await Dashboard(farm, token).open()
    try:
        await dash.send({"type": "subscribe", "printers": [printers[1]]})
        await dash.send({"type": "ping"})
        await dash.wait_for(lambda ms: any(m["type"] == "pong" for m in ms))
        await hub.send_status(printers[0], {"state": "idle"})
        await hub.send_status(printers[1], {"state": "printing"})
        await dash.wait_for(lambda ms: statuses(ms, printers[1]))
        assert statuses(dash.messages, printers[0]) == []
        await dash.send({"type": "unsubscribe", "printers": [printers[1]]})
        await dash.send({"type": "ping"})
        await dash.wait_for(lambda ms: sum(m["type"] == "pong" for m in ms) == 2)
        count = len(statuses(dash.messages))
        await hub.send_status(printers[1], {"state": "paused"})
        await dash.send({"type": "ping"})
        await dash.wait_for(lambda ms: sum(m["type"] == "pong" for m in ms) == 3)
        await asyncio.sleep(0.1)
        assert len(statuses(dash.messages)) == count
    finally:
        await hub.close()
        await dash.close()


async def test_new_dashboard_gets_a_snapshot(farm):
    alpha, token = await farm.tenant("alpha")
    hub_id, secret, printers = await farm.hub(alpha, printers=1)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    try:
        await hub.send_status(printers[0], {"state": "printing", "progress": 10})
        conn = farm.realtime.hubs.get(hub_id)
        await hub.wait_for(lambda h: conn.live.get(printers[0]))
        dash = await Dashboard(farm, token).open()
        got = await dash.wait_for(lambda ms: statuses(ms, live=False))
        assert got[0]["progress"] == 10
        assert any(m["type"] == "hub_status" and m["is_online"] for m in dash.messages)
        await dash.close()
    finally:
        await hub.close()


async def test_stalled_dashboard_is_dropped_and_never_delays_others(farm):
    """A dashboard that stops reading is dropped (4408); a healthy one keeps receiving."""
    import dataclasses

    # A long WebSocket heartbeat, so what removes the stalled client is the backlog/stall
    # detection under test, not the heartbeat's dead-peer detection.
    farm.realtime.settings = dataclasses.replace(farm.realtime.settings, heartbeat_s=120)
    alpha, token = await farm.tenant("alpha")
    hub_id, secret, printers = await farm.hub(alpha, printers=200)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    healthy = await Dashboard(farm, token).open()
    # The stalled client: a raw socket that authenticates and then never reads again.
    reader, writer = await asyncio.open_connection("127.0.0.1", farm.server.port)
    stalled = await _raw_dashboard(farm, reader, writer, token)
    try:
        big = {"state": "printing", "job_name": "x" * 2000, "gcode_file": "y" * 2000}
        rounds = 0
        # Keep reporting until the server gives up on the stalled client (failure guard: 60 s).
        deadline = asyncio.get_running_loop().time() + 60
        while farm.realtime.dashboards.client_count() > 1:
            assert asyncio.get_running_loop().time() < deadline, "stalled client never dropped"
            for printer_id in printers:
                await hub.send_status(printer_id, {**big, "progress": rounds % 100})
            rounds += 1
            await asyncio.sleep(0.05)
        assert stalled.dropped_reason in (
            "send timed out (client not reading)",
            "too far behind (backlog full)",
        ), (stalled.ws.close_code, stalled.ws.exception(), stalled.sent, rounds)
        # The healthy dashboard saw the latest report of every printer.
        final = rounds - 1
        await healthy.wait_for(
            lambda ms: (
                {m["printer_id"] for m in statuses(ms) if m["progress"] == final % 100}
                == set(printers)
            )
        )
    finally:
        writer.close()
        await hub.close()
        await healthy.close()


async def _raw_dashboard(farm, reader, writer, token):
    """Authenticate over a raw socket, then never read again; return the server's client object."""
    import base64
    import os
    import struct

    before = {c for b in farm.realtime.dashboards.tenants.values() for c in b.clients}
    key = base64.b64encode(os.urandom(16)).decode()
    writer.write(
        (
            "GET /ws/dashboard HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
            "Sec-WebSocket-Protocol: printfarm.msgpack\r\n\r\n"
        ).encode()
    )
    await writer.drain()
    await reader.readuntil(b"\r\n\r\n")
    payload = packb({"type": "auth", "token": token})
    mask = os.urandom(4)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    header = bytes([0x82, 0x80 | 126]) + struct.pack(">H", len(payload))
    writer.write(header + mask + masked)
    await writer.drain()

    async def appeared():
        while True:
            now = {c for b in farm.realtime.dashboards.tenants.values() for c in b.clients}
            if now - before:
                return (now - before).pop()
            await asyncio.sleep(0.01)

    return await asyncio.wait_for(appeared(), 10)


async def test_hub_status_file_progress_and_sink_messages_reach_the_tenant(farm):
    from tests.cloud.realtime.test_hub_connection import CountingSink

    farm.realtime.set_event_sink(CountingSink())
    alpha, token = await farm.tenant("alpha")
    beta, _ = await farm.tenant("beta")
    hub_id, secret, printers = await farm.hub(alpha, printers=1)
    _, _, beta_printers = await farm.hub(beta, printers=1)
    dash = await Dashboard(farm, token).open()
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    try:
        online = await dash.wait_for(
            lambda ms: [m for m in ms if m["type"] == "hub_status" and m["is_online"]]
        )
        assert online[0] == {
            "type": "hub_status",
            "hub_id": hub_id,
            "is_online": True,
            "printer_count": 1,
        }
        for printer_id in (beta_printers[0], printers[0]):  # another tenant's printer first
            await hub.send(
                {
                    "type": "file_progress",
                    "command_id": "c1",
                    "job_id": "job-9",
                    "printer_id": printer_id,
                    "bytes_sent": 10,
                    "bytes_total": 100,
                }
            )
        progress = await dash.wait_for(lambda ms: [m for m in ms if m["type"] == "file_progress"])
        assert [m["printer_id"] for m in progress] == [printers[0]]
        assert progress[0]["job_id"] == "job-9" and progress[0]["bytes_sent"] == 10
        # What the event sink returns is broadcast after the commit.
        await hub.emit_event(printers[0], "job_started", job_id="job-9")
        updates = await dash.wait_for(lambda ms: [m for m in ms if m["type"] == "job_update"])
        assert updates[0]["status"] == "printing"
    finally:
        await hub.close()
    offline = await dash.wait_for(
        lambda ms: [m for m in ms if m["type"] == "hub_status" and not m["is_online"]]
    )
    assert offline[0]["hub_id"] == hub_id
    await dash.close()
