"""Fixtures for queue consumers: a simulated Shopify, a connected tenant, queue inspection."""

import json
import os

import aiohttp
import pytest

from cloud.models import AutomationRule, TenantContext, now_ms
from cloud.queue import QueueStore, QueueWorker
from cloud.security.secretbox import SecretBox
from cloud.services import integrations
from cloud.workers.shopify_sync import make_handler
from hub_sim.shopify import SimulatedShopify
from tests.cloud import model_factories as f

WEBHOOK_SECRET = "whsec_0123456789abcdef"


async def run_inline(fn, *args):
    """run_db for service-level tests: the calling thread holds the bound test database."""
    return fn(*args)


def queue_row(message_id: int) -> dict:
    """A queue message's state as stored (status, attempts, available_at, last_error)."""
    store = QueueStore()
    row = store._execute(
        "SELECT status, attempts, available_at, last_error FROM queue_messages WHERE id = %s",
        (message_id,),
    ).fetchone()
    return dict(zip(("status", "attempts", "available_at", "last_error"), row, strict=True))


def make_due(message_id: int) -> None:
    """Let a deferred message's time come (instead of sleeping through its backoff)."""
    QueueStore()._execute(
        "UPDATE queue_messages SET available_at = %s WHERE id = %s", (now_ms() - 1, message_id)
    )


def connect_shop(ctx: TenantContext, box: SecretBox, shop: SimulatedShopify, token=None) -> None:
    """Configure the tenant's Shopify integration (sealed secrets) for the simulated shop."""
    integrations.configure_shopify(
        ctx,
        box,
        {
            "shop_domain": shop.shop_domain,
            "webhook_secret": WEBHOOK_SECRET,
            "access_token": shop.access_token if token is None else token,
        },
    )


def order_rule(ctx: TenantContext) -> AutomationRule:
    """An order_received rule that makes one worklist task per ordered line."""
    return AutomationRule.create_scoped(
        ctx,
        name="print what was ordered",
        trigger_type="order_received",
        trigger_config="{}",
        conditions="[]",
        actions=json.dumps(
            [
                {
                    "type": "create_worklist_task",
                    "title": "Print {quantity} x {sku} for {order_number}",
                }
            ]
        ),
        is_active=True,
    )


class Harness:
    """A tenant connected to a simulated shop, the shopify-sync handler and a worker."""

    def __init__(self, shop: SimulatedShopify):
        self.shop = shop
        self.box = SecretBox(os.urandom(32))
        self.ctx = f.tenant("shopfarm")
        self.published: list[tuple[str, dict]] = []
        self.automation: list[tuple[str, list]] = []
        self.handler = make_handler(
            run_inline,
            aiohttp.ClientSession,
            self.box,
            self.publish,
            api_base=lambda domain: shop.base_url,
            on_automation=self.on_automation,
        )
        self.worker = QueueWorker("shopify-sync", self.handler, run_db=run_inline)
        self.store = QueueStore()

    async def publish(self, tenant_id: str, message: dict) -> None:
        self.published.append((tenant_id, message))

    async def on_automation(self, tenant_id: str, requests: list) -> None:
        self.automation.append((tenant_id, requests))

    def enqueue_import(self, **extra) -> int:
        payload = {"kind": "import_orders", "tenant_id": self.ctx.tenant_id, **extra}
        return self.store.enqueue("shopify-sync", payload, tenant_id=self.ctx.tenant_id)

    def new_orders(self) -> list[dict]:
        return [m for _, m in self.published if m["type"] == "new_order"]


@pytest.fixture
async def shop():
    """A simulated Shopify Admin API on an ephemeral loopback port."""
    async with SimulatedShopify() as simulated:
        yield simulated


@pytest.fixture
async def harness(any_db, shop):
    """A connected tenant on SQLite and on PostgreSQL, with its handler (closed afterwards)."""
    h = Harness(shop)
    connect_shop(h.ctx, h.box, shop)
    yield h
    await h.handler.close()


@pytest.fixture
async def unconnected(any_db, shop):
    """Like `harness`, but the test connects the shop itself (or not)."""
    h = Harness(shop)
    yield h
    await h.handler.close()
