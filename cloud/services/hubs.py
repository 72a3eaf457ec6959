"""Hubs: factory provisioning, the hub link's bookkeeping, claiming and releasing, listing, renaming.

Functions here run on a database thread (`run_db`). Claim codes live in the kv store and are
handled by `ClaimCodes` (async, on the event loop).
"""

import logging
import re
import secrets
from dataclasses import dataclass

from cloud.db import database_proxy
from cloud.db.executor import write_transaction
from cloud.models import (
    Hub,
    Printer,
    RecordNotFound,
    TenantContext,
    new_id,
    now_ms,
    system_access,
)
from cloud.realtime.models import HubLink
from cloud.services import commands

log = logging.getLogger(__name__)

SECRET_BYTES = 32  # factory secret: 256 random bits, carried as 64 hex characters
HUB_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
CLAIM_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read off a screen
CLAIM_CODE_LENGTH = 8  # 32^8 = 1.1e12 codes; the claim route is rate limited
CLAIM_CODE_TTL_MS = 10 * 60 * 1000
# A code with less than this left is replaced when the hub reconnects (so a user has time to type it).
CLAIM_CODE_MIN_REMAINING_MS = 2 * 60 * 1000


class HubConflict(ValueError):
    """The hub already exists (provisioning) or is already claimed (claiming)."""


@dataclass(frozen=True)
class HubCredentials:
    """What the hub socket needs to check a hello (the secret is opened only in memory)."""

    hub_id: str
    secret: str
    tenant_id: str | None


@dataclass(frozen=True)
class HubSession:
    """State loaded when a hub connects: its tenant, ledger position and printers."""

    hub_id: str
    tenant_id: str | None
    name: str | None
    acked_seq: int
    printer_ids: frozenset


def _secret_context(hub_id: str) -> str:
    return "hub_secret:" + hub_id


# --- provisioning ------------------------------------------------------------------------------
def provision_hub(
    box,
    hub_id: str | None = None,
    secret: str | None = None,
    hardware_revision: str | None = None,
    database=None,
) -> tuple[str, str]:
    """Register a factory hub (unclaimed); return (hub_id, secret). The secret is shown once."""
    hub_id = hub_id or new_id()
    if not HUB_ID_PATTERN.match(hub_id):
        raise ValueError("hub_id must be 1-64 characters of letters, digits, '_', '.', ':' or '-'")
    secret = secret or secrets.token_hex(SECRET_BYTES)
    if len(secret) < 32:
        raise ValueError("secret must be at least 32 characters")
    now = now_ms()
    database = database or database_proxy.obj
    with write_transaction(database), system_access():
        if Hub.select(Hub.id).where(Hub.id == hub_id).exists():
            raise HubConflict(f"hub {hub_id} is already provisioned")
        Hub.insert(
            id=hub_id,
            tenant_id=None,
            hardware_revision=hardware_revision,
            is_online=0,
            created_at=now,
            updated_at=now,
        ).execute()
        HubLink.insert(
            hub_id=hub_id,
            secret_sealed=box.encrypt(secret, _secret_context(hub_id)),
            acked_seq=0,
            provisioned_at=now,
        ).execute()
    log.info("provisioned hub %s", hub_id)  # never the secret
    return hub_id, secret


def load_credentials(box, hub_id: str) -> HubCredentials | None:
    """The hub's secret (opened) and tenant, or None for an unknown hub."""
    with system_access():
        row = (
            HubLink.select(HubLink.secret_sealed, Hub.tenant_id)
            .join(Hub, on=(Hub.id == HubLink.hub_id))
            .where(HubLink.hub_id == hub_id)
            .tuples()
            .first()
        )
    if row is None:
        return None
    return HubCredentials(hub_id, box.decrypt(row[0], _secret_context(hub_id)), row[1])


# --- the hub link's bookkeeping ----------------------------------------------------------------
def mark_connected(hub_id: str, connection_id: str, hello: dict) -> HubSession:
    """Record a verified hello: online, seen now, what the hub told us; load its session."""
    now = now_ms()
    fields = {Hub.is_online: 1, Hub.last_seen_at: now, Hub.updated_at: now}
    for column, key in (
        (Hub.firmware_version, "firmware"),
        (Hub.hardware_revision, "hardware_revision"),
        (Hub.local_ip_address, "ip"),
        (Hub.wifi_signal_strength, "wifi_rssi"),
    ):
        if hello.get(key) is not None:
            fields[column] = hello[key]
    # Lock order everywhere: hub_links before hubs (mark_disconnected, the sweep), so two
    # connections of one hub racing through connect/disconnect cannot deadlock on PostgreSQL.
    with write_transaction(database_proxy.obj), system_access():
        HubLink.update(connection_id=connection_id, connected_at=now).where(
            HubLink.hub_id == hub_id
        ).execute()
        Hub.update(fields).where(Hub.id == hub_id).execute()
        return load_session(hub_id)


def load_session(hub_id: str) -> HubSession:
    """The hub's tenant, name, acked seq and the ids of its printers (of that tenant)."""
    with system_access():
        hub = Hub.select(Hub.tenant_id, Hub.name).where(Hub.id == hub_id).first()
        if hub is None:
            raise RecordNotFound(Hub, hub_id)
        acked = HubLink.select(HubLink.acked_seq).where(HubLink.hub_id == hub_id).scalar() or 0
        printer_ids = frozenset()
        if hub.tenant_id is not None:
            printer_ids = frozenset(
                pid
                for (pid,) in Printer.select(Printer.id)
                .where((Printer.hub_id == hub_id) & (Printer.tenant_id == hub.tenant_id))
                .tuples()
            )
    return HubSession(hub_id, hub.tenant_id, hub.name, acked, printer_ids)


def mark_disconnected(hub_id: str, connection_id: str) -> bool:
    """Mark the hub offline if `connection_id` still holds it (a newer connection wins)."""
    now = now_ms()
    with write_transaction(database_proxy.obj), system_access():
        released = (
            HubLink.update(connection_id=None)
            .where((HubLink.hub_id == hub_id) & (HubLink.connection_id == connection_id))
            .execute()
        )
        if released:
            Hub.update(is_online=0, last_seen_at=now, updated_at=now).where(
                Hub.id == hub_id
            ).execute()
    return bool(released)


def touch_hubs(hub_ids: list[str], now: int) -> None:
    """Refresh last_seen_at of hubs connected to this process (one statement per batch)."""
    with system_access():
        for start in range(0, len(hub_ids), 500):
            Hub.update(last_seen_at=now, is_online=1).where(
                Hub.id.in_(hub_ids[start : start + 500])
            ).execute()


def sweep_stale_hubs(older_than_ms: int) -> list[tuple[str, str | None]]:
    """Mark offline hubs marked online whose process stopped refreshing them (it crashed)."""
    now = now_ms()
    with write_transaction(database_proxy.obj), system_access():
        stale = list(
            Hub.select(Hub.id, Hub.tenant_id)
            .where((Hub.is_online == 1) & (Hub.last_seen_at < now - older_than_ms))
            .tuples()
        )
        if stale:
            ids = [hub_id for hub_id, _ in stale]
            HubLink.update(connection_id=None).where(HubLink.hub_id.in_(ids)).execute()
            Hub.update(is_online=0, updated_at=now).where(Hub.id.in_(ids)).execute()
    return stale


# --- tenant-facing operations ------------------------------------------------------------------
def hub_view(hub: Hub, printer_count: int) -> dict:
    """The API representation of a hub."""
    return {
        "id": hub.id,
        "name": hub.name,
        "firmware_version": hub.firmware_version,
        "hardware_revision": hub.hardware_revision,
        "is_online": bool(hub.is_online),
        "last_seen_at": hub.last_seen_at,
        "local_ip_address": hub.local_ip_address,
        "wifi_signal_strength": hub.wifi_signal_strength,
        "printer_count": printer_count,
        "created_at": hub.created_at,
        "updated_at": hub.updated_at,
    }


def list_hubs(ctx: TenantContext) -> list[dict]:
    """Every hub of the tenant, with its printer count."""
    hubs = list(Hub.scoped(ctx).order_by(Hub.name, Hub.id))
    counts = _printer_counts(ctx, [hub.id for hub in hubs])
    return [hub_view(hub, counts.get(hub.id, 0)) for hub in hubs]


def get_hub(ctx: TenantContext, hub_id: str) -> dict:
    """One hub of the tenant (RecordNotFound otherwise)."""
    hub = Hub.get_scoped(ctx, hub_id)
    return hub_view(hub, _printer_counts(ctx, [hub_id]).get(hub_id, 0))


def rename_hub(ctx: TenantContext, hub_id: str, name: str) -> dict:
    """Rename a hub of the tenant."""
    with write_transaction(database_proxy.obj):
        Hub.get_scoped(ctx, hub_id)
        Hub.update_scoped(ctx, name=name).where(Hub.id == hub_id).execute()
    return get_hub(ctx, hub_id)


def claim_hub(ctx: TenantContext, hub_id: str, name: str | None) -> dict:
    """Bind an unclaimed hub to the tenant (HubConflict if someone claimed it meanwhile)."""
    now = now_ms()
    with write_transaction(database_proxy.obj), system_access():
        values = {Hub.tenant_id: ctx.tenant_id, Hub.updated_at: now}
        if name:
            values[Hub.name] = name
        claimed = Hub.update(values).where((Hub.id == hub_id) & (Hub.tenant_id.is_null())).execute()
        if not claimed:
            if Hub.select(Hub.id).where(Hub.id == hub_id).exists():
                raise HubConflict("hub is already claimed")
            raise RecordNotFound(Hub, hub_id)
    return get_hub(ctx, hub_id)


def release_hub(ctx: TenantContext, hub_id: str) -> dict:
    """Return a hub to unclaimed: its printers are detached, its pending commands cancelled."""
    with write_transaction(database_proxy.obj):
        hub = Hub.get_scoped(ctx, hub_id)
        detached = Printer.update_scoped(ctx, hub_id=None).where(Printer.hub_id == hub_id).execute()
        cancelled = commands.cancel_pending(hub_id)
        with system_access():
            Hub.update(tenant_id=None, name=None, updated_at=now_ms()).where(
                Hub.id == hub.id
            ).execute()
        log.info(
            "hub %s released: %d printer(s) detached, %d pending command(s) cancelled",
            hub_id,
            detached,
            cancelled,
        )
    return {"id": hub_id, "released": True, "printers_detached": detached}


def tenant_state(tenant_id: str) -> tuple[list, list]:
    """Persisted state of a tenant's hubs (id, is_online, printer count) and printers
    (id, hub_id, status): the starting point of a new dashboard."""
    ctx = TenantContext(tenant_id)
    hubs = [(hub.id, hub.is_online) for hub in Hub.scoped(ctx, Hub.id, Hub.is_online)]
    counts = _printer_counts(ctx, [hub_id for hub_id, _ in hubs])
    printers = list(
        Printer.scoped(ctx, Printer.id, Printer.hub_id, Printer.status)
        .where(Printer.hub_id.is_null(False))
        .tuples()
    )
    return [(hub_id, online, counts.get(hub_id, 0)) for hub_id, online in hubs], printers


def _printer_counts(ctx: TenantContext, hub_ids: list[str]) -> dict:
    if not hub_ids:
        return {}
    from peewee import fn

    rows = (
        Printer.scoped(ctx, Printer.hub_id, fn.COUNT(Printer.id))
        .where(Printer.hub_id.in_(hub_ids))
        .group_by(Printer.hub_id)
        .tuples()
    )
    return dict(rows)


# --- claim codes (kv) --------------------------------------------------------------------------
def new_claim_code() -> str:
    """A random claim code of CLAIM_CODE_LENGTH unambiguous characters."""
    return "".join(secrets.choice(CLAIM_CODE_ALPHABET) for _ in range(CLAIM_CODE_LENGTH))


def normalise_claim_code(code: str) -> str:
    """Upper case, separators and spaces removed (users type 'abcd-efgh')."""
    return re.sub(r"[\s-]", "", code or "").upper()


class ClaimCodes:
    """Claim codes in the kv store: `hub_claim:{code}` -> hub id and `hub_claim_of:{hub}` ->
    code and expiry, both with the 10-minute TTL."""

    def __init__(self, kv):
        self.kv = kv

    async def issue(self, hub_id: str) -> tuple[str, int]:
        """The hub's live code if it has enough time left, else a new one: (code, expires_at)."""
        now = now_ms()
        current = await self.kv.get("hub_claim_of:" + hub_id)
        if current:
            code, expires_at = current.split("|")
            if int(expires_at) - now >= CLAIM_CODE_MIN_REMAINING_MS:
                return code, int(expires_at)
            await self.kv.delete("hub_claim:" + code)
        code = new_claim_code()
        expires_at = now + CLAIM_CODE_TTL_MS
        await self.kv.set("hub_claim:" + code, hub_id, ttl_ms=CLAIM_CODE_TTL_MS)
        await self.kv.set(
            "hub_claim_of:" + hub_id, f"{code}|{expires_at}", ttl_ms=CLAIM_CODE_TTL_MS
        )
        return code, expires_at

    async def lookup(self, code: str) -> str | None:
        """The hub id a live code belongs to, else None."""
        code = normalise_claim_code(code)
        if len(code) != CLAIM_CODE_LENGTH:
            return None
        return await self.kv.get("hub_claim:" + code)

    async def revoke(self, hub_id: str) -> None:
        """Forget the hub's code (it was claimed)."""
        current = await self.kv.get("hub_claim_of:" + hub_id)
        if current:
            await self.kv.delete("hub_claim:" + current.split("|")[0])
        await self.kv.delete("hub_claim_of:" + hub_id)
