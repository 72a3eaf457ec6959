"""Per-model facts of Bambu Lab printers: ids, firmware modules, report style, FTPS and camera."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelProfile:
    """How one printer model identifies itself and behaves on the LAN."""

    key: str  # our short name, as given to --model
    product_name: str  # get_version `product_name` (HA pybambu matches it exactly)
    model_id: str  # SSDP DevModel / slice_info printer_model_id
    serial_prefix: str
    project_name: str  # get_version `project_name` of the ota/ap module
    ap_module: str  # "esp32" on P1/A1, "ap" on X1
    ap_hw_ver: str
    mc_project: str
    ota_version: str
    ams_module: str  # "ams" (AMS) or "ams_f1" (AMS lite)
    ams_hw_ver: str
    delta_reports: bool  # P1/A1 send changed keys (msg 1); X1 always sends the full object
    ftps_session_reuse: bool  # vsftpd require_ssl_reuse (X1 class); P1/A1 unverified -> off
    jpeg_camera: bool  # port 6000 JPEG stream (P1/A1); X1 uses RTSPS on 322 instead
    drops_request_subscribers: bool  # P1P/P1S drop a client subscribing to .../request
    chamber_sensor: bool


# Sources: bambu-protocol.md §1.8 and §6 (HAB fixtures P1P.json, MOCK-A1.json,
# MOCK-X1CMULTIAMS.json; BambuStudio resources/printers; HAB utils.get_printer_type).
MODELS = {
    "P1P": ModelProfile(
        "P1P", "Bambu Lab P1P", "C11", "01S", "C11", "esp32", "AP04", "P1",
        "01.07.00.00", "ams", "AMS08", True, False, True, True, False,
    ),
    "P1S": ModelProfile(
        "P1S", "Bambu Lab P1S", "C12", "01P", "C12", "esp32", "AP04", "P1",
        "01.07.00.00", "ams", "AMS08", True, False, True, True, False,
    ),
    "A1": ModelProfile(
        "A1", "Bambu Lab A1", "N2S", "039", "N2S", "esp32", "AP05", "N2S",
        "01.05.00.00", "ams_f1", "AMS_F102", True, False, True, False, False,
    ),
    "A1MINI": ModelProfile(
        "A1MINI", "Bambu Lab A1 mini", "N1", "030", "N1", "esp32", "AP05", "N1",
        "01.05.00.00", "ams_f1", "AMS_F102", True, False, True, False, False,
    ),
    "X1C": ModelProfile(
        "X1C", "Bambu Lab X1-Carbon", "BL-P001", "00M", "", "ap", "AP05", "",
        "01.09.00.01", "ams", "AMS08", False, True, False, False, True,
    ),
    "X1E": ModelProfile(
        "X1E", "Bambu Lab X1E", "C13", "03W", "", "ap", "AP02", "",
        "01.02.00.00", "ams", "AMS08", False, True, False, False, True,
    ),
}  # fmt: skip


def get_model(name: str) -> ModelProfile:
    """Look a model up by our short name (case and spaces ignored: 'a1 mini' == 'A1MINI')."""
    key = name.upper().replace(" ", "").replace("-", "")
    if key == "X1CARBON":
        key = "X1C"
    try:
        return MODELS[key]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODELS)}") from None


def version_modules(model: ModelProfile, serial: str) -> list[dict]:
    """The `info.get_version` module list a printer of this model answers with."""
    modules = [
        {
            "name": "ota",
            "project_name": model.project_name,
            "sw_ver": model.ota_version,
            "hw_ver": "OTA",
            "sn": serial,
            "flag": 3,
            "product_name": model.product_name,
            "visible": True,
        },
        {
            "name": model.ap_module,
            "project_name": model.project_name,
            "sw_ver": "01.13.33.99" if model.ap_module == "esp32" else "00.00.50.76",
            "hw_ver": model.ap_hw_ver,
            "sn": serial + "AP",
            "flag": 0,
        },
        {
            "name": "mc",
            "project_name": model.mc_project,
            "sw_ver": "00.00.29.75",
            "loader_ver": "00.00.00.23",
            "hw_ver": "MC07",
            "sn": serial + "MC",
            "flag": 0,
        },
        {
            "name": "th",
            "project_name": model.mc_project,
            "sw_ver": "00.00.09.95",
            "loader_ver": "00.00.00.14",
            "hw_ver": "TH09",
            "sn": serial + "TH",
            "flag": 0,
        },
        {
            "name": f"{model.ams_module}/0",
            "project_name": "",
            "sw_ver": "00.00.06.49",
            "hw_ver": model.ams_hw_ver,
            "sn": serial + "AMS0",
            "flag": 0,
        },
    ]
    return modules
