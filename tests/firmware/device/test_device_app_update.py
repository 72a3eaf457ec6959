"""Application A/B updates under micropython: crash at start falls back; safe mode; recovery."""

import pathlib
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "firmware"))
from device.app_bundle import pack  # noqa: E402  (pure Python, runs on CPython too)

pytestmark = pytest.mark.micropython

BOOT = "import loader\nloader.run('benchapp.app')\n"

INIT = ("benchapp/__init__.py", b'"""bench app (slot copy)."""\n')
CRASHING = pack(
    [INIT, ("benchapp/app.py", b"def main():\n    raise RuntimeError('v2 crashes at start')\n")]
)
GOOD_V3 = pack(
    [
        INIT,
        (
            "benchapp/app.py",
            b"import benchcore\nbenchcore.APP_NAME = 'v3'\nfrom benchcore import main, safe_main\n",
        ),
    ]
)
# Runs fine until the file "poison" appears in the hub's filesystem, then crashes at every start.
POISONABLE = pack(
    [
        INIT,
        (
            "benchapp/app.py",
            b"import os, benchcore\n"
            b"benchcore.APP_NAME = 'v2'\n"
            b"def main():\n"
            b"    if 'poison' in os.listdir('.'):\n"
            b"        raise RuntimeError('v2 crashes at start')\n"
            b"    benchcore.main()\n"
            b"safe_main = benchcore.safe_main\n",
        ),
    ]
)


def started(cloud, name):
    return cloud.wait(
        lambda m: m.get("type") == "hub_log" and m["lines"][0] == f"app {name} running", what=name
    )


def test_update_that_crashes_at_start_falls_back(bench):
    hub, cloud, files, signer = bench
    hub.power_on(BOOT)
    assert cloud.wait_hellos(1)["app_slot"] == "factory:frozen"
    cloud.send(signer.offer(files, "app", "2.0.0", CRASHING))
    ack = cloud.wait(lambda m: m.get("type") == "command_ack", what="ack")
    assert ack["success"] is True and ack["result"] == {"version": "2.0.0", "slot": "a"}
    seen = len(cloud.conns)
    cloud.wait(
        lambda m: m.get("lines") == ["health: good"],
        what="factory healthy again",
        since=seen,
        timeout=90,
    )
    hello = cloud.hellos()[-1]
    assert len(cloud.conns) == seen + 1  # slot a never reached the cloud
    assert hello["app_slot"] == "factory:frozen" and hello["reset_reason"] == "hard"
    log = hub.output()
    assert log.count("v2 crashes at start") == 2
    assert "slot a failed 2 boots, falling back to factory" in log


def test_repeated_crashes_end_in_safe_mode_and_a_good_update_recovers(bench):
    hub, cloud, files, signer = bench
    hub.power_on(BOOT)
    cloud.wait_hellos(1)
    cloud.send(signer.offer(files, "app", "2.0.0", POISONABLE, command_id="u2"))
    started(cloud, "v2")
    cloud.wait(lambda m: m.get("lines") == ["health: confirmed"], what="v2 confirmed", since=1)
    assert cloud.hellos()[-1]["app_slot"] == "a:2.0.0"
    (hub.dir / "poison").write_text("x")  # from now on v2 crashes at every start
    cloud.send({"type": "bench_stall", "command_id": "reboot-me", "task": "printer_poll"})
    safe = cloud.wait_hello(lambda h: h["app_slot"] == "safe_mode", timeout=120)
    assert safe["reset_reason"] == "hard"
    assert hub.output().count("v2 crashes at start") == 5
    # Safe mode refuses ordinary commands but takes an update.
    cloud.send({"type": "discover_printers", "command_id": "d1"}, conn=cloud.conns[-1])
    refused = cloud.wait(lambda m: m.get("command_id") == "d1", what="refusal")
    assert refused["success"] is False and refused["error"]["code"] == "bad_command"
    cloud.send(signer.offer(files, "app", "3.0.0", GOOD_V3, command_id="u3"), conn=cloud.conns[-1])
    ack = cloud.wait(lambda m: m.get("command_id") == "u3", what="ack of v3")
    assert ack["success"] is True and ack["result"]["slot"] == "b"
    started(cloud, "v3")
    seen = len(cloud.conns) - 1
    cloud.wait(lambda m: m.get("lines") == ["health: confirmed"], what="v3 confirmed", since=seen)
    assert cloud.hellos()[-1]["app_slot"] == "b:3.0.0"


@pytest.mark.parametrize(
    "fault", ["signature", "escaping_path", "sha256", "firmware_kind_for_bundle"]
)
def test_bad_app_offers_are_refused(bench, fault):
    hub, cloud, files, signer = bench
    hub.power_on(BOOT)
    cloud.wait_hellos(1)
    body = GOOD_V3
    if fault == "escaping_path":
        body = b"PFA1" + b"\x00\x0a../evil.py" + b"\x00\x00\x00\x01x" + b"\x00\x00"
    offer = signer.offer(files, "app", "9.9.9", body)
    if fault == "signature":
        offer["signature"] = signer.offer(files, "app", "9.9.8", body)[
            "signature"
        ]  # other version's
    elif fault == "sha256":
        files.files["/app-9.9.9.bin"] = body + b"extra"
    elif fault == "firmware_kind_for_bundle":
        offer = signer.offer(
            files, "firmware", "9.9.9", body
        )  # signed as firmware: not an ESP image
    cloud.send(offer)
    ack = cloud.wait(lambda m: m.get("type") == "command_ack", what="ack")
    assert ack["success"] is False
    assert ack["error"]["code"] == (
        "bad_command" if fault in ("signature", "escaping_path") else "download_failed"
    )
    assert not (hub.dir / "evil.py").exists() and not (hub.dir / "apps" / "evil.py").exists()
    hub.stop()
    hub.power_on(BOOT)
    assert cloud.wait_hellos(2)["app_slot"] == "factory:frozen"
