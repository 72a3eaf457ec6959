"""Read Bambu Studio / Orca sliced 3MF files (`.gcode.3mf`): print metadata, plates, thumbnail."""

import hashlib
import json
import re
import xml.etree.ElementTree as ET
import zipfile
import zlib
from dataclasses import asdict, dataclass, field
from pathlib import Path

SLICE_INFO = "Metadata/slice_info.config"
MODEL_SETTINGS = "Metadata/model_settings.config"
PROJECT_SETTINGS = "Metadata/project_settings.config"
MODEL_ENTRY = "3D/3dmodel.model"
CONTENT_TYPES = "[Content_Types].xml"
_PLATE_GCODE = re.compile(r"^Metadata/plate_(\d+)\.gcode$")

# Caps on what is decompressed, so a small zip cannot expand into gigabytes in memory.
MAX_CONFIG_BYTES = 32 * 1024 * 1024  # project_settings.config of a big project is ~100 KiB
MAX_THUMBNAIL_BYTES = 8 * 1024 * 1024
GCODE_HEADER_BYTES = 128 * 1024  # Bambu's HEADER_BLOCK and CONFIG summary sit at the top
HASH_CHUNK_BYTES = 1024 * 1024
# A plate's G-code is hashed in full; past this it is a zip bomb, not a print (the largest real
# plates are a few hundred MiB).
MAX_GCODE_BYTES = 2 * 1024 * 1024 * 1024
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

# project_settings `printer_model` -> the model code slice_info would carry (docs §6).
MODEL_CODES = {
    "Bambu Lab X1 Carbon": "BL-P001",
    "Bambu Lab X1": "BL-P002",
    "Bambu Lab X1E": "C13",
    "Bambu Lab P1P": "C11",
    "Bambu Lab P1S": "C12",
    "Bambu Lab A1 mini": "N1",
    "Bambu Lab A1": "N2S",
    "Bambu Lab P2S": "N7",
    "Bambu Lab H2D": "O1D",
}


class ThreeMFError(ValueError):
    """The file is not a readable sliced 3MF; `code` names the problem for API errors."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


@dataclass
class PlateMetadata:
    """One sliced plate: what a printer runs when told `Metadata/plate_<index>.gcode`."""

    index: int
    gcode_path: str
    gcode_md5: str  # upper-case hex, as Bambu Studio writes plate_N.gcode.md5
    gcode_size_bytes: int
    print_time_seconds: int | None = None
    filament_weight_grams: float | None = None
    filament_length_meters: float | None = None
    filament_types: list[str] = field(default_factory=list)
    layer_count: int | None = None
    object_count: int | None = None
    bed_type: str | None = None
    thumbnail_path: str | None = None


@dataclass
class ThreeMFMetadata:
    """What the print_files row records; totals are summed over the sliced plates."""

    print_time_seconds: int | None = None
    filament_weight_grams: float | None = None
    filament_length_meters: float | None = None
    filament_type: str | None = None
    printer_model_id: str | None = None
    printer_model: str | None = None
    nozzle_diameter: float | None = None
    layer_count: int | None = None
    object_count: int | None = None
    curr_bed_type: str | None = None
    default_print_profile: str | None = None
    slicer_version: str | None = None
    plates: list[PlateMetadata] = field(default_factory=list)

    @property
    def plate_count(self) -> int:
        """Number of sliced plates."""
        return len(self.plates)

    def to_dict(self) -> dict:
        """Plain-JSON form (plates included)."""
        return {**asdict(self), "plate_count": self.plate_count}


def read_metadata(path: str | Path, *, verify_gcode: bool = True) -> ThreeMFMetadata:
    """Parse a sliced 3MF from disk; raise ThreeMFError for anything corrupt or not a 3MF.

    With verify_gcode, each plate's G-code is streamed through MD5 (and the zip CRC) and
    compared with plate_N.gcode.md5, so a damaged upload is refused now, not at the printer.
    """
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ThreeMFError("not_3mf", "the file is not a 3MF (not a ZIP archive)") from exc
    with archive:
        try:
            return _read(archive, verify_gcode)
        except (
            zipfile.BadZipFile,
            zlib.error,
            EOFError,
            OSError,
            RuntimeError,
            NotImplementedError,
        ) as exc:
            # Bad CRC, truncated member, encrypted entry, unsupported compression.
            raise ThreeMFError("corrupt_3mf", f"the 3MF archive is damaged: {exc}") from exc


def read_thumbnail(path: str | Path, entry: str) -> bytes | None:
    """The PNG bytes of `entry` (e.g. Metadata/plate_1.png), None if absent or not a PNG."""
    try:
        with zipfile.ZipFile(path) as archive:
            if entry not in archive.NameToInfo:
                return None
            data = _read_entry(archive, entry, MAX_THUMBNAIL_BYTES)
    except (zipfile.BadZipFile, zlib.error, OSError, EOFError, RuntimeError, ThreeMFError):
        return None
    return data if data.startswith(PNG_SIGNATURE) else None


def _read(archive: zipfile.ZipFile, verify_gcode: bool) -> ThreeMFMetadata:
    names = set(archive.namelist())
    if MODEL_ENTRY not in names and CONTENT_TYPES not in names:
        raise ThreeMFError("not_3mf", "the ZIP archive is not a 3MF (no 3D/3dmodel.model)")
    gcode_plates = sorted(int(m.group(1)) for name in names if (m := _PLATE_GCODE.match(name)))
    if not gcode_plates:
        raise ThreeMFError(
            "not_sliced",
            "the 3MF has no sliced plate (Metadata/plate_N.gcode); export it from the slicer "
            "with 'Export plate sliced file'",
        )
    slice_plates, slicer_version = _slice_info(archive, names)
    project = _project_settings(archive, names)
    object_names = _model_objects(archive, names)

    meta = ThreeMFMetadata(slicer_version=slicer_version)
    for index in gcode_plates:
        meta.plates.append(
            _plate(archive, names, index, slice_plates.get(index, {}), project, verify_gcode)
        )

    first = slice_plates.get(gcode_plates[0], {})
    meta.print_time_seconds = _total(p.print_time_seconds for p in meta.plates)
    meta.filament_weight_grams = _rounded(_total(p.filament_weight_grams for p in meta.plates))
    meta.filament_length_meters = _rounded(_total(p.filament_length_meters for p in meta.plates))
    layers = [p.layer_count for p in meta.plates if p.layer_count is not None]
    meta.layer_count = max(layers) if layers else None
    types = []
    for plate in meta.plates:
        types.extend(t for t in plate.filament_types if t not in types)
    if not types:
        types = [t for t in _as_list(project.get("filament_type")) if t][:1]
    meta.filament_type = ";".join(types) or None
    meta.printer_model = _text(project.get("printer_model"))
    meta.printer_model_id = _text(first.get("printer_model_id")) or MODEL_CODES.get(
        meta.printer_model or ""
    )
    meta.nozzle_diameter = _number(first.get("nozzle_diameters")) or _number(
        (_as_list(project.get("nozzle_diameter")) or [None])[0]
    )
    plate_objects = sum(p.object_count or 0 for p in meta.plates)
    meta.object_count = plate_objects or len(object_names) or None
    meta.curr_bed_type = _text(project.get("curr_bed_type")) or next(
        (p.bed_type for p in meta.plates if p.bed_type), None
    )
    meta.default_print_profile = _text(project.get("default_print_profile")) or _text(
        project.get("print_settings_id")
    )
    return meta


def _plate(archive, names, index, info: dict, project: dict, verify: bool) -> PlateMetadata:
    gcode_path = f"Metadata/plate_{index}.gcode"
    header = _gcode_header(archive, gcode_path)
    size = archive.getinfo(gcode_path).file_size
    if size > MAX_GCODE_BYTES:
        raise ThreeMFError("corrupt_3mf", f"{gcode_path} is larger than {MAX_GCODE_BYTES} bytes")
    recorded_md5 = None
    if f"{gcode_path}.md5" in names:
        recorded_md5 = _read_entry(archive, f"{gcode_path}.md5", 64).decode("ascii", "replace")
        recorded_md5 = recorded_md5.strip().upper()
        if not re.fullmatch(r"[0-9A-F]{32}", recorded_md5):
            raise ThreeMFError("corrupt_3mf", f"{gcode_path}.md5 is not an MD5 digest")
    if verify or recorded_md5 is None:
        digest = hashlib.md5(usedforsecurity=False)
        hashed = 0
        with archive.open(gcode_path) as stream:  # zipfile checks the CRC at the end
            while chunk := stream.read(HASH_CHUNK_BYTES):
                hashed += len(chunk)
                if hashed > MAX_GCODE_BYTES:  # the directory understated the size
                    raise ThreeMFError("corrupt_3mf", f"{gcode_path} is too large")
                digest.update(chunk)
        actual = digest.hexdigest().upper()
        if recorded_md5 is not None and actual != recorded_md5:
            raise ThreeMFError(
                "corrupt_3mf", f"{gcode_path} does not match its recorded MD5 checksum"
            )
        recorded_md5 = actual
    filaments = info.get("filaments", [])
    plate_json = _plate_json(archive, names, index)
    thumbnail = f"Metadata/plate_{index}.png"
    return PlateMetadata(
        index=index,
        gcode_path=gcode_path,
        gcode_md5=recorded_md5,
        gcode_size_bytes=size,
        print_time_seconds=_integer(info.get("prediction"))
        or _duration(header.get("total estimated time") or header.get("estimated printing time")),
        filament_weight_grams=_number(info.get("weight"))
        or _rounded(_total(_number(f.get("used_g")) for f in filaments))
        or _number(header.get("total filament weight [g]"))
        or _number(header.get("filament used [g]")),
        filament_length_meters=_rounded(_total(_number(f.get("used_m")) for f in filaments)),
        filament_types=[f["type"] for f in filaments if f.get("type")],
        layer_count=_integer(header.get("total layer number")),
        object_count=len(info.get("objects", [])) or None,
        bed_type=_text(plate_json.get("bed_type")) or _text(header.get("curr_bed_type")),
        thumbnail_path=thumbnail if thumbnail in names else None,
    )


def _slice_info(archive, names) -> tuple[dict[int, dict], str | None]:
    """{plate index: {metadata..., objects: [...], filaments: [...]}} and the slicer version."""
    if SLICE_INFO not in names:
        return {}, None
    root = _xml(archive, SLICE_INFO)
    version = None
    for item in root.iter("header_item"):
        if item.get("key") == "X-BBL-Client-Version":
            version = item.get("value")
    plates = {}
    for plate in root.iter("plate"):
        values = {m.get("key"): m.get("value") for m in plate.findall("metadata")}
        values["objects"] = [o.attrib for o in plate.findall("object")]
        values["filaments"] = [f.attrib for f in plate.findall("filament")]
        index = _integer(values.get("index"))
        if index is not None:
            plates[index] = values
    return plates, version


def _model_objects(archive, names) -> list[str]:
    if MODEL_SETTINGS not in names:
        return []
    root = _xml(archive, MODEL_SETTINGS)
    return [
        m.get("value")
        for obj in root.findall("object")
        for m in obj.findall("metadata")
        if m.get("key") == "name"
    ]


def _project_settings(archive, names) -> dict:
    if PROJECT_SETTINGS not in names:
        return {}
    raw = _read_entry(archive, PROJECT_SETTINGS, MAX_CONFIG_BYTES)
    try:
        value = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ThreeMFError("corrupt_3mf", f"{PROJECT_SETTINGS} is not valid JSON") from exc
    if not isinstance(value, dict):
        raise ThreeMFError("corrupt_3mf", f"{PROJECT_SETTINGS} is not a JSON object")
    return value


def _plate_json(archive, names, index) -> dict:
    entry = f"Metadata/plate_{index}.json"
    if entry not in names:
        return {}
    try:
        value = json.loads(_read_entry(archive, entry, MAX_CONFIG_BYTES))
    except (ValueError, UnicodeDecodeError):
        return {}  # optional file; HA also ignores a bad one
    return value if isinstance(value, dict) else {}


def _gcode_header(archive, entry) -> dict:
    """`; key: value` / `; key = value` comment lines from the top of a plate's G-code."""
    with archive.open(entry) as stream:
        head = stream.read(GCODE_HEADER_BYTES).decode("utf-8", "replace")
    values = {}
    for line in head.splitlines():
        if not line.startswith(";"):
            continue
        text = line[1:].strip()
        for sep in (" = ", ": "):
            if sep in text:
                key, value = text.split(sep, 1)
                values.setdefault(key.strip(), value.strip())
                break
        # Bambu puts two facts on one line: "model printing time: 9m 1s; total estimated time: 10m"
        for part in text.split(";")[1:]:
            if ":" in part:
                key, value = part.split(":", 1)
                values.setdefault(key.strip(), value.strip())
    return values


def _xml(archive, entry) -> ET.Element:
    raw = _read_entry(archive, entry, MAX_CONFIG_BYTES)
    # No DTDs: entity expansion is the classic XML bomb and slicers never write one.
    if b"<!DOCTYPE" in raw or b"<!ENTITY" in raw:
        raise ThreeMFError("corrupt_3mf", f"{entry} contains a DTD, refused")
    try:
        return ET.fromstring(raw)
    except ET.ParseError as exc:
        raise ThreeMFError("corrupt_3mf", f"{entry} is not well-formed XML: {exc}") from exc


def _read_entry(archive, entry, limit: int) -> bytes:
    if archive.getinfo(entry).file_size > limit:
        raise ThreeMFError("corrupt_3mf", f"{entry} is larger than {limit} bytes")
    with archive.open(entry) as stream:
        data = stream.read(limit + 1)
    if len(data) > limit:  # the header lied about the size
        raise ThreeMFError("corrupt_3mf", f"{entry} is larger than {limit} bytes")
    return data


def _as_list(value) -> list:
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value) -> str | None:
    if isinstance(value, list):
        value = value[0] if value else None
    if value is None:
        return None
    value = str(value).strip()
    return value or None


def _number(value) -> float | None:
    try:
        number = float(str(value).strip())
    except (TypeError, ValueError):
        return None
    return number if number == number and number not in (float("inf"), float("-inf")) else None


def _integer(value) -> int | None:
    number = _number(value)
    return None if number is None else int(round(number))


def _total(values) -> float | None:
    present = [v for v in values if v is not None]
    return sum(present) if present else None


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def _duration(text: str | None) -> int | None:
    """Seconds in a slicer duration such as '1d 2h 3m 4s' (None if unreadable)."""
    if not text:
        return None
    parts = re.findall(r"(\d+(?:\.\d+)?)\s*([dhms])", text)
    if not parts:
        return None
    scale = {"d": 86400, "h": 3600, "m": 60, "s": 1}
    return int(sum(float(amount) * scale[unit] for amount, unit in parts))
