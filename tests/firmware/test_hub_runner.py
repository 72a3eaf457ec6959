"""hub_sim.hub_runner: machine.reset() on the host reboots the VM (HARD_RESET, as the esp32 port)."""

import subprocess

import pytest

from hub_sim import hub_runner
from tests.firmware.conftest import MPY_SCRIPTS, json_lines

pytestmark = pytest.mark.micropython


def test_machine_reset_boots_the_vm_again(tmp_path, monkeypatch, capfd):
    script = MPY_SCRIPTS / "reset_once.py"
    monkeypatch.setattr(
        hub_runner,
        "hub_command",
        lambda heap, script_=None: [hub_runner.micropython_binary(), str(script)],
    )
    assert hub_runner.run_forever(tmp_path) == 0
    rows = json_lines(capfd.readouterr().out)
    assert rows == [{"reset_cause": 2, "hard": 2}]  # one report: from the second boot
    # A VM killed without reset() (power cut) reads as power-on next time.
    out = subprocess.run(
        hub_runner.hub_command("256K", script)[:-1] + [str(script)],
        cwd=tmp_path,
        env=hub_runner.firmware_env(),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert json_lines(out)[0]["reset_cause"] == 1  # PWRON_RESET
