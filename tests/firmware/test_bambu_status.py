"""drivers.bambu_status in real MicroPython: delta merging, defensive parsing, normalisation."""

import json

import pytest

from tests.firmware import mpy_runner

pytestmark = pytest.mark.micropython

SCRIPT = mpy_runner.REPO / "tests" / "firmware" / "mpy" / "status_check.py"

FULL = {
    "command": "push_status",
    "msg": 0,
    "gcode_state": "RUNNING",
    "mc_percent": 41,
    "mc_remaining_time": 759,
    "layer_num": 12,
    "total_layer_num": 70,
    "subtask_name": "Fidget Collection",
    "gcode_file": "fidget.gcode.3mf",
    "nozzle_temper": 219.84375,
    "nozzle_target_temper": 220,
    "bed_temper": "59.9",
    "bed_target_temper": 60,
    "chamber_temper": 5,
    "spd_lvl": 2,
    "print_error": 0,
    "wifi_signal": "-53dBm",
    "hms": [{"attr": 50331904, "code": 131079}],
    "ams": {
        "ams": [
            {
                "id": "0",
                "tray": [
                    {"id": "0", "tray_type": "PLA", "tray_color": "D357FEFF", "remain": 80},
                    {"id": "1"},
                    {"id": "2", "tray_type": "PETG", "tray_color": "161616FF", "remain": -1},
                ],
            },
            {"id": "1", "tray": [{"id": "3", "tray_type": "ABS", "tray_color": "FFFFFFFF"}]},
        ],
        "tray_now": "0",
    },
    "vt_tray": {"id": "254", "tray_type": "TPU", "tray_color": "00FF00FF", "remain": 10},
    "ipcam": {"rtsp_url": "disable"},  # dropped: not in the status map
}

CASES = [
    {"name": "full", "kind": "reports", "reports": [FULL]},
    {
        "name": "delta",
        "kind": "reports",
        "reports": [
            FULL,
            {"msg": 1, "mc_percent": 42, "layer_num": "13", "ams": {"tray_now": "2"}},
        ],
    },
    {
        "name": "vt_only",
        "kind": "reports",
        "reports": [FULL, {"vt_tray": {"id": "254", "tray_type": "PLA", "tray_color": "FF0000FF"}}],
    },
    {
        "name": "junk_types",
        "kind": "reports",
        "reports": [
            {
                "gcode_state": "SLICING",
                "mc_percent": [1],
                "nozzle_temper": "hot",
                "bed_temper": True,
                "wifi_signal": "weak",
                "print_error": "0",
                "mc_remaining_time": 12.7,
                "hms": ["x", {"attr": "5", "code": None}],
                "ams": "broken",
            },
            {"mc_percent": 150},
        ],
    },
    {
        "name": "cancelled",
        "kind": "reports",
        "reports": [FULL, {"gcode_state": "FAILED", "print_error": 50348044}],
    },
    {
        "name": "failed",
        "kind": "reports",
        "reports": [FULL, {"gcode_state": "FAILED", "print_error": 50364437}],
    },
    {"name": "paused", "kind": "reports", "reports": [FULL, {"gcode_state": "PAUSE"}]},
    {
        "name": "offline",
        "kind": "reports",
        "reports": [FULL],
        "connected": False,
        "error": "network: timed out",
    },
    {"name": "ack_devmode", "kind": "ack", "ack": {"command": "pause", "err_code": 84033543}},
    {"name": "ack_devmode_str", "kind": "ack", "ack": {"err_code": "84033545", "result": "fail"}},
    {"name": "ack_fail", "kind": "ack", "ack": {"result": "FAIL", "reason": "busy"}},
    {"name": "ack_fail_no_reason", "kind": "ack", "ack": {"result": "fail"}},
    {"name": "ack_ok", "kind": "ack", "ack": {"result": "SUCCESS", "err_code": 0}},
    {"name": "ack_silent", "kind": "ack", "ack": {"command": "stop"}},
    {"name": "ack_code_only", "kind": "ack", "ack": {"err_code": 12}},
]


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    path = tmp_path_factory.mktemp("status") / "cases.json"
    path.write_text(json.dumps(CASES))
    rc, rows, out, err = mpy_runner.run(SCRIPT, [path])
    assert rc == 0, out + err
    return {r["name"]: r for r in rows}


def test_full_report_normalised(results):
    st = results["full"]["status"]
    assert st["state"] == "printing" and st["gcode_state"] == "RUNNING"
    assert st["connected"] is True and st["error"] == ""
    assert (st["progress"], st["remaining_minutes"]) == (41, 759)
    assert (st["current_layer"], st["total_layers"]) == (12, 70)
    assert st["job_name"] == "Fidget Collection" and st["gcode_file"] == "fidget.gcode.3mf"
    assert st["nozzle_temp"] == 219.8 and st["bed_temp"] == 59.9 and st["bed_target"] == 60
    assert st["wifi_signal"] == -53 and st["speed_level"] == 2 and st["print_error"] == 0
    assert st["hms"] == [{"attr": 50331904, "code": 131079}]
    assert st["ams"] == [
        {"id": 0, "type": "PLA", "color": "D357FEFF", "remain": 80},
        {"id": 1, "type": "", "color": "", "remain": None},
        {"id": 2, "type": "PETG", "color": "161616FF", "remain": None},
        {"id": 7, "type": "ABS", "color": "FFFFFFFF", "remain": None},
        {"id": 254, "type": "TPU", "color": "00FF00FF", "remain": 10},
    ]
    assert "ipcam" not in st and "rtsp_url" not in json.dumps(st)


def test_delta_merges_into_full_state(results):
    st = results["delta"]["status"]
    assert st["progress"] == 42 and st["current_layer"] == 13
    assert st["job_name"] == "Fidget Collection"  # untouched keys kept
    assert len(st["ams"]) == 5  # an AMS delta without units keeps the trays


def test_vt_tray_delta_keeps_ams_units(results):
    ams = results["vt_only"]["status"]["ams"]
    assert [t["id"] for t in ams] == [0, 1, 2, 7, 254]
    assert ams[-1]["type"] == "PLA"


def test_junk_types_are_ignored_not_fatal(results):
    st = results["junk_types"]["status"]
    assert st["state"] == "printing"
    assert st["progress"] == 100  # clamped
    assert st["remaining_minutes"] == 12 and st["print_error"] == 0
    assert "nozzle_temp" not in st and "bed_temp" not in st and "wifi_signal" not in st
    assert st["hms"] == [{"attr": 5, "code": 0}]
    assert "ams" not in st


def test_states(results):
    assert results["cancelled"]["status"]["state"] == "idle"
    assert results["failed"]["status"]["state"] == "error"
    assert results["paused"]["status"]["state"] == "paused"
    off = results["offline"]["status"]
    assert off["state"] == "offline" and off["connected"] is False
    assert off["error"] == "network: timed out" and off["gcode_state"] == "RUNNING"


def test_acks(results):
    assert "Developer Mode" in results["ack_devmode"]["error"]
    assert "Developer Mode" in results["ack_devmode_str"]["error"]
    assert results["ack_fail"]["error"] == "printer refused: busy"
    assert "no reason" in results["ack_fail_no_reason"]["error"]
    assert results["ack_ok"]["error"] is None
    assert results["ack_silent"]["error"] is None
    assert "12" in results["ack_code_only"]["error"]
