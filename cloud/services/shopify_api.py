"""Shopify Admin REST API client: orders (Link-header pages), fulfillment orders, fulfillments."""

import json
from collections.abc import AsyncIterator

import aiohttp
from yarl import URL

API_VERSION = "2025-01"
PAGE_LIMIT = 250  # the Admin API's largest page: fewest calls against the rate limit
REQUEST_TIMEOUT_S = 30.0
DEFAULT_RETRY_AFTER_MS = 2_000  # Shopify's usual answer when Retry-After is missing
MAX_RETRY_AFTER_MS = 10 * 60_000  # a silly header must not park a message for days
MAX_ERROR_CHARS = 500


class ShopifyError(Exception):
    """A Shopify call that did not succeed."""


class ShopifyUnavailable(ShopifyError):
    """Network trouble, timeouts, 5xx, unreadable answers: worth retrying later."""


class ShopifyRateLimited(ShopifyError):
    """429: come back after `retry_after_ms` (from the Retry-After header)."""

    def __init__(self, message: str, retry_after_ms: int):
        super().__init__(message)
        self.retry_after_ms = retry_after_ms


class ShopifyRejected(ShopifyError):
    """A 4xx other than 429: the request or the credentials are wrong; retrying cannot help."""

    def __init__(self, message: str, status: int):
        super().__init__(message)
        self.status = status


def retry_after_ms(header: str | None) -> int:
    """Milliseconds to wait from a Retry-After value (Shopify sends seconds, e.g. "2.0")."""
    try:
        seconds = float(header) if header is not None else None
    except ValueError:
        seconds = None
    if seconds is None or seconds != seconds or seconds < 0:  # missing, junk or NaN
        return DEFAULT_RETRY_AFTER_MS
    return min(MAX_RETRY_AFTER_MS, int(seconds * 1000))


def _errors_text(body: bytes) -> str:
    """Shopify's `{"errors": …}` as one line (or the raw start of a non-JSON body)."""
    try:
        errors = json.loads(body).get("errors")
    except (ValueError, AttributeError):
        errors = None
    if errors is None:
        return body[:MAX_ERROR_CHARS].decode("utf-8", "replace").strip() or "(empty body)"
    text = errors if isinstance(errors, str) else json.dumps(errors, sort_keys=True)
    return text[:MAX_ERROR_CHARS]


class ShopifyClient:
    """Calls one shop's Admin API with its access token. `base_url` is https://{shop_domain} in
    production (a simulator's origin in tests); Link URLs are followed only on that origin, so
    a forged header cannot send the token elsewhere."""

    def __init__(
        self,
        session: aiohttp.ClientSession,
        base_url: str,
        access_token: str,
        api_version: str = API_VERSION,
    ):
        self.session = session
        self.base = URL(base_url)
        self.access_token = access_token
        self.api_version = api_version
        self.calls = 0

    def url(self, resource: str) -> URL:
        """Absolute URL of `resource` (e.g. "orders.json") in this API version."""
        return self.base.with_path(f"/admin/api/{self.api_version}/{resource}")

    async def request(
        self, method: str, url: URL, *, params: dict | None = None, body: dict | None = None
    ) -> tuple[dict, aiohttp.ClientResponse]:
        """One call; returns (JSON body, response) or raises a ShopifyError subclass."""
        if url.origin() != self.base.origin():
            raise ShopifyRejected(f"refusing to call {url.origin()} (not the shop's origin)", 0)
        headers = {"X-Shopify-Access-Token": self.access_token, "Accept": "application/json"}
        what = f"{method} {url.path.rsplit('/', 1)[-1]}"
        self.calls += 1
        try:
            async with self.session.request(
                method,
                url,
                params=params,
                json=body,
                headers=headers,
                timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
                allow_redirects=False,
            ) as response:
                raw = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise ShopifyUnavailable(f"{what}: {type(exc).__name__}: {exc}") from exc
        status = response.status
        if status == 429:
            wait = retry_after_ms(response.headers.get("Retry-After"))
            raise ShopifyRateLimited(f"{what}: 429 rate limited, retry after {wait} ms", wait)
        if 400 <= status < 500:
            raise ShopifyRejected(f"{what}: Shopify answered {status}: {_errors_text(raw)}", status)
        if status >= 300:
            raise ShopifyUnavailable(f"{what}: Shopify answered {status}: {_errors_text(raw)}")
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise ShopifyUnavailable(f"{what}: the answer is not JSON") from exc
        if not isinstance(data, dict):
            raise ShopifyUnavailable(f"{what}: the answer is not a JSON object")
        return data, response

    async def order_pages(self, params: dict) -> AsyncIterator[list[dict]]:
        """Pages of `GET orders.json` with `params` (first request only, as page_info demands),
        following rel="next" Link URLs exactly as given."""
        url, query = self.url("orders.json"), {"limit": PAGE_LIMIT, **params}
        while True:
            data, response = await self.request("GET", url, params=query)
            orders = data.get("orders")
            if not isinstance(orders, list):
                raise ShopifyUnavailable("GET orders.json: no 'orders' array in the answer")
            yield [order for order in orders if isinstance(order, dict)]
            following = response.links.get("next")
            if not following or "url" not in following:
                return
            url, query = URL(str(following["url"])), None

    async def fulfillment_orders(self, order_id: str) -> list[dict]:
        """The order's fulfillment orders (Shopify creates them with the order)."""
        data, _ = await self.request("GET", self.url(f"orders/{order_id}/fulfillment_orders.json"))
        return [fo for fo in data.get("fulfillment_orders") or [] if isinstance(fo, dict)]

    async def fulfillments(self, order_id: str) -> list[dict]:
        """Fulfillments already created for the order."""
        data, _ = await self.request("GET", self.url(f"orders/{order_id}/fulfillments.json"))
        return [f for f in data.get("fulfillments") or [] if isinstance(f, dict)]

    async def create_fulfillment(
        self, fulfillment_order_ids: list[int], notify_customer: bool = False
    ) -> dict:
        """Fulfil every remaining unit of these fulfillment orders; returns the fulfillment."""
        body = {
            "fulfillment": {
                "notify_customer": notify_customer,
                # No fulfillment_order_line_items: all remaining units of each fulfillment order.
                "line_items_by_fulfillment_order": [
                    {"fulfillment_order_id": fo_id} for fo_id in fulfillment_order_ids
                ],
            }
        }
        data, _ = await self.request("POST", self.url("fulfillments.json"), body=body)
        fulfillment = data.get("fulfillment")
        if not isinstance(fulfillment, dict) or "id" not in fulfillment:
            raise ShopifyUnavailable("POST fulfillments.json: no fulfillment in the answer")
        return fulfillment
