"""hardware/host esp32.Partition under the real micropython: flash rules, otadata, rollback."""

import pathlib
import subprocess
import sys

import pytest

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[2] / "hardware" / "host"))
import _app_image  # noqa: E402

pytestmark = pytest.mark.micropython

# Writes an image into the next OTA slot in 4 KiB blocks, then set_boot().
FLASH_NEXT = """
import esp32
img = open(%r, 'rb').read()
nxt = esp32.Partition(esp32.Partition.RUNNING).get_next_update()
buf = bytearray(4096)
for i in range(0, len(img), 4096):
    chunk = img[i:i + 4096]
    buf[:] = b'\\xff' * 4096
    buf[:len(chunk)] = chunk
    nxt.writeblocks(i // 4096, buf)
nxt.set_boot()
print('SET', nxt.info()[4])
"""
RUNNING = "import esp32, _partition; r = esp32.Partition(esp32.Partition.RUNNING).info()[4]; print('RUN', r, _partition.image_version(r))"


def lines(proc):
    assert proc.returncode == 0, proc.stderr + proc.stdout
    return proc.stdout.split("\n")


def running(run_mp):
    out = [ln for ln in lines(run_mp(RUNNING)) if ln.startswith("RUN")]
    return out[-1].split()[1:]


def test_table_and_block_device(run_mp):
    code = """
import esp32
P = esp32.Partition
print([p.info()[4] for p in P.find(P.TYPE_APP)])
print([p.info()[4] for p in P.find(P.TYPE_DATA)])
v = P('vfs')
print(v.ioctl(4, 0), v.ioctl(5, 0))
b = bytearray(4096)
v.readblocks(3, b); print(b[0], b[4095])
v.writeblocks(3, b'\\x0f' * 4096)
v.writeblocks(3, b'\\xf3\\xf3', 10)   # program without erase: bits only go 1 -> 0
v.readblocks(3, b); print(b[9], b[10], b[11], b[12])
v.ioctl(6, 3); v.readblocks(3, b); print(b[10])
try:
    v.readblocks(v.ioctl(4, 0), b)
except OSError:
    print('outside refused')
print(P(P.RUNNING).info()[4], P(P.BOOT).info()[4])
"""
    out = lines(run_mp(code))
    assert out[0] == "['ota_0', 'ota_1']"
    assert out[1] == "['nvs', 'otadata', 'phy_init', 'vfs']"
    assert out[2] == f"{0x9D0000 // 4096} 4096"
    assert out[3] == "255 255"
    assert out[4] == "15 3 3 15"
    assert out[5] == "255"
    assert out[6] == "outside refused"
    assert out[7] == "ota_0 ota_0"


def test_ota_confirmed_stays_and_unconfirmed_rolls_back(run_mp, tmp_path):
    good = tmp_path / "v2.bin"
    good.write_bytes(_app_image.build("2.0.0", b"x" * 10000))
    assert running(run_mp) == ["ota_0", "0.0.0+host"]
    assert "SET ota_1" in lines(run_mp(FLASH_NEXT % str(good)))
    # First boot of the new image: pending verify; confirm it.
    out = lines(run_mp(RUNNING + "\nesp32.Partition.mark_app_valid_cancel_rollback()"))
    assert "RUN ota_1 2.0.0" in out
    assert running(run_mp) == ["ota_1", "2.0.0"]
    assert running(run_mp) == ["ota_1", "2.0.0"]
    # Next update goes to ota_0; never confirmed, so the boot after it rolls back to ota_1.
    bad = tmp_path / "v3.bin"
    bad.write_bytes(_app_image.build("3.0.0", b"y" * 5000))
    assert "SET ota_0" in lines(run_mp(FLASH_NEXT % str(bad)))
    assert running(run_mp) == ["ota_0", "3.0.0"]
    proc = run_mp(RUNNING)
    assert "rolling back" in proc.stdout
    assert running(run_mp) == ["ota_1", "2.0.0"]


def test_set_boot_refuses_a_corrupt_image(run_mp, tmp_path):
    image = bytearray(_app_image.build("2.0.0", b"z" * 3000))
    image[400] ^= 0xFF
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(image))
    proc = run_mp(FLASH_NEXT % str(bad))
    assert (
        proc.returncode != 0 and "OSError: 5379" in proc.stdout + proc.stderr
    )  # ESP_ERR_OTA_VALIDATE_FAILED
    assert running(run_mp) == ["ota_0", "0.0.0+host"]


def test_images_are_real_esp_images(tmp_path):
    """esptool (Espressif's own parser) accepts the images the host bootloader checks."""
    image = tmp_path / "img.bin"
    image.write_bytes(_app_image.build("4.5.6", b"q" * 2048))
    esptool = pathlib.Path(sys.executable).parent / "esptool"
    out = subprocess.run(
        [str(esptool), "--chip", "esp32s3", "image-info", str(image)],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    assert "Checksum: 0x" in out and "(valid)" in out
    assert "Validation hash" in out and out.count("(valid)") == 2
    assert "App version: 4.5.6" in out
