"""hub.config and the host NVS stand-in in real MicroPython: persistence, limits, redaction."""

import pytest

from tests.firmware.conftest import MPY_SCRIPTS, run_mpy

pytestmark = pytest.mark.micropython


def merged(rows):
    out = {}
    for r in rows:
        out.update(r)
    return out


def test_nvs_and_config_round_trip_through_flash(tmp_path):
    rc, rows, stdout, err = run_mpy(MPY_SCRIPTS / "config_check.py", ["write"], cwd=tmp_path)
    assert rc == 0, stdout + err
    w = merged(rows)
    assert w["missing_i32"] == 2 and w["missing_blob"] == 2  # ENOENT, as on the chip
    assert w["long_key"] == 2  # keys longer than 15 characters do not exist on the chip
    assert w["small_buffer"] == -0x110C  # ESP_ERR_NVS_INVALID_LENGTH
    assert w["read_back"] == [-42, b"\x00\x01binary".hex()]
    assert w["removed"] == [True, False]
    assert w["check"] == "not provisioned: hub_id, secret, cloud_url"
    red = w["redacted"]
    assert red["secret"] == "<redacted>" and red["wifi_pass"] == "<redacted>"
    assert red["printers"] == [{"printer_id": "p2", "access_code": "<redacted>", "serial": "S2b"}]
    for secret in ("s3cret-factory", "wifi-pass-77", "AC-111", "AC-222", "AC-333"):
        assert secret not in stdout + err

    rc, rows, stdout, err = run_mpy(MPY_SCRIPTS / "config_check.py", ["read"], cwd=tmp_path)
    assert rc == 0, stdout + err
    r = merged(rows)
    assert r["persisted"] == [-42, b"\x00\x01binary".hex()]
    assert r["uncommitted"] == 2
    assert r["hub_id"] == "hub-7" and r["secret"] == "s3cret-factory"
    assert r["printers"] == [{"printer_id": "p2", "access_code": "AC-333", "serial": "S2b"}]
    assert r["backoff"] == [1000, 60000]


def test_torn_nvs_file_reads_as_erased(tmp_path):
    (tmp_path / "nvs.json").write_text('{"printfarm": {"hub_id": ["blob", "6162')
    rc, rows, stdout, err = run_mpy(MPY_SCRIPTS / "config_check.py", ["write"], cwd=tmp_path)
    assert rc == 0, stdout + err
    assert merged(rows)["missing_i32"] == 2
