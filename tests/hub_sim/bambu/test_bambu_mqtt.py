"""MQTT over TLS: authentication, pushall/get_version, reports and commands as clients see them."""

from __future__ import annotations

import asyncio
import json
import socket
import ssl

from cryptography import x509
from cryptography.x509.oid import NameOID

from hub_sim.bambu import SimulatedBambuPrinter
from hub_sim.bambu.commands import ERR_VERIFY_FAILED
from hub_sim.bambu.machine import ERR_CANCELLED
from hub_sim.bambu.sdcard import ERR_DOWNLOAD, ERR_FILE_NOT_AVAILABLE
from hub_sim.threemf import write_3mf
from tests.hub_sim.mqtt_client import (
    ACCESS_CODE,
    SERIAL,
    ReportClient,
    is_full_report,
    is_print_ack,
)

PUSHALL = {"pushing": {"sequence_id": "0", "command": "pushall"}}


def project_file(name, **extra):
    """project_file as bambulabs-api sends it."""
    body = {
        "command": "project_file",
        "param": "Metadata/plate_1.gcode",
        "file": name,
        "bed_leveling": True,
        "bed_type": "textured_plate",
        "flow_cali": True,
        "vibration_cali": True,
        "url": f"ftp:///{name}",
        "layer_inspect": False,
        "sequence_id": "10000000",
        "use_ams": True,
        "ams_mapping": [0],
        "skip_objects": None,
    }
    body.update(extra)
    return {"print": body}


async def test_certificate_has_serial_as_common_name(printer):
    ctx = ssl.create_default_context(cafile=str(printer.ca_file))
    ctx.check_hostname = False

    def handshake():
        raw = socket.create_connection(("127.0.0.1", printer.mqtt_port), timeout=10)
        with ctx.wrap_socket(raw, server_hostname=SERIAL) as tls:
            return tls.getpeercert(binary_form=True), tls.version()

    der, version = await asyncio.to_thread(handshake)
    cert = x509.load_der_x509_certificate(der)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == SERIAL
    assert version == "TLSv1.2"


async def test_wrong_access_code_is_refused_not_authorized(printer):
    bad = ReportClient(printer, password="00000000")
    try:
        # CONNACK return code 5 on the wire; paho 2 names it with the MQTT 5 equivalent.
        rc = await bad.connected()
        assert rc.is_failure and str(rc) == "Not authorized"
    finally:
        bad.close()


async def test_wrong_username_is_refused(printer):
    bad = ReportClient(printer, username="admin")
    try:
        rc = await bad.connected()
        assert rc.is_failure and str(rc) == "Not authorized"
    finally:
        bad.close()


async def test_verified_tls_with_generated_ca(printer):
    c = ReportClient(printer, ca=printer.ca_file)
    try:
        assert await c.connected() == 0
        c.send(PUSHALL)
        await c.next_message(is_full_report)
    finally:
        c.close()


async def test_pushall_answers_full_report_with_real_types(client, printer):
    client.send(PUSHALL)
    doc = await client.next_message(is_full_report)
    p = doc["print"]
    assert p["gcode_state"] == "IDLE"
    assert isinstance(p["sequence_id"], str)
    for key in (
        "cooling_fan_speed",
        "big_fan1_speed",
        "gcode_file_prepare_percent",
        "mc_print_stage",
    ):
        assert isinstance(p[key], str)
    assert int(p["wifi_signal"].replace("dBm", "")) < 0
    assert p["nozzle_type"] in ("stainless_steel", "hardened_steel")
    assert p["net"]["info"][0]["ip"] == 16777343  # 127.0.0.1, little-endian
    tray = p["ams"]["ams"][0]["tray"][0]
    assert tray["tray_type"] == "PLA" and len(tray["tray_color"]) == 8
    assert p["lights_report"][0]["node"] == "chamber_light"
    assert p["hms"] == [] and p["print_error"] == 0


async def test_combined_request_gets_each_family_answered_separately(client):
    # bambulabs-api's connect message: three families in one object.
    client.send(
        {
            "pushing": {"command": "pushall"},
            "info": {"command": "get_version"},
            "upgrade": {"command": "get_history"},
        }
    )
    got = {}
    while len(got) < 3:
        doc = await client.next_message(lambda d: True)
        assert len(doc) == 1, "pybambu needs print and info in separate messages"
        got.update(doc)
    ota = next(m for m in got["info"]["module"] if m["name"] == "ota")
    assert ota["product_name"] == "Bambu Lab P1S" and ota["sw_ver"]
    assert got["upgrade"]["result"] == "success"


async def test_p1_sends_deltas_x1_sends_full_objects(tmp_path):
    for model, expect_msg in (("P1S", 1), ("X1C", 0)):
        async with SimulatedBambuPrinter(
            "00M00A000000001",
            ACCESS_CODE,
            model=model,
            mqtt_port=0,
            ftps_port=None,
            camera_port=None,
            report_interval=0.1,
            workdir=tmp_path / model,
        ) as p:
            c = ReportClient(p)
            try:
                assert await c.connected() == 0
                doc = await c.next_message(
                    lambda d: d.get("print", {}).get("command") == "push_status"
                )
                assert doc["print"]["msg"] == expect_msg
                if expect_msg == 1:
                    assert "ams" not in doc["print"]
                else:
                    assert "ams" in doc["print"]
            finally:
                c.close()


async def test_malformed_requests_are_ignored_and_printer_keeps_answering(client):
    client.send(b"{not json")
    client.send(b"[1,2,3]")
    client.send({"print": "not an object"})
    client.send({"print": {"command": 42}})
    client.send(PUSHALL)
    await client.next_message(is_full_report)


async def test_full_print_reaches_finish_and_can_start_again(client, printer):
    write_3mf(printer.sd_path / "cube.gcode.3mf", print_time_s=1200, layers=30)
    client.send(project_file("cube.gcode.3mf"))
    ack = await client.next_message(is_print_ack("project_file"))
    assert ack["print"]["result"] == "success" and ack["print"]["sequence_id"] == "10000000"
    seen = set()
    while "FINISH" not in seen:
        doc = await client.next_message(lambda d: "gcode_state" in d.get("print", {}))
        seen.add(doc["print"]["gcode_state"])
    state = client.merged["print"]
    assert {"PREPARE", "RUNNING"} <= seen
    assert state["mc_percent"] == 100 and state["mc_remaining_time"] == 0
    assert state["layer_num"] == state["total_layer_num"] == 30
    assert state["subtask_name"] == "cube"
    # FINISH -> a new print may start without a reboot.
    client.send(project_file("cube.gcode.3mf", sequence_id="10000001"))
    ack = await client.next_message(is_print_ack("project_file"))
    assert ack["print"]["result"] == "success"
    await client.wait_state(lambda s: s.get("gcode_state") == "PREPARE")


async def test_pause_resume_stop_and_cancel_code(client, printer):
    write_3mf(printer.sd_path / "long.3mf", print_time_s=3_600_000, layers=500)
    client.send(project_file("long.3mf"))
    await client.wait_state(
        lambda s: s.get("gcode_state") == "RUNNING" and s.get("layer_num", 0) >= 1
    )
    client.send({"print": {"command": "resume"}})
    ack = await client.next_message(is_print_ack("resume"))
    assert ack["print"]["result"] == "fail"  # not paused
    client.send({"print": {"sequence_id": "7", "command": "pause", "param": ""}})
    ack = await client.next_message(is_print_ack("pause"))
    assert ack["print"]["result"] == "success" and ack["print"]["sequence_id"] == "7"
    state = await client.wait_state(lambda s: s.get("gcode_state") == "PAUSE")
    assert state["stg_cur"] == 16
    layer = printer.state["layer_num"]
    client.send({"print": {"command": "resume"}})
    await client.wait_state(lambda s: s.get("gcode_state") == "RUNNING")
    client.send({"print": {"command": "stop"}})
    await client.next_message(is_print_ack("stop"))
    state = await client.wait_state(lambda s: s.get("gcode_state") == "FAILED")
    assert state["print_error"] == ERR_CANCELLED
    await client.wait_state(lambda s: s.get("print_error") == 0)
    assert printer.state["layer_num"] >= layer


async def test_project_file_refused_while_printing(client, printer):
    write_3mf(printer.sd_path / "long.3mf", print_time_s=3_600_000, layers=500)
    client.send(project_file("long.3mf"))
    await client.wait_state(lambda s: s.get("gcode_state") == "RUNNING")
    client.send(project_file("long.3mf"))
    ack = await client.next_message(is_print_ack("project_file"))
    assert ack["print"]["result"] == "fail"
    assert printer.state["gcode_state"] == "RUNNING"


async def test_missing_file_fails_with_file_not_available(client):
    client.send(project_file("nope.3mf"))
    state = await client.wait_state(lambda s: s.get("gcode_state") == "FAILED")
    assert state["print_error"] == ERR_FILE_NOT_AVAILABLE


async def test_wrong_md5_fails(client, printer):
    info = write_3mf(printer.sd_path / "a.3mf", print_time_s=60, layers=3)
    assert len(info.md5) == 32
    client.send(project_file("a.3mf", md5="0" * 32))
    state = await client.wait_state(lambda s: s.get("gcode_state") == "FAILED")
    assert state["print_error"] == ERR_DOWNLOAD


async def test_right_md5_and_file_url_start(client, printer):
    info = write_3mf(printer.sd_path / "cache" / "b.3mf", print_time_s=60, layers=3)
    client.send(
        project_file(
            "b.3mf", url="file:///sdcard/cache/b.3mf", md5=info.md5.upper(), ams_mapping=[2]
        )
    )
    state = await client.wait_state(lambda s: s.get("gcode_state") == "FINISH")
    assert state["ams"]["tray_now"] == "2"  # the mapped AMS slot


async def test_print_speed_gcode_line_and_lights(client, printer):
    client.send({"print": {"command": "print_speed", "param": "3"}})
    await client.next_message(is_print_ack("print_speed"))
    client.send({"print": {"command": "print_speed", "param": "9"}})
    ack = await client.next_message(is_print_ack("print_speed"))
    assert ack["print"]["result"] == "fail"
    client.send(
        {
            "print": {
                "sequence_id": "0",
                "command": "gcode_line",
                "param": "M140 S60\nM106 P1 S255\n",
            }
        }
    )
    ack = await client.next_message(is_print_ack("gcode_line"))
    assert ack["print"]["result"] == "SUCCESS" and ack["print"]["err_code"] == 0
    client.send(
        {
            "system": {
                "sequence_id": "0",
                "command": "ledctrl",
                "led_node": "chamber_light",
                "led_mode": "on",
                "led_on_time": 500,
                "led_off_time": 500,
                "loop_times": 0,
                "interval_time": 0,
            }
        }
    )
    await client.next_message(lambda d: d.get("system", {}).get("command") == "ledctrl")
    state = await client.wait_state(
        lambda s: (
            s.get("spd_lvl") == 3
            and s.get("bed_target_temper") == 60
            and s.get("cooling_fan_speed") == "15"
            and s.get("lights_report", [{}])[0].get("mode") == "on"
        )
    )
    assert state["spd_mag"] == 124 and state["fan_gear"] & 0xFF == 255


async def test_developer_mode_off_rejects_control_but_reads_work(client, printer):
    printer.set_developer_mode(False)
    client.send({"print": {"sequence_id": "5", "command": "pause"}})
    ack = await client.next_message(is_print_ack("pause"))
    assert ack["print"]["err_code"] == ERR_VERIFY_FAILED and ack["print"]["result"] == "fail"
    client.send(PUSHALL)
    await client.next_message(is_full_report)
    client.send({"info": {"command": "get_version"}})
    await client.next_message(lambda d: "info" in d)


async def test_json_with_newline_payloads_and_no_sequence_id(client):
    # bambulabs-api omits sequence_id; acks still come back.
    client.send({"print": {"command": "stop"}})
    ack = await client.next_message(is_print_ack("stop"))
    assert ack["print"]["result"] == "fail"  # nothing to stop while IDLE
    assert json.dumps(ack)


async def test_qos1_commands_and_ha_style_project_file(client, printer):
    # Bambu Studio sends stop/pause/resume with QoS 1; HA pybambu sends sequence_id as int 0,
    # a file:///sdcard url and the OpenBambuAPI "bed_levelling" spelling may appear too.
    write_3mf(printer.sd_path / "ha.3mf", print_time_s=120, layers=4)
    body = {
        "print": {
            "sequence_id": 0,
            "command": "project_file",
            "param": "Metadata/plate_1.gcode",
            "url": "file:///sdcard/ha.3mf",
            "bed_type": "auto",
            "timelapse": False,
            "bed_levelling": False,
            "flow_cali": False,
            "vibration_cali": False,
            "layer_inspect": False,
            "use_ams": False,
            "ams_mapping": [0],
            "subtask_name": "ha",
            "profile_id": "0",
            "project_id": "0",
            "subtask_id": "0",
            "task_id": "0",
        }
    }
    info = client.client.publish(printer.request_topic, json.dumps(body), qos=1)
    await asyncio.to_thread(info.wait_for_publish, 20)  # PUBACK from the printer
    assert info.is_published()
    ack = await client.next_message(is_print_ack("project_file"))
    assert ack["print"]["sequence_id"] == 0 and ack["print"]["result"] == "success"
    state = await client.wait_state(lambda s: s.get("gcode_state") == "FINISH")
    assert state["subtask_name"] == "ha" and state["gcode_file"] == "ha.3mf"
    assert state["ams"]["tray_now"] == "254"  # external spool when use_ams is off


async def test_pushing_start_after_stop_resumes_reports(client, printer):
    client.send({"pushing": {"sequence_id": "0", "command": "stop"}})
    await asyncio.sleep(0.3)
    assert printer.reporting_enabled is False
    client.send({"pushing": {"sequence_id": "0", "command": "start"}})
    await client.next_message(is_full_report)


async def test_x1_reports_unpacked_plate_as_gcode_file(tmp_path):
    async with SimulatedBambuPrinter(
        "00M00A391800007",
        ACCESS_CODE,
        model="X1C",
        mqtt_port=0,
        ftps_port=None,
        camera_port=None,
        speed=1000,
        report_interval=0.2,
        workdir=tmp_path / "x1",
    ) as p:
        write_3mf(p.sd_path / "x.3mf", print_time_s=60, layers=2, printer_model="X1C")
        c = ReportClient(p)
        try:
            assert await c.connected() == 0
            c.send(project_file("x.3mf"))
            state = await c.wait_state(lambda s: s.get("gcode_state") == "FINISH")
            assert state["gcode_file"] == "/data/Metadata/plate_1.gcode"
            assert state["stg_cur"] == -1
        finally:
            c.close()


async def test_gcode_file_prints_a_bare_gcode(client, printer):
    (printer.sd_path / "part.gcode").write_text(
        "; HEADER_BLOCK_START\n; total estimated time: 1h 2m 3s\n; total layer number: 7\n"
        "; HEADER_BLOCK_END\n; filament_type = PETG\nG28\n"
    )
    client.send(
        {"print": {"sequence_id": "0", "command": "gcode_file", "param": "/sdcard/part.gcode"}}
    )
    await client.next_message(is_print_ack("gcode_file"))
    state = await client.wait_state(lambda s: s.get("gcode_state") == "RUNNING")
    assert state["total_layer_num"] == 7
    assert printer.machine.job.print_time_s == 3723  # 1h 2m 3s from the header
    assert printer.state["bed_target_temper"] == 70  # PETG
    await client.wait_state(lambda s: s.get("gcode_state") == "FINISH")
    client.send({"print": {"command": "gcode_file", "param": "/sdcard/missing.gcode"}})
    state = await client.wait_state(lambda s: s.get("gcode_state") == "FAILED")
    assert state["print_error"] == ERR_FILE_NOT_AVAILABLE


async def test_project_file_with_wrong_types_does_not_break_the_printer(client, printer):
    write_3mf(printer.sd_path / "t.3mf", print_time_s=60, layers=2)
    client.send({"print": {"command": "project_file", "param": 5, "url": ["x"], "subtask_name": 3}})
    state = await client.wait_state(lambda s: s.get("gcode_state") == "FAILED")
    assert state["print_error"] != 0 and isinstance(printer.state["subtask_name"], str)
    client.send(project_file("t.3mf"))
    await client.wait_state(lambda s: s.get("gcode_state") == "FINISH")
