"""Cloud -> hub commands: persisted first, then routed to the process holding the hub's socket.

A command is a row of `hub_commands` until the hub acknowledges it; the hub link (re)sends every
pending row after each (re)connect, so a command survives cloud restarts and hub outages. Only a
claimed hub of the caller's tenant accepts commands (another tenant's hub is "not found").

Two ways to send:
- `await send_command(app, ctx, hub_id, message)` from async code (API handlers, workers);
- `enqueue_command(box, ctx, hub_id, message)` on a database thread inside the caller's own
  transaction (e.g. the dispatcher assigning a job), then `notify_hub(app, hub_id)` after commit.
"""

import copy
import json
import logging

import peewee

from cloud.db import database_proxy
from cloud.db.executor import write_transaction
from cloud.models import Hub, RecordNotFound, TenantContext, new_id, now_ms, system_access
from cloud.realtime.events import CommandRecord, EventSink, HubIdentity
from cloud.realtime.models import HubCommand
from protocol.codec import packb, unpackb
from protocol.messages import CLOUD_TO_HUB, validate

log = logging.getLogger(__name__)

# (message type, path to a secret field): sealed with the secret box before the row is written,
# opened only when the frame is built for the hub.
SEALED_FIELDS = (("configure_printer", ("printer", "access_code")),)
SEALED_MARK = "$sealed"
COMMAND_TYPES = (
    "configure_printer",
    "print_command",
    "printer_command",
    "discover_printers",
    "ota_update",
)
# Commands still pending after this long are not sent again (the hub was gone for days).
MAX_PENDING_AGE_MS = 7 * 24 * 3600 * 1000


class CommandRefused(ValueError):
    """A message that is not a valid command (wrong type or fields); nothing was stored."""


def enqueue_command(box, ctx: TenantContext, hub_id: str, message: dict) -> str:
    """Validate, seal and store a command for a claimed hub of `ctx`'s tenant; return its id.

    Runs on a database thread; joins the caller's transaction if there is one. Raises
    RecordNotFound for an unknown hub, a hub of another tenant or an unclaimed hub.
    """
    message = copy.deepcopy(message)  # sealing edits nested maps; never touch the caller's
    kind = message.get("type")
    if kind not in COMMAND_TYPES:
        raise CommandRefused(f"{kind!r} is not a hub command")
    command_id = message.get("command_id") or new_id()
    message["command_id"] = command_id
    try:
        validate(message, CLOUD_TO_HUB)
    except ValueError as exc:
        raise CommandRefused(str(exc)) from None
    with system_access():
        hub = (
            Hub.select(Hub.id).where((Hub.id == hub_id) & (Hub.tenant_id == ctx.tenant_id)).first()
        )
    if hub is None:
        raise RecordNotFound(Hub, hub_id)
    stored = _seal(box, command_id, message)
    HubCommand.create_scoped(
        ctx,
        id=command_id,
        hub_id=hub_id,
        type=kind,
        payload=packb(stored),
        status="pending",
        created_at=now_ms(),
    )
    return command_id


async def send_command(app, ctx: TenantContext, hub_id: str, message: dict) -> str:
    """Persist a command (on the database pool) and route it to its hub; return the command id."""
    from cloud.realtime.runtime import realtime_of

    realtime = realtime_of(app)
    command_id = await realtime.db(enqueue_command, realtime.secretbox, ctx, hub_id, message)
    realtime.notify_hub(hub_id)
    return command_id


def notify_hub(app, hub_id: str) -> None:
    """Tell the process holding `hub_id` to send its pending commands (after a commit)."""
    from cloud.realtime.runtime import realtime_of

    realtime_of(app).notify_hub(hub_id)


def pending_commands(box, hub_id: str, tenant_id: str) -> list[tuple[str, dict]]:
    """(command_id, message with secrets opened) of every pending command, oldest first."""
    cutoff = now_ms() - MAX_PENDING_AGE_MS
    with system_access():
        rows = (
            HubCommand.select(HubCommand.id, HubCommand.payload)
            .where(
                (HubCommand.hub_id == hub_id)
                & (HubCommand.tenant_id == tenant_id)
                & (HubCommand.status == "pending")
                & (HubCommand.created_at >= cutoff)
            )
            .order_by(HubCommand.created_at, HubCommand.id)
            .tuples()
        )
        out = []
        for command_id, payload in rows:
            out.append(
                (command_id, _open(box, command_id, unpackb(bytes(payload), max_size=1 << 20)))
            )
    return out


def mark_sent(command_ids: list[str]) -> None:
    """Count one more delivery attempt of each command."""
    if not command_ids:
        return
    with system_access():
        HubCommand.update(attempts=HubCommand.attempts + 1, sent_at=now_ms()).where(
            HubCommand.id.in_(command_ids)
        ).execute()


def record_ack(
    database: peewee.Database, hub: HubIdentity, ack: dict, sink: EventSink
) -> tuple[bool, list]:
    """Record a command_ack; the first ack of a pending command goes to the sink in the same
    transaction. Returns (first_ack, dashboard messages). Acks of unknown commands, of another
    hub's commands, or repeated acks change nothing."""
    command_id = ack["command_id"]
    with write_transaction(database):
        with system_access():
            row = (
                HubCommand.select()
                .where((HubCommand.id == command_id) & (HubCommand.hub_id == hub.hub_id))
                .first()
            )
            if row is None or row.status != "pending":
                return False, []
            error = ack.get("error") or {}
            values = {
                "status": "acked" if ack["success"] else "failed",
                "acked_at": now_ms(),
                "error_code": error.get("code"),
                "error_message": error.get("message"),
            }
            if ack.get("result"):  # else keep what printer_discovered may have stored
                values["result"] = json.dumps(ack["result"], default=_json_bytes)
            updated = (
                HubCommand.update(values)
                .where((HubCommand.id == command_id) & (HubCommand.status == "pending"))
                .execute()
            )
        if not updated:  # another process recorded it first
            return False, []
        record = CommandRecord(
            command_id=row.id,
            hub_id=row.hub_id,
            tenant_id=row.tenant_id,
            type=row.type,
            message=unpackb(bytes(row.payload), max_size=1 << 20),
        )
        messages = sink.apply_command_ack(hub, record, ack) or []
    return True, list(messages)


def plan_printer_sync(
    box, ctx: TenantContext, printer_id: str, previous_hub_id: str | None, deleted: bool
) -> list[str]:
    """Enqueue the configure_printer commands that bring hubs in line with a printer row that was
    created, changed or deleted; return the ids of the hubs concerned (to notify after commit).

    The printer moved away from (or was deleted on) `previous_hub_id`: that hub gets `remove`.
    Its current hub gets `add` (new there) or `update`, once the row has what a hub needs
    (serial, IP, access code); until then the hub is only told its printer set changed.
    """
    from cloud.models import Printer
    from cloud.services.printers import reveal_access_code

    hubs = []
    with write_transaction(database_proxy.obj):
        printer = None if deleted else Printer.scoped(ctx).where(Printer.id == printer_id).first()
        current_hub = printer.hub_id if printer is not None else None
        if previous_hub_id and previous_hub_id != current_hub:
            remove = {
                "type": "configure_printer",
                "action": "remove",
                "printer": {"printer_id": printer_id},
            }
            if _enqueue_if_claimed(box, ctx, previous_hub_id, remove):
                hubs.append(previous_hub_id)
        if current_hub:
            hubs.append(current_hub)
            access_code = reveal_access_code(box, printer)
            if printer.serial_number and printer.ip_address and access_code:
                config = {
                    "printer_id": printer.id,
                    "connection_type": "bambu",
                    "serial": printer.serial_number,
                    "ip": printer.ip_address,
                    "access_code": access_code,
                    "model": printer.model,
                    "name": printer.name,
                }
                config.update(_ports(ctx, printer.id))
                action = "update" if previous_hub_id == current_hub else "add"
                message = {"type": "configure_printer", "action": action, "printer": config}
                _enqueue_if_claimed(box, ctx, current_hub, message)
    return list(dict.fromkeys(hubs))


async def sync_printer(
    app,
    ctx: TenantContext,
    printer_id: str,
    previous_hub_id: str | None = None,
    deleted: bool = False,
) -> None:
    """After a printer was created/updated/deleted through the API: push its configuration to
    its hub(s) and tell their connections the printer set changed."""
    from cloud.realtime.runtime import realtime_of

    realtime = realtime_of(app)
    hubs = await realtime.db(
        plan_printer_sync, realtime.secretbox, ctx, printer_id, previous_hub_id, deleted
    )
    for hub_id in hubs:
        realtime.notify_hub_changed(hub_id, claim=False)
        realtime.notify_hub(hub_id)


def _ports(ctx: TenantContext, printer_id: str) -> dict:
    """The printer's non-default LAN ports, as configure_printer's mqtt_port / ftps_port."""
    from cloud.services.printers import ports_of

    ports = ports_of(ctx, [printer_id]).get(printer_id, {})
    return {name: port for name, port in ports.items() if port is not None}


def _enqueue_if_claimed(box, ctx, hub_id, message) -> bool:
    try:
        enqueue_command(box, ctx, hub_id, message)
    except RecordNotFound:
        return False  # the hub is not (or no longer) this tenant's: nothing to tell it
    return True


def record_discovery(hub_id: str, command_id: str, printers: list[dict]) -> None:
    """Keep a discover_printers command's findings as its result (read through the API)."""
    with system_access():
        HubCommand.update(result=json.dumps({"printers": printers})).where(
            (HubCommand.id == command_id) & (HubCommand.hub_id == hub_id)
        ).execute()


def cancel_pending(hub_id: str) -> int:
    """Cancel every pending command of a hub (it was released); return how many."""
    with system_access():
        return (
            HubCommand.update(status="cancelled", acked_at=now_ms())
            .where((HubCommand.hub_id == hub_id) & (HubCommand.status == "pending"))
            .execute()
        )


def command_status(ctx: TenantContext, command_id: str) -> dict:
    """A command's delivery state for its tenant (RecordNotFound for another tenant's)."""
    row = HubCommand.get_scoped(ctx, command_id)
    return {
        "command_id": row.id,
        "hub_id": row.hub_id,
        "type": row.type,
        "status": row.status,
        "attempts": row.attempts,
        "created_at": row.created_at,
        "sent_at": row.sent_at,
        "acked_at": row.acked_at,
        "error": {"code": row.error_code, "message": row.error_message} if row.error_code else None,
        "result": json.loads(row.result) if row.result else None,
    }


def _seal(box, command_id: str, message: dict) -> dict:
    for kind, path in SEALED_FIELDS:
        if message.get("type") != kind:
            continue
        parent = _parent(message, path)
        if parent is not None and isinstance(parent.get(path[-1]), str):
            parent[path[-1]] = {SEALED_MARK: box.encrypt(parent[path[-1]], _context(command_id))}
    return message


def _open(box, command_id: str, message: dict) -> dict:
    for kind, path in SEALED_FIELDS:
        if message.get("type") != kind:
            continue
        parent = _parent(message, path)
        value = parent.get(path[-1]) if parent is not None else None
        if isinstance(value, dict) and SEALED_MARK in value:
            parent[path[-1]] = box.decrypt(value[SEALED_MARK], _context(command_id))
    return message


def _parent(message: dict, path: tuple) -> dict | None:
    node = message
    for key in path[:-1]:
        node = node.get(key)
        if not isinstance(node, dict):
            return None
    return node


def _context(command_id: str) -> str:
    return "hub_command:" + command_id


def _json_bytes(value):
    if isinstance(value, bytes | bytearray):
        return bytes(value).hex()
    raise TypeError(type(value).__name__)


__all__ = [
    "CommandRefused",
    "cancel_pending",
    "command_status",
    "enqueue_command",
    "mark_sent",
    "notify_hub",
    "pending_commands",
    "record_ack",
    "send_command",
    "sync_printer",
]
