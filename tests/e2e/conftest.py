"""End-to-end fixtures: the real cloud (restartable on the same port and data folder), a farm of
real hub firmware under micropython with simulated Bambu printers, and a seeded owner."""

import asyncio
import base64
import contextlib
import hashlib

import aiohttp
import pytest
from aiohttp import web

from cloud.app import create_app
from cloud.workers.runtime import bound_to
from hub_sim.farm import Farm
from hub_sim.threemf import write_3mf
from tests.cloud.conftest import LiveServer, make_config
from tests.conftest import sqlite_url

# Fast reconnects: a restarted cloud is found again within a couple of seconds.
HUB_SETTINGS = {"bo_min_ms": 200, "bo_max_ms": 2000}
# A hub driving one printer fits the hub-core suites' heap.
HUB_HEAP = "512K"
SPEED = 60.0  # simulated-time multiplier: PRINT_TIME_S of print take ~25 s of wall time
PRINT_TIME_S = 1500


class RestartableCloud:
    """create_app on 127.0.0.1: stop() and start() again keep the port, database and data folder."""

    def __init__(self, config):
        self.config = config
        self.port = 0
        self.runner = None
        self.server = None  # LiveServer: its url and session survive restarts
        self.session = None
        self.restarts = 0

    async def start(self) -> LiveServer:
        app = create_app(self.config)
        self.runner = web.AppRunner(app, access_log=None, shutdown_timeout=5)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port, reuse_address=True)
        await site.start()
        self.port = self.runner.addresses[0][1]
        bound_to(app, "127.0.0.1", self.port)
        if self.server is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            url = f"http://127.0.0.1:{self.port}"
            self.server = LiveServer(url, app, self.config, self.session)
        else:
            self.server.app = app
        return self.server

    async def stop(self) -> None:
        """Graceful shutdown: sockets closed, workers stopped, the database left as it is."""
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def restart(self) -> None:
        await self.stop()
        self.restarts += 1
        await self.start()

    async def close(self) -> None:
        await self.stop()
        if self.session is not None:
            await self.session.close()


@pytest.fixture
async def cloud(tmp_path):
    """The real cloud over SQLite and a local folder, restartable."""
    config = make_config(tmp_path, sqlite_url(tmp_path), dispatch_interval_s=0.2)
    c = RestartableCloud(config)
    await c.start()
    yield c
    await c.close()


@contextlib.asynccontextmanager
async def running_farm(server, tmp_path, hubs=1, printers_per_hub=1):
    """A farm registered with `server`; on failure the hub consoles are printed (pytest shows them)."""
    key = base64.b64encode(server.config.secret("provisioning_key")).decode()
    farm = Farm(
        server.url,
        hubs=hubs,
        printers_per_hub=printers_per_hub,
        provisioning_key=key,
        heap=HUB_HEAP,
        speed=SPEED,
        data_dir=tmp_path / "farm",
        hub_settings=HUB_SETTINGS,
    )
    try:
        await farm.start()
        yield farm
    finally:
        for hub in farm.hubs:
            print(f"---- console of hub {hub.hub_id} ----")
            print("\n".join(hub.process.lines[-80:]))
        await farm.stop()


def make_3mf(path, model="P1S"):
    """A sliced 3MF for `model`; returns (bytes, md5 hex)."""
    write_3mf(path, print_time_s=PRINT_TIME_S, layers=30, printer_model=model)
    data = path.read_bytes()
    return data, hashlib.md5(data).hexdigest()


async def poll(fetch, predicate, timeout=60.0, interval=0.2):
    """Re-fetch until predicate(value) holds (the timeout is a failure guard); return the value."""

    async def loop():
        while True:
            value = await fetch()
            if predicate(value):
                return value
            await asyncio.sleep(interval)

    return await asyncio.wait_for(loop(), timeout)


async def until(predicate, timeout=60.0, interval=0.1):
    """Wait for a local condition (failure guard timeout)."""

    async def loop():
        while not predicate():
            await asyncio.sleep(interval)

    await asyncio.wait_for(loop(), timeout)


class SubprocessCloud:
    """`printfarm cloud serve` as its own process on a fixed port and data folder: kill() is a
    crash (SIGKILL, nothing flushed or closed), start() brings it back on the same port."""

    def __init__(self, data_dir):
        import socket

        self.data_dir = data_dir
        with socket.socket() as s:  # a free port, reused by every restart
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None
        self.session = None
        self.server = None

    async def start(self) -> LiveServer:
        import os
        import sys

        from cloud.config import Config

        env = dict(os.environ)
        for name in ("PRINTFARM_DATABASE_URL", "PRINTFARM_REDIS_URL", "PRINTFARM_STORAGE_URL"):
            env.pop(name, None)
        env["PRINTFARM_DISPATCH_INTERVAL_S"] = "0.2"
        env["PRINTFARM_ARGON2"] = "1,8192,1"  # test-sized cost, same algorithm
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tools.cli",
            "cloud",
            "serve",
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        while True:  # until it listens (its JSON log says so)
            line = await asyncio.wait_for(self.proc.stderr.readline(), 60)
            assert line, "cloud exited before listening"
            if b'"listening"' in line:
                break
        self._drain = asyncio.create_task(self._drain_stderr())
        if self.server is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
            config = Config.load(env={}, data_dir=str(self.data_dir))  # its keys.json
            self.server = LiveServer(self.url, None, config, self.session)
        return self.server

    async def _drain_stderr(self):
        while await self.proc.stderr.readline():
            pass

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
            await self._drain

    async def close(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()
        if self.session is not None:
            await self.session.close()


@pytest.fixture
async def crashable_cloud(tmp_path):
    """A `printfarm cloud serve` process over SQLite in tmp_path/cloud-data."""
    c = SubprocessCloud(tmp_path / "cloud-data")
    await c.start()
    yield c
    await c.close()
