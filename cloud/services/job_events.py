"""The real EventSink: hub printer events and command acks drive the job lifecycle."""

from cloud.realtime.events import CommandRecord, EventSink, HubIdentity
from cloud.services import jobs


class JobEventSink(EventSink):
    """Applies durable hub reports to jobs; returns the dashboard messages to broadcast."""

    def apply(self, hub: HubIdentity, event: dict) -> list[dict] | None:
        """A printer_event of a claimed hub: job transitions, failures, external prints."""
        if hub.tenant_id is None:
            return None
        return jobs.apply_printer_event(
            hub.tenant_id,
            event["printer_id"],
            event["event"],
            event.get("data") or {},
            event["ts"],
            event.get("job_id"),
        )

    def apply_command_ack(
        self, hub: HubIdentity, command: CommandRecord, ack: dict
    ) -> list[dict] | None:
        """A print_command's first ack: a refusal requeues or fails its job."""
        if command.type != "print_command":
            return None
        return jobs.apply_command_result(
            command.tenant_id,
            command.message.get("job_id"),
            bool(ack.get("success")),
            ack.get("error"),
        )
