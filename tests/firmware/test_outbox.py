"""hub.outbox in real MicroPython: seq from NVS, cumulative acks, journal replay after reboots."""

import pytest

from tests.firmware.conftest import MPY_SCRIPTS, run_mpy

pytestmark = pytest.mark.micropython


def phase(tmp_path, name, *args):
    rc, rows, stdout, err = run_mpy(MPY_SCRIPTS / "outbox_check.py", [name, *args], cwd=tmp_path)
    assert rc == 0, stdout + err
    merged = {}
    for r in rows:
        merged.update(r)
    return merged


def test_events_that_matter_survive_reboots_and_seq_never_repeats(tmp_path):
    r = phase(tmp_path, "fill")
    assert r["after_add"] == [
        [1, "job_started"],
        [2, "job_paused"],
        [3, "job_finished"],
        [4, "job_resumed"],
    ]
    assert r["next_seq"] == 5 and r["lines"] == 2  # only the two that matter hit flash
    assert r["removed"] == 1 and r["acked"] == 1 and r["pending"] == [2, 3, 4]
    r = phase(tmp_path, "reboot")
    assert r["restored"] == [[3, "job_finished"]]  # acked 1 is gone, RAM-only 2 and 4 lost
    assert r["next_seq"] == 5 and r["acked"] == 1
    assert r["new_seq"] == 5

    phase(tmp_path, "torn")
    r = phase(tmp_path, "after_torn")
    assert r["restored"] == [[3, "job_finished"], [5, "file_transferred"]]

    phase(tmp_path, "lost_commit")
    assert phase(tmp_path, "after_lost_commit")["next_seq"] == 6  # from the journal, not NVS

    r = phase(tmp_path, "ack_all")
    assert r["removed"] == 2 and not r["exists"]  # nothing pending: journal removed
    assert phase(tmp_path, "reboot")["restored"] == []


def test_an_ack_beyond_our_seq_moves_numbering_above_it(tmp_path):
    assert phase(tmp_path, "cloud_ahead")["seq"] == 501


def test_full_outbox_drops_what_matters_least_first(tmp_path):
    r = phase(tmp_path, "capacity", "4")
    # 6 events into 4 slots: the two oldest printer_error events go first.
    assert r["entries"] == [
        [1, "job_started"],
        [3, "job_started"],
        [5, "job_started"],
        [6, "printer_error"],
    ]
    assert r["dropped"] == 2
    # Only events that matter left: then the oldest of them goes.
    assert r["full_of_persisted"] == [[n, "job_finished"] for n in (7, 8, 9, 10)]
    assert r["dropped_total"] == 6


def test_journal_is_compacted(tmp_path):
    r = phase(tmp_path, "compact")
    assert r["pending"] == 1
    assert r["lines"] <= 130  # bounded by COMPACT_LINES, not by 300 appended records
