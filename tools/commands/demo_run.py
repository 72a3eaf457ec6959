"""The demo's steps: cloud in this process, seeded owner, simulated farm, file, SKU, jobs, watch."""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import signal
import time
from pathlib import Path

import aiohttp

from tools.commands.demo import DEMO_EMAIL, MARKER

FINAL = ("completed", "failed", "cancelled")


class DemoError(RuntimeError):
    """The demo cannot go on (message says why)."""


def say(text: str) -> None:
    """One line of demo narration, with the wall time."""
    print(time.strftime("%H:%M:%S ") + text, flush=True)


def fresh_data_dir(folder: Path) -> None:
    """Empty the demo's folder; refuse one that has files but is not a demo folder."""
    if folder.exists() and any(folder.iterdir()):
        if not (folder / MARKER).exists():
            raise DemoError(f"{folder} is not empty and not a demo folder; pick another --data-dir")
        shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("created by `printfarm demo`; emptied by the next run\n")


async def start_cloud(args, folder: Path):
    """The cloud app on host:port over SQLite + a local folder; returns (runner, app, url)."""
    from aiohttp import web

    from cloud.app import create_app
    from cloud.config import Config
    from cloud.db import default_database_url
    from cloud.workers.runtime import bound_to

    config = Config.load(
        host=args.host,
        port=args.port,
        data_dir=str(folder),
        database_url=default_database_url(folder),
        storage_url="file://" + str((folder / "storage").resolve()),
        dispatch_interval_s=1.0,
    )
    app = create_app(config)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port)
    await site.start()
    port = runner.addresses[0][1]
    bound_to(app, config.host, port)
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    return runner, app, config, f"http://{host}:{port}"


class JobWatch:
    """Prints each job's status changes (polling the jobs API)."""

    def __init__(self, cloud):
        self.cloud = cloud
        self.seen: dict[str, tuple] = {}
        self.names: dict[str, str] = {}

    async def poll(self) -> list[dict]:
        """One round: print what changed; returns every job."""
        jobs = (await self.cloud.call("GET", "/api/v1/jobs", params={"limit": "200"}))["items"]
        if not self.names:
            self.names = {p["id"]: p["name"] for p in await self.cloud.printers()}
        for job in jobs:
            step = job["status"]
            if self.seen.get(job["id"]) == step:
                continue
            self.seen[job["id"]] = step
            where = self.names.get(job.get("printer_id"), "-")
            extra = f" ({job['failure_reason']})" if job.get("failure_reason") else ""
            say(f"job {job['id'][:8]} {job['status']}{extra} on {where}")
        return jobs


async def follow_dashboard(cloud, names: dict[str, str]) -> None:
    """Print live print progress as a browser gets it: /ws/dashboard (JSON), 25 % steps."""
    import json

    url = cloud.url.replace("http://", "ws://", 1) + "/ws/dashboard"
    shown: dict[str, int] = {}
    async with cloud.session.ws_connect(url, protocols=("printfarm.json",)) as ws:
        await ws.send_str(json.dumps({"type": "auth", "token": cloud.token}))
        async for frame in ws:
            if frame.type != aiohttp.WSMsgType.TEXT:
                break
            message = json.loads(frame.data)
            if message.get("type") != "printer_status" or "progress" not in message:
                continue
            if message.get("state", "printing") != "printing":  # a delta may omit the state
                continue
            printer_id = message.get("printer_id")
            step = int(message.get("progress") or 0) // 25
            if 0 < step < 4 and shown.get(printer_id) != step:
                shown[printer_id] = step
                layer = message.get("current_layer")
                where = names.get(printer_id, printer_id)
                extra = f", layer {layer}/{message.get('total_layers')}" if layer else ""
                say(f"dashboard: {where} printing {message['progress']}%{extra}")


async def seed(cloud, farm, folder: Path, args) -> tuple[dict, list[dict]]:
    """Claim the hubs, add the printers, upload a 3MF, create product + SKU, queue the jobs."""
    from hub_sim.farm_cloud import set_up_farm
    from hub_sim.threemf import write_3mf

    printers = await set_up_farm(cloud, farm)
    say(f"claimed {len(farm.hubs)} hub(s), added {len(printers)} printer(s); waiting for them")
    await cloud.wait_printers_ready([p["id"] for p in printers], timeout=120)
    say("every printer is connected and idle (reported through its hub)")
    path = folder / "demo-cube.3mf"
    write_3mf(
        path,
        print_time_s=max(60, int(args.print_seconds * args.speed)),
        layers=40,
        printer_model=args.model,
        object_name="Demo cube.stl",
    )
    upload = await cloud.upload_file(path, "demo-cube.3mf")
    _product, sku = await cloud.product_with_sku("Demo cube", "CUBE-BLK", "Black")
    say(f"uploaded {path.name} (file {upload['id'][:8]}); product Demo cube, SKU CUBE-BLK")
    jobs = [await cloud.queue_job(upload["id"], sku["id"]) for _ in range(args.jobs)]
    say(f"queued {len(jobs)} job(s); the dispatcher sends them to idle printers with a clear bed")
    return sku, jobs


async def stock_of(cloud, sku_id: str) -> int:
    """Finished-goods stock of a SKU (0 before its first completed print)."""
    items = (await cloud.call("GET", "/api/v1/inventory", params={"limit": "200"}))["items"]
    return sum(i.get("current_stock") or 0 for i in items if i.get("product_sku_id") == sku_id)


async def run(args) -> int:
    """The whole demo; returns the exit status."""
    from hub_sim.farm import Farm, encode_key
    from hub_sim.farm_cloud import FarmCloud
    from tools.commands.sim import _quiet_libraries
    from tools.commands.sim_farm import FARM_HEAP

    if not args.verbose:
        for name in ("cloud", "aiohttp", "peewee"):
            logging.getLogger(name).setLevel(logging.WARNING)
    _quiet_libraries()
    folder = Path(args.data_dir)
    fresh_data_dir(folder)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)

    started = time.monotonic()
    runner, app, config, url = await start_cloud(args, folder)
    password = "demo-" + secrets.token_urlsafe(9)
    farm = Farm(
        url,
        hubs=args.hubs,
        printers_per_hub=args.printers_per_hub,
        provisioning_key=encode_key(config.secret("provisioning_key")),
        heap=args.heap or FARM_HEAP,
        model=args.model,
        speed=args.speed,
        data_dir=folder / "farm",
    )
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
            cloud = FarmCloud(url, http)
            await cloud.register(DEMO_EMAIL, password, "Demo Farm", "Demo Owner")
            say(f"cloud at {url}  (API {url}/api/v1, OpenAPI {url}/api/v1/openapi.json)")
            say(f"login: {DEMO_EMAIL} / {password}   data: {folder}")
            say(f"starting {args.hubs} hub(s) × {args.printers_per_hub} {args.model} printer(s)")
            await farm.start()
            for hub in farm.hubs:
                say(f"hub {hub.hub_id} up, claim code {hub.claim_code}")
            sku, _jobs = await seed(cloud, farm, folder, args)
            say(f"set up in {time.monotonic() - started:.1f} s; Ctrl-C stops everything")
            names = {p["id"]: p["name"] for p in await cloud.printers()}
            dashboard = asyncio.create_task(follow_dashboard(cloud, names))
            try:
                return await watch(cloud, farm, sku, args, stop)
            finally:
                dashboard.cancel()
                await asyncio.gather(dashboard, return_exceptions=True)
    # AssertionError: HubProcess.wait_line's report of a hub VM that exited while starting.
    except (aiohttp.ClientError, TimeoutError, RuntimeError, AssertionError) as e:
        raise DemoError(str(e) or type(e).__name__) from e
    finally:
        if args.verbose:
            for hub in farm.hubs:
                print(f"---- hub {hub.hub_id} console ----\n" + hub.process.output(), flush=True)
        await farm.stop()
        await runner.cleanup()
        say("stopped")


async def watch(cloud, farm, sku: dict, args, stop: asyncio.Event) -> int:
    """Print job changes until Ctrl-C (or, with --exit-after-first-print, the first completion)."""
    watcher = JobWatch(cloud)
    deadline = time.monotonic() + args.timeout
    reported = (0, 0)  # (completed jobs, stock) last printed
    while not stop.is_set():
        jobs = await watcher.poll()
        done = sum(1 for j in jobs if j["status"] == "completed")
        if done:
            # Stock and tasks follow a completion through the print-events queue, a moment later.
            stock = await stock_of(cloud, sku["id"])
            if (done, stock) != reported:
                reported = (done, stock)
                tasks = await cloud.call(
                    "GET",
                    "/api/v1/worklist",
                    params={"task_type": "collection", "status": "pending"},
                )
                say(
                    f"{done} print(s) completed: CUBE-BLK stock {stock}; {tasks['total']} "
                    "collection task(s) waiting (clearing a bed frees its printer: "
                    "POST /api/v1/printers/{id}/clear-bed)"
                )
            if args.exit_after_first_print and stock >= 1:
                return 0
        if args.exit_after_first_print:
            failed = [j for j in jobs if j["status"] == "failed"]
            if failed:
                say(f"a job failed: {failed[0].get('failure_reason')}")
                return 1
            if time.monotonic() > deadline:
                say(f"no completed print within {args.timeout:.0f} s")
                return 1
        try:
            await asyncio.wait_for(stop.wait(), 1.0)
        except TimeoutError:
            pass
    return 0 if not args.exit_after_first_print else 130
