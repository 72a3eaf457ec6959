"""Printers of a tenant: CRUD, list filters; access codes sealed with AES-256-GCM, never returned."""

import peewee

from cloud.db import database_proxy
from cloud.db.executor import write_transaction
from cloud.errors import conflict, not_found, validation_error
from cloud.models import Hub, Printer, TenantContext, new_id
from cloud.models.printer_ports import PrinterPorts
from cloud.security.secretbox import SecretBox
from cloud.services.listing import contains, page

# Never leave the server: sealed at rest, write-only through the API.
SECRET_FIELDS = ("access_code",)
# Kept in printer_ports (migrations/0011), not in the spec's printers table; None = default.
PORT_FIELDS = ("mqtt_port", "ftps_port")
SORT_FIELDS = {
    "name": Printer.name,
    "sort_order": Printer.sort_order,
    "status": Printer.status,
    "model": Printer.model,
    "printer_id": Printer.printer_id,
    "created_at": Printer.created_at,
    "updated_at": Printer.updated_at,
}


def access_code_context(tenant_id: str, printer_id: str) -> str:
    """Associated data binding a sealed access code to its tenant and printer row."""
    return f"printer-access-code:{tenant_id}:{printer_id}"


def reveal_access_code(box: SecretBox, printer: Printer) -> str | None:
    """The plaintext access code (for the hub link only; never for an API response)."""
    if not printer.access_code:
        return None
    return box.decrypt(printer.access_code, access_code_context(printer.tenant_id, printer.id))


def printer_dict(printer: Printer | dict) -> dict:
    """The API shape: every column except tenant_id and secrets, plus has_access_code."""
    data = dict(printer) if isinstance(printer, dict) else printer.to_dict()
    data.pop("tenant_id", None)
    data["has_access_code"] = bool(data.pop("access_code", None))
    for field in PORT_FIELDS:
        data.setdefault(field, None)
    return data


def ports_of(ctx: TenantContext, printer_ids: list[str]) -> dict[str, dict]:
    """{printer_id: {"mqtt_port", "ftps_port"}} for the printers with non-default ports."""
    if not printer_ids:
        return {}
    rows = PrinterPorts.scoped(ctx).where(PrinterPorts.printer_id.in_(printer_ids))
    return {row.printer_id: {f: getattr(row, f) for f in PORT_FIELDS} for row in rows}


def _with_ports(ctx: TenantContext, items: list[dict]) -> list[dict]:
    ports = ports_of(ctx, [item["id"] for item in items])
    for item in items:
        item.update(ports.get(item["id"], {}))
    return items


def _save_ports(ctx: TenantContext, printer_id: str, values: dict) -> None:
    """Upsert the printer's ports row from the PORT_FIELDS present in `values`."""
    given = {f: values[f] for f in PORT_FIELDS if f in values}
    if not given:
        return
    row = PrinterPorts.scoped(ctx).where(PrinterPorts.printer_id == printer_id).first()
    if row is None:
        PrinterPorts.create_scoped(ctx, printer_id=printer_id, **given)
    else:
        PrinterPorts.update_scoped(ctx, **given).where(
            PrinterPorts.printer_id == printer_id
        ).execute()


def list_printers(
    ctx: TenantContext,
    *,
    sort,
    limit,
    offset,
    status=None,
    hub_id=None,
    is_active=None,
    in_maintenance=None,
    model=None,
    q=None,
) -> dict:
    """A page of the tenant's printers, filtered."""
    query = Printer.scoped(ctx)
    if status is not None:
        query = query.where(Printer.status == status)
    if hub_id is not None:
        query = query.where(Printer.hub_id == hub_id)
    if is_active is not None:
        query = query.where(Printer.is_active == is_active)
    if in_maintenance is not None:
        query = query.where(Printer.in_maintenance == in_maintenance)
    if model is not None:
        query = query.where(Printer.model == model)
    if q:
        query = query.where(
            contains(Printer.name, q)
            | contains(Printer.serial_number, q)
            | contains(Printer.location, q)
        )
    # Rows as dicts (field converters still apply): a page skips building model instances.
    result = page(
        query.dicts(),
        Printer,
        sort=sort,
        sort_fields=SORT_FIELDS,
        limit=limit,
        offset=offset,
        render=printer_dict,
    )
    _with_ports(ctx, result["items"])
    return result


def get_printer(ctx: TenantContext, printer_id: str) -> dict:
    """One printer of the tenant, else 404."""
    return _with_ports(ctx, [printer_dict(Printer.get_scoped(ctx, printer_id))])[0]


def _check_references(ctx: TenantContext, values: dict, printer_id: str | None) -> None:
    hub_id = values.get("hub_id")
    if hub_id is not None and not Hub.scoped(ctx).where(Hub.id == hub_id).exists():
        raise validation_error("hub_id", "hub_id: no such hub in this tenant")
    others = Printer.scoped(ctx)
    if printer_id is not None:
        others = others.where(Printer.id != printer_id)
    if "name" in values and others.where(Printer.name == values["name"]).exists():
        raise conflict("name", "a printer with this name already exists")
    number = values.get("printer_id")
    if number is not None and others.where(Printer.printer_id == number).exists():
        raise conflict("printer_id", "another printer already has this printer_id")


def _seal(box: SecretBox, ctx: TenantContext, printer_id: str, values: dict) -> dict:
    values = {k: v for k, v in values.items() if k not in PORT_FIELDS}
    if "access_code" in values and values["access_code"] is not None:
        values["access_code"] = box.encrypt(
            values["access_code"], access_code_context(ctx.tenant_id, printer_id)
        )
    return values


def create_printer(ctx: TenantContext, box: SecretBox, values: dict) -> dict:
    """Add a printer; names and display numbers are unique within the tenant."""
    printer_id = new_id()
    sealed = _seal(box, ctx, printer_id, values)
    try:
        with write_transaction(database_proxy.obj):
            _check_references(ctx, values, None)
            Printer.create_scoped(ctx, id=printer_id, **sealed)
            _save_ports(ctx, printer_id, values)
    except peewee.IntegrityError:
        raise conflict("name", "a printer with this name or printer_id already exists") from None
    return get_printer(ctx, printer_id)  # read back: column types as stored (flags as bool)


def update_printer(ctx: TenantContext, box: SecretBox, printer_id: str, values: dict) -> dict:
    """Change fields of a printer (absent fields stay; access_code null clears it)."""
    sealed = _seal(box, ctx, printer_id, values)
    try:
        with write_transaction(database_proxy.obj):
            Printer.get_scoped(ctx, printer_id)  # 404 first, before any other check
            _check_references(ctx, values, printer_id)
            if sealed or any(f in values for f in PORT_FIELDS):  # updated_at moves too
                Printer.update_scoped(ctx, **sealed).where(Printer.id == printer_id).execute()
            _save_ports(ctx, printer_id, values)
    except peewee.IntegrityError:
        raise conflict("name", "a printer with this name or printer_id already exists") from None
    return get_printer(ctx, printer_id)


def delete_printer(ctx: TenantContext, printer_id: str) -> None:
    """Delete a printer of the tenant, else 404."""
    if not Printer.delete_scoped(ctx).where(Printer.id == printer_id).execute():
        raise not_found("printer", printer_id)


def online_ratio() -> float | None:
    """Connected / active printers across every tenant (a system metric), None without printers."""
    from cloud.models import system_access

    with system_access():
        rows = (
            Printer.select(Printer.is_connected, peewee.fn.COUNT(Printer.id))
            .where(Printer.is_active == True)  # noqa: E712 (SQL comparison)
            .group_by(Printer.is_connected)
            .tuples()
        )
        counts = {bool(connected): count for connected, count in rows}
    total = sum(counts.values())
    return counts.get(True, 0) / total if total else None
