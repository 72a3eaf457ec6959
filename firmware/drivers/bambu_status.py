"""Bambu report handling: merge push_status deltas and map them to the cloud's status map."""

# print_error the printer reports (briefly, with gcode_state FAILED) when a user cancels.
CANCEL_ERROR = 50348044
# Ack err_code when control commands need a signature (Developer Mode off, firmware >= 2025).
ERR_NEEDS_DEVELOPER_MODE = 84033543
ERR_BAD_SIGNATURE_ENVELOPE = 84033545  # 0x05024009
ERR_SEQUENCE_REUSED = 84033544

NOT_PRINTING = ("IDLE", "FINISH", "FAILED")
ACTIVE = ("PREPARE", "RUNNING", "SLICING")

# push_status keys the hub keeps; everything else in a report is dropped on arrival so a
# printer's state costs well under 1 KB of RAM whatever its report size.
_SCALARS = (
    "gcode_state",
    "mc_percent",
    "mc_remaining_time",
    "layer_num",
    "total_layer_num",
    "subtask_name",
    "gcode_file",
    "nozzle_temper",
    "nozzle_target_temper",
    "bed_temper",
    "bed_target_temper",
    "chamber_temper",
    "spd_lvl",
    "print_error",
    "wifi_signal",
    "stg_cur",
)


def _int(v):
    # Bambu sends numbers as ints, floats or strings ("-53dBm", "2"); anything else is unknown.
    if v is None or isinstance(v, bool):
        return None
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str):
        s = v.strip()
        if s.endswith("dBm"):
            s = s[:-3]
        try:
            return int(s)
        except ValueError:
            try:
                return int(float(s))
            except ValueError:
                return None
    return None


def _temp(v):
    if isinstance(v, bool):
        return None
    if isinstance(v, (int, float)):
        return round(float(v), 1)
    if isinstance(v, str):
        try:
            return round(float(v), 1)
        except ValueError:
            return None
    return None


def _trays(ams, vt_tray):
    trays = []
    units = ams.get("ams") if isinstance(ams, dict) else None
    if isinstance(units, list):
        for unit in units:
            if not isinstance(unit, dict):
                continue
            uid = _int(unit.get("id")) or 0
            for tray in unit.get("tray") or ():
                if not isinstance(tray, dict):
                    continue
                tid = _int(tray.get("id"))
                if tid is None:
                    continue
                trays.append(_tray(uid * 4 + tid, tray))
    if isinstance(vt_tray, dict) and vt_tray.get("tray_type"):
        trays.append(_tray(254, vt_tray))
    return trays


def _tray(tid, tray):
    remain = _int(tray.get("remain"))
    return {
        "id": tid,
        "type": str(tray.get("tray_type") or ""),
        "color": str(tray.get("tray_color") or ""),
        "remain": remain if remain is not None and remain >= 0 else None,
    }


def merge_report(raw, report):
    """Merge one `print` report (full or delta) into `raw`, keeping only the keys we use."""
    for k in _SCALARS:
        if k in report:
            raw[k] = report[k]
    if "hms" in report and isinstance(report["hms"], list):
        hms = []
        for h in report["hms"]:
            if isinstance(h, dict):
                hms.append({"attr": _int(h.get("attr")) or 0, "code": _int(h.get("code")) or 0})
        raw["hms"] = hms
    ams = report.get("ams")
    if isinstance(ams, dict) and "ams" in ams or "vt_tray" in report:
        old = raw.get("_trays") or []
        trays = _trays(
            ams if isinstance(ams, dict) and "ams" in ams else None, report.get("vt_tray")
        )
        if not (isinstance(ams, dict) and "ams" in ams):
            trays = [t for t in old if t["id"] != 254] + trays  # vt_tray alone changed
        elif "vt_tray" not in report:
            trays += [t for t in old if t["id"] == 254]
        raw["_trays"] = trays


def state_of(gcode_state, print_error):
    """The spec's printer state for a Bambu gcode_state (None when unknown)."""
    if gcode_state in ACTIVE:
        return "printing"
    if gcode_state == "PAUSE":
        return "paused"
    if gcode_state == "FAILED":
        err = _int(print_error) or 0
        return "error" if err and err != CANCEL_ERROR else "idle"
    if gcode_state in ("IDLE", "FINISH"):
        return "idle"
    return None


def normalise(raw, connected, error=None):
    """The docs/protocol.md printer_status map for the merged raw state."""
    # error is always present ("" when fine): a key absent means "unchanged" to the cloud.
    st = {"connected": connected, "error": "" if connected else (error or "not connected")}
    if not connected:
        st["state"] = "offline"
    gs = raw.get("gcode_state")
    if isinstance(gs, str):
        st["gcode_state"] = gs
        if connected:
            s = state_of(gs, raw.get("print_error"))
            if s:
                st["state"] = s
    for src, dst in (
        ("mc_percent", "progress"),
        ("mc_remaining_time", "remaining_minutes"),
        ("layer_num", "current_layer"),
        ("total_layer_num", "total_layers"),
        ("spd_lvl", "speed_level"),
        ("print_error", "print_error"),
        ("wifi_signal", "wifi_signal"),
    ):
        v = _int(raw.get(src))
        if v is not None:
            st[dst] = v
    if "progress" in st:
        st["progress"] = max(0, min(100, st["progress"]))
    for src, dst in (
        ("nozzle_temper", "nozzle_temp"),
        ("nozzle_target_temper", "nozzle_target"),
        ("bed_temper", "bed_temp"),
        ("bed_target_temper", "bed_target"),
        ("chamber_temper", "chamber_temp"),
    ):
        v = _temp(raw.get(src))
        if v is not None:
            st[dst] = v
    for src, dst in (("subtask_name", "job_name"), ("gcode_file", "gcode_file")):
        v = raw.get(src)
        if isinstance(v, str):
            st[dst] = v
    if "hms" in raw:
        st["hms"] = raw["hms"]
    if "_trays" in raw:
        st["ams"] = raw["_trays"]
    return st


def ack_error(ack):
    """Why a command ack is a refusal (str), or None when it is a success or says nothing."""
    err = _int(ack.get("err_code"))
    if err == ERR_NEEDS_DEVELOPER_MODE or err == ERR_BAD_SIGNATURE_ENVELOPE:
        return (
            "printer rejected an unsigned command: enable LAN-only mode and Developer Mode "
            "on the printer (err_code " + str(err) + ")"
        )
    if err == ERR_SEQUENCE_REUSED:
        return "printer rejected a reused sequence_id (err_code " + str(err) + ")"
    result = ack.get("result")
    if isinstance(result, str) and result.lower() in ("fail", "failed", "error"):
        reason = ack.get("reason")
        return "printer refused: " + (str(reason) if reason else "no reason given")
    if err:
        return "printer refused with err_code " + str(err)
    return None
