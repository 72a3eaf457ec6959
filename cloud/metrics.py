"""Prometheus metrics of the spec's "Metrics to Track", on a per-application registry, at /metrics."""

import logging
import time

from aiohttp import web
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

from cloud.keys import ERROR_CODE, METRICS

log = logging.getLogger("cloud.metrics")

# Buckets in seconds around the spec's API latency targets (p50/p95/p99 are read from these).
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class Metrics:
    """The service's metrics. Other modules set the gauges (hub/dashboard sockets, queue depth)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        r = self.registry
        self.request_seconds = Histogram(
            "printfarm_http_request_duration_seconds",
            "HTTP request latency by route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.requests = Counter(
            "printfarm_http_requests",
            "HTTP requests by route and status",
            ["method", "route", "status"],
            registry=r,
        )
        self.errors = Counter(
            "printfarm_http_errors",
            "HTTP error responses (4xx/5xx) by route and error code",
            ["method", "route", "code"],
            registry=r,
        )
        self.db_seconds = Histogram(
            "printfarm_db_call_duration_seconds",
            "Time of one database unit of work on the pool",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.hub_connections = Gauge(
            "printfarm_hub_connections", "Hub WebSockets currently connected", registry=r
        )
        self.dashboard_connections = Gauge(
            "printfarm_dashboard_connections",
            "Dashboard WebSockets currently connected",
            registry=r,
        )
        self.queue_depth = Gauge(
            "printfarm_queue_depth", "Messages waiting in each durable queue", ["queue"], registry=r
        )
        self.printers_online_ratio = Gauge(
            "printfarm_printers_online_ratio", "Connected printers / known printers", registry=r
        )
        self.rate_limited = Counter(
            "printfarm_rate_limited", "Requests refused with 429 by bucket", ["bucket"], registry=r
        )
        # Coroutines `hook(app)` run before each scrape to refresh gauges read from the database
        # (e.g. printers online); a failing hook is logged and leaves its gauge as it was.
        self.scrape_hooks: list = []

    def exposition(self) -> bytes:
        """The text exposition format of every metric."""
        return generate_latest(self.registry)


def _route_of(request: web.Request) -> str:
    info = request.match_info
    route = getattr(info, "route", None)
    resource = getattr(route, "resource", None)
    if resource is not None and resource.canonical:
        return resource.canonical
    return "unmatched"  # 404s: never label by raw path (unbounded cardinality)


@web.middleware
async def metrics_middleware(request: web.Request, handler):
    """Time every request by route template and count statuses and error codes."""
    metrics: Metrics = request.app[METRICS]
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except web.HTTPException as exc:
        status = exc.status
        raise
    finally:
        route = _route_of(request)
        metrics.request_seconds.labels(request.method, route).observe(time.perf_counter() - started)
        metrics.requests.labels(request.method, route, str(status)).inc()
        if status >= 400:
            code = request.get(ERROR_CODE) or str(status)
            metrics.errors.labels(request.method, route, code).inc()


async def metrics_handler(request: web.Request) -> web.Response:
    """GET /metrics: Prometheus text format."""
    metrics: Metrics = request.app[METRICS]
    for hook in metrics.scrape_hooks:
        try:
            await hook(request.app)
        except Exception:
            log.exception("metrics scrape hook %s failed", getattr(hook, "__name__", hook))
    body = metrics.exposition()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


def setup(app: web.Application) -> None:
    """Create the registry and serve /metrics."""
    app[METRICS] = Metrics()
    app.router.add_get("/metrics", metrics_handler, name="metrics")
