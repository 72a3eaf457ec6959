"""The print state machine on simulated time, without sockets."""

from __future__ import annotations

from pathlib import Path

from hub_sim.bambu.machine import ERR_CANCELLED, PrintMachine
from hub_sim.bambu.models import get_model
from hub_sim.bambu.report import initial_print_state
from hub_sim.bambu.sdcard import PrintJobSpec


def job(print_time_s=1000, layers=10, filament="PLA", weight_g=5.0):
    return PrintJobSpec(
        Path("/x.3mf"),
        "x.3mf",
        1,
        "Metadata/plate_1.gcode",
        print_time_s,
        layers,
        filament,
        weight_g,
    )


def machine(model="P1S"):
    m = get_model(model)
    return PrintMachine(m, initial_print_state(m, "127.0.0.1"))


def run_until(m, predicate, step=1.0, limit=100_000):
    for _ in range(limit):
        if predicate(m.state):
            return
        m.advance(step)
    raise AssertionError("state never reached")


def test_job_runs_through_stages_layers_and_finishes():
    m = machine()
    token = m.begin_prepare("x", "x.3mf")
    assert m.state["gcode_state"] == "PREPARE"
    m.start_job(token, job(), bed_leveling=True, tray=0)
    seen_stages = set()
    percents = []
    while m.state["gcode_state"] != "FINISH":
        m.advance(1.0)
        seen_stages.add(m.state["stg_cur"])
        percents.append(m.state["mc_percent"])
    assert {2, 13, 1, 7, 0} <= seen_stages  # preheat, homing, levelling, hotend, printing
    assert percents == sorted(percents)  # progress never goes back
    assert m.state["layer_num"] == 10 and m.state["mc_percent"] == 100
    assert m.state["bed_target_temper"] == 0  # heaters off when done
    assert m.state["ams"]["tray_now"] == "0"


def test_temperatures_ramp_in_printer_steps():
    m = machine()
    m.start_job(m.begin_prepare("x", "x"), job(filament="PETG"), bed_leveling=False)
    m.advance(5.0)
    assert 24 < m.state["bed_temper"] < 70
    assert (m.state["bed_temper"] * 32).is_integer()
    run_until(m, lambda s: s["stg_cur"] == 0)
    assert m.state["bed_temper"] >= 69 and m.state["nozzle_temper"] >= 248


def test_pause_freezes_progress_and_speed_level_changes_rate():
    m = machine()
    m.start_job(m.begin_prepare("x", "x"), job(print_time_s=10_000), bed_leveling=False)
    run_until(m, lambda s: s["stg_cur"] == 0)
    m.advance(1000)
    at_pause = m.state["mc_percent"]
    m.pause()
    m.advance(5000)
    assert m.state["mc_percent"] == at_pause and m.state["gcode_state"] == "PAUSE"
    m.resume()
    m.set_speed_level(4)
    before = m.state["mc_percent"]
    m.advance(1000)
    assert 16 <= m.state["mc_percent"] - before <= 17  # ludicrous: 166 % (16.6 points)


def test_stop_sets_cancel_code_for_a_few_reports():
    m = machine()
    m.start_job(m.begin_prepare("x", "x"), job(), bed_leveling=False)
    m.advance(50)
    m.stop()
    assert m.state["gcode_state"] == "FAILED" and m.state["print_error"] == ERR_CANCELLED
    for _ in range(3):
        m.report_sent()
    assert m.state["print_error"] == 0


def test_results_of_a_stale_start_are_ignored():
    m = machine()
    token = m.begin_prepare("x", "x")
    m.stop()  # stopped while the 3MF was still being read
    m.start_job(token, job(), bed_leveling=True, tray=0)
    m.fail_start(token, 1)
    assert m.state["gcode_state"] == "FAILED" and m.state["bed_target_temper"] == 0
    assert m.job is None


def test_x1_idle_stage_is_minus_one():
    m = machine("X1C")
    m.reset()
    assert m.state["stg_cur"] == -1 and m.state["gcode_state"] == "IDLE"


def test_filament_comes_off_the_mapped_tray():
    m = machine()
    trays = m.state["ams"]["ams"][0]["tray"]
    assert trays[2]["remain"] == 80
    m.start_job(m.begin_prepare("x", "x"), job(weight_g=50), bed_leveling=False, tray=2)
    run_until(m, lambda s: s["gcode_state"] == "FINISH")
    trays = m.state["ams"]["ams"][0]["tray"]
    assert m.state["ams"]["tray_now"] == "2"
    assert trays[2]["remain"] == 75  # 50 g of a 1 kg spool
    assert trays[0]["remain"] == 100  # the others untouched
