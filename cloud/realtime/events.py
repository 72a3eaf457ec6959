"""The seam between the hub link and business logic: what happens when a hub reports something.

The real-time core owns delivery (sequence numbers, acks, idempotency, redelivery); an `EventSink`
owns meaning (job lifecycle, stock, automation). The `jobs` module provides the real sink and
installs it with `Realtime.set_event_sink(sink)`.
"""

from dataclasses import dataclass


@dataclass(frozen=True)
class HubIdentity:
    """The hub an event or ack came from, as the cloud knows it (tenant None while unclaimed)."""

    hub_id: str
    tenant_id: str | None


@dataclass(frozen=True)
class CommandRecord:
    """A cloud -> hub command as persisted (message with secret fields still sealed)."""

    command_id: str
    hub_id: str
    tenant_id: str
    type: str
    message: dict


class EventSink:
    """Business handling of durable hub reports. Both methods run on a database thread, inside
    the transaction that records the delivery, so they may use peewee freely and their writes
    commit (or roll back) together with the ledger. They return dashboard messages (dicts with a
    `type` of the dashboard catalogue) to broadcast to the hub's tenant after the commit, or None.

    If a method raises, the transaction rolls back; a database error (peewee.OperationalError,
    InterfaceError) is retried later, any other exception marks the event `failed` in
    `hub_events` (kept for inspection) so one bad event cannot block the hub's queue forever.
    """

    def apply(self, hub: HubIdentity, event: dict) -> list[dict] | None:
        """Apply one `printer_event` (seq > the hub's acked seq, printer belongs to the hub)."""
        return None

    def apply_command_ack(
        self, hub: HubIdentity, command: CommandRecord, ack: dict
    ) -> list[dict] | None:
        """Apply the first `command_ack` of a command (`ack["success"]`, `error`, `result`)."""
        return None


class RecordingEventSink(EventSink):
    """A sink that remembers what it was given (for tests and the fan-out bench)."""

    def __init__(self):
        self.events: list[tuple[HubIdentity, dict]] = []
        self.acks: list[tuple[HubIdentity, CommandRecord, dict]] = []

    def apply(self, hub, event):
        """Record the event."""
        self.events.append((hub, event))
        return None

    def apply_command_ack(self, hub, command, ack):
        """Record the ack."""
        self.acks.append((hub, command, ack))
        return None
