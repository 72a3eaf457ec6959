"""Two `printfarm cloud serve` processes on one PostgreSQL database and one Redis: commands issued
through A reach a hub connected to B, claims made on A reach it, and a dashboard on A sees B's hub."""

import asyncio
import os
import socket
import subprocess
import sys
import uuid

import aiohttp
import pytest

from tests.cloud.realtime.test_dashboard_socket import Dashboard, statuses
from tests.conftest import postgres_database
from tools.bench.hub_client import SimHub

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Cloud:
    """One `printfarm cloud serve` subprocess."""

    def __init__(self, env: dict, data_dir, log_path):
        self.port = free_port()
        self.log_path = log_path
        self.url = f"http://127.0.0.1:{self.port}"
        self.ws_url = self.url.replace("http://", "ws://")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tools.cli",
                "cloud",
                "serve",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log_path.open("wb"),  # a file, never an unread pipe that could fill up
        )

    async def ready(self, session: aiohttp.ClientSession) -> None:
        for _ in range(300):  # failure guard: 30 s
            if self.proc.poll() is not None:
                raise RuntimeError(self.log_path.read_text()[-3000:])
            try:
                async with session.get(self.url + "/healthz") as r:
                    if r.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
        raise TimeoutError(f"cloud on {self.port} never became ready")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


async def test_command_and_status_cross_processes(tmp_path):
    with postgres_database() as database_url:
        env = {
            **os.environ,
            "PRINTFARM_DATABASE_URL": database_url,
            "PRINTFARM_REDIS_URL": "redis://127.0.0.1:6379/0",
            "PRINTFARM_REDIS_PREFIX": f"pftest-{uuid.uuid4().hex[:10]}:",
            "PRINTFARM_ARGON2": "1,8192,1",
            "PRINTFARM_RATE_LIMITS": "off",
        }
        data_dir = tmp_path / "data"  # shared: both processes read the same keys.json
        async with aiohttp.ClientSession() as session:
            a = Cloud(env, data_dir, tmp_path / "a.log")
            try:
                await a.ready(session)
                b = Cloud(env, data_dir, tmp_path / "b.log")
                try:
                    await b.ready(session)
                    try:
                        await _scenario(session, a, b, data_dir)
                    except BaseException:
                        print("--- cloud A log ---\n" + a.log_path.read_text()[-4000:])
                        print("--- cloud B log ---\n" + b.log_path.read_text()[-4000:])
                        raise
                finally:
                    b.stop()
            finally:
                a.stop()


async def _scenario(session, a: Cloud, b: Cloud, data_dir) -> None:
    import json

    async with session.post(
        a.url + "/api/v1/auth/register",
        json={"email": "owner@example.com", "password": PASSWORD, "tenant_name": "Farm"},
    ) as r:
        assert r.status == 201, await r.text()
        owner = await r.json()
    auth = {"Authorization": "Bearer " + owner["access_token"]}
    key = json.loads((data_dir / "keys.json").read_text())["provisioning_key"]
    async with session.post(
        a.url + "/api/v1/admin/hubs", json={}, headers={"X-Provisioning-Key": key}
    ) as r:
        assert r.status == 201, await r.text()
        creds = await r.json()

    # The hub lives on B.
    hub = SimHub(b.ws_url, creds["hub_id"], creds["secret"])
    hello = await hub.connect()
    try:
        # Claimed through A: B's connection hears it through Redis.
        async with session.post(
            a.url + "/api/v1/hubs/claim", json={"claim_code": hello["claim_code"]}, headers=auth
        ) as r:
            assert r.status == 200, await r.text()
        await hub.wait_for(lambda h: h.claim_updates and h.claim_updates[-1]["claimed"], timeout=30)

        # A printer created through A: configure_printer reaches the hub on B.
        async with session.post(
            a.url + "/api/v1/printers",
            json={
                "name": "P1",
                "model": "P1S",
                "hub_id": creds["hub_id"],
                "serial_number": "S1",
                "ip_address": "192.0.2.9",
                "access_code": "ABCD1234",
            },
            headers=auth,
        ) as r:
            assert r.status == 201, await r.text()
            printer_id = (await r.json())["id"]
        configured = await hub.wait_for(
            lambda h: [c for c in h.commands if c["type"] == "configure_printer"], timeout=30
        )
        assert configured[0]["printer"]["printer_id"] == printer_id

        # A dashboard on A sees status reported by the hub on B.
        class Target:
            ws_url = a.ws_url

        dash = await Dashboard(Target, owner["access_token"]).open()
        try:
            for progress in range(1, 200):
                await hub.send_status(printer_id, {"state": "printing", "progress": progress})
                await asyncio.sleep(0.05)
                if any(m["status"] == "printing" for m in statuses(dash.messages, printer_id)):
                    break
            got = statuses(dash.messages, printer_id)
            # The snapshot (persisted "offline": B has not flushed yet) may come first.
            assert got and got[-1]["status"] == "printing"
        finally:
            await dash.close()
        # A dashboard opened later on A starts from the state B persisted (coalesced writes).
        for _ in range(100):
            late = await Dashboard(Target, owner["access_token"]).open()
            try:
                await late.wait_for(lambda ms: any(m["type"] == "hub_status" for m in ms))
                snap = statuses(late.messages, printer_id, live=False)
                hub_snap = [m for m in late.messages if m["type"] == "hub_status"]
            finally:
                await late.close()
            if snap and snap[0]["status"] == "printing":
                break
            await asyncio.sleep(0.3)
        async with session.get(a.url + f"/api/v1/printers/{printer_id}", headers=auth) as r:
            persisted = await r.json()
        assert snap[0]["status"] == "printing", (persisted, snap, late.messages)
        assert hub_snap[0] == {
            "type": "hub_status",
            "hub_id": creds["hub_id"],
            "is_online": True,
            "printer_count": 1,
        }
    finally:
        await hub.close()
