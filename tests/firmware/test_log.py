"""hub.log ring buffer in real MicroPython."""

import pytest

from tests.firmware.conftest import MPY_SCRIPTS, run_mpy

pytestmark = pytest.mark.micropython


def test_ring_buffer_wraps_truncates_and_ships_each_line_once(tmp_path):
    rc, rows, stdout, err = run_mpy(MPY_SCRIPTS / "log_check.py", cwd=tmp_path)
    assert rc == 0, stdout + err
    r = rows[-1]
    assert r["kept"] == ["line 3", "line 4", "line 5", "line 6", "line 7"]
    assert r["newest2"] == ["line 6", "line 7"]
    assert r["first"] == ["line 3", "line 4"]  # 0..2 were overwritten before shipping
    assert r["rest"] == ["line 5", "line 6", "line 7"]
    assert r["again"] and r["long_len"] == r["line_max"] and r["total"] == 9
