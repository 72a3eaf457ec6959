"""The `print` object a Bambu printer reports (push_status), built per model from real dumps."""

from __future__ import annotations

import copy
import ipaddress

from hub_sim.bambu.models import ModelProfile

# Field shapes and types follow the real P1P / A1 / X1C pushall dumps in ha-bambulab
# (`pybambu/tests/P1P.json`, `MOCK-A1.json`, `MOCK-X1CMULTIAMS.json`): many numbers are strings
# on purpose, because clients call int()/float() on them.

AMBIENT_C = 24.0

_TRAY_COLOURS = ["161616FF", "FFFFFFFF", "D357FEFF", "0ACC38FF"]
_TRAY_TYPES = ["PLA", "PLA", "PETG", "PLA"]


def _tray(slot: int, tray_type: str, colour: str, remain: int) -> dict:
    # Every key bambulabs-api's FilamentTray requires (it has no defaults) is present.
    return {
        "id": str(slot),
        "remain": remain,
        "k": 0.019999999552965164,
        "n": 1,
        "cali_idx": -1,
        "tag_uid": "0000000000000000",
        "tray_id_name": "",
        "tray_info_idx": "GFA00" if tray_type == "PLA" else "GFG99",
        "tray_type": tray_type,
        "tray_sub_brands": "",
        "tray_color": colour,
        "tray_weight": "1000",
        "tray_diameter": "1.75",
        "tray_temp": "0",
        "tray_time": "0",
        "bed_temp_type": "0",
        "bed_temp": "0",
        "nozzle_temp_max": "240" if tray_type == "PLA" else "260",
        "nozzle_temp_min": "190" if tray_type == "PLA" else "220",
        "xcam_info": "000000000000000000000000",
        "tray_uuid": "00000000000000000000000000000000",
        "ctype": 0,
        "cols": [colour],
    }


def ip_to_report_int(ip: str) -> int:
    """IPv4 as the little-endian uint32 printers put in `net.info[].ip` (127.0.0.1 -> 16777343)."""
    try:
        packed = ipaddress.IPv4Address(ip).packed
    except ValueError:
        return 0
    return int.from_bytes(packed, "little")


def initial_print_state(model: ModelProfile, ip: str) -> dict:
    """A full push_status `print` object for an idle printer with one AMS of four spools."""
    trays = [_tray(i, _TRAY_TYPES[i], _TRAY_COLOURS[i], 100 - 10 * i) for i in range(4)]
    idle_stage = -1 if not model.delta_reports else 0
    state = {
        "upgrade_state": {
            "sequence_id": 0,
            "progress": "",
            "status": "IDLE",
            "consistency_request": False,
            "dis_state": 0,
            "err_code": 0,
            "force_upgrade": False,
            "message": "0%, 0B/s",
            "module": "",
            "new_version_state": 2,
            "cur_state_code": 0,
            "new_ver_list": [],
        },
        "ipcam": {
            "ipcam_dev": "1",
            "ipcam_record": "enable",
            "timelapse": "disable",
            "resolution": "1080p",
            "tutk_server": "disable",
            "mode_bits": 3,
        },
        "xcam": {"buildplate_marker_detector": True},
        "upload": {"status": "idle", "progress": 0, "message": ""},
        "net": {"conf": 0, "info": [{"ip": ip_to_report_int(ip), "mask": 16777215}]},
        "nozzle_temper": AMBIENT_C,
        "nozzle_target_temper": 0,
        "bed_temper": AMBIENT_C,
        "bed_target_temper": 0,
        "chamber_temper": AMBIENT_C if model.chamber_sensor else 5,
        "mc_print_stage": "1",
        "heatbreak_fan_speed": "0",
        "cooling_fan_speed": "0",
        "big_fan1_speed": "0",
        "big_fan2_speed": "0",
        "mc_percent": 0,
        "mc_remaining_time": 0,
        "ams_status": 0,
        "ams_rfid_status": 0,
        "hw_switch_state": 1,
        "spd_mag": 100,
        "spd_lvl": 2,
        "print_error": 0,
        "lifecycle": "product",
        "wifi_signal": "-48dBm",
        "gcode_state": "IDLE",
        "gcode_file_prepare_percent": "0",
        "queue_number": 0,
        "queue_total": 0,
        "queue_est": 0,
        "queue_sts": 0,
        "project_id": "0",
        "profile_id": "0",
        "task_id": "0",
        "subtask_id": "0",
        "subtask_name": "",
        "gcode_file": "",
        "gcode_start_time": "0",
        "stg": [],
        "stg_cur": idle_stage,
        "print_type": "idle",
        "home_flag": 863847839,
        "mc_print_line_number": "0",
        "mc_print_sub_stage": 0,
        "mc_print_error_code": "0",
        "fail_reason": "0",
        "sdcard": True,
        "force_upgrade": False,
        "mess_production_state": "active",
        "layer_num": 0,
        "total_layer_num": 0,
        "s_obj": [],
        "filam_bak": [],
        "fan_gear": 0,
        "nozzle_diameter": "0.4",
        "nozzle_type": "stainless_steel",
        "cali_version": 0,
        "k": "0.0200",
        "flag3": 31,
        "hms": [],
        "online": {"ahb": False, "rfid": False, "version": 1804806695},
        "ams": {
            "ams": [{"id": "0", "humidity": "4", "temp": "24.5", "tray": trays}],
            "ams_exist_bits": "1",
            "tray_exist_bits": "f",
            "tray_is_bbl_bits": "f",
            "tray_tar": "255",
            "tray_now": "255",
            "tray_pre": "255",
            "tray_read_done_bits": "f",
            "tray_reading_bits": "0",
            "version": 2,
            "insert_flag": True,
            "power_on_flag": False,
        },
        "vt_tray": {
            **{k: v for k, v in _tray(254, "PLA", "FFFFFFFF", 0).items() if k != "cols"},
            "id": "254",
        },
        "lights_report": [{"node": "chamber_light", "mode": "off"}],
    }
    if not model.jpeg_camera:
        state["ipcam"]["rtsp_url"] = "disable"
        state["lights_report"].append({"node": "work_light", "mode": "off"})
    return state


def diff_state(previous: dict, current: dict) -> dict:
    """Top-level keys whose value changed: what a P1/A1 sends in a `msg: 1` delta."""
    return {k: copy.deepcopy(v) for k, v in current.items() if previous.get(k) != v}
