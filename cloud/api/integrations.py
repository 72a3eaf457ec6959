"""/api/v1/integrations: Shopify connection (sealed secrets) and its order webhook."""

import json

from aiohttp import web

from cloud.api.operations import PUBLIC, Call, OperationGroup, register
from cloud.api.schemas import TIMESTAMP, obj
from cloud.errors import ApiError
from cloud.keys import SECRETBOX
from cloud.services import integrations as service
from cloud.services import shopify_sync

ops = OperationGroup(
    tag="integrations", resource="integration", description="Shopify and other integrations"
)

_TEXT = {"type": ["string", "null"]}
INTEGRATION = obj(
    {
        "id": {"type": "string"},
        "provider": {"type": "string", "enum": list(service.PROVIDERS)},
        "shop_domain": {"type": "string"},
        "is_active": {"type": ["boolean", "null"]},
        "has_access_token": {"type": "boolean"},
        "last_webhook_at": {"type": ["integer", "null"]},
        "webhook_path": {"type": "string"},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
    required=("id", "provider", "shop_domain", "has_access_token", "webhook_path"),
)
SHOPIFY_BODY = obj(
    {
        "shop_domain": {"type": "string", "minLength": 1, "maxLength": 255},
        "webhook_secret": {"type": "string", "minLength": 16, "maxLength": 256, "writeOnly": True},
        "access_token": {"type": ["string", "null"], "maxLength": 512, "writeOnly": True},
        "is_active": {"type": ["boolean", "null"]},
    },
    required=("shop_domain", "webhook_secret"),
)
SYNC_STATE = {
    "type": ["object", "null"],
    "description": "Progress of the order pull (shopify-sync); null before the first sync",
    "properties": {
        "shop_domain": {"type": "string"},
        "since_id": _TEXT,
        "last_import_at": {"type": ["integer", "null"]},
        "imported_count": {"type": "integer"},
        "last_error": _TEXT,
        "last_error_at": {"type": ["integer", "null"]},
        "import_blocked_at": {"type": ["integer", "null"]},
        "created_at": TIMESTAMP,
        "updated_at": TIMESTAMP,
    },
}
SHOPIFY_INTEGRATION = {
    **INTEGRATION,
    "properties": {**INTEGRATION["properties"], "sync": SYNC_STATE},
}
SYNC_REQUESTED = obj(
    {"status": {"type": "string", "enum": ["queued"]}, "already_queued": {"type": "boolean"}},
    required=("status", "already_queued"),
)
WEBHOOK_RESULT = obj(
    {
        "status": {"type": "string", "enum": ["created", "exists", "ignored"]},
        "order_id": {"type": "string"},
        "topic": {"type": "string"},
    },
    required=("status",),
)


@ops.get(
    "/api/v1/integrations",
    role="viewer",
    response={"type": "array", "items": INTEGRATION},
)
async def list_integrations(call: Call):
    """Connected integrations (secrets are never returned)."""
    return await call.db(service.list_integrations, call.ctx, call.app[SECRETBOX])


@ops.get("/api/v1/integrations/shopify", role="viewer", response=SHOPIFY_INTEGRATION)
async def get_shopify_integration(call: Call):
    """The Shopify connection (404 if not connected) and its order sync's progress and last error."""
    integration = await call.db(service.get_integration, call.ctx, call.app[SECRETBOX], "shopify")
    integration["sync"] = await call.db(shopify_sync.sync_state, call.ctx.tenant_id)
    return integration


@ops.post(
    "/api/v1/integrations/shopify/sync",
    role="admin",
    status=202,
    response=SYNC_REQUESTED,
    action="integration.shopify_sync",
)
async def sync_shopify_orders(call: Call):
    """Pull new Shopify orders now (shopify-sync queue) instead of at the next scheduled pull."""
    await call.db(service.get_integration, call.ctx, call.app[SECRETBOX], "shopify")  # 404
    return await call.db(shopify_sync.request_import, call.ctx.tenant_id)


@ops.put(
    "/api/v1/integrations/shopify",
    role="admin",
    body=SHOPIFY_BODY,
    response=INTEGRATION,
    example={
        "shop_domain": "my-farm.myshopify.com",
        "webhook_secret": "shpss_0123456789abcdef",
        "access_token": "shpat_0123456789abcdef",
    },
)
async def configure_shopify(call: Call):
    """Connect (or reconnect) the Shopify store; secrets are sealed with AES-256-GCM."""
    integration, created = await call.db(
        service.configure_shopify, call.ctx, call.app[SECRETBOX], call.body
    )
    call.audit.details = {"shop_domain": integration["shop_domain"], "created": created}
    return integration


@ops.delete("/api/v1/integrations/shopify", role="admin")
async def delete_shopify_integration(call: Call):
    """Disconnect Shopify (its sealed secrets are deleted)."""
    await call.db(service.delete_integration, call.ctx, "shopify")


@ops.post(
    "/api/v1/integrations/shopify/webhook",
    role=PUBLIC,
    request_content={"application/json": {"schema": {"type": "object"}}},
    response=WEBHOOK_RESULT,
    action="order.shopify_webhook",
    errors=(401,),
    description="Called by Shopify. X-Shopify-Hmac-Sha256 must be the base64 HMAC-SHA256 of "
    "the raw body under the shop's webhook secret; orders are created once per Shopify id.",
)
async def shopify_webhook(call: Call):
    """Receive a Shopify order webhook (HMAC verified) and import the order idempotently."""
    request = call.request
    body = bytearray()
    # Read to the end (one read() returns only what has arrived so far), within the limit.
    while chunk := await request.content.read(64 * 1024):
        body += chunk
        if len(body) > service.MAX_WEBHOOK_BYTES:
            raise ApiError(413, "payload_too_large", "webhook body too large")
    body = bytes(body)
    shop = request.headers.get("X-Shopify-Shop-Domain", "")
    found = await call.db(service.webhook_secret_for_shop, call.app[SECRETBOX], shop)
    # One answer for unknown shop and bad signature: nothing to learn about connected shops.
    if found is None or not service.verify_shopify_hmac(
        found[1], body, request.headers.get("X-Shopify-Hmac-Sha256")
    ):
        call.audit.skip = True
        raise ApiError(401, "invalid_signature", "webhook signature does not verify")
    ctx = found[0]
    try:
        payload = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ApiError(400, "invalid_json", "webhook body is not valid JSON") from None
    topic = request.headers.get("X-Shopify-Topic", "orders/create")[:100]
    result = await call.db(service.handle_shopify_order, ctx, topic, payload)
    call.audit.tenant_id = ctx.tenant_id
    call.audit.entity_type = "order"
    call.audit.entity_id = result.get("order_id")
    call.audit.details = {"topic": topic, "status": result["status"], "shop": shop.lower()}
    if result["status"] == "ignored":
        call.audit.skip = True
    return result


def setup(app: web.Application) -> None:
    """Add the integration routes."""
    register(app, ops)
