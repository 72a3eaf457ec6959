"""/ws/hub/{id}: the HMAC challenge, refusals, hub row bookkeeping, malformed and oversize frames."""

import asyncio
import logging

import aiohttp
import pytest

from cloud.models import Hub, system_access
from protocol.codec import packb, unpackb
from tools.bench.hub_client import HubRefused, SimHub


def hub_row(hub_id):
    with system_access():
        return Hub.get_by_id(hub_id)


async def test_claimed_hub_authenticates_and_row_is_kept_current(farm):
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, _ = await farm.hub(ctx, printers=1)
    hub = SimHub(farm.ws_url, hub_id, secret, firmware="1.2.3")
    hello_ok = await hub.connect()
    try:
        assert hello_ok["claimed"] is True
        assert hello_ok["tenant_id"] == ctx.tenant_id
        assert hello_ok["acked_seq"] == 0
        assert "claim_code" not in hello_ok
        row = await farm.db(hub_row, hub_id)
        assert row.is_online is True
        assert row.firmware_version == "1.2.3"
        assert row.last_seen_at is not None
    finally:
        await hub.close()

    async def offline():
        while (await farm.db(hub_row, hub_id)).is_online:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(offline(), 10)


async def test_unclaimed_hub_gets_a_claim_code(farm):
    hub_id, secret, _ = await farm.hub(None)
    hub = SimHub(farm.ws_url, hub_id, secret)
    hello_ok = await hub.connect()
    try:
        assert hello_ok["claimed"] is False
        assert len(hello_ok["claim_code"]) == 8
        assert hello_ok["claim_expires_at"] > hello_ok.get("claim_expires_at", 0) - 1
        assert await farm.realtime.claim_codes.lookup(hello_ok["claim_code"]) == hub_id
        # Reconnecting within the TTL shows the same code.
        await hub.close()
        again = SimHub(farm.ws_url, hub_id, secret)
        second = await again.connect()
        assert second["claim_code"] == hello_ok["claim_code"]
        await again.close()
    finally:
        await hub.close()


@pytest.mark.parametrize(
    "case,expected_code",
    [("unknown", "auth_failed"), ("bad_mac", "auth_failed"), ("stale", "stale_timestamp")],
)
async def test_refusals_close_4401_and_are_logged_without_secret(farm, caplog, case, expected_code):
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, _ = await farm.hub(ctx)
    caplog.set_level(logging.INFO)
    if case == "unknown":
        hub = SimHub(farm.ws_url, "no-such-hub", secret)
        kwargs = {}
    elif case == "bad_mac":
        hub = SimHub(farm.ws_url, hub_id, "x" * 64)
        kwargs = {}
    else:
        hub = SimHub(farm.ws_url, hub_id, secret)
        kwargs = {"ts_offset_ms": -6 * 60 * 1000}
    with pytest.raises(HubRefused) as refused:
        await hub.connect(**kwargs)
    await hub.close()
    assert refused.value.code == expected_code
    assert refused.value.close_code == 4401
    assert "refused" in caplog.text
    assert secret not in caplog.text
    assert (await farm.db(hub_row, hub_id)).is_online is False


async def test_replayed_hello_is_refused(farm):
    """A hello captured from one connection does not authenticate another (fresh nonce)."""
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, _ = await farm.hub(ctx)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    captured = hub.last_hello
    await hub.close()
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{farm.ws_url}/ws/hub/{hub_id}")
        await ws.receive_bytes(timeout=10)  # a new challenge
        await ws.send_bytes(packb(captured))
        reply = unpackb(await ws.receive_bytes(timeout=10))
        assert reply == {
            "type": "error",
            "code": "auth_failed",
            "message": "authentication refused",
        }
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 4401


@pytest.mark.parametrize(
    "frame,close_code",
    [
        (b"\xc1", 1007),  # never-used msgpack byte
        (packb({"type": "printer_status", "printer_id": "p"}), 1007),  # missing status
        (packb({"type": "printer_status", "printer_id": "p", "status": {"progress": 400}}), 1007),
        (b"\x92" * 20 + b"\x01" * 20, 1007),  # nesting deeper than 16
        (packb({"type": "hub_log", "lines": ["x" * 70000]}), 1009),  # larger than 64 KiB
    ],
)
async def test_malformed_or_oversize_frame_closes_that_socket(farm, frame, close_code):
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, _ = await farm.hub(ctx)
    other_id, other_secret, _ = await farm.hub(ctx)
    bystander = SimHub(farm.ws_url, other_id, other_secret)
    await bystander.connect()
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    await hub.ws.send_bytes(frame)
    await hub.wait_for(lambda h: h.close_code is not None)
    assert hub.close_code == close_code
    await hub.close()
    # The other hub's link is untouched.
    assert not bystander.ws.closed
    await bystander.close()


async def test_text_frame_in_place_of_hello_closes_1007(farm):
    ctx, _ = await farm.tenant("alpha")
    hub_id, _, _ = await farm.hub(ctx)
    async with aiohttp.ClientSession() as session:
        ws = await session.ws_connect(f"{farm.ws_url}/ws/hub/{hub_id}")
        await ws.receive_bytes(timeout=10)
        await ws.send_str('{"type": "hub_hello"}')
        msg = await ws.receive(timeout=10)
        assert msg.type == aiohttp.WSMsgType.CLOSE
        assert ws.close_code == 1007


async def test_second_connection_replaces_the_first(farm):
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, _ = await farm.hub(ctx)
    first = SimHub(farm.ws_url, hub_id, secret)
    await first.connect()
    second = SimHub(farm.ws_url, hub_id, secret)
    await second.connect()
    await first.wait_for(lambda h: h.close_code is not None)
    assert first.close_code == 4409
    assert farm.realtime.hubs.get(hub_id).connection_id is not None
    assert (await farm.db(hub_row, hub_id)).is_online is True
    await first.close()
    await second.close()


async def test_keepalive_closes_a_silent_hub_and_keeps_a_responsive_one(farm):
    ctx, _ = await farm.tenant("alpha")
    silent_id, silent_secret, _ = await farm.hub(ctx)
    live_id, live_secret, _ = await farm.hub(ctx)
    silent = SimHub(farm.ws_url, silent_id, silent_secret)
    live = SimHub(farm.ws_url, live_id, live_secret)
    await silent.connect()
    await live.connect()
    silent._reader.cancel()  # stops reading: never answers a ping
    heartbeat = 0.5  # generous: a loaded CI machine still answers a ping within 1.5 s
    # What the keepalive task does every heartbeat; the responsive hub answers each ping with a
    # pong (traffic), the silent one stays silent and is closed after 3 heartbeats.
    for _ in range(6):
        await farm.realtime.hubs.sweep(heartbeat)
        await asyncio.sleep(heartbeat)
    await live.wait_for(lambda h: farm.realtime.hubs.get(silent_id) is None)
    assert farm.realtime.hubs.get(live_id) is not None
    await silent.close()
    await live.close()


async def test_repeated_failures_from_one_address_are_refused_without_lookup(farm, monkeypatch):
    from cloud.realtime import hub_socket

    monkeypatch.setattr(hub_socket, "MAX_AUTH_FAILURES", 3)
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, _ = await farm.hub(ctx)
    codes = []
    for _ in range(4):
        forger = SimHub(farm.ws_url, hub_id, "f" * 64)
        with pytest.raises(HubRefused) as refused:
            await forger.connect()
        await forger.close()
        codes.append((refused.value.code, refused.value.close_code))
    assert codes == [("auth_failed", 4401)] * 3 + [("too_many_failures", 4429)]
    # The genuine hub from the same address is blocked too until the window passes.
    farm.realtime.hubs.auth_failures._windows.clear()  # the window elapsing, without waiting
    hub = SimHub(farm.ws_url, hub_id, secret)
    assert (await hub.connect())["claimed"] is True
    await hub.close()
