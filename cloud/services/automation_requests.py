"""Turn automation's side-effect requests into hub commands and dashboard notifications."""

from cloud.models import Printer, TenantContext
from cloud.services import commands


def printer_command(box, tenant_id: str, request: dict) -> str | None:
    """Persist a printer_command for the printer's hub (DB thread); returns the hub id, or None
    when the printer has no claimed hub of this tenant."""
    ctx = TenantContext(tenant_id=tenant_id)
    printer = Printer.scoped(ctx).where(Printer.id == request["printer_id"]).first()
    if printer is None or not printer.hub_id:
        return None
    message = {"type": "printer_command", "printer_id": printer.id, "action": request["action"]}
    if request.get("args"):
        message["args"] = request["args"]
    commands.enqueue_command(box, ctx, printer.hub_id, message)
    return printer.hub_id
