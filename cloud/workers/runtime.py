"""Background work of one cloud process: queue consumers, the dispatcher, the rule scheduler.

Started after the real-time core (it broadcasts and wakes hubs through it). Every piece is safe
to run in several processes at once: the queue leases, the dispatcher claims conditionally, and
scheduled rules fire once per interval through the effects ledger.
"""

import asyncio
import contextlib
import functools
import logging

import aiohttp
from aiohttp import web

from cloud.db.executor import run_db
from cloud.keys import CONFIG, SECRETBOX, STORAGE, URL_SIGNER, WORKERS
from cloud.models import RecordNotFound, TenantContext
from cloud.queue import QueueStore, QueueWorker
from cloud.realtime.runtime import realtime_of
from cloud.services import automation, commands, print_events, printer_control
from cloud.services import file_processing as file_processing_service
from cloud.services import shopify_sync as shopify_sync_service
from cloud.services.job_events import JobEventSink
from cloud.services.notifications import SmtpSettings
from cloud.services.print_commands import print_command_for
from cloud.workers import file_processing, shopify_sync
from cloud.workers import print_events as print_events_worker
from cloud.workers.dispatcher import Dispatcher
from cloud.workers.notifications import NotificationSender

log = logging.getLogger(__name__)

SCHEDULE_INTERVAL_S = 30.0
SHOPIFY_PULL_EVERY_MS = 5 * 60_000


class Workers:
    """Owns the background tasks; API handlers poke the dispatcher through it."""

    def __init__(self, app: web.Application):
        self.app = app
        self.realtime = realtime_of(app)
        self.run_db = functools.partial(run_db, app)
        config = app[CONFIG]
        # Where hubs download files from; `bound_to` corrects it once the real port is known.
        self.base_url = config.base_url
        self.dispatcher = Dispatcher(
            self.run_db,
            self.persist_print_command,
            self.announce_claim,
            interval=config.dispatch_interval_s,
        )
        smtp = SmtpSettings.from_url(config.smtp_url, config.smtp_from) if config.smtp_url else None
        self.notifications = NotificationSender(config.secret("webhook_key"), self.run_db, smtp)
        self.shopify = shopify_sync.make_handler(
            self.run_db,
            aiohttp.ClientSession,
            app[SECRETBOX],
            self._publish,
            on_automation=self.carry_out,
        )
        self.queues = [
            QueueWorker(
                "print-events",
                print_events_worker.make_handler(self.run_db, self._publish, self._on_print_event),
                run_db=self.run_db,
            ),
            QueueWorker("notifications", self.notifications.handle, run_db=self.run_db),
            QueueWorker("shopify-sync", self.shopify, run_db=self.run_db),
            QueueWorker(
                "file-processing",
                file_processing.make_handler(self.run_db, app[STORAGE]),
                run_db=self.run_db,
            ),
        ]
        self._scheduler: asyncio.Task | None = None

    # -- lifecycle ----------------------------------------------------------------------------
    async def start(self) -> None:
        """Install the event sink and start every task."""
        self.realtime.set_event_sink(JobEventSink())
        # Files whose metadata never got extracted (a crash mid-upload) are processed again.
        await self.run_db(file_processing_service.enqueue_missing_details)
        for worker in self.queues:
            worker.start()
        self.dispatcher.start()
        self._scheduler = asyncio.create_task(self._schedule_rules(), name="rule-scheduler")

    async def stop(self) -> None:
        """Stop every task; leased queue messages simply return after their lease."""
        if self._scheduler:
            self._scheduler.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._scheduler
        await self.dispatcher.stop()
        for worker in self.queues:
            await worker.stop()
        await self.notifications.close()
        await self.shopify.close()

    def queue_worker(self, name: str) -> QueueWorker:
        """The consumer of one queue (tests drain it; producers notify it)."""
        return next(w for w in self.queues if w.queue == name)

    # -- dispatcher callbacks ---------------------------------------------------------------------
    def persist_print_command(self, assignment) -> None:
        """Inside the claim's transaction: store the print_command for the hub."""
        message = print_command_for(assignment, self.app[URL_SIGNER], self.base_url)
        commands.enqueue_command(
            self.app[SECRETBOX], TenantContext(assignment.tenant_id), assignment.hub_id, message
        )

    def announce_claim(self, assignment) -> None:
        """After commit: the dashboard sees the job move; the hub gets its command now."""
        self.realtime.broadcast(assignment.tenant_id, assignment.message)
        self.realtime.notify_hub(assignment.hub_id)
        self.queue_worker("print-events").notify()

    # -- queue consumers' callbacks ---------------------------------------------------------------
    async def _publish(self, tenant_id: str, message: dict) -> None:
        self.realtime.broadcast(tenant_id, message)
        if message.get("type") == "inventory_alert" and message.get("state") == "low":
            event = {
                "event_key": f"inventory_low:{message['sku_id']}:{message['current_stock']}",
                "sku_id": message["sku_id"],
                "sku": message["sku"],
                "current_stock": message["current_stock"],
                "threshold": message["threshold"],
            }
            await self.fire(tenant_id, "inventory_low", event)

    async def _on_print_event(self, tenant_id: str, payload: dict) -> None:
        found = await self.run_db(print_events.automation_event, payload["job_id"], payload["kind"])
        if found:
            trigger, event = found
            await self.fire(tenant_id, trigger, event)
        self.dispatcher.poke(tenant_id)  # a printer may have come free

    async def command_printer(
        self, tenant_id: str, printer_id: str, action: str, args: dict | None = None
    ) -> str | None:
        """Persist a printer_command and wake its hub; the command id, or None without a hub."""
        sent = await self.run_db(
            printer_control.send_printer_command,
            self.app[SECRETBOX],
            tenant_id,
            printer_id,
            action,
            args,
        )
        if sent is None:
            return None
        hub_id, command_id = sent
        self.realtime.notify_hub(hub_id)
        return command_id

    async def fire(self, tenant_id: str, trigger: str, event: dict) -> None:
        """Run the tenant's rules for an event and carry out what they ask of the async side."""
        requests = await self.run_db(automation.fire, tenant_id, trigger, event)
        await self.carry_out(tenant_id, requests)

    async def carry_out(self, tenant_id: str, requests: list[dict]) -> None:
        """Hub commands and dashboard notifications requested by rules."""
        for request in requests:
            if request["type"] == "printer_command":
                try:
                    await self.command_printer(tenant_id, request["printer_id"], request["action"])
                except (RecordNotFound, commands.CommandRefused) as exc:
                    log.warning(
                        "automation could not command printer %s: %s",
                        request.get("printer_id"),
                        exc,
                    )
            elif request["type"] == "notify":
                message = {"type": "notification", "message": request["message"][:1000]}
                self.realtime.broadcast(tenant_id, message)
        if requests:
            self.queue_worker("notifications").notify()
            self.dispatcher.poke(tenant_id)

    async def _schedule_rules(self) -> None:
        """Every interval: due schedule rules, and the periodic Shopify pulls (a dedupe key
        admits one pull per shop per interval however many processes schedule it)."""
        while True:
            try:
                if await self.run_db(shopify_sync_service.schedule_imports, SHOPIFY_PULL_EVERY_MS):
                    self.queue_worker("shopify-sync").notify()
                for tenant_id, rule_id in await self.run_db(automation.due_schedules):
                    await self.carry_out(
                        tenant_id, await self.run_db(automation.fire_schedule, tenant_id, rule_id)
                    )
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("rule scheduler pass failed")
            await asyncio.sleep(SCHEDULE_INTERVAL_S)

    async def queue_depth(self) -> dict:
        """Depth per queue and status (for /metrics and the dead-letter API)."""
        return await self.run_db(QueueStore().depth)


def bound_to(app: web.Application, host: str, port: int) -> None:
    """The server is listening on host:port: use it for signed URLs unless a public URL is set."""
    if not app[CONFIG].public_url and WORKERS in app:
        if host in ("0.0.0.0", "::", ""):
            host = "127.0.0.1"
        app[WORKERS].base_url = f"http://{host}:{port}"


def workers_of(app: web.Application) -> Workers:
    """The app's Workers (raises KeyError before start-up)."""
    return app[WORKERS]


def setup(app: web.Application) -> None:
    """Start the workers after the real-time core; stop them before it."""

    async def lifecycle(app: web.Application):
        workers = Workers(app)
        app[WORKERS] = workers
        await workers.start()
        yield
        await workers.stop()

    app.cleanup_ctx.append(lifecycle)
