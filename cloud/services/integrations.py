"""Shop integrations (Shopify): sealed credentials, webhook verification, order import."""

import base64
import hashlib
import hmac
import json
import logging
import re
from datetime import datetime
from decimal import Decimal, InvalidOperation

from cloud.errors import ApiError, conflict, not_found, validation_error
from cloud.models import Order, TenantContext, new_id, now_ms, system_access
from cloud.models.integrations import Integration
from cloud.queue.store import QueueStore
from cloud.services import crud, orders, skus
from cloud.services.fields import clean, flag, text

log = logging.getLogger("cloud.integrations")

PROVIDERS = ("shopify",)
SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}\.myshopify\.com$")
MAX_WEBHOOK_BYTES = 1024 * 1024  # Shopify order payloads are tens of KiB
# Topics that carry an order; others are acknowledged and ignored.
ORDER_TOPICS = ("orders/create", "orders/paid", "orders/updated", "orders/cancelled")

SHOPIFY_FIELDS = {
    "shop_domain": text(255, required=True),
    "webhook_secret": text(256, required=True),
    "access_token": text(512),
    "is_active": flag(),
}

INTEGRATIONS = crud.Resource(
    name="integration",
    model=Integration,
    fields={},
    hidden=("tenant_id", "secrets_encrypted"),
    sortable=("created_at",),
)


def _context(integration_id: str, tenant_id: str) -> str:
    """Associated data binding sealed secrets to their row and tenant."""
    return f"integration:{integration_id}:{tenant_id}"


def _public(row: Integration, secrets: dict | None = None) -> dict:
    data = crud.to_api(INTEGRATIONS, row)
    data["webhook_path"] = f"/api/v1/integrations/{row.provider}/webhook"
    if secrets is not None:
        data["has_access_token"] = bool(secrets.get("access_token"))
    return data


def list_integrations(ctx, box) -> list[dict]:
    """The tenant's integrations; secrets are never returned, only whether they are set."""
    rows = Integration.scoped(ctx).order_by(Integration.provider)
    return [_public(row, _open(box, row)) for row in rows]


def get_integration(ctx, box, provider: str) -> dict:
    """One integration by provider name."""
    row = _by_provider(ctx, provider)
    return _public(row, _open(box, row))


def configure_shopify(ctx, box, data) -> tuple[dict, bool]:
    """Create or replace the tenant's Shopify connection. Returns (integration, created)."""
    values = clean(ctx, data, SHOPIFY_FIELDS, partial=False)
    domain = values["shop_domain"].lower()
    if not SHOP_DOMAIN.match(domain):
        raise validation_error("shop_domain", "'shop_domain' must look like my-shop.myshopify.com")
    if len(values["webhook_secret"]) < 16:
        raise validation_error("webhook_secret", "'webhook_secret' must be at least 16 characters")
    secrets = {"webhook_secret": values["webhook_secret"]}
    if values.get("access_token"):
        secrets["access_token"] = values["access_token"]
    with crud.write_transaction():
        with system_access():  # a shop feeds exactly one tenant: check across tenants
            taken = (
                Integration.select()
                .where(
                    Integration.provider == "shopify",
                    Integration.shop_domain == domain,
                    Integration.tenant_id != ctx.tenant_id,
                )
                .exists()
            )
        if taken:
            raise conflict("shop_domain", "this shop is connected to another farm")
        row = Integration.scoped(ctx).where(Integration.provider == "shopify").first()
        created = row is None
        integration_id = new_id() if created else row.id
        sealed = box.encrypt(json.dumps(secrets), _context(integration_id, ctx.tenant_id))
        fields = {
            "shop_domain": domain,
            "secrets_encrypted": sealed,
            "is_active": values.get("is_active", True),
        }
        if created:
            Integration.create_scoped(ctx, id=integration_id, provider="shopify", **fields)
        else:
            Integration.update_scoped(ctx, **fields).where(Integration.id == row.id).execute()
        row = Integration.get_scoped(ctx, integration_id)
    return _public(row, secrets), created


def delete_integration(ctx, provider: str) -> None:
    """Disconnect a provider (its sealed secrets are deleted with the row)."""
    _by_provider(ctx, provider).delete_instance()


def _by_provider(ctx, provider):
    row = None
    if provider in PROVIDERS:
        row = Integration.scoped(ctx).where(Integration.provider == provider).first()
    if row is None:
        raise not_found("integration", provider)
    return row


def _open(box, row: Integration) -> dict:
    return json.loads(box.decrypt(row.secrets_encrypted, _context(row.id, row.tenant_id)))


# --- webhook ---------------------------------------------------------------------------------


def webhook_secret_for_shop(box, shop_domain: str) -> tuple[TenantContext, str] | None:
    """(tenant context, webhook secret) of the active integration for a shop, else None.

    System code: the webhook is not a tenant member; the shop domain selects the tenant.
    """
    if not isinstance(shop_domain, str) or not SHOP_DOMAIN.match(shop_domain.lower()):
        return None
    with system_access():
        row = Integration.get_or_none(
            Integration.provider == "shopify",
            Integration.shop_domain == shop_domain.lower(),
            Integration.is_active == True,  # noqa: E712 - peewee expression
        )
    if row is None:
        return None
    try:
        secret = _open(box, row)["webhook_secret"]
    except (ValueError, KeyError):  # sealed with another key or damaged: cannot verify
        log.error("integration %s: webhook secret does not decrypt", row.id)
        return None
    return TenantContext(tenant_id=row.tenant_id), secret


def verify_shopify_hmac(secret: str, body: bytes, header: str | None) -> bool:
    """Shopify's X-Shopify-Hmac-Sha256: base64(HMAC-SHA256(secret, raw body)), constant time."""
    if not header:
        return False
    expected = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
    return hmac.compare_digest(expected, header.strip().encode("ascii", "replace"))


def handle_shopify_order(ctx, topic: str, payload) -> dict:
    """Import (or update the status of) the order a verified webhook carries."""
    Integration.update_scoped(ctx, last_webhook_at=now_ms()).where(
        Integration.provider == "shopify"
    ).execute()
    if topic not in ORDER_TOPICS:
        return {"status": "ignored", "topic": topic}
    with crud.write_transaction():  # the order and its shopify-sync message commit together
        return _import_webhook_order(ctx, topic, payload)


def _import_webhook_order(ctx, topic: str, payload) -> dict:
    order, created = import_shopify_payload(ctx, payload)
    if topic == "orders/cancelled" and order["status"] in ("pending", "processing"):
        Order.update_scoped(ctx, status="cancelled").where(Order.id == order["id"]).execute()
        order["status"] = "cancelled"
    # shopify-sync announces the order (dashboards, order_received rules) once, and pulls
    # whatever else the shop has that no webhook delivered. One message per order: Shopify's
    # redeliveries and later topics of the same order meet on the dedupe key.
    QueueStore().enqueue(
        "shopify-sync",
        {"kind": "import_orders", "tenant_id": ctx.tenant_id, "order_id": order["id"]},
        tenant_id=ctx.tenant_id,
        dedupe_key=f"shopify-webhook:{order['id']}",
    )
    return {"status": "created" if created else "exists", "order_id": order["id"]}


def import_shopify_payload(ctx, payload) -> tuple[dict, bool]:
    """Import one Shopify order JSON once per Shopify id (webhooks and API pulls share this).

    An order already cancelled or fulfilled in the shop is recorded with that status.
    """
    values, items, external_id = shopify_order(payload)
    if payload.get("cancelled_at"):
        values["status"] = "cancelled"
    elif payload.get("fulfillment_status") == "fulfilled":
        values["status"] = "fulfilled"
    return orders.import_order(ctx, "shopify", external_id, values, _with_skus(ctx, items))


def shopify_credentials(box, tenant_id: str) -> dict | None:
    """{integration_id, shop_domain, access_token} of the tenant's active Shopify integration,
    None when there is none or it has no access token (system code: queue consumers)."""
    with system_access():
        row = Integration.get_or_none(
            Integration.tenant_id == tenant_id,
            Integration.provider == "shopify",
            Integration.is_active == True,  # noqa: E712 - peewee expression
        )
    if row is None:
        return None
    token = _open(box, row).get("access_token")
    if not token:
        return None
    return {"integration_id": row.id, "shop_domain": row.shop_domain, "access_token": token}


def shopify_order(payload) -> tuple[dict, list[dict], str]:
    """Map a Shopify order JSON to (order values, items, external id); 422 if unusable."""
    if not isinstance(payload, dict):
        raise validation_error(None, "the webhook body must be a JSON object")
    external = payload.get("id")
    if isinstance(external, bool) or not isinstance(external, (int, str)) or external == "":
        raise validation_error("id", "the Shopify order has no id")
    customer = payload.get("customer") if isinstance(payload.get("customer"), dict) else {}
    name = " ".join(
        str(part) for part in (customer.get("first_name"), customer.get("last_name")) if part
    )
    address = payload.get("shipping_address")
    values = {
        "customer_name": name[:200] or None,
        "customer_email": _short(payload.get("email") or payload.get("contact_email"), 320),
        "shipping_address": json.dumps(address) if isinstance(address, dict) else None,
        "shopify_order_number": _short(payload.get("name") or payload.get("order_number"), 100),
        "notes": _short(payload.get("note"), 5000),
        "order_date": _iso_ms(payload.get("created_at")),
        "last_synced_at": now_ms(),
    }
    lines = payload.get("line_items") or []
    if not isinstance(lines, list):
        raise validation_error("line_items", "line_items must be an array")
    items = []
    for position, line in enumerate(lines[: orders.MAX_ITEMS]):
        if not isinstance(line, dict):
            raise validation_error(f"line_items[{position}]", "must be an object")
        quantity = line.get("quantity")
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise validation_error(f"line_items[{position}].quantity", "must be a positive integer")
        sku = _short(line.get("sku"), 100) or f"shopify-variant-{line.get('variant_id') or 'none'}"
        item = {
            "sku": sku,
            "product_name": _short(line.get("title") or line.get("name"), 200) or sku,
            "quantity": min(quantity, 1_000_000),
        }
        cents = _cents(line.get("price"))
        if cents is not None:
            item["unit_price"] = cents
        items.append(item)
    return values, items, str(external)[:100]


def _with_skus(ctx, items: list[dict]) -> list[dict]:
    """Link items to the tenant's SKUs by code where one matches."""
    for item in items:
        match = skus.find_sku_by_code(ctx, item["sku"])
        if match is not None:
            item["product_sku_id"] = match.id
    return items


def _short(value, limit: int):
    if value is None or isinstance(value, (dict, list)):
        return None
    text_value = str(value).strip()
    return text_value[:limit] or None


def _cents(value) -> int | None:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount < 0 or amount > 10**9:
        return None
    return int((amount * 100).to_integral_value())


def _iso_ms(value) -> int | None:
    if not isinstance(value, str):
        return None
    try:
        return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
    except ValueError:
        return None


def webhook_error(status: int, message: str) -> ApiError:
    """An error for the webhook route (Shopify retries on non-2xx)."""
    return ApiError(status, "webhook_rejected", message)
