"""The print_command a hub receives for an assignment: signed file URL, name, plate, options."""

import re

from cloud.models import PrintFile, TenantContext
from cloud.services import files
from cloud.services.dispatch import Assignment

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
    """Build the print_command of docs/protocol.md for a claimed job (DB thread): the file
    fields come from the files service (signed URL, size, MD5, plate)."""
    ctx = TenantContext(tenant_id=assignment.tenant_id)
    print_file = PrintFile.get_scoped(ctx, assignment.print_file_id)
    source = files.print_source(ctx, signer, print_file.id, public_url=public_url)
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
        **source,
        "file_name": printer_file_name(assignment.job_id, print_file.name),
        "file_size": int(source.get("file_size") or 0),
        "options": options,
    }
