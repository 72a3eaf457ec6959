"""Where an emulated hub keeps its flash, NVS and reset state: $PRINTFARM_HUB_DIR, else the cwd."""

import os


def path(name):
    """Absolute-or-relative path of a file in the hub's state directory (created on demand)."""
    base = os.getenv("PRINTFARM_HUB_DIR") or "."
    try:
        os.mkdir(base)
    except OSError:
        pass  # exists
    return base + "/" + name


def flash_path(label):
    """File that backs the flash partition with this label."""
    folder = path("flash")
    try:
        os.mkdir(folder)
    except OSError:
        pass
    return folder + "/" + label + ".bin"
