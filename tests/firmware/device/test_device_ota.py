"""Firmware OTA end to end under micropython: take and confirm, roll back, refuse bad offers."""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "hardware" / "host"))
import _app_image  # noqa: E402

pytestmark = pytest.mark.micropython

BOOT = "import loader\nloader.run('benchapp.app')\n"


def image(version, size=20000):
    return _app_image.build(version, bytes(range(256)) * (size // 256))


def boot_and_update(hub, cloud, files, signer, version):
    hub.start(BOOT)
    hello = cloud.wait_hellos(1)
    assert hello["firmware"] == "0.0.0+host" and hello["reset_reason"] == "power_on"
    cloud.send(signer.offer(files, "firmware", version, image(version)))
    ack = cloud.wait(lambda m: m.get("type") == "command_ack", what="ack")
    assert ack["success"] is True, ack
    assert ack["result"] == {"version": version, "slot": "ota_1"}
    hub.wait_exit()  # the hub resets into the new image


def test_good_image_takes_and_is_marked_valid(bench):
    hub, cloud, files, signer = bench
    boot_and_update(hub, cloud, files, signer, "2.0.0")
    hub.start(BOOT)
    hello = cloud.wait_hellos(2)
    assert hello["firmware"] == "2.0.0" and hello["reset_reason"] == "hard"
    cloud.wait(lambda m: m.get("lines") == ["health: confirmed"], what="confirmation")
    hub.stop()  # power cycle: the confirmed image stays
    hub.start(BOOT)
    hello = cloud.wait_hellos(3)
    assert hello["firmware"] == "2.0.0" and hello["reset_reason"] == "power_on"
    cloud.wait(lambda m: m.get("lines") == ["health: good"], what="a normal boot")
    assert not any("rolling back" in line for line in hub.lines)


def test_image_that_never_reaches_the_cloud_rolls_back(bench):
    hub, cloud, files, signer = bench
    hub.env["BENCH_DEADLINE_MS"] = 3000  # how long the new image gets to reach the cloud
    boot_and_update(hub, cloud, files, signer, "2.0.0-broken")
    cloud.refuse = True  # the new image never gets a working cloud link
    hub.start(BOOT)
    assert cloud.wait_hellos(2)["firmware"] == "2.0.0-broken"
    out = hub.wait_exit()  # health deadline passes: the hub resets itself
    assert "update never became healthy" in out
    cloud.refuse = False
    seen = len(cloud.hellos())
    hub.start(BOOT)
    hub.wait_line("rolling back")  # the bootloader, on this boot
    hello = cloud.wait_hellos(seen + 1)
    assert hello["firmware"] == "0.0.0+host" and hello["reset_reason"] == "hard"
    note = cloud.wait(lambda m: m.get("type") == "hub_log" and len(m["lines"]) > 1, what="notes")
    assert "firmware 2.0.0-broken was rolled back" in note["lines"][1]


@pytest.mark.parametrize("fault", ["signature", "sha256", "truncated", "not_an_image", "size"])
def test_bad_offer_is_refused_before_set_boot(bench, fault):
    hub, cloud, files, signer = bench
    hub.start(BOOT)
    cloud.wait_hellos(1)
    body = image("6.6.6")
    offer = signer.offer(files, "firmware", "6.6.6", body)
    if fault == "signature":
        offer["signature"] = bytes(64)
    elif fault == "sha256":
        files.files["/firmware-6.6.6.bin"] = body[:-1] + b"\x00"  # served bytes differ
    elif fault == "truncated":
        files.cut.add("/firmware-6.6.6.bin")
    elif fault == "not_an_image":
        offer = signer.offer(files, "firmware", "6.6.6", b"\x00" * 5000)  # signed, hashed, not ESP
    elif fault == "size":
        offer["size"] = 64 * 1024 * 1024  # larger than the slot
    cloud.send(offer)
    ack = cloud.wait(lambda m: m.get("type") == "command_ack", what="ack")
    assert ack["success"] is False
    expected = {
        "signature": "bad_command",
        "size": "bad_command",
        "not_an_image": "download_failed",
    }
    assert ack["error"]["code"] == expected.get(fault, "download_failed"), ack
    if fault in ("signature", "size"):
        assert files.requests == []  # refused before downloading anything
    hub.stop()
    hub.start(BOOT)
    hello = cloud.wait_hellos(2)
    assert hello["firmware"] == "0.0.0+host"  # boot slot never changed
    probe = hub.run("import esp32\nP = esp32.Partition\nprint('BOOT', P(P.BOOT).info()[4])")
    assert "BOOT ota_0" in probe.stdout
