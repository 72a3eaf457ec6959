"""The print_command a hub receives for an assignment: signed file URL, name, plate, options."""

import re

from cloud.models import PrintFile, system_access
from cloud.services.dispatch import Assignment

FILE_URL_TTL_MS = 24 * 3600 * 1000  # long enough for a queued transfer on a slow link
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def printer_file_name(job_id: str, name: str) -> str:
    """Name on the printer's SD card: ASCII-safe, unique per job, ending in .3mf."""
    stem = name.replace("\\", "/").rsplit("/", 1)[-1]
    for suffix in (".3mf", ".gcode"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
    stem = _UNSAFE.sub("_", stem).strip("._-") or "print"
    return f"{stem[:48]}-{job_id[:8]}.3mf"


def print_command_for(assignment: Assignment, signer, public_url: str) -> dict:
    """Build the print_command of docs/protocol.md for a claimed job (DB thread)."""
    with system_access():
        print_file = PrintFile.get_by_id(assignment.print_file_id)
    signed = signer.sign(print_file.file_key, ttl_ms=FILE_URL_TTL_MS)
    options = {
        "timelapse": False,
        "bed_leveling": True,
        "flow_cali": False,
        "vibration_cali": False,
        "use_ams": False,
    }
    if print_file.curr_bed_type:
        options["bed_type"] = print_file.curr_bed_type
    return {
        "type": "print_command",
        "printer_id": assignment.printer_id,
        "job_id": assignment.job_id,
        "action": "start",
        "file_url": signed.absolute(public_url),
        "file_name": printer_file_name(assignment.job_id, print_file.name),
        "file_size": int(print_file.file_size_bytes or 0),
        "plate": 1,
        "options": options,
    }
