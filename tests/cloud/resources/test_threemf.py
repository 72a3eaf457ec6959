"""3MF metadata extraction from Bambu Studio-layout files, and refusal of corrupt ones."""

import zipfile

import pytest

from cloud.threemf import ThreeMFError, read_metadata, read_thumbnail
from tests.cloud.resources.threemf_fixtures import tiny_png, write_bambu_3mf


def test_reads_bambu_metadata(tmp_path):
    path = tmp_path / "part.gcode.3mf"
    md5s = write_bambu_3mf(path)
    meta = read_metadata(path)
    assert meta.print_time_seconds == 5025
    assert meta.filament_weight_grams == 23.45
    assert meta.filament_length_meters == 7.53
    assert meta.filament_type == "PLA"
    assert meta.printer_model_id == "C12"
    assert meta.printer_model == "Bambu Lab P1S"
    assert meta.nozzle_diameter == 0.4
    assert meta.layer_count == 120
    assert meta.object_count == 2
    assert meta.curr_bed_type == "Textured PEI Plate"
    assert meta.default_print_profile == "0.20mm Standard @BBL X1C"
    assert meta.slicer_version == "02.02.01.60"
    assert meta.plate_count == 1
    plate = meta.plates[0]
    assert plate.gcode_path == "Metadata/plate_1.gcode"
    assert plate.gcode_md5 == md5s[0]
    assert plate.thumbnail_path == "Metadata/plate_1.png"
    assert read_thumbnail(path, plate.thumbnail_path) == tiny_png()
    assert read_thumbnail(path, "Metadata/plate_9.png") is None


def test_multi_plate_totals(tmp_path):
    path = tmp_path / "multi.3mf"
    md5s = write_bambu_3mf(path, plates=3, prediction=100, weight=2.5, used_m=1.0)
    meta = read_metadata(path)
    assert meta.plate_count == 3
    assert [p.index for p in meta.plates] == [1, 2, 3]
    assert [p.gcode_md5 for p in meta.plates] == md5s
    assert meta.print_time_seconds == 300
    assert meta.filament_weight_grams == 7.5
    assert meta.filament_length_meters == 3.0
    assert meta.object_count == 6


def test_falls_back_to_gcode_header_and_project_settings(tmp_path):
    path = tmp_path / "orca.3mf"
    write_bambu_3mf(path, with_slice_info=False, with_md5=False, prediction=754)
    meta = read_metadata(path)
    assert meta.print_time_seconds == 754  # "12m 34s" from the G-code header
    assert meta.layer_count == 120
    assert meta.printer_model_id == "C12"  # mapped from "Bambu Lab P1S"
    assert meta.nozzle_diameter == 0.4
    assert meta.filament_type == "PLA"
    assert meta.filament_weight_grams == 9.5
    assert len(meta.plates[0].gcode_md5) == 32  # computed when the slicer did not record one


def test_rejects_non_zip(tmp_path):
    path = tmp_path / "x.3mf"
    path.write_bytes(b"solid cube\nendsolid\n")
    with pytest.raises(ThreeMFError) as info:
        read_metadata(path)
    assert info.value.code == "not_3mf"


def test_rejects_zip_that_is_not_3mf(tmp_path):
    path = tmp_path / "x.3mf"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(ThreeMFError) as info:
        read_metadata(path)
    assert info.value.code == "not_3mf"


def test_rejects_unsliced_project(tmp_path):
    path = tmp_path / "x.3mf"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("3D/3dmodel.model", "<model/>")
    with pytest.raises(ThreeMFError) as info:
        read_metadata(path)
    assert info.value.code == "not_sliced"


def test_rejects_truncated_file(tmp_path):
    path = tmp_path / "x.3mf"
    write_bambu_3mf(path, gcode_padding=50_000)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ThreeMFError) as info:
        read_metadata(path)
    assert info.value.code in ("not_3mf", "corrupt_3mf")


def test_rejects_flipped_bytes_in_gcode(tmp_path):
    path = tmp_path / "x.3mf"
    write_bambu_3mf(path)
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("Metadata/plate_1.gcode")
        offset = info.header_offset + 30 + len(info.filename) + len(info.extra) + 20
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ThreeMFError) as info:
        read_metadata(path)
    assert info.value.code == "corrupt_3mf"


def test_rejects_md5_mismatch(tmp_path):
    path = tmp_path / "x.3mf"
    write_bambu_3mf(path, bad_md5=True)
    with pytest.raises(ThreeMFError, match="MD5"):
        read_metadata(path)


def test_rejects_bad_configs(tmp_path):
    bomb = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]><config>&lol;</config>'
    for name, data in (
        ("Metadata/slice_info.config", "<config><plate>"),
        ("Metadata/slice_info.config", bomb),
        ("Metadata/project_settings.config", "{not json"),
        ("Metadata/project_settings.config", "[1, 2]"),
    ):
        path = tmp_path / "x.3mf"
        write_bambu_3mf(path, with_slice_info=name != "Metadata/slice_info.config")
        with zipfile.ZipFile(path, "a") as zf:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # duplicate entry names: the last one wins
                zf.writestr(name, data)
        with pytest.raises(ThreeMFError) as info:
            read_metadata(path)
        assert info.value.code == "corrupt_3mf", (name, data)


def test_rejects_oversized_gcode(tmp_path, monkeypatch):
    import cloud.threemf as threemf

    path = tmp_path / "bomb.3mf"
    write_bambu_3mf(path, gcode_padding=100_000)
    monkeypatch.setattr(threemf, "MAX_GCODE_BYTES", 50_000)
    with pytest.raises(ThreeMFError, match="larger than"):
        read_metadata(path)
