"""`printfarm sim printer bambu`: a printer process that reports where it listens and obeys faults."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import aiohttp

from tests.hub_sim.mqtt_client import ACCESS_CODE, GUARD_S, ReportClient, is_print_ack

REPO = Path(__file__).resolve().parents[2]


class _Endpoint:
    """Enough of a printer for ReportClient: where to connect and the topics."""

    def __init__(self, status):
        self.mqtt_port = status["mqtt_port"]
        self.report_topic = f"device/{status['serial']}/report"
        self.request_topic = f"device/{status['serial']}/request"


async def start_cli(serial, tmp_path, *extra):
    cmd = [
        sys.executable, "-m", "tools.cli", "sim", "printer", "bambu",
        "--serial", serial, "--access-code", ACCESS_CODE,
        "--mqtt-port", "0", "--ftps-port", "0", "--camera-port", "0", "--control-port", "0",
        "--sd-dir", str(tmp_path / serial), "--speed", "1000", *extra,
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), GUARD_S)
    status = json.loads(line)
    assert status["event"] == "listening"
    return proc, status


async def test_two_printers_side_by_side_and_control_api(tmp_path):
    first, s1 = await start_cli("01P00A391800010", tmp_path, "--model", "P1S")
    second, s2 = await start_cli("00M00A391800011", tmp_path, "--model", "X1C")
    try:
        assert s1["mqtt_port"] != s2["mqtt_port"] and s1["ftps_port"] != s2["ftps_port"]
        assert s2["ftps_session_reuse"] is True and s1["ftps_session_reuse"] is False
        assert Path(s1["sd_path"]) == tmp_path / "01P00A391800010"
        client = ReportClient(_Endpoint(s1))
        try:
            assert await client.connected() == 0
            url = f"http://127.0.0.1:{s1['control_port']}/faults/reject_next_command"
            async with aiohttp.ClientSession() as http, http.post(url, json={"reason": "x"}) as r:
                assert r.status == 200
            client.send({"print": {"command": "print_speed", "param": "2"}})
            ack = await client.next_message(is_print_ack("print_speed"))
            assert ack["print"]["result"] == "fail"
        finally:
            client.close()
    finally:
        for proc in (first, second):
            proc.send_signal(signal.SIGTERM)
        for proc in (first, second):
            assert await asyncio.to_thread(proc.wait, GUARD_S) == 0


def test_help_lists_the_contract_flags():
    out = subprocess.run(
        [sys.executable, "-m", "tools.cli", "sim", "printer", "bambu", "--help"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    for flag in (
        "--serial",
        "--access-code",
        "--model",
        "--host",
        "--mqtt-port",
        "--ftps-port",
        "--speed",
    ):
        assert flag in out


def test_missing_serial_is_a_usage_error():
    proc = subprocess.run(
        [sys.executable, "-m", "tools.cli", "sim", "printer", "bambu", "--access-code", "1"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 2 and "--serial" in proc.stderr
