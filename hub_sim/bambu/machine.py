"""The print state machine: IDLE -> PREPARE -> RUNNING -> FINISH/FAILED, on simulated time."""

from __future__ import annotations

import copy
import math
import time

from hub_sim.bambu.models import ModelProfile
from hub_sim.bambu.report import AMBIENT_C
from hub_sim.bambu.sdcard import PrintJobSpec
from hub_sim.threemf import FILAMENT_TEMPS

# print_error sent for a moment after a user stop (HAB models.py: "canceled" = FAILED + this).
ERR_CANCELLED = 50348044  # 0x0300400C
# How many report rounds the cancel code stays set before returning to 0.
CANCEL_CODE_REPORTS = 3

# stg_cur ids (BambuStudio DeviceManager.cpp, bambu-protocol.md §1.7).
STAGE_PRINTING = 0
STAGE_BED_LEVELING = 1
STAGE_HEATBED_PREHEAT = 2
STAGE_HEATING_HOTEND = 7
STAGE_HOMING = 13
STAGE_PAUSED_USER = 16

# Speed levels: spd_lvl -> spd_mag (%); bambu-protocol.md §1.5 (exact % unverified).
SPEED_MAGNITUDE = {1: 50, 2: 100, 3: 124, 4: 166}

# Simulated physics, per simulated second.
_BED_HEAT_C_S = 0.6
_NOZZLE_HEAT_C_S = 3.0
_COOL_C_S = 0.3
_PREPARE_S = 4.0  # reading the 3MF off the card: gcode_file_prepare_percent 0 -> 100
_HOMING_S = 10.0
_LEVELING_S = 60.0


class PrintMachine:
    """Mutates the report `state` dict as a print job advances; driven by `advance(sim_seconds)`."""

    def __init__(self, model: ModelProfile, state: dict):
        self.model = model
        self.state = state
        self.job: PrintJobSpec | None = None
        self.phase = "idle"  # idle|prepare|start|printing|paused|finish|failed
        self._stage_left = 0.0
        self._stages: list[int] = []
        self._printed_s = 0.0
        self._prepare_s = 0.0
        self._cancel_reports_left = 0
        self._tray = 254  # global tray id in use: ams_id * 4 + slot, 254 = external spool
        self._tray_remain_start = 0
        self._phase_before_pause = "printing"
        self._attempt = 0  # bumps on every start and reset; see begin_prepare
        # (layer, hms entry, print_error, pause instead of fail), armed by the fault API.
        self.fail_at_layer: tuple[int, dict, int, bool] | None = None

    # ----- commands

    @property
    def gcode_state(self) -> str:
        """The `gcode_state` currently reported."""
        return self.state["gcode_state"]

    def can_start(self) -> bool:
        """project_file is accepted only when nothing is printing (bambu-protocol.md §7.12)."""
        return self.gcode_state in ("IDLE", "FINISH", "FAILED")

    def begin_prepare(self, subtask_name: str, url_file: str) -> int:
        """The printer accepted project_file and is reading the file (before it is inspected).

        Returns a token; `start_job`/`fail_start` with an older token (the print was stopped or
        the printer rebooted meanwhile) are ignored.
        """
        s = self.state
        self._attempt += 1
        self.job = None
        self.phase = "prepare"
        self._prepare_s = 0.0
        self._printed_s = 0.0
        s.update(
            gcode_state="PREPARE",
            gcode_file_prepare_percent="0",
            print_error=0,
            mc_print_error_code="0",
            hms=[],
            mc_percent=0,
            layer_num=0,
            subtask_name=subtask_name,
            gcode_file=url_file,
            print_type="local",
            mc_print_stage="2",
            s_obj=[],
        )
        return self._attempt

    def _current(self, token: int) -> bool:
        return token == self._attempt and self.phase == "prepare" and self.job is None

    def start_job(
        self, token: int, job: PrintJobSpec, *, bed_leveling: bool, tray: int = 254
    ) -> None:
        """The 3MF was read: heat, home, level, then print its layers."""
        if not self._current(token):
            return
        self.job = job
        self._tray = tray
        bed, nozzle = FILAMENT_TEMPS.get(job.filament_type.upper(), (55, 220))
        self._stages = [STAGE_HEATBED_PREHEAT, STAGE_HOMING]
        if bed_leveling:
            self._stages.append(STAGE_BED_LEVELING)
        self._stages += [STAGE_HEATING_HOTEND, STAGE_PRINTING]
        self.state.update(
            total_layer_num=job.layers,
            mc_remaining_time=math.ceil(job.print_time_s / 60),
            gcode_start_time=str(int(time.time())),
            bed_target_temper=bed,
            nozzle_target_temper=nozzle,
            stg=list(self._stages[:-1]),
        )

    def fail_start(self, token: int, print_error: int) -> None:
        """The file could not be printed: FAILED with the printer's error code."""
        if self._current(token):
            self._to_failed(print_error)

    def pause(self) -> None:
        """RUNNING -> PAUSE (paused by user)."""
        self._phase_before_pause = self.phase
        self.phase = "paused"
        self.state.update(gcode_state="PAUSE", stg_cur=STAGE_PAUSED_USER)

    def resume(self) -> None:
        """PAUSE -> RUNNING where it stopped."""
        self.phase = self._phase_before_pause
        self.state.update(gcode_state="RUNNING", stg_cur=self._current_stage())
        self.state["hms"] = []
        self.state["print_error"] = 0

    def stop(self) -> None:
        """User stop: FAILED with the cancel code for a few reports."""
        self._to_failed(ERR_CANCELLED)
        self._cancel_reports_left = CANCEL_CODE_REPORTS

    def set_speed_level(self, level: int) -> None:
        """print_speed: 1 silent .. 4 ludicrous."""
        self.state.update(spd_lvl=level, spd_mag=SPEED_MAGNITUDE[level])

    def reset(self) -> None:
        """Power cycle: back to IDLE, nothing printing, heaters off."""
        self._attempt += 1
        self.job = None
        self.phase = "idle"
        self.state.update(
            gcode_state="IDLE",
            print_type="idle",
            mc_percent=0,
            mc_remaining_time=0,
            layer_num=0,
            total_layer_num=0,
            gcode_file_prepare_percent="0",
            subtask_name="",
            gcode_file="",
            print_error=0,
            hms=[],
            stg=[],
            stg_cur=self._idle_stage(),
            mc_print_stage="1",
            bed_target_temper=0,
            nozzle_target_temper=0,
            cooling_fan_speed="0",
            fan_gear=0,
        )

    # ----- time

    def report_sent(self) -> None:
        """Called after each periodic report; clears the transient cancel code."""
        if self._cancel_reports_left > 0:
            self._cancel_reports_left -= 1
            if self._cancel_reports_left == 0 and self.state["print_error"] == ERR_CANCELLED:
                self.state["print_error"] = 0

    def advance(self, dt: float) -> None:
        """Move simulated time forward by `dt` seconds (may cross several phases)."""
        self._advance_temperatures(dt)
        while dt > 1e-9:
            if self.phase == "prepare":
                dt = self._advance_prepare(dt)
            elif self.phase == "start":
                dt = self._advance_start(dt)
            elif self.phase == "printing":
                dt = self._advance_printing(dt)
            else:
                break

    def _advance_prepare(self, dt: float) -> float:
        if self.job is None:
            # Still waiting for the 3MF to be inspected; hold at the first percent.
            return 0.0
        used = min(dt, _PREPARE_S - self._prepare_s)
        self._prepare_s += used
        pct = int(100 * self._prepare_s / _PREPARE_S)
        self.state["gcode_file_prepare_percent"] = str(pct)
        if self._prepare_s >= _PREPARE_S:
            self.phase = "start"
            self._stage_left = self._stage_duration(self._stages[0])
            self.state.update(gcode_state="RUNNING", stg_cur=self._stages[0])
            # The filament in use: the mapped AMS slot, or the external spool (254).
            tray = str(self._tray)
            self.state["ams"] = {**self.state["ams"], "tray_now": tray, "tray_tar": tray}
            slot = self._ams_slot()
            self._tray_remain_start = slot["remain"] if slot else 0
            return dt - used
        return 0.0

    def _advance_start(self, dt: float) -> float:
        stage = self._stages[0]
        if stage == STAGE_HEATBED_PREHEAT:
            done = self.state["bed_temper"] >= self.state["bed_target_temper"] - 1
            used = dt if not done else 0.0
        elif stage == STAGE_HEATING_HOTEND:
            done = self.state["nozzle_temper"] >= self.state["nozzle_target_temper"] - 2
            used = dt if not done else 0.0
        else:
            used = min(dt, self._stage_left)
            self._stage_left -= used
            done = self._stage_left <= 1e-9
        if done:
            self._stages.pop(0)
            nxt = self._stages[0]
            self._stage_left = self._stage_duration(nxt)
            self.state["stg_cur"] = nxt
            if nxt == STAGE_PRINTING:
                self.phase = "printing"
                self.state.update(layer_num=1, cooling_fan_speed="15", fan_gear=255)
            return dt - used
        return 0.0

    def _advance_printing(self, dt: float) -> float:
        job = self.job
        rate = self.state["spd_mag"] / 100.0
        needed = (job.print_time_s - self._printed_s) / rate
        used = min(dt, needed)
        self._printed_s = min(job.print_time_s, self._printed_s + used * rate)
        progress = self._printed_s / job.print_time_s
        layer = min(job.layers, int(progress * job.layers) + 1)
        remaining = (job.print_time_s - self._printed_s) / rate
        self.state.update(
            mc_percent=min(99, int(progress * 100)),
            layer_num=layer,
            mc_remaining_time=math.ceil(remaining / 60),
        )
        self._use_filament(progress)
        if self.fail_at_layer and layer >= self.fail_at_layer[0]:
            _, hms, print_error, pause = self.fail_at_layer
            self.fail_at_layer = None
            self.state["hms"] = [hms]
            if pause:
                self.pause()
                self.state["print_error"] = print_error
            else:
                self._to_failed(print_error)
            return 0.0
        if self._printed_s >= job.print_time_s - 1e-9:
            self._to_finish()
            return dt - used
        return 0.0

    # ----- helpers

    def _to_finish(self) -> None:
        self.phase = "finish"
        self.state.update(
            gcode_state="FINISH",
            mc_percent=100,
            mc_remaining_time=0,
            layer_num=self.job.layers,
            stg=[],
            stg_cur=self._idle_stage(),
            mc_print_stage="1",
            bed_target_temper=0,
            nozzle_target_temper=0,
            cooling_fan_speed="0",
            fan_gear=0,
        )

    def _to_failed(self, print_error: int) -> None:
        self.phase = "failed"
        self.state.update(
            gcode_state="FAILED",
            print_error=print_error,
            mc_print_error_code=str(print_error),
            stg=[],
            stg_cur=self._idle_stage(),
            mc_print_stage="1",
            bed_target_temper=0,
            nozzle_target_temper=0,
            cooling_fan_speed="0",
            fan_gear=0,
        )

    def _ams_slot(self) -> dict | None:
        """The AMS tray dict being printed from (None for the external spool or an empty slot)."""
        if not 0 <= self._tray < 16:
            return None
        units = self.state["ams"].get("ams", [])
        unit = next((u for u in units if u.get("id") == str(self._tray // 4)), None)
        if unit is None:
            return None
        slot = next((t for t in unit["tray"] if t.get("id") == str(self._tray % 4)), None)
        return slot if slot and "remain" in slot else None

    def _use_filament(self, progress: float) -> None:
        # `remain` is a percentage of a 1 kg spool: the job's weight comes off as it prints.
        slot = self._ams_slot()
        if slot is None or self._tray_remain_start < 0:
            return
        remain = max(0, round(self._tray_remain_start - self.job.weight_g * progress / 10))
        if remain != slot["remain"]:
            ams = copy.deepcopy(self.state["ams"])
            self.state["ams"] = ams
            unit = next(u for u in ams["ams"] if u["id"] == str(self._tray // 4))
            next(t for t in unit["tray"] if t["id"] == str(self._tray % 4))["remain"] = remain

    def _idle_stage(self) -> int:
        # Real dumps: P1/A1 report stg_cur 0 when idle or done, X1 reports -1.
        return 0 if self.model.delta_reports else -1

    def _current_stage(self) -> int:
        if self.phase == "printing":
            return STAGE_PRINTING
        return self._stages[0] if self._stages else STAGE_PRINTING

    @staticmethod
    def _stage_duration(stage: int) -> float:
        return {STAGE_HOMING: _HOMING_S, STAGE_BED_LEVELING: _LEVELING_S}.get(stage, 0.0)

    def _advance_temperatures(self, dt: float) -> None:
        s = self.state
        for key, target_key, heat in (
            ("bed_temper", "bed_target_temper", _BED_HEAT_C_S),
            ("nozzle_temper", "nozzle_target_temper", _NOZZLE_HEAT_C_S),
        ):
            current, target = float(s[key]), float(s[target_key]) or AMBIENT_C
            if current < target:
                current = min(target, current + heat * dt)
            else:
                current = max(target, current - _COOL_C_S * dt)
            # Printers report temperatures in 1/32 degree steps (e.g. 19.84375).
            s[key] = round(current * 32) / 32
