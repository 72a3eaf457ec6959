"""The simulated SD card: a folder with the printer's layout, a capacity, and 3MF job lookup."""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from xml.etree import ElementTree

# print_error codes from Bambu's own error table (ha-bambulab hms_error_text, `device_error`).
ERR_FILE_NOT_AVAILABLE = 0x05008013  # "The print file is not available..."
ERR_UNSUPPORTED_PATH = 0x05004002  # "Unsupported print file path or name..."
ERR_PARSE_3MF = 0x0502402D  # "...unable to parse the 3mf file..."
ERR_DOWNLOAD = 0x0500400B  # "There was a problem downloading a file..." (used for md5 mismatch)
ERR_NO_SD_CARD = 0x0500400C  # "Please insert a MicroSD card..."

# Folders a P1/A1/X1 SD card carries (bambu-protocol.md §2.2).
SD_LAYOUT = ("cache", "timelapse", "timelapse/thumbnail", "image", "logger")

_HEADER_SCAN_BYTES = 16 * 1024
_LAYERS_RE = re.compile(rb"total layer number:\s*(\d+)")
_ESTIMATE_RE = re.compile(rb"total estimated time:\s*([0-9dhms ]+)")
_DURATION_RE = re.compile(rb"(\d+)([dhms])")
_FILAMENT_RE = re.compile(rb"; filament_type = (\w+)")


class PrintStartError(Exception):
    """A project_file the printer cannot print; carries the print_error code it reports."""

    def __init__(self, print_error: int, message: str):
        super().__init__(message)
        self.print_error = print_error


@dataclass
class PrintJobSpec:
    """What the printer learned from the 3MF it was told to print."""

    file_path: Path  # on the SD card
    file_name: str  # basename, e.g. "cube.gcode.3mf"
    plate_index: int
    gcode_path: str  # "Metadata/plate_1.gcode"
    print_time_s: int
    layers: int
    filament_type: str
    weight_g: float


class SdCard:
    """The card's folder; `capacity_bytes` bounds what uploads may fill (None = unlimited)."""

    def __init__(self, root, capacity_bytes: int | None = None):
        self.root = Path(root)
        self.capacity_bytes = capacity_bytes
        self.inserted = True
        self._make_layout()

    def _make_layout(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for sub in SD_LAYOUT:
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def used_bytes(self) -> int:
        """Bytes of all files on the card."""
        return sum(p.stat().st_size for p in self.root.rglob("*") if p.is_file())

    def free_bytes(self) -> int | None:
        """Bytes left before the card is full (None when unlimited)."""
        if self.capacity_bytes is None:
            return None
        return max(0, self.capacity_bytes - self.used_bytes())

    def wipe(self) -> None:
        """Empty the card (keeps the folder layout)."""
        shutil.rmtree(self.root, ignore_errors=True)
        self._make_layout()

    def resolve(self, url: str, file_name: str) -> Path:
        """Map a project_file `url`/`file` pair to a path on the card (not checked to exist)."""
        rel = None
        if url.startswith("ftp://"):
            # "ftp://name" (just uploaded) and "ftp:///path" (already on the card) both occur.
            rel = url[len("ftp://") :]
        elif url.startswith("file://"):
            path = url[len("file://") :]
            for mount in ("/sdcard", "/mnt/sdcard"):
                if path == mount or path.startswith(mount + "/"):
                    rel = path[len(mount) :]
                    break
        elif url == "" and file_name:
            rel = file_name
        if rel is None:
            raise PrintStartError(ERR_UNSUPPORTED_PATH, f"unsupported url {url!r}")
        if rel.strip("/") == "" and file_name:
            rel = file_name
        parts = PurePosixPath("/" + rel.lstrip("/")).parts[1:]
        if not parts or any(p in ("..", ".") for p in parts):
            raise PrintStartError(ERR_UNSUPPORTED_PATH, f"unsupported path {rel!r}")
        return self.root.joinpath(*parts)

    def inspect_job(self, url: str, file_name: str, plate_param: str, md5: str) -> PrintJobSpec:
        """Open the 3MF a project_file names and read its plate; blocking (run in a thread)."""
        if not self.inserted:
            raise PrintStartError(ERR_NO_SD_CARD, "no SD card")
        path = self.resolve(url, file_name)
        if not path.is_file():
            raise PrintStartError(ERR_FILE_NOT_AVAILABLE, f"{path.name} not on the card")
        # OBA: md5 of the file. The stock plugin sends "from_sd_card" instead; only a real
        # digest is checked.
        if re.fullmatch(r"[0-9a-fA-F]{32}", md5 or "") and _file_md5(path) != md5.lower():
            raise PrintStartError(ERR_DOWNLOAD, "md5 mismatch")
        match = re.fullmatch(r"/?Metadata/plate_(\d+)\.gcode", plate_param or "")
        if not match:
            raise PrintStartError(ERR_UNSUPPORTED_PATH, f"unsupported plate {plate_param!r}")
        plate = int(match.group(1))
        gcode_name = f"Metadata/plate_{plate}.gcode"
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if gcode_name not in names:
                    raise PrintStartError(ERR_PARSE_3MF, f"{gcode_name} missing in 3MF")
                with zf.open(gcode_name) as g:
                    head = g.read(_HEADER_SCAN_BYTES)
                info = {}
                if "Metadata/slice_info.config" in names:
                    info = _plate_slice_info(zf.read("Metadata/slice_info.config"), plate)
        except (zipfile.BadZipFile, OSError, ElementTree.ParseError) as exc:
            raise PrintStartError(ERR_PARSE_3MF, f"cannot read 3MF: {exc}") from exc
        layers_match = _LAYERS_RE.search(head)
        return PrintJobSpec(
            file_path=path,
            file_name=path.name,
            plate_index=plate,
            gcode_path=gcode_name,
            print_time_s=max(1, int(float(info.get("prediction", 600)))),
            layers=max(1, int(layers_match.group(1))) if layers_match else 1,
            filament_type=info.get("filament_type", "PLA"),
            weight_g=float(info.get("weight", 0) or 0),
        )

    def inspect_gcode(self, param: str) -> PrintJobSpec:
        """A bare G-code file named by print.gcode_file ("/sdcard/x.gcode"); blocking."""
        if not self.inserted:
            raise PrintStartError(ERR_NO_SD_CARD, "no SD card")
        path = self.resolve("file://" + param if param.startswith("/") else "", param)
        if not path.is_file():
            raise PrintStartError(ERR_FILE_NOT_AVAILABLE, f"{path.name} not on the card")
        with path.open("rb") as f:
            head = f.read(_HEADER_SCAN_BYTES)
        layers = _LAYERS_RE.search(head)
        estimate = _ESTIMATE_RE.search(head)
        seconds = 600
        if estimate:
            units = {"d": 86400, "h": 3600, "m": 60, "s": 1}
            seconds = sum(int(n) * units[u.decode()] for n, u in _DURATION_RE.findall(estimate[1]))
        filament = _FILAMENT_RE.search(head)
        return PrintJobSpec(
            file_path=path,
            file_name=path.name,
            plate_index=0,
            gcode_path=param,
            print_time_s=max(1, seconds),
            layers=max(1, int(layers.group(1))) if layers else 1,
            filament_type=filament.group(1).decode() if filament else "PLA",
            weight_g=0.0,
        )


def _file_md5(path: Path) -> str:
    digest = hashlib.md5()
    with path.open("rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def _plate_slice_info(xml: bytes, plate: int) -> dict:
    """prediction/weight/filament type of one plate in slice_info.config."""
    root = ElementTree.fromstring(xml)
    for node in root.iter("plate"):
        meta = {m.get("key"): m.get("value") for m in node.iter("metadata")}
        if meta.get("index") == str(plate):
            filament = node.find("filament")
            if filament is not None:
                meta["filament_type"] = filament.get("type", "PLA")
            return meta
    return {}
