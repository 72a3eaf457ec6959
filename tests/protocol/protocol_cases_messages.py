"""Catalogue and validate() cases shared by CPython and MicroPython."""

from protocol_examples import EXAMPLES, full_printer_status
from protocol_vectorlib import same

from protocol import InvalidMessage, ProtocolError
from protocol.codec import packb, unpackb
from protocol.messages import (
    CLOUD_TO_HUB,
    DASHBOARD,
    DASHBOARD_TO_SERVER,
    HUB_LINK,
    HUB_TO_CLOUD,
    MAX_DASHBOARD_FRAME,
    MAX_HUB_FRAME,
    SERVER_TO_DASHBOARD,
    STATUS_KEYS,
    build,
    catalogue,
    message_types,
    validate,
)

_DIRECTIONS = (HUB_TO_CLOUD, CLOUD_TO_HUB, DASHBOARD_TO_SERVER, SERVER_TO_DASHBOARD)
_LINK_OF = {
    HUB_TO_CLOUD: HUB_LINK,
    CLOUD_TO_HUB: HUB_LINK,
    DASHBOARD_TO_SERVER: DASHBOARD,
    SERVER_TO_DASHBOARD: DASHBOARD,
}
# Values of every wire type: for each field, the ones its spec refuses must be named errors.
_CANDIDATES = (None, "s", "", 7, -7, 7.5, True, b"b", [], [1], {}, {"k": 1})


def _copy(value):
    if type(value) is dict:
        return {k: _copy(v) for k, v in value.items()}
    if type(value) is list:
        return [_copy(v) for v in value]
    return value


def expect_invalid(msg, direction, field, problem=None):
    """validate() must raise InvalidMessage naming exactly `field`."""
    try:
        validate(msg, direction)
    except InvalidMessage as exc:
        assert exc.field == field, f"expected {field}, got {exc}"
        assert str(exc).startswith(field + ": "), str(exc)
        if problem is not None:
            assert problem in exc.problem, str(exc)
        return exc
    raise AssertionError(f"accepted invalid {field} ({direction})")


def case_status_keys_match_the_spec():
    status = catalogue(HUB_TO_CLOUD)["printer_status"].required[1][1]
    assert tuple(name for name, _ in status.optional) == STATUS_KEYS
    assert not status.required


def case_catalogues_are_built_on_demand():
    hub = catalogue(CLOUD_TO_HUB)
    assert catalogue(CLOUD_TO_HUB) is hub
    assert set(catalogue(HUB_LINK)) == set(hub) | set(catalogue(HUB_TO_CLOUD))
    try:
        catalogue("sideways")
    except ValueError:
        pass
    else:
        raise AssertionError("unknown direction accepted")


def case_limits():
    assert MAX_HUB_FRAME == 65536
    assert MAX_DASHBOARD_FRAME == 1048576


def case_examples_cover_the_catalogue():
    for direction in _DIRECTIONS:
        names = sorted(m["type"] for m in EXAMPLES[direction])
        assert names == sorted(message_types(direction)), direction
    assert len(message_types(HUB_LINK)) == len(EXAMPLES[HUB_TO_CLOUD]) + len(EXAMPLES[CLOUD_TO_HUB])


def case_examples_validate_and_round_trip():
    for direction in _DIRECTIONS:
        for example in EXAMPLES[direction]:
            msg = _copy(example)
            assert validate(msg, direction) is msg
            assert validate(_copy(example), _LINK_OF[direction])["type"] == example["type"]
            back = unpackb(packb(msg))
            assert same(validate(back, direction), msg), example["type"]


def case_wrong_direction_is_refused():
    print_command = _copy(EXAMPLES[CLOUD_TO_HUB][4])
    expect_invalid(print_command, HUB_TO_CLOUD, "type", "unknown message type")
    expect_invalid({"type": "hub_hello"}, CLOUD_TO_HUB, "type")
    expect_invalid({"type": "auth", "token": "t"}, HUB_LINK, "type")
    expect_invalid({"type": "ping"}, SERVER_TO_DASHBOARD, "type")


def case_missing_required_fields_are_named():
    checked = 0
    for direction in _DIRECTIONS:
        for example in EXAMPLES[direction]:
            spec = catalogue(direction)[example["type"]]
            for field, _ in spec.required:
                msg = _copy(example)
                del msg[field]
                expect_invalid(msg, direction, example["type"] + "." + field, "missing")
                checked += 1
    assert checked > 60, checked


def case_wrong_types_are_named():
    checked = 0
    for direction in _DIRECTIONS:
        for example in EXAMPLES[direction]:
            spec = catalogue(direction)[example["type"]]
            for field, _ in spec.required + spec.optional:
                if field not in example:
                    continue
                path = example["type"] + "." + field
                refused = 0
                for bad in _CANDIDATES:
                    msg = _copy(example)
                    msg[field] = bad
                    try:
                        validate(msg, direction)
                    except InvalidMessage as exc:
                        refused += 1
                        inside = exc.field.startswith(path + "[") or exc.field.startswith(
                            path + "."
                        )
                        assert exc.field == path or inside, str(exc)
                assert refused >= 4, path
                checked += 1
    assert checked > 100, checked


def case_error_text_names_the_field():
    msg = _copy(EXAMPLES[CLOUD_TO_HUB][4])
    msg["file_size"] = "5242880"
    exc = expect_invalid(msg, CLOUD_TO_HUB, "print_command.file_size")
    assert str(exc) == "print_command.file_size: expected int", str(exc)
    assert isinstance(exc, ProtocolError) and isinstance(exc, ValueError)
    assert exc.close_code == 1007


def case_nested_fields_are_named():
    status = full_printer_status()
    status["status"]["ams"][1]["id"] = "1"
    expect_invalid(status, HUB_TO_CLOUD, "printer_status.status.ams[1].id", "expected int")
    status = full_printer_status()
    del status["status"]["hms"][0]["code"]
    expect_invalid(status, HUB_TO_CLOUD, "printer_status.status.hms[0].code", "missing")
    status = full_printer_status()
    status["status"]["state"] = "sleeping"
    expect_invalid(status, HUB_TO_CLOUD, "printer_status.status.state", "one of")
    status = full_printer_status()
    status["status"]["progress"] = 100.5
    expect_invalid(status, HUB_TO_CLOUD, "printer_status.status.progress", "<= 100")
    status["status"]["progress"] = float("nan")
    expect_invalid(status, HUB_TO_CLOUD, "printer_status.status.progress", "NaN")
    cmd = _copy(EXAMPLES[CLOUD_TO_HUB][4])
    cmd["options"]["ams_mapping"][2] = "3"
    expect_invalid(cmd, CLOUD_TO_HUB, "print_command.options.ams_mapping[2]", "expected int")
    found = _copy(EXAMPLES[HUB_TO_CLOUD][5])
    del found["printers"][0]["ip"]
    expect_invalid(found, HUB_TO_CLOUD, "printer_discovered.printers[0].ip", "missing")
    ack = _copy(EXAMPLES[HUB_TO_CLOUD][3])
    ack["error"]["code"] = "exploded"
    expect_invalid(ack, HUB_TO_CLOUD, "command_ack.error.code", "one of")
    cfg = _copy(EXAMPLES[CLOUD_TO_HUB][3])
    cfg["printer"]["mqtt_port"] = 70000
    expect_invalid(cfg, CLOUD_TO_HUB, "configure_printer.printer.mqtt_port", "<= 65535")
    cfg["printer"]["mqtt_port"] = 8883
    cfg["printer"]["connection_type"] = "prusa"
    expect_invalid(cfg, CLOUD_TO_HUB, "configure_printer.printer.connection_type", "bambu")


def case_status_as_the_bambu_driver_sends_it():
    # firmware/drivers/bambu_status.py: unknown remain is nil, empty type/colour "", error "".
    status = {
        "connected": True,
        "error": "",
        "state": "idle",
        "gcode_state": "SLICING",
        "ams": [{"id": 0, "type": "", "color": "", "remain": None}, {"id": 254, "type": "PLA"}],
        "hms": [],
    }
    assert validate({"type": "printer_status", "printer_id": "p", "status": status}, HUB_TO_CLOUD)
    status["ams"][0]["remain"] = 101
    path = "printer_status.status.ams[0].remain"
    expect_invalid(
        {"type": "printer_status", "printer_id": "p", "status": status},
        HUB_TO_CLOUD,
        path,
        "<= 100",
    )


def case_status_keys_are_all_optional():
    assert validate({"type": "printer_status", "printer_id": "p", "status": {}})
    msg = {"type": "printer_status", "printer_id": "p", "status": {"connected": False}}
    msg["status"]["error"] = "mqtt: connection refused"
    assert validate(msg, HUB_TO_CLOUD) is msg
    expect_invalid(
        {"type": "printer_status", "printer_id": "p", "status": "idle"},
        HUB_LINK,
        "printer_status.status",
    )


def case_scalar_strictness():
    hello = _copy(EXAMPLES[HUB_TO_CLOUD][0])
    hello["ts"] = True  # bool is not an int
    expect_invalid(hello, HUB_TO_CLOUD, "hub_hello.ts", "expected int")
    hello["ts"] = 1764424800000.0  # float is not an int
    expect_invalid(hello, HUB_TO_CLOUD, "hub_hello.ts", "expected int")
    hello = _copy(EXAMPLES[HUB_TO_CLOUD][0])
    hello["mac"] = b"\x00" * 31
    expect_invalid(hello, HUB_TO_CLOUD, "hub_hello.mac", "32 bytes")
    hello["mac"] = "00" * 32
    expect_invalid(hello, HUB_TO_CLOUD, "hub_hello.mac", "expected bin")
    hello = _copy(EXAMPLES[HUB_TO_CLOUD][0])
    hello["hub_id"] = ""
    expect_invalid(hello, HUB_TO_CLOUD, "hub_hello.hub_id", "empty")
    challenge = _copy(EXAMPLES[CLOUD_TO_HUB][0])
    challenge["nonce"] = b"\x00" * 15
    expect_invalid(challenge, CLOUD_TO_HUB, "auth_challenge.nonce", "16 bytes")
    ack = _copy(EXAMPLES[HUB_TO_CLOUD][3])
    ack["success"] = 1
    expect_invalid(ack, HUB_TO_CLOUD, "command_ack.success", "expected bool")
    event = _copy(EXAMPLES[HUB_TO_CLOUD][4])
    event["seq"] = 0
    expect_invalid(event, HUB_TO_CLOUD, "printer_event.seq", ">= 1")
    event["seq"] = 7
    event["event"] = "job_exploded"
    expect_invalid(event, HUB_TO_CLOUD, "printer_event.event", "one of")
    ota = _copy(EXAMPLES[CLOUD_TO_HUB][7])
    ota["sha256"] = "zz" * 32
    expect_invalid(ota, CLOUD_TO_HUB, "ota_update.sha256", "hex")
    ota["sha256"] = "ab" * 31
    expect_invalid(ota, CLOUD_TO_HUB, "ota_update.sha256", "64 hex")
    ota = _copy(EXAMPLES[CLOUD_TO_HUB][7])
    ota["signature"] = b"\x00" * 63
    expect_invalid(ota, CLOUD_TO_HUB, "ota_update.signature", "64 bytes")
    progress = _copy(EXAMPLES[HUB_TO_CLOUD][2])
    progress["bytes_sent"] = -1
    expect_invalid(progress, HUB_TO_CLOUD, "file_progress.bytes_sent", ">= 0")


def case_message_shape_errors():
    expect_invalid([1, 2], HUB_LINK, "message", "expected map")
    expect_invalid(b"x", HUB_LINK, "message")
    expect_invalid({"printer_id": "p"}, HUB_LINK, "type", "missing")
    expect_invalid({"type": 5}, HUB_LINK, "type")
    expect_invalid({"type": "nonsense"}, HUB_LINK, "type", "unknown message type")
    try:
        validate({"type": "ping"}, "sideways")
    except ValueError as exc:
        assert not isinstance(exc, ProtocolError)
    else:
        raise AssertionError("unknown direction accepted")


def case_extra_fields_are_ignored():
    msg = _copy(EXAMPLES[CLOUD_TO_HUB][8])
    msg["future_field"] = {"anything": [1, 2]}
    assert validate(msg) is msg and msg["future_field"] == {"anything": [1, 2]}
    status = full_printer_status()
    status["status"]["nozzle2_temp"] = "new"
    assert validate(status, HUB_TO_CLOUD) is status


def case_defaults_are_filled():
    cmd = _copy(EXAMPLES[CLOUD_TO_HUB][4])
    del cmd["plate"]
    assert validate(cmd)["plate"] == 1
    cmd["plate"] = 3
    assert validate(cmd)["plate"] == 3
    assert validate({"type": "discover_printers", "command_id": "c"})["duration_s"] == 10
    assert (
        validate({"type": "discover_printers", "command_id": "c", "duration_s": 2})["duration_s"]
        == 2
    )


def case_configure_remove_needs_only_the_id():
    msg = {
        "type": "configure_printer",
        "command_id": "c",
        "action": "remove",
        "printer": {"printer_id": "p"},
    }
    assert validate(msg, CLOUD_TO_HUB) is msg
    msg["printer"] = {}
    expect_invalid(msg, CLOUD_TO_HUB, "configure_printer.printer.printer_id", "missing")
    add = {
        "type": "configure_printer",
        "command_id": "c",
        "action": "add",
        "printer": {"printer_id": "p"},
    }
    expect_invalid(add, CLOUD_TO_HUB, "configure_printer.printer.connection_type", "missing")
    del add["printer"]
    expect_invalid(add, CLOUD_TO_HUB, "configure_printer.printer", "missing")


def case_dashboard_nullable_progress():
    msg = {"type": "printer_status", "printer_id": "p", "status": "idle", "progress": None}
    assert validate(msg, DASHBOARD) is msg
    msg["status"] = "maintenance"
    assert validate(msg, SERVER_TO_DASHBOARD) is msg
    msg["progress"] = "45"
    expect_invalid(msg, DASHBOARD, "printer_status.progress", "number")


def case_build_makes_valid_messages():
    msg = build("event_ack", seq=5)
    assert msg == {"type": "event_ack", "seq": 5}
    assert build("pong", DASHBOARD) == {"type": "pong"}
    try:
        build("event_ack", seq="5")
    except InvalidMessage as exc:
        assert exc.field == "event_ack.seq"
    else:
        raise AssertionError("build accepted a bad field")
