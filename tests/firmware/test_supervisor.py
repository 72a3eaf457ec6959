"""hub.supervisor in real MicroPython: crashes restart with backoff, never the hub."""

import pytest

from tests.firmware.conftest import MPY_SCRIPTS, run_mpy

pytestmark = pytest.mark.micropython


def test_crashing_tasks_restart_with_backoff_and_others_keep_running(tmp_path):
    rc, rows, stdout, err = run_mpy(MPY_SCRIPTS / "supervisor_check.py", cwd=tmp_path)
    assert rc == 0, stdout + err
    r = rows[-1]
    crasher = r["status"]["crasher"]
    assert crasher["restarts"] >= 5 and "boom" in crasher["last_error"]
    assert r["status"]["steady"] == {"state": "running", "restarts": 0, "last_error": None}
    assert r["status"]["oneshot"]["state"] == "done"  # returning is finishing, not crashing
    assert r["steady_progressed"] and not r["restarted_after_stop"]
    assert "crasher" not in r["names"]
    # MemoryError in one task is that task's problem: it was restarted and then ran.
    assert r["status"]["hungry"]["restarts"] == 1 and r["hungry_runs"] == 2
    assert r["traceback_logged"]
    # Jittered doubling from 20 ms to 160 ms: each delay in [ceiling/2, ceiling].
    ceilings = [min(160, 20 * 2**i) for i in range(len(r["delays"]))]
    assert len(r["delays"]) >= 5
    for d, c in zip(r["delays"], ceilings, strict=True):
        assert c // 2 <= d <= c
