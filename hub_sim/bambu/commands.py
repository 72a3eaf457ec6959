"""Requests on `device/<serial>/request`: parse, check, act on the printer and acknowledge."""

from __future__ import annotations

import asyncio
import json
import logging
import re
from typing import TYPE_CHECKING

from hub_sim.bambu.models import version_modules
from hub_sim.bambu.sdcard import PrintStartError

if TYPE_CHECKING:
    from hub_sim.bambu.printer import SimulatedBambuPrinter

log = logging.getLogger(__name__)

# "mqtt message verify failed" (0x05024007): control command without the signature newer firmware
# requires unless LAN-only + Developer Mode is on (bambu-protocol.md §1.2).
ERR_VERIFY_FAILED = 84033543

_LIGHT_NODES = ("chamber_light", "work_light", "chamber_light2", "heatbed_light")
_LIGHT_MODES = ("on", "off", "flashing")
_FAN_NODES = {"1": "cooling_fan_speed", "2": "big_fan1_speed", "3": "big_fan2_speed"}


class CommandHandler:
    """Dispatches each top-level family of a request to the printer (several may come at once)."""

    def __init__(self, printer: SimulatedBambuPrinter):
        self.printer = printer

    async def handle(self, raw: bytes) -> None:
        """Handle one published request payload; malformed input is logged and ignored."""
        try:
            doc = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            log.info("%s: ignoring non-JSON request", self.printer.serial)
            return
        if not isinstance(doc, dict):
            return
        for family, body in doc.items():
            if not isinstance(body, dict):
                continue
            method = getattr(self, f"_family_{family}", None)
            if method is None:
                continue
            try:
                await method(body)
            except Exception:  # one bad command must not take the printer down
                log.exception("%s: error handling %s", self.printer.serial, family)

    # ----- families

    async def _family_pushing(self, body: dict) -> None:
        command = body.get("command")
        if command == "pushall":
            await self.printer.push_full()
        elif command == "start":
            self.printer.reporting_enabled = True
            await self.printer.push_full()
        elif command == "stop":
            self.printer.reporting_enabled = False

    async def _family_info(self, body: dict) -> None:
        if body.get("command") == "get_version":
            p = self.printer
            await p.publish(
                {
                    "info": {
                        "command": "get_version",
                        "sequence_id": _seq(body),
                        "module": version_modules(p.model, p.serial),
                        "result": "success",
                        "reason": "",
                    }
                }
            )

    async def _family_upgrade(self, body: dict) -> None:
        if body.get("command") == "get_history":
            await self.printer.publish(
                {
                    "upgrade": {
                        "command": "get_history",
                        "sequence_id": _seq(body),
                        "firmware_optional": [],
                        "result": "success",
                        "reason": "",
                    }
                }
            )

    async def _family_system(self, body: dict) -> None:
        p = self.printer
        command = body.get("command")
        if command is None and body.get("led_mode") in _LIGHT_MODES:
            # bambulabs-api's turn_light_on/off sends only {"led_mode": ...}; treated as the
            # chamber light (unverified on real printers, bambu-protocol.md §1.9).
            body = {**body, "command": "ledctrl", "led_node": "chamber_light"}
            command = "ledctrl"
        if command == "ledctrl":
            node, mode = body.get("led_node"), body.get("led_mode")
            if node not in _LIGHT_NODES or mode not in _LIGHT_MODES:
                await p.publish({"system": {**body, "result": "fail", "reason": "invalid param"}})
                return
            lights = [dict(x) for x in p.state["lights_report"]]
            for light in lights:
                if light["node"] == node:
                    light["mode"] = mode
                    break
            else:
                lights.append({"node": node, "mode": mode})
            p.state["lights_report"] = lights
            await p.publish({"system": {**body, "result": "success", "reason": ""}})
            await p.push_changes()
        elif command == "get_access_code":
            await p.publish(
                {
                    "system": {
                        "command": "get_access_code",
                        "sequence_id": _seq(body),
                        "access_code": p.access_code,
                        "result": "success",
                    }
                }
            )
        elif command == "reboot":
            await p.publish({"system": {**body, "result": "success", "reason": ""}})
            p.spawn(p.reboot())
        elif command is not None:
            await p.publish({"system": {**body, "result": "success", "reason": ""}})

    async def _family_camera(self, body: dict) -> None:
        p = self.printer
        command = body.get("command")
        control = body.get("control")
        if command in ("ipcam_record_set", "ipcam_timelapse") and control in ("enable", "disable"):
            key = "ipcam_record" if command == "ipcam_record_set" else "timelapse"
            p.state["ipcam"] = {**p.state["ipcam"], key: control}
            await p.publish({"camera": {**body, "result": "success", "reason": ""}})
            await p.push_changes()
        elif command is not None:
            await p.publish({"camera": {**body, "result": "success", "reason": ""}})

    async def _family_xcam(self, body: dict) -> None:
        if body.get("command"):
            await self.printer.publish({"xcam": {**body, "result": "success", "reason": ""}})

    async def _family_print(self, body: dict) -> None:
        p = self.printer
        command = body.get("command")
        if not isinstance(command, str) or command == "push_status":
            return
        if not p.developer_mode:
            await self._ack(body, False, "mqtt message verify failed", ERR_VERIFY_FAILED)
            return
        rejection = p.faults.take_command_rejection()
        if rejection is not None:
            await self._ack(body, False, rejection["reason"], rejection["err_code"])
            return
        handler = getattr(self, f"_print_{command}", None)
        if handler is None:
            # Commands we do not model (AMS, calibration, options) are accepted and echoed.
            await self._ack(body, True)
            return
        await handler(body)

    # ----- print commands

    async def _print_project_file(self, body: dict) -> None:
        p = self.printer
        if not p.machine.can_start():
            await self._ack(body, False, f"printer is busy ({p.machine.gcode_state})")
            return
        url = body.get("url") if isinstance(body.get("url"), str) else ""
        file_name = body.get("file") if isinstance(body.get("file"), str) else ""
        param = body.get("param") if isinstance(body.get("param"), str) else ""
        md5 = body.get("md5") if isinstance(body.get("md5"), str) else ""
        name = body.get("subtask_name") if isinstance(body.get("subtask_name"), str) else ""
        if not name:
            base = (file_name or url).rsplit("/", 1)[-1]
            name = re.sub(r"(\.gcode)?\.3mf$", "", base)
        leveling = body.get("bed_leveling", body.get("bed_levelling", True))
        await self._ack(body, True)
        # gcode_file as printers show it: the 3MF name on P1/A1, the unpacked plate on X1
        # (HAB models.py comments; the X1 RAM disk path is not reachable over FTPS).
        shown = file_name or url.rsplit("/", 1)[-1]
        if not p.model.delta_reports:
            shown = "/data/" + param.lstrip("/")
        token = p.machine.begin_prepare(name, shown)
        await p.push_changes()
        try:
            job = await asyncio.to_thread(p.sdcard.inspect_job, url, file_name, param, md5)
        except PrintStartError as exc:
            log.info("%s: project_file failed: %s", p.serial, exc)
            p.machine.fail_start(token, exc.print_error)
            await p.push_changes()
            return
        p.machine.start_job(token, job, bed_leveling=bool(leveling), tray=_first_tray(body))
        await p.push_changes()

    async def _print_gcode_file(self, body: dict) -> None:
        """Print a bare G-code file by path, e.g. {"param": "/sdcard/part.gcode"} (OBA)."""
        p = self.printer
        if not p.machine.can_start():
            await self._ack(body, False, f"printer is busy ({p.machine.gcode_state})")
            return
        param = body.get("param") if isinstance(body.get("param"), str) else ""
        await self._ack(body, True)
        token = p.machine.begin_prepare(param.rsplit("/", 1)[-1].removesuffix(".gcode"), param)
        await p.push_changes()
        try:
            job = await asyncio.to_thread(p.sdcard.inspect_gcode, param)
        except PrintStartError as exc:
            p.machine.fail_start(token, exc.print_error)
            await p.push_changes()
            return
        p.machine.start_job(token, job, bed_leveling=False)
        await p.push_changes()

    async def _print_pause(self, body: dict) -> None:
        p = self.printer
        if p.machine.gcode_state != "RUNNING":
            await self._ack(body, False, f"cannot pause in {p.machine.gcode_state}")
            return
        p.machine.pause()
        await self._ack(body, True)
        await p.push_changes()

    async def _print_resume(self, body: dict) -> None:
        p = self.printer
        if p.machine.gcode_state != "PAUSE":
            await self._ack(body, False, f"cannot resume in {p.machine.gcode_state}")
            return
        p.machine.resume()
        await self._ack(body, True)
        await p.push_changes()

    async def _print_stop(self, body: dict) -> None:
        p = self.printer
        if p.machine.gcode_state not in ("PREPARE", "RUNNING", "PAUSE"):
            await self._ack(body, False, f"nothing to stop in {p.machine.gcode_state}")
            return
        p.machine.stop()
        await self._ack(body, True)
        await p.push_changes()

    async def _print_print_speed(self, body: dict) -> None:
        try:
            level = int(body.get("param"))
        except (TypeError, ValueError):
            level = 0
        if level not in (1, 2, 3, 4):
            await self._ack(body, False, "invalid speed level")
            return
        self.printer.machine.set_speed_level(level)
        await self._ack(body, True)
        await self.printer.push_changes()

    async def _print_gcode_line(self, body: dict) -> None:
        param = body.get("param")
        if not isinstance(param, str):
            # bambulabs-api's set_auto_step_recovery sends gcode_line without param.
            await self._ack(body, True)
            return
        busy = self.printer.machine.gcode_state in ("PREPARE", "RUNNING")
        for line in param.splitlines():
            self._apply_gcode(line.split(";", 1)[0].strip().upper(), busy)
        # Shape captured from a P2S (open-bamboo-networking 06.02-mqtt.md).
        reply = {**body, "result": "SUCCESS", "reason": "SUCCESS", "err_code": 0}
        reply["is_from_mqtt"] = True
        await self.printer.publish({"print": reply})
        await self.printer.push_changes()

    async def _print_skip_objects(self, body: dict) -> None:
        objs = body.get("obj_list")
        if not isinstance(objs, list) or not all(isinstance(o, int) for o in objs):
            await self._ack(body, False, "invalid obj_list")
            return
        st = self.printer.state
        st["s_obj"] = sorted(set(st["s_obj"]) | set(objs))
        await self._ack(body, True)
        await self.printer.push_changes()

    # ----- helpers

    def _apply_gcode(self, line: str, busy: bool) -> None:
        """Reflect the G-code a client sends in the report (temperatures and fans)."""
        words = {w[0]: w[1:] for w in line.split() if w}
        code = line.split()[0] if line else ""
        st = self.printer.state

        def num(letter, default=0.0):
            try:
                return float(words.get(letter, default))
            except ValueError:
                return default

        if code in ("M104", "M109"):
            st["nozzle_target_temper"] = int(num("S"))
        elif code in ("M140", "M190"):
            st["bed_target_temper"] = int(num("S"))
        elif code == "M106":
            fan = str(int(num("P", 1)))
            speed = max(0, min(255, int(num("S"))))
            if fan in _FAN_NODES:
                # Reports carry fans as 0-15 steps (strings); fan_gear packs 0-255 per fan.
                st[_FAN_NODES[fan]] = str(round(speed / 255 * 15))
                shift = {"1": 0, "2": 8, "3": 16}[fan]
                st["fan_gear"] = (st["fan_gear"] & ~(0xFF << shift)) | (speed << shift)
        elif code == "M107":
            st["cooling_fan_speed"] = "0"
            st["fan_gear"] = st["fan_gear"] & ~0xFF

    async def _ack(self, body: dict, ok: bool, reason: str = "", err_code: int | None = None):
        reply = dict(body)
        reply["result"] = "success" if ok else "fail"
        reply["reason"] = reason
        if ok:
            reply["err_code"] = 0
        elif err_code is not None:
            reply["err_code"] = err_code
        await self.printer.publish({"print": reply})


def _first_tray(body: dict) -> int:
    """The tray the job's first filament comes from: ams_mapping[0] when the AMS is used
    (list form, or the legacy string form "0,1"), else the external spool (254)."""
    if not body.get("use_ams"):
        return 254
    mapping = body.get("ams_mapping")
    if isinstance(mapping, str):
        mapping = [m for m in mapping.replace(" ", "").split(",") if m]
    try:
        tray = int(mapping[0])
    except (TypeError, ValueError, IndexError):
        return 0
    return tray if 0 <= tray < 16 or tray in (254, 255) else 0


def _seq(body: dict):
    """Echo the request's sequence_id as given (string or int); printers default to "0"."""
    return body.get("sequence_id", "0")
