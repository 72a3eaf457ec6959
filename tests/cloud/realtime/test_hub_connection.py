"""HubConnection: command delivery and redelivery, idempotent events, coalesced status, isolation."""

import asyncio

import pytest

from cloud.models import Printer, RecordNotFound, system_access
from cloud.realtime.events import EventSink
from cloud.realtime.models import HubCommand, HubEvent
from cloud.services import commands
from tools.bench.hub_client import SimHub


class CountingSink(EventSink):
    """Counts applications per (hub, seq) and writes a row so rollbacks would show."""

    def __init__(self, fail_on_seq=None):
        self.applied = []
        self.acks = []
        self.fail_on_seq = fail_on_seq

    def apply(self, hub, event):
        if event["seq"] == self.fail_on_seq:
            raise KeyError("bad event data")
        self.applied.append((hub.hub_id, event["seq"], event["event"]))
        return [{"type": "job_update", "job_id": event.get("job_id", "j"), "status": "printing"}]

    def apply_command_ack(self, hub, command, ack):
        self.acks.append((command.command_id, command.type, ack["success"]))


def configure(printer_id, access_code="12345678"):
    return {
        "type": "configure_printer",
        "action": "add",
        "printer": {
            "printer_id": printer_id,
            "connection_type": "bambu",
            "serial": "01S00A000000001",
            "ip": "192.0.2.10",
            "access_code": access_code,
            "model": "P1S",
            "name": "P1",
        },
    }


async def send(farm, ctx, hub_id, message):
    from cloud.services.commands import enqueue_command

    command_id = await farm.db(enqueue_command, farm.box, ctx, hub_id, message)
    farm.realtime.notify_hub(hub_id)
    return command_id


def command_row(command_id):
    with system_access():
        return HubCommand.get_by_id(command_id)


async def test_command_reaches_hub_is_acked_and_secret_sealed_at_rest(farm):
    sink = CountingSink()
    farm.realtime.set_event_sink(sink)
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, printers = await farm.hub(ctx, printers=1)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    try:
        command_id = await send(farm, ctx, hub_id, configure(printers[0], "SECRET99"))
        received = await hub.wait_for(lambda h: h.commands)
        assert received[0]["command_id"] == command_id
        assert received[0]["printer"]["access_code"] == "SECRET99"
        for _ in range(200):
            if (await farm.db(command_row, command_id)).status == "acked":
                break
            await asyncio.sleep(0.02)
        row = await farm.db(command_row, command_id)
        assert row.status == "acked" and row.attempts == 1
        assert b"SECRET99" not in bytes(row.payload)
        assert sink.acks == [(command_id, "configure_printer", True)]
    finally:
        await hub.close()


async def test_unacked_command_is_redelivered_after_reconnect(farm):
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, printers = await farm.hub(ctx, printers=1)
    # Queued while the hub is offline.
    command_id = await send(farm, ctx, hub_id, {"type": "discover_printers"})
    hub = SimHub(farm.ws_url, hub_id, secret)
    hub.auto_ack = False
    await hub.connect()
    await hub.wait_for(lambda h: h.commands)
    await hub.close()
    again = SimHub(farm.ws_url, hub_id, secret)
    await again.connect()
    try:
        got = await again.wait_for(lambda h: h.commands)
        assert got[0]["command_id"] == command_id
        for _ in range(200):
            if (await farm.db(command_row, command_id)).status == "acked":
                break
            await asyncio.sleep(0.02)
        assert (await farm.db(command_row, command_id)).attempts == 2
    finally:
        await again.close()
    # Acked: a third connection receives nothing.
    third = SimHub(farm.ws_url, hub_id, secret)
    await third.connect()
    await asyncio.sleep(0.3)
    assert third.commands == []
    await third.close()


async def test_commands_only_reach_claimed_hubs_of_the_tenant(farm):
    alpha, _ = await farm.tenant("alpha")
    beta, _ = await farm.tenant("beta")
    hub_a, _, _ = await farm.hub(alpha)
    unclaimed, _, _ = await farm.hub(None)
    with pytest.raises(RecordNotFound):
        await send(farm, beta, hub_a, {"type": "discover_printers"})
    with pytest.raises(RecordNotFound):
        await send(farm, alpha, unclaimed, {"type": "discover_printers"})
    with pytest.raises(commands.CommandRefused):
        await send(farm, alpha, hub_a, {"type": "printer_command", "action": "explode"})
    with pytest.raises(commands.CommandRefused):
        await send(farm, alpha, hub_a, {"type": "event_ack", "seq": 3})


async def test_events_apply_once_across_replays_and_reconnects(farm):
    sink = CountingSink()
    farm.realtime.set_event_sink(sink)
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, printers = await farm.hub(ctx, printers=1)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    for event in ("job_started", "job_paused", "job_resumed"):
        await hub.emit_event(printers[0], event, job_id="job-1")
    await hub.wait_for(lambda h: h.acked_seq == 3)
    # A duplicate of seq 2 on the live socket changes nothing and is acked cumulatively.
    acks_before = sum(1 for m in hub.received if m["type"] == "event_ack")
    await hub.send(
        {
            "type": "printer_event",
            "seq": 2,
            "printer_id": printers[0],
            "event": "job_paused",
            "ts": 1,
        }
    )
    await hub.wait_for(
        lambda h: sum(1 for m in h.received if m["type"] == "event_ack") > acks_before
    )
    await hub.close()
    # After a reconnect the hub resends seq 3 (as if it never saw its ack).
    again = SimHub(farm.ws_url, hub_id, secret)
    again.seq = 3
    again.outbox[3] = {
        "type": "printer_event",
        "seq": 3,
        "printer_id": printers[0],
        "event": "job_resumed",
        "ts": 1,
    }
    hello = await again.connect()
    assert hello["acked_seq"] == 3
    await again.emit_event(printers[0], "job_finished", job_id="job-1")
    await again.wait_for(lambda h: h.acked_seq == 4)
    await again.close()
    assert [seq for _, seq, _ in sink.applied] == [1, 2, 3, 4]

    def ledger():
        with system_access():
            return [(e.seq, e.outcome) for e in HubEvent.select().order_by(HubEvent.seq)]

    assert await farm.db(ledger) == [(1, "applied"), (2, "applied"), (3, "applied"), (4, "applied")]


async def test_failing_sink_records_event_as_failed_and_moves_on(farm):
    sink = CountingSink(fail_on_seq=2)
    farm.realtime.set_event_sink(sink)
    ctx, _ = await farm.tenant("alpha")
    hub_id, secret, printers = await farm.hub(ctx, printers=1)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    for _ in range(3):
        await hub.emit_event(printers[0], "job_started")
    await hub.wait_for(lambda h: h.acked_seq == 3)
    await hub.close()

    def outcomes():
        with system_access():
            return {e.seq: e.outcome for e in HubEvent.select()}

    assert await farm.db(outcomes) == {1: "applied", 2: "failed", 3: "applied"}
    assert [seq for _, seq, _ in sink.applied] == [1, 3]


async def test_event_for_a_printer_not_on_this_hub_is_not_applied(farm):
    sink = CountingSink()
    farm.realtime.set_event_sink(sink)
    alpha, _ = await farm.tenant("alpha")
    beta, _ = await farm.tenant("beta")
    hub_id, secret, _ = await farm.hub(alpha, printers=1)
    _, _, beta_printers = await farm.hub(beta, printers=1)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    await hub.emit_event(beta_printers[0], "job_finished")
    await hub.wait_for(lambda h: h.acked_seq == 1)
    await hub.close()
    assert sink.applied == []


async def test_status_is_persisted_coalesced_and_other_tenants_printers_ignored(farm):
    alpha, _ = await farm.tenant("alpha")
    beta, _ = await farm.tenant("beta")
    hub_id, secret, printers = await farm.hub(alpha, printers=2)
    _, _, beta_printers = await farm.hub(beta, printers=1)
    hub = SimHub(farm.ws_url, hub_id, secret)
    await hub.connect()
    try:
        for progress in range(20):
            await hub.send_status(
                printers[0], {"state": "printing", "progress": progress, "connected": True}
            )
        await hub.send_status(printers[1], {"connected": False, "error": "mqtt refused"})
        await hub.send_status(beta_printers[0], {"state": "error", "connected": True})
        conn = farm.realtime.hubs.get(hub_id)
        await hub.wait_for(lambda h: conn.live.get(printers[1]) and conn.dropped_status == 1)
        await farm.realtime.status_writer.flush()

        def rows():
            with system_access():
                return {
                    p.id: (p.status, p.is_connected, p.connection_error) for p in Printer.select()
                }

        got = await farm.db(rows)
        assert got[printers[0]] == ("printing", True, None)
        assert got[printers[1]] == ("offline", False, "mqtt refused")  # state never reported
        assert got[beta_printers[0]] == ("offline", False, None)  # untouched
        # Twenty reports, two printers written once each.
        assert farm.realtime.status_writer.rows_written == 2
        # A partial report (no state) does not reset the known state.
        await hub.send_status(printers[0], {"progress": 50})
        await hub.wait_for(lambda h: conn.live[printers[0]].get("progress") == 50)
        await farm.realtime.status_writer.flush()
        assert (await farm.db(rows))[printers[0]] == ("printing", True, None)
        assert conn.live[printers[0]]["state"] == "printing"
    finally:
        await hub.close()
