"""The event ledger: applies a hub's sequence-numbered printer_events exactly once.

`hub_links.acked_seq` is advanced by a conditional UPDATE (`WHERE acked_seq < seq`) as the first
write of the transaction: on PostgreSQL it row-locks the hub, on SQLite it takes the write lock,
so two processes handed the same event (a hub that reconnected elsewhere mid-apply) serialise and
the second finds nothing to do. The sink's writes commit or roll back with the ledger.
"""

import json
import logging
from dataclasses import dataclass

import peewee

from cloud.db.executor import write_transaction
from cloud.models import Printer, now_ms, system_access
from cloud.realtime.events import EventSink, HubIdentity
from cloud.realtime.models import HubEvent, HubLink

log = logging.getLogger(__name__)

# Errors worth retrying (the database went away or a lock timed out): the event stays unacked.
RETRYABLE_ERRORS = (peewee.OperationalError, peewee.InterfaceError)


@dataclass(frozen=True)
class EventOutcome:
    """What applying one event did: the hub's acked seq afterwards and messages to broadcast."""

    acked_seq: int
    applied: bool
    outcome: str  # applied | duplicate | ignored | failed
    messages: tuple = ()


def apply_printer_event(
    database: peewee.Database, hub: HubIdentity, event: dict, sink: EventSink
) -> EventOutcome:
    """Apply `event` once (a seq at or below the hub's acked seq is a duplicate: nothing changes)."""
    seq = event["seq"]
    try:
        return _apply(database, hub, event, sink, sink_enabled=True)
    except RETRYABLE_ERRORS:
        raise
    except Exception as exc:
        # A bug or bad data in the sink: keep the event for inspection, ack it, move on.
        log.exception("event sink failed on hub %s seq %d; recorded as failed", hub.hub_id, seq)
        return _apply(database, hub, event, sink, sink_enabled=False, error=repr(exc))


def _apply(database, hub, event, sink, sink_enabled, error=None) -> EventOutcome:
    seq = event["seq"]
    with write_transaction(database):
        advanced = (
            HubLink.update(acked_seq=seq)
            .where((HubLink.hub_id == hub.hub_id) & (HubLink.acked_seq < seq))
            .execute()
        )
        if not advanced:
            current = HubLink.select(HubLink.acked_seq).where(HubLink.hub_id == hub.hub_id).scalar()
            return EventOutcome(acked_seq=current or 0, applied=False, outcome="duplicate")
        outcome, messages = "applied", []
        if error is not None:
            outcome = "failed"
        elif not _printer_belongs(hub, event["printer_id"]):
            outcome = "ignored"
            log.warning(
                "hub %s reported event seq %d for printer %s it does not hold; recorded, not applied",
                hub.hub_id,
                seq,
                event["printer_id"],
            )
        elif sink_enabled:
            messages = list(sink.apply(hub, event) or [])
        HubEvent.insert(
            hub_id=hub.hub_id,
            seq=seq,
            tenant_id=hub.tenant_id,
            printer_id=event["printer_id"],
            event=event["event"],
            ts=event["ts"],
            job_id=event.get("job_id"),
            command_id=event.get("command_id"),
            data=json.dumps(event.get("data"), default=_json_bytes) if event.get("data") else None,
            outcome=outcome,
            error=error,
            applied_at=now_ms(),
        ).execute()
    return EventOutcome(
        acked_seq=seq, applied=outcome == "applied", outcome=outcome, messages=tuple(messages)
    )


def acked_seq_of(hub_id: str) -> int:
    """The highest seq applied for a hub (0 before the first event)."""
    return HubLink.select(HubLink.acked_seq).where(HubLink.hub_id == hub_id).scalar() or 0


def _printer_belongs(hub: HubIdentity, printer_id: str) -> bool:
    if hub.tenant_id is None:
        return False
    with system_access():
        return (
            Printer.select(Printer.id)
            .where(
                (Printer.id == printer_id)
                & (Printer.hub_id == hub.hub_id)
                & (Printer.tenant_id == hub.tenant_id)
            )
            .exists()
        )


def _json_bytes(value):
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    raise TypeError(type(value).__name__)
