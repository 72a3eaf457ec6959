"""protocol/ compiles with mpy-cross for the ESP32-S3 (xtensawin), as the firmware freezes it."""

import pathlib
import subprocess
import sys

import pytest

PROTOCOL = pathlib.Path(__file__).resolve().parents[2] / "protocol"
MPY_CROSS = pathlib.Path(sys.executable).with_name("mpy-cross")


@pytest.mark.micropython
@pytest.mark.parametrize("source", sorted(p.name for p in PROTOCOL.glob("*.py")))
def test_module_compiles_for_the_esp32_s3(source, tmp_path):
    out = tmp_path / (source[:-3] + ".mpy")
    proc = subprocess.run(
        [str(MPY_CROSS), "-march=xtensawin", "-o", str(out), str(PROTOCOL / source)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.stat().st_size > 0
