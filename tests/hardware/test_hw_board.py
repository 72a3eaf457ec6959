"""The board definition, sdkconfig fragment, freeze manifest, pins and TLS patch are consistent."""

import os
import pathlib
import re
import subprocess
import tomllib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HARDWARE = ROOT / "hardware"
BOARD = HARDWARE / "board" / "PRINTFARM_HUB_S3"
PATCH = HARDWARE / "patches" / "micropython-v1.28.0-tls-session.patch"
MSS = 1436  # lwIP's default TCP_MSS on ESP-IDF
# sdkconfig fragments MicroPython v1.28.0 ships in ports/esp32/boards/ (the board names them).
MICROPYTHON_FRAGMENTS = {
    "sdkconfig.base",
    "sdkconfig.ble",
    "sdkconfig.240mhz",
    "sdkconfig.spiram_sx",
    "sdkconfig.spiram_oct",
}


def versions():
    out = {}
    for line in (HARDWARE / "versions.env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            out[key] = value
    return out


def sdkconfig(path):
    values, seen = {}, []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, value = line.split("=", 1)
        assert key.startswith("CONFIG_"), key
        seen.append(key)
        values[key] = value
    duplicates = {k for k in seen if seen.count(k) > 1}
    assert not duplicates, duplicates
    return values


def test_sdkconfig_fragment():
    cfg = sdkconfig(BOARD / "sdkconfig.board")
    assert cfg["CONFIG_LWIP_MAX_SOCKETS"] == "16"
    assert int(cfg["CONFIG_LWIP_MAX_ACTIVE_TCP"]) >= 16
    assert cfg["CONFIG_ESPTOOLPY_FLASHSIZE_16MB"] == "y"
    assert cfg["CONFIG_BOOTLOADER_APP_ROLLBACK_ENABLE"] == "y"
    assert cfg["CONFIG_ESP_TASK_WDT_PANIC"] == "y"
    for key in ("CONFIG_LWIP_TCP_WND_DEFAULT", "CONFIG_LWIP_TCP_SND_BUF_DEFAULT"):
        window = int(cfg[key])
        assert 4 * 5744 <= window < 65536  # bigger than the stock 5744, no window scaling needed
        assert window % MSS == 0
    # The receive mailbox must hold a full window of segments.
    assert int(cfg["CONFIG_LWIP_TCP_RECVMBOX_SIZE"]) * MSS >= int(
        cfg["CONFIG_LWIP_TCP_WND_DEFAULT"]
    )
    assert int(cfg["CONFIG_ESP_WIFI_DYNAMIC_RX_BUFFER_NUM"]) >= int(
        cfg["CONFIG_ESP_WIFI_RX_BA_WIN"]
    )


def test_board_cmake_names_existing_files():
    cmake = (BOARD / "mpconfigboard.cmake").read_text()
    assert "set(IDF_TARGET esp32s3)" in cmake
    fragments = re.findall(r"boards/(sdkconfig\.[a-z0-9_]+)", cmake)
    assert set(fragments) <= MICROPYTHON_FRAGMENTS and "sdkconfig.spiram_oct" in fragments
    assert "${MICROPY_BOARD_DIR}/sdkconfig.board" in cmake
    table = re.search(r"\$\{MICROPY_BOARD_DIR\}/([\w.-]+\.csv)", cmake).group(1)
    assert (BOARD / table).is_file()
    assert (BOARD / "manifest.py").is_file() and "${MICROPY_BOARD_DIR}/manifest.py" in cmake
    header = (BOARD / "mpconfigboard.h").read_text()
    assert "MICROPY_HW_BOARD_NAME" in header and "MICROPY_HW_MCU_NAME" in header


def run_manifest():
    """Execute manifest.py as MicroPython's makemanifest does, recording what it freezes."""
    frozen, includes = [], []
    board = str(BOARD)

    def expand(path):
        return path.replace("$(BOARD_DIR)", board)

    def module(name, base_path=".", opt=None):
        frozen.append(pathlib.Path(expand(base_path)) / name)

    def package(name, files=None, base_path=".", opt=None):
        base = pathlib.Path(expand(base_path)) / name
        if files is None:
            frozen.append(base)
        else:
            frozen.extend(base / f for f in files)

    env = {
        "include": includes.append,
        "module": module,
        "package": package,
        "freeze": lambda *a, **k: None,
        "require": lambda *a, **k: None,
    }
    exec(compile((BOARD / "manifest.py").read_text(), "manifest.py", "exec"), env)
    return frozen, includes


def test_manifest_names_files_that_exist(monkeypatch):
    import importlib.util

    microdot = pathlib.Path(importlib.util.find_spec("microdot").submodule_search_locations[0])
    monkeypatch.setenv("PRINTFARM_MICRODOT_DIR", str(microdot.parent))
    frozen, includes = run_manifest()
    assert includes == ["$(PORT_DIR)/boards/manifest.py"]  # MicroPython's _boot, flashbdev, asyncio
    missing = [str(p) for p in frozen if not p.exists()]
    assert missing == []
    names = {p.name for p in frozen}
    assert {"main.py", "loader.py", "device", "protocol", "microdot.py"} <= names
    for p in frozen:
        if p.is_dir():
            assert list(p.glob("*.py")), p  # a package with modules to freeze


def test_pins_agree():
    pins = versions()
    assert pins["MICROPYTHON_VERSION"] == "v1.28.0" and len(pins["MICROPYTHON_COMMIT"]) == 40
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert f"microdot=={pins['MICRODOT_VERSION']}" in extras["firmware"]
    import microdot

    assert microdot.__version__ == pins["MICRODOT_VERSION"]
    readme = (HARDWARE / "README.md").read_text()
    for key in ("MICROPYTHON_VERSION", "MICROPYTHON_COMMIT", "ESP_IDF_VERSION"):
        assert pins[key] in readme, key
    assert pins["MICROPYTHON_COMMIT"] in PATCH.read_text()


def test_patch_is_a_clean_diff_of_the_tls_module_only():
    text = PATCH.read_text()
    assert re.findall(r"^diff --git a/(\S+) b/(\S+)$", text, re.M) == [
        ("extmod/modtls_mbedtls.c",) * 2
    ]
    added = [ln[1:] for ln in text.splitlines() if ln.startswith("+") and not ln.startswith("+++")]
    body = "\n".join(added)
    for api in (
        "MP_QSTR_SSLSession",
        "MP_QSTR_session",
        "MP_QSTR_serialize",
        "mbedtls_ssl_set_session",
        "mbedtls_ssl_get_session",
        "mbedtls_ssl_session_save",
        "mbedtls_ssl_session_load",
    ):
        assert api in body, api
    # Hunk headers agree with their bodies (what `git apply` checks first).
    for m in re.finditer(r"^@@ -\d+,(\d+) \+\d+,(\d+) @@.*\n((?:[ +\-\\].*\n?)*)", text, re.M):
        lines = [ln for ln in m.group(3).splitlines() if not ln.startswith("\\")]
        old = sum(1 for ln in lines if ln[:1] in (" ", "-"))
        new = sum(1 for ln in lines if ln[:1] in (" ", "+"))
        assert (old, new) == (int(m.group(1)), int(m.group(2)))


def micropython_source():
    """extmod/modtls_mbedtls.c of the pinned release, when a MicroPython checkout is at hand."""
    src = os.environ.get("PRINTFARM_MICROPYTHON_SRC", "/work/.mirror/micropython+micropython/repo")
    commit = versions()["MICROPYTHON_COMMIT"]
    try:
        return subprocess.run(
            ["git", "-C", src, "show", commit + ":extmod/modtls_mbedtls.c"],
            capture_output=True,
            check=True,
            timeout=60,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None


def test_patch_applies_to_the_pinned_release(tmp_path):
    source = micropython_source()
    if source is None:
        pytest.skip("no MicroPython checkout at the pinned commit (set PRINTFARM_MICROPYTHON_SRC)")
    (tmp_path / "extmod").mkdir()
    (tmp_path / "extmod" / "modtls_mbedtls.c").write_bytes(source)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    check = subprocess.run(
        ["git", "-C", str(tmp_path), "apply", "--check", str(PATCH)], capture_output=True, text=True
    )
    assert check.returncode == 0, check.stderr
