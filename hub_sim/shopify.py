"""A simulated Shopify Admin REST API on loopback: orders, pagination, rate limits, fulfillments.

It speaks the subset PrintFarm's shopify-sync uses, as the Admin API defines it: requests carry
`X-Shopify-Access-Token`; `GET orders.json` pages with `Link` headers whose `page_info` cursors
may only be combined with `limit`/`fields`; `since_id` lists ascending by id; 429 answers carry
`Retry-After`; every order gets one fulfillment order, which `POST fulfillments.json` closes.

    async with SimulatedShopify(seed_orders=3) as shop:
        shop.add_order([{"sku": "WIDGET-RED", "quantity": 2, "price": "12.50"}])
        shop.throttle(1)                      # the next request answers 429
        await shop.send_webhook(url, "orders/create", order, secret)
"""

import base64
import binascii
import datetime
import hashlib
import hmac
import itertools
import json
from dataclasses import dataclass

import aiohttp
from aiohttp import web

API_VERSION = "2025-01"
DEFAULT_LIMIT = 50  # Shopify's default page size
MAX_LIMIT = 250  # and its maximum
BUCKET_SIZE = 40  # the REST leaky bucket of a standard plan (X-Shopify-Shop-Api-Call-Limit)
OPEN_FULFILLMENT_STATUSES = ("open", "in_progress")
_FIRST_ORDER_ID = 5_800_000_000_000  # real order ids are 13-digit integers
_AUTH_ERROR = "[API] Invalid API key or access token (unrecognized login or wrong password)"
_THROTTLE_ERROR = "Exceeded 2 calls per second for api client. Reduce request rates to resume."


@dataclass
class Call:
    """One request the simulator answered (for assertions in tests)."""

    method: str
    path: str
    query: dict
    status: int


def _iso(ms: int) -> str:
    moment = datetime.datetime.fromtimestamp(ms / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds")


def _error(status: int, errors, headers=None) -> web.Response:
    return web.json_response({"errors": errors}, status=status, headers=headers)


class SimulatedShopify:
    """One shop. Use as an async context manager; `base_url` is where its API answers."""

    def __init__(
        self,
        shop_domain: str = "sim-farm.myshopify.com",
        access_token: str = "shpat_simulated0123456789",
        *,
        seed_orders: int = 0,
        api_version: str = API_VERSION,
        host: str = "127.0.0.1",
    ):
        self.shop_domain = shop_domain
        self.access_token = access_token
        self.api_version = api_version
        self.host = host
        self.orders: dict[int, dict] = {}
        self.fulfillment_orders: dict[int, dict] = {}  # id -> fulfillment order
        self.fulfillments: dict[int, dict] = {}
        self.calls: list[Call] = []
        self._ids = itertools.count(_FIRST_ORDER_ID, 1_000)
        self._numbers = itertools.count(1001)
        self._small_ids = itertools.count(9_100_000_000)
        self._clock_ms = 1_790_000_000_000
        self._throttled = 0
        self._throttle_after = 0
        self._retry_after = "2.0"
        self._failures: list[tuple[int, object]] = []
        self._drops = 0
        self._runner: web.AppRunner | None = None
        self.port: int | None = None
        for index in range(seed_orders):
            self.add_order(
                [{"sku": f"SEED-{index % 3 + 1}", "quantity": index % 2 + 1, "price": "9.90"}],
                customer={"first_name": "Seed", "last_name": f"Customer {index + 1}"},
            )

    # -- lifecycle ---------------------------------------------------------------------------
    async def __aenter__(self) -> "SimulatedShopify":
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        """Listen on an ephemeral loopback port."""
        app = web.Application()
        prefix = f"/admin/api/{self.api_version}"
        app.router.add_get(f"{prefix}/orders.json", self._list_orders)
        app.router.add_get(f"{prefix}/orders/{{order_id}}.json", self._get_order)
        app.router.add_get(
            f"{prefix}/orders/{{order_id}}/fulfillment_orders.json", self._list_fulfillment_orders
        )
        app.router.add_get(
            f"{prefix}/orders/{{order_id}}/fulfillments.json", self._list_fulfillments
        )
        app.router.add_post(f"{prefix}/fulfillments.json", self._create_fulfillment)
        app.middlewares.append(self._gate)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Close the listener."""
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        """Origin the API answers on (stands in for https://{shop_domain})."""
        return f"http://{self.host}:{self.port}"

    # -- test controls -------------------------------------------------------------------------
    def add_order(self, line_items: list[dict], *, customer: dict | None = None, **fields) -> dict:
        """Create an order (and its fulfillment order) as a checkout would; returns its JSON."""
        order_id = next(self._ids)
        number = next(self._numbers)
        self._clock_ms += 60_000
        customer = customer or {"first_name": "Ada", "last_name": "Lovelace"}
        lines = []
        for line in line_items:
            quantity = int(line.get("quantity", 1))
            lines.append(
                {
                    "id": next(self._small_ids),
                    "variant_id": line.get("variant_id", next(self._small_ids)),
                    "product_id": line.get("product_id", next(self._small_ids)),
                    "title": line.get("title", line.get("sku") or "Item"),
                    "name": line.get("title", line.get("sku") or "Item"),
                    "sku": line.get("sku"),
                    "quantity": quantity,
                    "fulfillable_quantity": quantity,
                    "fulfillment_status": None,
                    "price": str(line.get("price", "10.00")),
                }
            )
        order = {
            "id": order_id,
            "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
            "name": f"#{number}",
            "order_number": number,
            "email": f"{customer.get('first_name', 'buyer').lower()}@example.com",
            "created_at": _iso(self._clock_ms),
            "updated_at": _iso(self._clock_ms),
            "cancelled_at": None,
            "closed_at": None,
            "financial_status": "paid",
            "fulfillment_status": None,
            "currency": "EUR",
            "note": None,
            "customer": {"id": next(self._small_ids), **customer},
            "shipping_address": {
                "first_name": customer.get("first_name"),
                "last_name": customer.get("last_name"),
                "address1": "1 Filament Way",
                "city": "Eindhoven",
                "zip": "5611",
                "country_code": "NL",
            },
            "line_items": lines,
        }
        order.update(fields)
        self.orders[order_id] = order
        fulfillment_order_id = next(self._small_ids)
        self.fulfillment_orders[fulfillment_order_id] = {
            "id": fulfillment_order_id,
            "order_id": order_id,
            "assigned_location_id": 24826418,
            "request_status": "unsubmitted",
            "status": "open",
            "supported_actions": ["create_fulfillment", "hold", "move"],
            "line_items": [
                {
                    "id": next(self._small_ids),
                    "fulfillment_order_id": fulfillment_order_id,
                    "line_item_id": line["id"],
                    "variant_id": line["variant_id"],
                    "quantity": line["quantity"],
                    "fulfillable_quantity": line["quantity"],
                }
                for line in lines
            ],
        }
        return order

    def cancel_order(self, order_id: int) -> None:
        """Cancel an order in the shop (its fulfillment order closes as cancelled)."""
        self.orders[order_id]["cancelled_at"] = _iso(self._clock_ms)
        for fulfillment_order in self._fulfillment_orders_of(order_id):
            fulfillment_order["status"] = "cancelled"

    def throttle(self, requests: int = 1, retry_after: str = "2.0", *, after: int = 0) -> None:
        """`requests` requests answer 429 with this Retry-After (seconds, as text), starting
        once `after` more requests have been answered normally."""
        self._throttle_after = after
        self._throttled = requests
        self._retry_after = retry_after

    def drop_next(self) -> None:
        """The next request gets its headers and half a body, then the connection is cut."""
        self._drops += 1

    def fail_next(self, status: int, errors: object = "Internal Server Error") -> None:
        """The next request answers `status` with `{"errors": errors}`."""
        self._failures.append((status, errors))

    def calls_to(self, suffix: str, method: str = "GET") -> list[Call]:
        """Answered requests whose path ends with `suffix`."""
        return [c for c in self.calls if c.method == method and c.path.endswith(suffix)]

    async def send_webhook(
        self, url: str, topic: str, order: dict, secret: str, *, webhook_id: str | None = None
    ) -> tuple[int, dict | None]:
        """POST an order webhook the way Shopify does (HMAC of the raw body); (status, JSON)."""
        body = json.dumps(order).encode()
        digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Shop-Domain": self.shop_domain,
            "X-Shopify-Hmac-Sha256": base64.b64encode(digest).decode(),
            "X-Shopify-Webhook-Id": webhook_id or f"wh-{order['id']}-{topic}",
            "X-Shopify-API-Version": self.api_version,
        }
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, data=body, headers=headers) as response,
        ):
            try:
                payload = await response.json(content_type=None)
            except ValueError:
                payload = None
            return response.status, payload

    # -- the API -------------------------------------------------------------------------------
    @web.middleware
    async def _gate(self, request: web.Request, handler):
        """Authentication, injected failures and the rate limit, before any handler."""
        if request.headers.get("X-Shopify-Access-Token") != self.access_token:
            response = _error(401, _AUTH_ERROR)
        elif self._throttled > 0 and self._throttle_after == 0:
            self._throttled -= 1
            response = _error(429, _THROTTLE_ERROR, {"Retry-After": self._retry_after})
        elif self._failures:
            status, errors = self._failures.pop(0)
            response = _error(status, errors)
        elif self._drops:
            self._drops -= 1
            self.calls.append(Call(request.method, request.path, dict(request.query), 0))
            return await self._cut_short(request)
        else:
            self._throttle_after = max(0, self._throttle_after - 1)
            try:
                response = await handler(request)
            except web.HTTPException as exc:
                response = _error(exc.status, exc.reason)
            response.headers["X-Shopify-Shop-Api-Call-Limit"] = f"1/{BUCKET_SIZE}"
        self.calls.append(Call(request.method, request.path, dict(request.query), response.status))
        return response

    @staticmethod
    async def _cut_short(request: web.Request) -> web.StreamResponse:
        body = json.dumps({"orders": [{"id": 1, "line_items": []}] * 50}).encode()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(body)
        await response.prepare(request)
        await response.write(body[: len(body) // 2])
        request.transport.close()  # the peer sees a truncated payload
        return response

    def _fulfillment_orders_of(self, order_id: int) -> list[dict]:
        return [fo for fo in self.fulfillment_orders.values() if fo["order_id"] == order_id]

    def _order_or_404(self, request: web.Request) -> dict:
        try:
            order = self.orders.get(int(request.match_info["order_id"]))
        except ValueError:
            order = None
        if order is None:
            raise web.HTTPNotFound(reason="Not Found")
        return order

    @staticmethod
    def _matches(order: dict, status: str) -> bool:
        if status == "any":
            return True
        if status == "cancelled":
            return order["cancelled_at"] is not None
        if status == "closed":
            return order["closed_at"] is not None
        return order["cancelled_at"] is None and order["closed_at"] is None  # open

    async def _list_orders(self, request: web.Request) -> web.Response:
        query = request.query
        try:
            limit = int(query.get("limit", DEFAULT_LIMIT))
        except ValueError:
            return _error(400, {"limit": ["is not a number"]})
        if not 1 <= limit <= MAX_LIMIT:
            return _error(400, {"limit": [f"must be between 1 and {MAX_LIMIT}"]})
        if "page_info" in query:
            extra = set(query) - {"page_info", "limit", "fields"}
            if extra:
                return _error(
                    400, {"page_info": [f"cannot be combined with {', '.join(sorted(extra))}"]}
                )
            try:
                cursor = json.loads(base64.urlsafe_b64decode(query["page_info"]))
                status, since_id = cursor["status"], cursor["since_id"]
                after, before = cursor.get("after"), cursor.get("before")
            except (ValueError, KeyError, TypeError, binascii.Error):
                return _error(400, {"page_info": ["is invalid"]})
        else:
            status = query.get("status", "open")
            if status not in ("open", "closed", "cancelled", "any"):
                return _error(400, {"status": ["is not included in the list"]})
            try:
                since_id = int(query["since_id"]) if "since_id" in query else None
            except ValueError:
                return _error(400, {"since_id": ["is not a number"]})
            after = before = None
        # With since_id the list runs up from that id; otherwise newest first.
        ascending = since_id is not None
        selected = sorted(
            (
                o
                for o in self.orders.values()
                if self._matches(o, status) and (since_id is None or o["id"] > since_id)
            ),
            key=lambda o: o["id"],
            reverse=not ascending,
        )
        position = 0
        if after is not None:
            position = next((i + 1 for i, o in enumerate(selected) if o["id"] == after), 0)
        elif before is not None:
            end = next((i for i, o in enumerate(selected) if o["id"] == before), 0)
            position = max(0, end - limit)
        page = selected[position : position + limit]
        links = []
        base = f"{self.base_url}{request.path}"

        def link(cursor: dict, rel: str) -> str:
            token = base64.urlsafe_b64encode(
                json.dumps({"status": status, "since_id": since_id, **cursor}).encode()
            ).decode()
            return f'<{base}?limit={limit}&page_info={token}>; rel="{rel}"'

        if position > 0 and page:
            links.append(link({"before": page[0]["id"]}, "previous"))
        if position + limit < len(selected) and page:
            links.append(link({"after": page[-1]["id"]}, "next"))
        headers = {"Link": ", ".join(links)} if links else None
        return web.json_response({"orders": page}, headers=headers)

    async def _get_order(self, request: web.Request) -> web.Response:
        return web.json_response({"order": self._order_or_404(request)})

    async def _list_fulfillment_orders(self, request: web.Request) -> web.Response:
        order = self._order_or_404(request)
        return web.json_response({"fulfillment_orders": self._fulfillment_orders_of(order["id"])})

    async def _list_fulfillments(self, request: web.Request) -> web.Response:
        order = self._order_or_404(request)
        found = [f for f in self.fulfillments.values() if f["order_id"] == order["id"]]
        return web.json_response({"fulfillments": found})

    async def _create_fulfillment(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
            spec = body["fulfillment"]
            groups = spec["line_items_by_fulfillment_order"]
            if not isinstance(groups, list) or not groups:
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return _error(400, {"fulfillment": ["Required parameter missing or invalid"]})
        plan = []
        for group in groups:
            fulfillment_order = self.fulfillment_orders.get(group.get("fulfillment_order_id"))
            if fulfillment_order is None:
                return _error(404, "Not Found")
            if fulfillment_order["status"] not in OPEN_FULFILLMENT_STATUSES:
                return _error(
                    422,
                    [
                        f"Fulfillment order {fulfillment_order['id']} has an unfulfillable "
                        f"status= {fulfillment_order['status']}."
                    ],
                )
            wanted = group.get("fulfillment_order_line_items")
            by_id = {li["id"]: li for li in fulfillment_order["line_items"]}
            if wanted is None:  # omitted: every remaining unit of this fulfillment order
                wanted = [
                    {"id": li["id"], "quantity": li["fulfillable_quantity"]}
                    for li in fulfillment_order["line_items"]
                    if li["fulfillable_quantity"] > 0
                ]
            for item in wanted:
                line = by_id.get(item.get("id"))
                if line is None or not 0 < item.get("quantity", 0) <= line["fulfillable_quantity"]:
                    return _error(422, ["Invalid fulfillment order line item quantity requested."])
            plan.append((fulfillment_order, wanted, by_id))
        order_id = plan[0][0]["order_id"]
        if any(fo["order_id"] != order_id for fo, _, _ in plan):
            return _error(422, ["Fulfillment orders must belong to the same order."])
        order = self.orders[order_id]
        fulfilled_lines = []
        for fulfillment_order, wanted, by_id in plan:
            for item in wanted:
                by_id[item["id"]]["fulfillable_quantity"] -= item["quantity"]
                fulfilled_lines.append(
                    {"id": by_id[item["id"]]["line_item_id"], "quantity": item["quantity"]}
                )
            if all(li["fulfillable_quantity"] == 0 for li in fulfillment_order["line_items"]):
                fulfillment_order["status"] = "closed"
            else:
                fulfillment_order["status"] = "in_progress"
        remaining = {}
        for fulfillment_order in self._fulfillment_orders_of(order_id):
            for li in fulfillment_order["line_items"]:
                remaining[li["line_item_id"]] = li["fulfillable_quantity"]
        for line in order["line_items"]:
            line["fulfillable_quantity"] = remaining.get(line["id"], 0)
            if line["fulfillable_quantity"] == 0:
                line["fulfillment_status"] = "fulfilled"
        done = all(line["fulfillable_quantity"] == 0 for line in order["line_items"])
        order["fulfillment_status"] = "fulfilled" if done else "partial"
        tracking = spec.get("tracking_info") or {}
        fulfillment_id = next(self._small_ids)
        fulfillment = {
            "id": fulfillment_id,
            "order_id": order_id,
            "status": "success",
            "service": "manual",
            "location_id": plan[0][0]["assigned_location_id"],
            "created_at": _iso(self._clock_ms),
            "notify_customer": bool(spec.get("notify_customer", False)),
            "tracking_number": tracking.get("number"),
            "tracking_company": tracking.get("company"),
            "tracking_url": tracking.get("url"),
            "line_items": fulfilled_lines,
        }
        self.fulfillments[fulfillment_id] = fulfillment
        return web.json_response({"fulfillment": fulfillment}, status=201)
