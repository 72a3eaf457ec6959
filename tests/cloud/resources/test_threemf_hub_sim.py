"""The cloud's 3MF reader against hub_sim's generator (Bambu Studio layout, another author)."""

import pytest

from cloud.threemf import read_metadata, read_thumbnail
from hub_sim.threemf import PRINTER_MODEL_IDS, write_3mf


@pytest.mark.parametrize("model", ["P1S", "A1MINI", "X1C"])
def test_reads_hub_sim_files(tmp_path, model):
    info = write_3mf(
        tmp_path / "part.gcode.3mf",
        print_time_s=4321,
        layers=77,
        filament_type="petg",
        filament_g=31.5,
        printer_model=model,
        plate_count=2,
        gcode_size=300_000,
    )
    meta = read_metadata(info.path)
    assert meta.printer_model_id == PRINTER_MODEL_IDS[model][0]
    assert meta.plate_count == 2
    assert [p.gcode_md5 for p in meta.plates] == [p.gcode_md5.upper() for p in info.plates]
    assert [p.gcode_size_bytes for p in meta.plates] == [p.gcode_size for p in info.plates]
    assert meta.plates[0].print_time_seconds == 4321
    assert meta.layer_count == 77
    assert meta.filament_type == "PETG"
    assert meta.plates[0].filament_weight_grams == pytest.approx(31.5)
    png = read_thumbnail(info.path, meta.plates[0].thumbnail_path)
    assert png is not None and png.startswith(b"\x89PNG")


def test_large_hub_sim_file_is_read_from_disk(tmp_path):
    info = write_3mf(tmp_path / "big.3mf", gcode_size=20 * 1024 * 1024, seed=3)
    assert info.size > 5 * 1024 * 1024
    meta = read_metadata(info.path)  # G-code streamed through MD5, never loaded whole
    assert meta.plates[0].gcode_md5 == info.plates[0].gcode_md5.upper()
