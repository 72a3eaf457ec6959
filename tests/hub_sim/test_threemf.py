"""The 3MF fixture generator: Bambu Studio layout, correct md5s, streaming for big files."""

from __future__ import annotations

import hashlib
import json
import tracemalloc
import zipfile
from xml.etree import ElementTree

import pytest

from hub_sim.threemf import write_3mf


def test_layout_and_metadata(tmp_path):
    info = write_3mf(
        tmp_path / "job.gcode.3mf",
        print_time_s=5025,
        layers=42,
        filament_type="petg",
        filament_g=23.45,
        printer_model="A1",
        plate_count=2,
        gcode_size=20_000,
        seed=3,
    )
    with zipfile.ZipFile(info.path) as zf:
        names = set(zf.namelist())
        for required in (
            "[Content_Types].xml",
            "_rels/.rels",
            "3D/3dmodel.model",
            "Metadata/plate_1.gcode",
            "Metadata/plate_1.gcode.md5",
            "Metadata/plate_1.png",
            "Metadata/plate_2.gcode",
            "Metadata/slice_info.config",
            "Metadata/model_settings.config",
            "Metadata/project_settings.config",
        ):
            assert required in names
        for plate in info.plates:
            gcode = zf.read(plate.gcode_path)
            assert hashlib.md5(gcode).hexdigest().upper() == plate.gcode_md5
            assert zf.read(f"Metadata/plate_{plate.index}.gcode.md5").decode() == plate.gcode_md5
            assert b"; total layer number: 42" in gcode[:2000]
            assert gcode.count(b"; CHANGE_LAYER") == 42
        assert zf.read("Metadata/plate_1.png")[:8] == b"\x89PNG\r\n\x1a\n"
        root = ElementTree.fromstring(zf.read("Metadata/slice_info.config"))
        plates = root.findall("plate")
        assert len(plates) == 2
        meta = {m.get("key"): m.get("value") for m in plates[0].findall("metadata")}
        assert meta["prediction"] == "5025" and meta["printer_model_id"] == "N2S"
        assert plates[0].find("filament").get("type") == "PETG"
        settings = json.loads(zf.read("Metadata/project_settings.config"))
        assert settings["printer_model"] == "Bambu Lab A1"
    assert hashlib.md5(info.path.read_bytes()).hexdigest() == info.md5
    assert info.size == info.path.stat().st_size


def test_same_seed_same_bytes(tmp_path):
    a = write_3mf(tmp_path / "a.3mf", gcode_size=50_000, seed=7)
    b = write_3mf(tmp_path / "b.3mf", gcode_size=50_000, seed=7)
    c = write_3mf(tmp_path / "c.3mf", gcode_size=50_000, seed=8)
    assert a.plates[0].gcode_md5 == b.plates[0].gcode_md5 != c.plates[0].gcode_md5


def test_large_file_is_streamed_not_held_in_memory(tmp_path):
    tracemalloc.start()
    try:
        info = write_3mf(tmp_path / "big.3mf", layers=20, gcode_size=16 * 1024 * 1024)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert info.plates[0].gcode_size >= 16 * 1024 * 1024
    assert info.size > 4 * 1024 * 1024  # random coordinates do not compress away
    assert peak < 8 * 1024 * 1024


def test_rejects_bad_arguments(tmp_path):
    with pytest.raises(ValueError):
        write_3mf(tmp_path / "x.3mf", printer_model="Ender3")
    with pytest.raises(ValueError):
        write_3mf(tmp_path / "x.3mf", layers=0)
