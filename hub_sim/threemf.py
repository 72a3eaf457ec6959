"""Bambu Studio style `.gcode.3mf` fixtures of any size, written as a stream (never held in memory)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import random
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

# Model codes as Bambu Studio writes them into slice_info.config (`printer_model_id`) and the
# display names it writes into project_settings.config (`printer_model`).
PRINTER_MODEL_IDS = {
    "X1C": ("BL-P001", "Bambu Lab X1 Carbon"),
    "X1": ("BL-P002", "Bambu Lab X1"),
    "X1E": ("C13", "Bambu Lab X1E"),
    "P1P": ("C11", "Bambu Lab P1P"),
    "P1S": ("C12", "Bambu Lab P1S"),
    "A1": ("N2S", "Bambu Lab A1"),
    "A1MINI": ("N1", "Bambu Lab A1 mini"),
    "P2S": ("N7", "Bambu Lab P2S"),
}

# Bed and nozzle temperatures per filament type, so the generated G-code and settings agree.
FILAMENT_TEMPS = {
    "PLA": (55, 220),
    "PETG": (70, 250),
    "ABS": (90, 260),
    "ASA": (90, 260),
    "TPU": (35, 230),
    "PA": (100, 280),
    "PC": (100, 270),
}

# The G-code is produced in chunks of this many bytes: bounds memory whatever the file size.
_CHUNK_BYTES = 256 * 1024
# Distinct filler lines drawn at random; far more than deflate's 32 KiB window can see, so large
# fixtures stay large after compression (streaming tests need real bytes on the wire).
_FILLER_POOL_LINES = 4096


@dataclass
class PlateInfo:
    """What a plate inside the 3MF contains (as the printer will find it)."""

    index: int
    gcode_path: str
    gcode_size: int
    gcode_md5: str  # upper-case hex, as Bambu Studio writes plate_N.gcode.md5
    print_time_s: int
    layers: int


@dataclass
class ThreeMFInfo:
    """Result of `write_3mf`: where the file is and the facts tests compare against."""

    path: Path
    size: int
    md5: str  # lower-case hex of the whole .3mf file
    printer_model: str
    filament_type: str
    filament_g: float
    plates: list[PlateInfo] = field(default_factory=list)


class _HashingWriter(io.RawIOBase):
    """File wrapper that hashes and counts every byte written through it."""

    def __init__(self, raw):
        self._raw = raw
        self.md5 = hashlib.md5()
        self.size = 0

    def writable(self):
        return True

    def write(self, data):
        self._raw.write(data)
        self.md5.update(data)
        self.size += len(data)
        return len(data)

    def tell(self):
        return self.size

    def flush(self):
        self._raw.flush()


def write_3mf(
    path,
    *,
    print_time_s: int = 600,
    layers: int = 50,
    filament_type: str = "PLA",
    filament_g: float = 10.0,
    printer_model: str = "P1S",
    plate_count: int = 1,
    gcode_size: int = 64 * 1024,
    seed: int = 0,
    filament_color: str = "#161616",
    object_name: str = "Cube.stl",
    compress: bool = True,
) -> ThreeMFInfo:
    """Write a sliced-project 3MF in Bambu Studio's layout and return its sizes and md5s.

    `gcode_size` is the approximate size in bytes of each plate's G-code (the file on disk is
    smaller when `compress` is on, about 1/2.5 of it).
    """
    if printer_model not in PRINTER_MODEL_IDS:
        raise ValueError(f"unknown printer model {printer_model!r}")
    if layers < 1 or print_time_s < 1 or plate_count < 1:
        raise ValueError("layers, print_time_s and plate_count must be positive")
    path = Path(path)
    model_id, model_name = PRINTER_MODEL_IDS[printer_model]
    filament_type = filament_type.upper()
    rng = random.Random(seed)
    method = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    plates = []
    with path.open("wb") as raw:
        out = _HashingWriter(raw)
        with zipfile.ZipFile(out, "w", compression=method, allowZip64=True) as zf:
            _write_text(zf, "[Content_Types].xml", _CONTENT_TYPES)
            _write_text(zf, "_rels/.rels", _RELS)
            _write_text(zf, "3D/3dmodel.model", _model_xml(model_name))
            for index in range(1, plate_count + 1):
                plate = _write_plate_gcode(
                    zf,
                    index=index,
                    print_time_s=print_time_s,
                    layers=layers,
                    gcode_size=gcode_size,
                    rng=rng,
                    model_name=model_name,
                    filament_type=filament_type,
                    filament_g=filament_g,
                )
                plates.append(plate)
                _write_text(zf, f"Metadata/plate_{index}.gcode.md5", plate.gcode_md5)
                png = _thumbnail_png(index, model_name, seed)
                zf.writestr(f"Metadata/plate_{index}.png", png)
                zf.writestr(f"Metadata/plate_{index}_small.png", png)
                _write_text(
                    zf,
                    f"Metadata/plate_{index}.json",
                    json.dumps(
                        {
                            "bed_type": "textured_plate",
                            "filament_colors": [filament_color],
                            "filament_ids": [0],
                            "nozzle_diameter": 0.4,
                            "version": 2,
                        }
                    ),
                )
            _write_text(
                zf,
                "Metadata/slice_info.config",
                _slice_info(
                    plates, model_id, filament_type, filament_color, filament_g, object_name
                ),
            )
            _write_text(
                zf,
                "Metadata/model_settings.config",
                _model_settings(plates, object_name),
            )
            _write_text(
                zf,
                "Metadata/project_settings.config",
                _project_settings(model_name, filament_type, filament_color),
            )
        md5 = out.md5.hexdigest()
        size = out.size
    return ThreeMFInfo(
        path=path,
        size=size,
        md5=md5,
        printer_model=printer_model,
        filament_type=filament_type,
        filament_g=filament_g,
        plates=plates,
    )


def _write_text(zf: zipfile.ZipFile, name: str, text: str) -> None:
    zf.writestr(name, text.encode("utf-8"))


def _write_plate_gcode(
    zf, *, index, print_time_s, layers, gcode_size, rng, model_name, filament_type, filament_g
) -> PlateInfo:
    """Stream one plate's G-code into the archive, hashing it on the way."""
    name = f"Metadata/plate_{index}.gcode"
    bed, nozzle = FILAMENT_TEMPS.get(filament_type, (55, 220))
    md5 = hashlib.md5()
    written = 0
    header = _gcode_header(print_time_s, layers, model_name, filament_type, filament_g, bed, nozzle)
    pool = [
        f"G1 X{rng.uniform(10, 245):.3f} Y{rng.uniform(10, 245):.3f} E{rng.uniform(0.01, 2):.5f}\n"
        for _ in range(_FILLER_POOL_LINES)
    ]
    avg_line = sum(len(line) for line in pool) / len(pool)
    footer = "M73 P100 R0\n; EXECUTABLE_BLOCK_END\n"
    with zf.open(name, "w", force_zip64=True) as entry:

        def emit(text: str) -> None:
            nonlocal written
            data = text.encode("ascii")
            entry.write(data)
            md5.update(data)
            written += len(data)

        emit(header)
        for layer in range(1, layers + 1):
            done = (layer - 1) / layers
            remaining_min = math.ceil(print_time_s * (1 - done) / 60)
            emit(f"; CHANGE_LAYER\nM73 L{layer}\nM73 P{int(done * 100)} R{remaining_min}\n")
            # Spread what is still missing over the remaining layers: the plate ends up at
            # least `gcode_size` bytes (at most a line per layer more).
            left = (gcode_size - written - len(footer)) // (layers - layer + 1)
            while left > 0:
                # Whole lines only; overshoots the budget by at most one line.
                count = max(1, int(min(left, _CHUNK_BYTES) / avg_line))
                chunk = "".join(rng.choices(pool, k=count))
                emit(chunk)
                left -= len(chunk)
        emit(footer)
    return PlateInfo(
        index=index,
        gcode_path=name,
        gcode_size=written,
        gcode_md5=md5.hexdigest().upper(),
        print_time_s=print_time_s,
        layers=layers,
    )


def _gcode_header(print_time_s, layers, model_name, filament_type, filament_g, bed, nozzle) -> str:
    hours, rest = divmod(print_time_s, 3600)
    minutes, seconds = divmod(rest, 60)
    estimate = (f"{hours}h " if hours else "") + f"{minutes}m {seconds}s"
    return (
        "; HEADER_BLOCK_START\n"
        "; generated by PrintFarm hub_sim (Bambu Studio layout)\n"
        f"; model printing time: {estimate}; total estimated time: {estimate}\n"
        f"; total layer number: {layers}\n"
        f"; total filament weight [g] : {filament_g:.2f}\n"
        "; HEADER_BLOCK_END\n\n"
        "; CONFIG_BLOCK_START\n"
        f"; printer_model = {model_name}\n"
        f"; filament_type = {filament_type}\n"
        f"; filament used [g] = {filament_g:.2f}\n"
        "; curr_bed_type = Textured PEI Plate\n"
        f"; bed_temperature = {bed}\n"
        f"; nozzle_temperature = {nozzle}\n"
        "; CONFIG_BLOCK_END\n\n"
        "; EXECUTABLE_BLOCK_START\n"
        f"M73 P0 R{math.ceil(print_time_s / 60)}\n"
        f"M140 S{bed}\nM104 S{nozzle}\nG28\nM190 S{bed}\nM109 S{nozzle}\n"
    )


def _thumbnail_png(index: int, model_name: str, seed: int) -> bytes:
    """A small real PNG (Pillow) so clients that show plate previews get an image."""
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (128, 128), (30 + seed % 200, 60, 90))
    draw = ImageDraw.Draw(img)
    draw.rectangle((32, 40, 96, 104), fill=(230, 230, 230))
    draw.text((6, 6), f"plate {index}", fill=(255, 255, 255))
    draw.text((6, 112), model_name[-12:], fill=(255, 255, 255))
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()


def _slice_info(plates, model_id, filament_type, color, filament_g, object_name) -> str:
    rows = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<config>",
        "  <header>",
        '    <header_item key="X-BBL-Client-Type" value="slicer"/>',
        '    <header_item key="X-BBL-Client-Version" value="02.02.01.60"/>',
        "  </header>",
    ]
    used_m = filament_g / 2.98  # PLA 1.75 mm: about 2.98 g per metre
    for plate in plates:
        rows += [
            "  <plate>",
            f'    <metadata key="index" value="{plate.index}"/>',
            '    <metadata key="extruder_type" value="0"/>',
            f'    <metadata key="printer_model_id" value="{model_id}"/>',
            '    <metadata key="nozzle_diameters" value="0.4"/>',
            '    <metadata key="timelapse_type" value="0"/>',
            f'    <metadata key="prediction" value="{plate.print_time_s}"/>',
            f'    <metadata key="weight" value="{filament_g:.2f}"/>',
            '    <metadata key="outside" value="false"/>',
            '    <metadata key="support_used" value="false"/>',
            '    <metadata key="label_object_enabled" value="true"/>',
            f'    <object identify_id="{100 + plate.index}" name="{object_name}" skipped="false" />',
            f'    <filament id="1" tray_info_idx="GFA00" type="{filament_type}" color="{color}"'
            f' used_m="{used_m:.2f}" used_g="{filament_g:.2f}" />',
            "  </plate>",
        ]
    rows.append("</config>")
    return "\n".join(rows) + "\n"


def _model_settings(plates, object_name) -> str:
    rows = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        "<config>",
        '  <object id="1">',
        f'    <metadata key="name" value="{object_name}"/>',
        '    <part id="1" subtype="normal_part"><metadata key="extruder" value="1"/></part>',
        "  </object>",
    ]
    for plate in plates:
        rows += [
            "  <plate>",
            f'    <metadata key="plater_id" value="{plate.index}"/>',
            f'    <metadata key="gcode_file" value="{plate.gcode_path}"/>',
            f'    <metadata key="thumbnail_file" value="Metadata/plate_{plate.index}.png"/>',
            "    <model_instance>",
            '      <metadata key="object_id" value="1"/>',
            '      <metadata key="instance_id" value="0"/>',
            f'      <metadata key="identify_id" value="{100 + plate.index}"/>',
            "    </model_instance>",
            "  </plate>",
        ]
    rows.append("</config>")
    return "\n".join(rows) + "\n"


def _project_settings(model_name, filament_type, color) -> str:
    bed, nozzle = FILAMENT_TEMPS.get(filament_type, (55, 220))
    return json.dumps(
        {
            "printer_model": model_name,
            "printer_settings_id": f"{model_name} 0.4 nozzle",
            "print_settings_id": "0.20mm Standard @BBL",
            "default_print_profile": "0.20mm Standard @BBL",
            "filament_settings_id": [f"Bambu {filament_type} Basic @BBL"],
            "filament_type": [filament_type],
            "filament_colour": [color],
            "nozzle_diameter": ["0.4"],
            "layer_height": "0.2",
            "curr_bed_type": "Textured PEI Plate",
            "hot_plate_temp": [str(bed)],
            "nozzle_temperature": [str(nozzle)],
        },
        indent=4,
    )


def _model_xml(model_name: str) -> str:
    # A 20 mm cube: enough geometry for viewers that open 3D/3dmodel.model.
    verts = [(x, y, z) for z in (0, 20) for y in (0, 20) for x in (0, 20)]
    tris = [
        (0, 2, 1), (1, 2, 3), (4, 5, 6), (5, 7, 6), (0, 1, 4), (1, 5, 4),
        (2, 6, 3), (3, 6, 7), (0, 4, 2), (2, 4, 6), (1, 3, 5), (3, 7, 5),
    ]  # fmt: skip
    vtx = "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in verts)
    tri = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in tris)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<model unit="millimeter" xml:lang="en-US" '
        'xmlns="http://schemas.microsoft.com/3dmanufacturing/core/2015/02" '
        'xmlns:BambuStudio="http://schemas.bambulab.com/package/2021">\n'
        '  <metadata name="Application">BambuStudio-02.02.01.60</metadata>\n'
        f'  <metadata name="BambuStudio:3mfVersion">1</metadata>\n'
        f'  <metadata name="Title">{model_name} fixture</metadata>\n'
        '  <resources><object id="1" type="model"><mesh>'
        f"<vertices>{vtx}</vertices><triangles>{tri}</triangles>"
        "</mesh></object></resources>\n"
        '  <build><item objectid="1" printable="1"/></build>\n'
        "</model>\n"
    )


_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">\n'
    ' <Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>\n'
    ' <Default Extension="model" ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/>\n'
    ' <Default Extension="png" ContentType="image/png"/>\n'
    ' <Default Extension="gcode" ContentType="text/x.gcode"/>\n'
    "</Types>\n"
)

_RELS = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">\n'
    ' <Relationship Target="/3D/3dmodel.model" Id="rel-1" '
    'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>\n'
    ' <Relationship Target="/Metadata/plate_1.png" Id="rel-2" '
    'Type="http://schemas.openxmlformats.org/package/2006/relationships/metadata/thumbnail"/>\n'
    "</Relationships>\n"
)
