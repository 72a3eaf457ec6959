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


def test_watchdog_kill_with_a_recorded_cause_is_a_reboot(tmp_path):
    from hub_sim.hub_runner import RESET_EXIT_CODE, rebooted

    assert rebooted(RESET_EXIT_CODE, tmp_path)  # machine.reset() on the main thread
    assert not rebooted(-9, tmp_path)  # killed from outside: no cause recorded, the hub is off
    (tmp_path / "reset_cause").write_text("3")  # the host WDT recorded WDT_RESET, then killed
    assert rebooted(-9, tmp_path)
    assert not rebooted(1, tmp_path)  # a crash of the VM itself is not a chip reset
