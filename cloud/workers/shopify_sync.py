"""Consumer of the shopify-sync queue: order import (webhook, schedule) and fulfillment reports.

Messages:
  {"kind": "import_orders", "tenant_id"}              pull new orders (schedule, webhook)
  {"kind": "import_orders", "tenant_id", "order_id"}  also announce this webhook-imported order
  {"kind": "fulfill_order", "order_id"}               tell Shopify the order is fulfilled

A 429 defers the message by Retry-After (RetryLater); any other 4xx dead-letters it at once with
Shopify's reason (PermanentFailure), also kept in the tenant's sync state; network errors and
5xx are retried with backoff.
"""

import logging
from collections.abc import Awaitable, Callable

import aiohttp

from cloud.models import now_ms
from cloud.queue.store import Message
from cloud.queue.worker import PermanentFailure, RetryLater
from cloud.security.secretbox import SecretBoxError
from cloud.services import shopify_sync as service
from cloud.services.integrations import shopify_credentials
from cloud.services.shopify_api import ShopifyClient, ShopifyRateLimited, ShopifyRejected

log = logging.getLogger("cloud.workers.shopify_sync")

Publish = Callable[[str, dict], Awaitable[None]]
OnAutomation = Callable[[str, list[dict]], Awaitable[None]]


class ShopifySync:
    """The QueueWorker handler (call it with a Message); owns one HTTP session, see close()."""

    def __init__(
        self,
        run_db,
        http_session_factory: Callable[[], aiohttp.ClientSession],
        secretbox,
        publish: Publish,
        *,
        api_base: Callable[[str], str] = service.default_api_base,
        on_automation: OnAutomation | None = None,
    ):
        self.run_db = run_db
        self.http_session_factory = http_session_factory
        self.secretbox = secretbox
        self.publish = publish
        self.api_base = api_base
        self.on_automation = on_automation
        self._session: aiohttp.ClientSession | None = None

    async def close(self) -> None:
        """Close the HTTP session (call when the worker stops)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def __call__(self, message: Message) -> None:
        payload = message.payload
        kind = payload.get("kind")
        tenant_id = message.tenant_id or payload.get("tenant_id")
        if not tenant_id:
            raise PermanentFailure(f"shopify-sync message {message.id} names no tenant")
        if kind == "import_orders":
            await self._import(tenant_id, payload.get("order_id"))
        elif kind == "fulfill_order":
            await self._fulfill(tenant_id, payload.get("order_id"))
        else:
            raise PermanentFailure(f"unknown shopify-sync message kind {kind!r}")

    # -- flows -------------------------------------------------------------------------------
    async def _import(self, tenant_id: str, webhook_order_id: str | None) -> None:
        if webhook_order_id:
            announced = await self.run_db(service.announce_order, tenant_id, webhook_order_id)
            await self._announce([announced] if announced else [])
            recent = now_ms() - service.WEBHOOK_PULL_INTERVAL_MS
            if await self.run_db(service.pulled_since, tenant_id, recent):
                return  # a burst of orders: one catch-up pull is enough (the schedule does more)
        credentials = await self._credentials(tenant_id)
        if credentials is None:  # webhook-only connection: nothing to pull
            log.debug("tenant %s: no Shopify access token, order pull skipped", tenant_id)
            return
        shop = credentials["shop_domain"]
        client = self._client(credentials)
        try:
            result = await service.import_orders(
                self.run_db, client, tenant_id, shop, self._announce
            )
        except ShopifyRateLimited as exc:
            raise RetryLater(str(exc), exc.retry_after_ms) from exc
        except ShopifyRejected as exc:
            await self.run_db(service.record_error, tenant_id, shop, f"order import: {exc}", True)
            raise PermanentFailure(f"order import rejected by Shopify: {exc}") from exc
        log.info(
            "tenant %s: Shopify pull, %s pages, %s new orders, %s calls",
            tenant_id,
            result["pages"],
            result["created"],
            client.calls,
        )

    async def _fulfill(self, tenant_id: str, order_id: str | None) -> None:
        if not order_id:
            raise PermanentFailure("fulfill_order message without order_id")
        target = await self.run_db(service.fulfillment_target, tenant_id, order_id)
        if target is None:
            log.info("order %s: not a Shopify order (or deleted), nothing to fulfil", order_id)
            return
        if target["shopify_fulfillment_id"]:
            return  # done before (redelivery)
        if target["status"] != "fulfilled":
            raise PermanentFailure(f"order {order_id} is {target['status']}, not fulfilled")
        credentials = await self._credentials(tenant_id)
        if credentials is None:
            raise PermanentFailure(
                "Shopify has no access token: cannot report the fulfillment; "
                "add one and retry this dead letter"
            )
        shop = credentials["shop_domain"]
        try:
            await service.fulfill_order(self.run_db, self._client(credentials), target)
        except ShopifyRateLimited as exc:
            raise RetryLater(str(exc), exc.retry_after_ms) from exc
        except ShopifyRejected as exc:
            reason = f"fulfillment of order {order_id}: {exc}"
            await self.run_db(service.record_error, tenant_id, shop, reason)
            raise PermanentFailure(reason) from exc

    # -- helpers -----------------------------------------------------------------------------
    async def _credentials(self, tenant_id: str) -> dict | None:
        try:
            return await self.run_db(shopify_credentials, self.secretbox, tenant_id)
        except SecretBoxError as exc:
            raise PermanentFailure(
                "the Shopify access token does not decrypt (server key changed?); reconnect"
            ) from exc

    def _client(self, credentials: dict) -> ShopifyClient:
        if self._session is None or self._session.closed:
            self._session = self.http_session_factory()
        base = self.api_base(credentials["shop_domain"])
        return ShopifyClient(self._session, base, credentials["access_token"])

    async def _announce(self, announcements: list[dict]) -> None:
        """Dashboards and automation requests, after the announcing transaction committed.
        Best effort: the order and its effects are durable; a lost broadcast is not retried."""
        for announcement in announcements:
            tenant_id = announcement["tenant_id"]
            try:
                await self.publish(tenant_id, announcement["message"])
                if self.on_automation is not None and announcement["requests"]:
                    await self.on_automation(tenant_id, announcement["requests"])
            except Exception:
                log.exception("tenant %s: announcing a new order failed", tenant_id)


def make_handler(
    run_db,
    http_session_factory: Callable[[], aiohttp.ClientSession],
    secretbox,
    publish: Publish,
    *,
    api_base: Callable[[str], str] = service.default_api_base,
    on_automation: OnAutomation | None = None,
) -> ShopifySync:
    """The shopify-sync handler. `run_db(fn, *args)` runs on the DB pool; the session factory
    is called once, lazily, and the handler closes that session in `close()`; `publish(tenant_id,
    message)` reaches dashboards; `on_automation(tenant_id, requests)` gets automation's
    `printer_command` / `notify` requests; `api_base(shop_domain)` -> API origin (tests)."""
    return ShopifySync(
        run_db,
        http_session_factory,
        secretbox,
        publish,
        api_base=api_base,
        on_automation=on_automation,
    )
