"""The hub's side of the wire: the real MicroPython binary (mbedTLS) against the simulated printer."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from hub_sim.bambu import SimulatedBambuPrinter
from tests.hub_sim.mqtt_client import ACCESS_CODE, GUARD_S

pytestmark = pytest.mark.micropython

REPO = Path(__file__).resolve().parents[3]
MICROPYTHON = REPO / ".venv" / "bin" / "micropython"
UPLOAD = Path(__file__).parent / "mpy" / "ftps_upload.py"


def run_upload(port, name, size):
    proc = subprocess.run(
        [str(MICROPYTHON), str(UPLOAD), str(port), ACCESS_CODE, name, str(size)],
        capture_output=True,
        text=True,
        timeout=GUARD_S * 3,
    )
    return proc.stdout.strip().splitlines(), proc.stderr


@pytest.mark.parametrize(("model", "accepted"), [("P1S", True), ("X1C", False)])
async def test_micropython_ftps_upload_depends_on_session_reuse(tmp_path, model, accepted):
    """MicroPython cannot resume TLS sessions: fine on P1/A1 (reuse off), refused on X1."""
    async with SimulatedBambuPrinter(
        "01P00A391800020",
        ACCESS_CODE,
        model=model,
        mqtt_port=0,
        ftps_port=0,
        camera_port=None,
        workdir=tmp_path / model,
    ) as printer:
        lines, stderr = await asyncio.to_thread(run_upload, printer.ftps_port, "hub.3mf", 50_000)
        assert lines[:2] == ["220 (vsFTPd 3.0.3)", "331 Please specify the password."], stderr
        assert "150 Ok to send data." in lines
        if accepted:
            assert lines[-1] == "226 Transfer complete."
            assert (printer.sd_path / "hub.3mf").stat().st_size == 50_000
        else:
            assert lines[-1] == "522 SSL connection failed: session reuse required"
            assert not (printer.sd_path / "hub.3mf").exists()
