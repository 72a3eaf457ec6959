"""The real-time core of one cloud process (`Realtime`) and its `setup(app)`.

`Realtime` holds the broker, the hubs and dashboards connected to this process, the coalescing
status writer and the event sink. Other modules reach it with `realtime_of(app)` and use:
- `realtime.notify_hub(hub_id)`: a committed command is waiting (see cloud.services.commands);
- `realtime.broadcast(tenant_id, message)`: a dashboard message to every dashboard of a tenant,
  in every process (`broadcast_threadsafe` from a database thread, after the commit);
- `realtime.set_event_sink(sink)`: who applies hub events and command acks (the jobs module).
"""

import asyncio
import logging
import time
from dataclasses import dataclass

from aiohttp import web

from cloud.keys import REALTIME
from cloud.models import TenantMember, system_access
from cloud.realtime.broker import Broker, cancel_quietly, channel_for_hub, channel_for_tenant
from cloud.realtime.dashboard import DashboardRegistry
from cloud.realtime.events import EventSink
from cloud.realtime.hub_connection import PROGRESS_KEYS
from cloud.realtime.hub_socket import HubRegistry
from cloud.realtime.loop_monitor import LoopMonitor
from cloud.realtime.status_writer import StatusWriter
from cloud.services import hubs as hubs_service

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RealtimeSettings:
    """Tunables of the real-time core (defaults suit a production farm)."""

    heartbeat_s: int = 30
    hello_timeout_s: float = 10.0
    status_flush_s: float = 2.0
    dashboard_auth_timeout_s: float = 10.0
    dashboard_max_backlog: int = 20_000  # > printers per tenant, so status alone never overflows
    dashboard_send_timeout_s: float = 10.0
    stale_sweep_s: float = 30.0
    tune_gc: bool = True  # freeze start-up objects, fewer collections (see GC_THRESHOLDS)


class Realtime:
    """Everything real-time in this process."""

    def __init__(
        self,
        *,
        run_db,
        database,
        broker: Broker,
        secretbox,
        kv,
        verify_token,
        settings: RealtimeSettings | None = None,
    ):
        self.db = run_db
        self.database = database
        self.broker = broker
        self.secretbox = secretbox
        self.claim_codes = hubs_service.ClaimCodes(kv)
        self.verify_token = verify_token
        self.settings = settings or RealtimeSettings()
        self.event_sink: EventSink = EventSink()
        self.hubs = HubRegistry(self)
        self.dashboards = DashboardRegistry(broker)
        self.status_writer = StatusWriter(run_db, self.settings.status_flush_s)
        self.loop_monitor = LoopMonitor()
        self.statuses_received = 0
        self._tasks: list[asyncio.Task] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # --- lifecycle ---------------------------------------------------------------------------
    async def start(self) -> None:
        """Connect the broker and start the background tasks."""
        self._loop = asyncio.get_running_loop()
        if self.settings.tune_gc:
            tune_garbage_collector()
        await self.broker.start()
        self.status_writer.start()
        self.loop_monitor.start()
        self._tasks = [
            asyncio.create_task(self._keepalive(), name="hub-keepalive"),
            asyncio.create_task(self._sweep_stale(), name="hub-stale-sweep"),
            asyncio.create_task(self._dashboard_watchdog(), name="dashboard-watchdog"),
        ]

    async def stop(self) -> None:
        """Close every socket held here, flush status, stop the broker."""
        for task in self._tasks:
            await cancel_quietly(task)
        for conn in list(self.hubs.connections.values()):
            await conn.close(1001, "server shutting down")
        for broadcast in list(self.dashboards.tenants.values()):
            for client in list(broadcast.clients):
                await client.ws.close(code=1001, message=b"server shutting down")
        await self.status_writer.stop()
        await self.loop_monitor.stop()
        await self.broker.close()

    # --- the API other modules use -------------------------------------------------------------
    def set_event_sink(self, sink: EventSink) -> None:
        """Install the business handler of hub events and command acks."""
        self.event_sink = sink

    def notify_hub(self, hub_id: str) -> None:
        """Nudge the process holding `hub_id` to send its pending commands."""
        self.broker.publish(channel_for_hub(hub_id), {"op": "deliver"})

    def notify_hub_changed(self, hub_id: str, claim: bool) -> None:
        """The hub was claimed/released (claim=True) or its printers changed (claim=False)."""
        self.broker.publish(channel_for_hub(hub_id), {"op": "claim" if claim else "printers"})

    def broadcast(self, tenant_id: str, message: dict) -> None:
        """Send a dashboard message to every dashboard of `tenant_id` in every process."""
        self.broker.publish(channel_for_tenant(tenant_id), message)

    def broadcast_threadsafe(self, tenant_id: str, message: dict) -> None:
        """`broadcast` from a database thread (call it after the transaction commits)."""
        self._loop.call_soon_threadsafe(self.broadcast, tenant_id, message)

    async def snapshot(self, tenant_id: str) -> list[dict]:
        """What a new dashboard starts from: live state of the hubs held here, and for hubs held
        by other processes (or offline) the last persisted state from the database."""
        out, live_hubs, live_printers = [], set(), set()
        for conn in self.hubs.connections.values():
            if conn.tenant_id != tenant_id:
                continue
            live_hubs.add(conn.hub_id)
            live_printers.update(conn.live)
            out.append(conn.hub_status(online=True))
            out.extend(conn.dashboard_status(printer_id) for printer_id in conn.live)
        hubs, printers = await self.db(hubs_service.tenant_state, tenant_id)
        for hub_id, is_online, printer_count in hubs:
            if hub_id not in live_hubs:
                out.append(
                    {
                        "type": "hub_status",
                        "hub_id": hub_id,
                        "is_online": bool(is_online),
                        "printer_count": printer_count,
                    }
                )
        for printer_id, hub_id, status in printers:
            if printer_id not in live_printers:
                out.append(
                    {
                        "type": "printer_status",
                        "printer_id": printer_id,
                        "hub_id": hub_id,
                        "status": status or "offline",
                        **dict.fromkeys(PROGRESS_KEYS),
                    }
                )
        return out

    async def authenticate_dashboard(self, token: str) -> tuple[str, str] | None:
        """(user_id, tenant_id) for a valid access token of a current member, else None."""
        try:
            user_id, tenant_id = self.verify_token(token)
        except ValueError:
            return None
        is_member = await self.db(_is_member, user_id, tenant_id)
        return (user_id, tenant_id) if is_member else None

    def stats(self) -> dict:
        """Figures for the fan-out bench and operators."""
        return {
            "hubs": len(self.hubs),
            "printers_live": sum(len(c.live) for c in self.hubs.connections.values()),
            "dashboards": self.dashboards.client_count(),
            "statuses_received": self.statuses_received,
            "status_flushes": self.status_writer.flushes,
            "status_rows_written": self.status_writer.rows_written,
            "status_last_flush_ms": round(self.status_writer.last_flush_ms, 1),
            "loop_lag_ms": self.loop_monitor.summary(),
            "cpu_s": round(time.process_time(), 2),
        }

    # --- background ----------------------------------------------------------------------------
    async def _keepalive(self) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_s)
            await self.hubs.sweep(self.settings.heartbeat_s)

    async def _dashboard_watchdog(self) -> None:
        """Drop dashboards whose socket has not taken a frame within the send timeout."""
        loop = asyncio.get_running_loop()
        interval = min(1.0, self.settings.dashboard_send_timeout_s / 2)
        while True:
            await asyncio.sleep(interval)
            self.dashboards.drop_stalled(loop.time())

    async def _sweep_stale(self) -> None:
        """Mark offline hubs whose process died (no last_seen_at refresh for 3 heartbeats)."""
        while True:
            await asyncio.sleep(self.settings.stale_sweep_s)
            try:
                stale = await self.db(
                    hubs_service.sweep_stale_hubs, 3 * self.settings.heartbeat_s * 1000
                )
            except Exception:
                log.exception("stale hub sweep failed")
                continue
            for hub_id, tenant_id in stale:
                log.info("hub %s marked offline (no process refreshed it)", hub_id)
                if tenant_id is not None:
                    self.broadcast(
                        tenant_id,
                        {
                            "type": "hub_status",
                            "hub_id": hub_id,
                            "is_online": False,
                            "printer_count": 0,
                        },
                    )


# Full garbage collections stop the loop for a time proportional to every tracked object; with
# thousands of hub sockets they measured 100-300 ms (bench fanout), far above the latency
# target. Start-up objects are frozen (never scanned again) and collections run less often:
# almost all per-message garbage is freed by reference counting, not by the collector.
GC_THRESHOLDS = (20_000, 50, 100)


_gc_tuned = False


def tune_garbage_collector() -> None:
    """Freeze start-up objects and raise collection thresholds (once per process)."""
    import gc

    global _gc_tuned
    if _gc_tuned:
        return
    _gc_tuned = True
    gc.freeze()
    if gc.get_threshold()[0] < GC_THRESHOLDS[0]:
        gc.set_threshold(*GC_THRESHOLDS)


def _is_member(user_id: str, tenant_id: str) -> bool:
    with system_access():
        return (
            TenantMember.select()
            .where((TenantMember.user_id == user_id) & (TenantMember.tenant_id == tenant_id))
            .exists()
        )


def realtime_of(app: web.Application) -> Realtime:
    """The app's Realtime."""
    return app[REALTIME]


def _add_routes(app: web.Application) -> None:
    from cloud.realtime.dashboard_socket import handle_dashboard_socket
    from cloud.realtime.hub_socket import handle_hub_socket

    app.router.add_get("/ws/hub/{hub_id}", handle_hub_socket)
    app.router.add_get("/ws/dashboard", handle_dashboard_socket)


def install(app: web.Application, realtime: Realtime) -> None:
    """Attach a ready-made `realtime` to a bare app (tests): routes, start, stop."""
    app[REALTIME] = realtime
    _add_routes(app)

    async def lifecycle(app: web.Application):
        await realtime.start()
        yield
        await realtime.stop()

    app.cleanup_ctx.append(lifecycle)


def setup(app: web.Application) -> None:
    """Wire the real-time core into `create_app`: built at start-up from the app's database
    pool, secret box, kv store and token verifier; the broker is Redis when configured."""
    import functools
    import os

    from cloud.db.executor import run_db
    from cloud.keys import CONFIG, DATABASE, KV, SECRETBOX, TOKENS
    from cloud.realtime.broker import make_broker

    _add_routes(app)

    def verify(token: str) -> tuple[str, str]:
        claims = app[TOKENS].verify(token)  # TokenError is a ValueError
        return claims.user_id, claims.tenant_id

    async def lifecycle(app: web.Application):
        config = app[CONFIG]
        prefix = os.environ.get("PRINTFARM_REDIS_PREFIX", "printfarm:")
        realtime = Realtime(
            run_db=functools.partial(run_db, app),
            database=app[DATABASE],
            broker=make_broker(config.redis_url, prefix=prefix),
            secretbox=app[SECRETBOX],
            kv=app[KV],
            verify_token=verify,
        )
        app[REALTIME] = realtime
        await realtime.start()
        yield
        await realtime.stop()

    app.cleanup_ctx.append(lifecycle)
