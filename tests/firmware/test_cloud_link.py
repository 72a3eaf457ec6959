"""Cloud link (firmware/hub/cloud_link.py) in real MicroPython: auth, backoff, heartbeat, bad frames."""

import re

import pytest

from protocol import codec
from tests.firmware.conftest import HUB_SECRET

pytestmark = pytest.mark.micropython


async def test_good_secret_authenticates_with_a_fresh_nonce_each_session(cloud, make_hub):
    hub = await make_hub(cloud)
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    await cloud.drop("hub-1")
    await cloud.wait_for(lambda: state.sessions == 2)
    assert state.auth_failures == 0
    assert [h["last_acked_seq"] for h in state.hellos] == [0, 0]
    assert len(cloud.used_nonces) == 2
    await hub.wait_line("up: claimed=True")


async def test_wrong_secret_is_refused_and_retried_with_growing_backoff(cloud, make_hub):
    hub = await make_hub(cloud, secret="not-the-factory-secret")
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.auth_failures >= 6, timeout=60)
    assert state.sessions == 0
    await hub.wait_line("auth refused: auth_failed: bad mac")
    delays = [int(m.group(1)) for m in re.finditer(r"reconnect in (\d+) ms", hub.output())]
    assert len(delays) >= 5
    # Equal jitter over a doubling ceiling (100 ms .. 1600 ms as provisioned): each delay lies
    # in [ceiling/2, ceiling]. Values are the hub's own decisions, not measured times.
    ceilings = [min(1600, 100 * 2**i) for i in range(len(delays))]
    for d, c in zip(delays, ceilings, strict=True):
        assert c // 2 <= d <= c, (delays, ceilings)
    assert "not-the-factory-secret" not in hub.output()


async def test_unknown_hub_is_refused(cloud, make_hub):
    hub = await make_hub(cloud, hub_id="hub-unknown", register=False)
    await hub.wait_line("auth refused: unknown_hub")
    assert cloud.hubs == {}


async def test_heartbeat_timeout_drops_a_silent_cloud(cloud, make_hub):
    cloud.heartbeat_s = 1
    cloud.silent = True  # after hello_ok the cloud reads nothing: pings go unanswered
    hub = await make_hub(cloud)
    state = cloud.hubs["hub-1"]
    await hub.wait_line("heartbeat timeout", timeout=30)
    await cloud.wait_for(lambda: state.sessions >= 2, timeout=30)


async def test_frame_over_the_cap_closes_1009_and_reconnects(cloud, make_hub):
    hub = await make_hub(cloud)
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    big = codec.packb({"type": "error", "code": "x", "message": "y" * 70000})
    await cloud.send_raw("hub-1", big)
    await cloud.wait_for(lambda: 1009 in state.close_codes)
    await cloud.wait_for(lambda: state.sessions == 2)
    await hub.wait_line("closed 1009")


@pytest.mark.parametrize(
    "frame",
    [b"\xc1", b"\x93\x01\x02", codec.packb({"type": "event_ack"}), codec.packb({"type": "nope"})],
    ids=["not-msgpack", "not-a-map", "missing-field", "unknown-type"],
)
async def test_malformed_frame_closes_1007_and_reconnects(cloud, make_hub, frame):
    hub = await make_hub(cloud)
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    await cloud.send_raw("hub-1", frame)
    await cloud.wait_for(lambda: 1007 in state.close_codes)
    await cloud.wait_for(lambda: state.sessions == 2)
    await hub.wait_line("bad frame")


async def test_invalid_command_is_refused_once_without_dropping_the_link(cloud, make_hub):
    await make_hub(cloud)
    state = cloud.hubs["hub-1"]
    await cloud.wait_for(lambda: state.sessions == 1)
    bad = {"type": "printer_command", "command_id": "c-bad", "printer_id": "p1", "action": "dance"}
    await cloud.send_raw("hub-1", codec.packb(bad))
    await cloud.wait_for(lambda: len(state.acks) == 1)
    ack = state.acks[0]
    assert ack["command_id"] == "c-bad" and not ack["success"]
    assert ack["error"]["code"] == "bad_command" and "action" in ack["error"]["message"]
    # Redelivered: answered from the dedupe cache, still without a close.
    await cloud.send_raw("hub-1", codec.packb(bad))
    await cloud.wait_for(lambda: len(state.acks) == 2)
    assert state.acks[1] == ack and state.sessions == 1 and cloud.connections == 1


async def test_unclaimed_hub_logs_its_claim_code_then_learns_it_was_claimed(cloud, make_hub):
    cloud.claimed = False
    hub = await make_hub(cloud)
    await hub.wait_line("claim code ABC123")
    assert "claimed=False" in hub.output()
    await cloud.send_raw(
        "hub-1", codec.packb({"type": "claim_update", "claimed": True, "tenant_id": "t-1"})
    )
    await hub.wait_line("claim update: claimed=True tenant=t-1")


async def test_hub_keeps_running_while_the_cloud_is_unreachable(tmp_path, make_hub, pki):
    from tests.firmware.cloud_server import TestCloud

    cloud = TestCloud()
    url = await cloud.start(pki.server_context())
    await cloud.stop()  # nothing listens there any more
    cloud.url = url
    hub = await make_hub(cloud)
    await hub.wait_line("reconnect in", timeout=30)
    await hub.wait_line("reconnect in", start=len(hub.lines), timeout=30)
    assert hub.proc.returncode is None
    assert HUB_SECRET not in hub.output()
