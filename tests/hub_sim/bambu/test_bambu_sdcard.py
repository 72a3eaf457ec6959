"""The simulated SD card: project_file urls, path safety, capacity and 3MF inspection."""

from __future__ import annotations

import zipfile

import pytest

from hub_sim.bambu.sdcard import (
    ERR_FILE_NOT_AVAILABLE,
    ERR_PARSE_3MF,
    ERR_UNSUPPORTED_PATH,
    PrintStartError,
    SdCard,
)
from hub_sim.threemf import write_3mf


@pytest.fixture
def card(tmp_path):
    return SdCard(tmp_path / "sd", capacity_bytes=10_000_000)


@pytest.mark.parametrize(
    ("url", "file_name", "expected"),
    [
        ("ftp://a.3mf", "", "a.3mf"),
        ("ftp:///cache/a.3mf", "", "cache/a.3mf"),
        ("file:///sdcard/cache/a.3mf", "", "cache/a.3mf"),
        ("file:///mnt/sdcard", "a.3mf", "a.3mf"),
        ("file:///mnt/sdcard/b/a.3mf", "", "b/a.3mf"),
        ("", "a.3mf", "a.3mf"),
    ],
)
def test_url_forms_map_onto_the_card(card, url, file_name, expected):
    assert card.resolve(url, file_name) == card.root / expected


@pytest.mark.parametrize(
    "url", ["https://cloud/a.3mf", "ftp:///../etc/passwd", "file:///etc/passwd", "ftp://"]
)
def test_unsupported_or_escaping_urls_are_refused(card, url):
    with pytest.raises(PrintStartError) as exc:
        card.resolve(url, "")
    assert exc.value.print_error == ERR_UNSUPPORTED_PATH


def test_inspect_reads_prediction_layers_and_filament(card):
    write_3mf(card.root / "a.3mf", print_time_s=4321, layers=77, filament_type="ABS", plate_count=2)
    job = card.inspect_job("ftp:///a.3mf", "", "Metadata/plate_2.gcode", "from_sd_card")
    assert (job.print_time_s, job.layers, job.filament_type, job.plate_index) == (
        4321,
        77,
        "ABS",
        2,
    )


def test_inspect_failures(card, tmp_path):
    with pytest.raises(PrintStartError) as exc:
        card.inspect_job("ftp:///missing.3mf", "", "Metadata/plate_1.gcode", "")
    assert exc.value.print_error == ERR_FILE_NOT_AVAILABLE
    (card.root / "junk.3mf").write_bytes(b"not a zip")
    with pytest.raises(PrintStartError) as exc:
        card.inspect_job("ftp:///junk.3mf", "", "Metadata/plate_1.gcode", "")
    assert exc.value.print_error == ERR_PARSE_3MF
    with zipfile.ZipFile(card.root / "empty.3mf", "w") as zf:
        zf.writestr("3D/3dmodel.model", "<model/>")
    with pytest.raises(PrintStartError) as exc:
        card.inspect_job("ftp:///empty.3mf", "", "Metadata/plate_1.gcode", "")
    assert exc.value.print_error == ERR_PARSE_3MF
    write_3mf(card.root / "ok.3mf")
    with pytest.raises(PrintStartError) as exc:
        card.inspect_job("ftp:///ok.3mf", "", "Metadata/../../x", "")
    assert exc.value.print_error == ERR_UNSUPPORTED_PATH


def test_capacity_and_wipe(card):
    assert card.free_bytes() == 10_000_000
    (card.root / "cache" / "f.bin").write_bytes(b"x" * 1000)
    assert card.used_bytes() == 1000 and card.free_bytes() == 9_999_000
    card.wipe()
    assert card.used_bytes() == 0 and (card.root / "timelapse").is_dir()
