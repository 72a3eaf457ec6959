"""`printfarm sim farm` against the real cloud: hubs registered with the provisioning key, booted
under micropython with their printers, claim codes printed, clean stop; refusals are clear."""

import asyncio
import base64
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from hub_sim.farm import http_url, serial_for, ws_url
from tests.cloud.conftest import server_on

REPO = Path(__file__).resolve().parents[2]


def farm_argv(url, key, data_dir, hubs=2, printers=2):
    return [
        sys.executable,
        "-m",
        "tools.cli",
        "sim",
        "farm",
        "--hubs",
        str(hubs),
        "--printers-per-hub",
        str(printers),
        "--cloud",
        url,
        "--provisioning-key",
        key,
        "--data-dir",
        str(data_dir),
        "--heap",
        "512K",
    ]


def env_without_key():
    env = dict(os.environ)
    env.pop("PRINTFARM_PROVISIONING_KEY", None)
    return env


def test_serials_urls():
    serials = {serial_for("P1S", h, p) for h in range(1, 4) for p in range(1, 4)}
    assert len(serials) == 9 and all(len(s) == 15 and s.startswith("01P") for s in serials)
    assert serial_for("X1C", 1, 1).startswith("00M")
    assert ws_url("http://127.0.0.1:8080/") == "ws://127.0.0.1:8080"
    assert ws_url("https://cloud.example") == "wss://cloud.example"
    assert http_url("ws://127.0.0.1:8080") == "http://127.0.0.1:8080"


@pytest.mark.slow
@pytest.mark.micropython
async def test_farm_registers_boots_and_stops(tmp_path):
    async with server_on("sqlite", tmp_path) as server:
        owner = await server.register()
        key = base64.b64encode(server.config.secret("provisioning_key")).decode()
        proc = await asyncio.create_subprocess_exec(
            *farm_argv(server.url, key, tmp_path / "farm"),
            cwd=REPO,
            env=env_without_key(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        try:
            hubs = []
            while len(hubs) < 2:
                line = await asyncio.wait_for(proc.stdout.readline(), 120)
                assert line, "farm exited early"
                if line.startswith(b"{"):
                    hubs.append(json.loads(line))
            assert all(h["event"] == "hub" and h["claimed"] is False for h in hubs)
            assert all(len(h["claim_code"]) == 8 for h in hubs)
            printers = [p for h in hubs for p in h["printers"]]
            assert len({p["serial"] for p in printers}) == 4
            assert all(
                p["mqtt_port"] and p["ftps_port"] and p["ip"] == "127.0.0.1" for p in printers
            )

            # The codes the consoles showed claim the hubs; both are online.
            for h in hubs:
                r = await owner.api.post("/api/v1/hubs/claim", json={"claim_code": h["claim_code"]})
                assert r.status == 200, r.json
            listed = (await owner.api.get("/api/v1/hubs")).json
            assert sorted((x["id"], x["is_online"]) for x in listed) == sorted(
                (h["hub_id"], True) for h in hubs
            )

            proc.send_signal(signal.SIGTERM)
            rest = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
            assert proc.returncode == 0, rest
            assert '{"event": "stopped"}' in rest
            # The hubs' sockets closed with the farm: the cloud sees them go offline.
            for _ in range(200):
                listed = (await owner.api.get("/api/v1/hubs")).json
                if not any(x["is_online"] for x in listed):
                    break
                await asyncio.sleep(0.1)
            assert not any(x["is_online"] for x in listed)
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def test_farm_with_a_wrong_key_is_refused(tmp_path):
    async with server_on("sqlite", tmp_path) as server:
        wrong = base64.b64encode(b"x" * 32).decode()
        proc = await asyncio.create_subprocess_exec(
            *farm_argv(server.url, wrong, tmp_path / "farm", hubs=1, printers=1),
            cwd=REPO,
            env=env_without_key(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
        assert proc.returncode == 1, out
        assert "hub registration refused (401)" in out


async def test_farm_without_a_key_says_how_to_give_one(tmp_path):
    argv = farm_argv("http://127.0.0.1:9", "", tmp_path / "farm")
    argv[argv.index("--provisioning-key") : argv.index("--provisioning-key") + 2] = [
        "--cloud-data-dir",
        str(tmp_path / "nothing-here"),
    ]
    proc = await asyncio.create_subprocess_exec(
        *argv, cwd=REPO, env=env_without_key(), stdout=asyncio.subprocess.PIPE
    )
    out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    assert proc.returncode == 2 and "no provisioning key" in out
