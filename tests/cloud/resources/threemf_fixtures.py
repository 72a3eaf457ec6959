"""Small Bambu Studio-layout 3MF files for tests (the real generator is hub_sim/threemf.py)."""

import hashlib
import json
import os
import struct
import zipfile
import zlib


def tiny_png(width: int = 2, height: int = 2) -> bytes:
    """A valid PNG image of solid grey."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(raw))
        + chunk(b"IEND", b"")
    )


def gcode(layers: int, seconds: int, padding: int = 0) -> bytes:
    """A plate's G-code with Bambu's header block."""
    header = (
        "; HEADER_BLOCK_START\n"
        "; BambuStudio 02.02.01.60\n"
        f"; model printing time: {seconds // 60}m {seconds % 60}s; "
        f"total estimated time: {seconds // 60}m {seconds % 60}s\n"
        f"; total layer number: {layers}\n"
        "; filament used [g] = 9.5\n"
        "; curr_bed_type = Textured PEI Plate\n"
        "; HEADER_BLOCK_END\n"
    )
    body = "".join(f"M73 L{n}\nG1 X{n % 200} Y{(n * 7) % 200} E0.1\n" for n in range(layers))
    # Random hex comments: barely compressible, so padding makes the .3mf itself large.
    filler = b"".join(b"; " + os.urandom(32).hex().encode() + b"\n" for _ in range(padding // 67))
    return (header + body).encode() + filler


def write_bambu_3mf(
    path,
    *,
    plates: int = 1,
    prediction: int = 5025,
    weight: float = 23.45,
    used_m: float = 7.53,
    model_id: str = "C12",
    layers: int = 120,
    with_md5: bool = True,
    bad_md5: bool = False,
    with_slice_info: bool = True,
    gcode_padding: int = 0,
    extra: dict | None = None,
):
    """Write a sliced project as Bambu Studio lays it out; returns the plates' G-code MD5s."""
    md5s = []
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        zf.writestr("_rels/.rels", '<?xml version="1.0"?><Relationships/>')
        zf.writestr("3D/3dmodel.model", '<?xml version="1.0"?><model unit="millimeter"/>')
        plate_xml = []
        for index in range(1, plates + 1):
            code = gcode(layers, prediction, gcode_padding)
            digest = hashlib.md5(code).hexdigest().upper()
            md5s.append(digest)
            zf.writestr(f"Metadata/plate_{index}.gcode", code)
            if with_md5:
                zf.writestr(f"Metadata/plate_{index}.gcode.md5", "0" * 32 if bad_md5 else digest)
            zf.writestr(f"Metadata/plate_{index}.png", tiny_png())
            zf.writestr(f"Metadata/plate_{index}_small.png", tiny_png(1, 1))
            zf.writestr(
                f"Metadata/plate_{index}.json",
                json.dumps({"bed_type": "textured_plate", "nozzle_diameter": 0.4}),
            )
            plate_xml.append(
                f"""  <plate>
    <metadata key="index" value="{index}"/>
    <metadata key="printer_model_id" value="{model_id}"/>
    <metadata key="nozzle_diameters" value="0.4"/>
    <metadata key="prediction" value="{prediction}"/>
    <metadata key="weight" value="{weight}"/>
    <object identify_id="101" name="Part.stl" skipped="false" />
    <object identify_id="102" name="Part.stl" skipped="false" />
    <filament id="1" tray_info_idx="GFA00" type="PLA" color="#161616" used_m="{used_m}" used_g="{weight}"/>
  </plate>"""
            )
        if with_slice_info:
            zf.writestr(
                "Metadata/slice_info.config",
                '<?xml version="1.0" encoding="UTF-8"?>\n<config>\n  <header>\n'
                '    <header_item key="X-BBL-Client-Type" value="slicer"/>\n'
                '    <header_item key="X-BBL-Client-Version" value="02.02.01.60"/>\n'
                "  </header>\n" + "\n".join(plate_xml) + "\n</config>\n",
            )
        zf.writestr(
            "Metadata/model_settings.config",
            '<?xml version="1.0"?><config><object id="2"><metadata key="name" value="Part.stl"/>'
            "</object></config>",
        )
        zf.writestr(
            "Metadata/project_settings.config",
            json.dumps(
                {
                    "printer_model": "Bambu Lab P1S",
                    "printer_settings_id": "Bambu Lab P1S 0.4 nozzle",
                    "default_print_profile": "0.20mm Standard @BBL X1C",
                    "print_settings_id": "0.20mm Standard @BBL X1C",
                    "filament_type": ["PLA"],
                    "nozzle_diameter": ["0.4"],
                    "curr_bed_type": "Textured PEI Plate",
                }
            ),
        )
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return md5s
