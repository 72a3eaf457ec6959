"""Commands to one printer through its hub (staff actions, job cancels, automation rules)."""

from cloud.models import Printer, TenantContext
from cloud.services import commands


def send_printer_command(
    box, tenant_id: str, printer_id: str, action: str, args: dict | None = None
) -> tuple[str, str] | None:
    """Persist a printer_command for the printer's hub (DB thread); returns (hub_id,
    command_id), or None when the printer has no hub. RecordNotFound for another tenant's
    printer; CommandRefused for an invalid action or args. Call notify_hub after commit."""
    ctx = TenantContext(tenant_id=tenant_id)
    printer = Printer.get_scoped(ctx, printer_id)
    if not printer.hub_id:
        return None
    message = {"type": "printer_command", "printer_id": printer.id, "action": action}
    if args:
        message["args"] = args
    return printer.hub_id, commands.enqueue_command(box, ctx, printer.hub_id, message)
