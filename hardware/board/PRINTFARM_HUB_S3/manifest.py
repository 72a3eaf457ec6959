# ruff: noqa: F821  (include/module/package are provided by MicroPython's makemanifest.py)
# Freeze manifest for the PrintFarm hub image (MicroPython's manifest.py format).
#
# Everything the hub runs is frozen as bytecode: MicroPython's own esp32 boot modules, the
# never-updated loader and main.py, the platform (device/), the application (hub/, net/,
# drivers/, transfer.py, which application slots may later shadow), protocol/ and microdot
# from the pinned PyPI wheel. $(BOARD_DIR) is this folder; the repository root is three up.
import os

include("$(PORT_DIR)/boards/manifest.py")

FIRMWARE = "$(BOARD_DIR)/../../../firmware"
ROOT = "$(BOARD_DIR)/../../.."
# Folder that holds the microdot package installed from PyPI (microdot==2.7.0, the
# pyproject.toml pin); see hardware/README.md for the command that sets it.
MICRODOT_DIR = os.environ.get("PRINTFARM_MICRODOT_DIR", "")

module("main.py", base_path=FIRMWARE)
module("loader.py", base_path=FIRMWARE)
module("release_key.py", base_path=FIRMWARE)
module("transfer.py", base_path=FIRMWARE)
package("device", base_path=FIRMWARE)
package("hub", base_path=FIRMWARE)
package("net", base_path=FIRMWARE)
package("drivers", base_path=FIRMWARE)
package("protocol", base_path=ROOT)
package("microdot", files=["__init__.py", "microdot.py", "helpers.py"], base_path=MICRODOT_DIR)
