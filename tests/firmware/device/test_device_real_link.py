"""With the real hub app and cloud link (fwcore) over TLS: a watchdog reset is reported as such.

The watchdog boot uses the host machine.WDT (a thread that resets the VM when not fed); the
next boot runs the unmodified hub application, whose hub_hello must carry reset_reason
"watchdog" to the test cloud (tests/firmware/cloud_server.py, real TLS and msgpack).
"""

import subprocess

import pytest

from hub_sim.hub_runner import HubProcess, firmware_env, micropython_binary, provision
from tests.firmware.conftest import HUB_SECRET, MPY_SCRIPTS

pytestmark = pytest.mark.micropython

STARVE = "import machine, time\nw = machine.WDT(timeout=300)\nprint('FED ONCE')\ntime.sleep(30)\nprint('NOT REACHED')\n"


async def test_watchdog_reset_reason_reaches_the_cloud(cloud, pki, tmp_path):
    cloud.add_hub("hub-wdt", HUB_SECRET)
    state = tmp_path / "hub-wdt"
    provision(
        state,
        {
            "hub_id": "hub-wdt",
            "secret": HUB_SECRET,
            "cloud_url": cloud.url,
            "ca": pki.ca_pem.decode(),
            "printers": [],
            "bo_min_ms": 100,
            "bo_max_ms": 1600,
        },
    )
    starved = subprocess.run(
        [micropython_binary(), "-c", STARVE],
        cwd=state,
        env=firmware_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "FED ONCE" in starved.stdout and "NOT REACHED" not in starved.stdout
    assert starved.returncode == -9  # the emulated chip reset, not a Python exit
    hub = HubProcess(state, extra_paths=[MPY_SCRIPTS], script=MPY_SCRIPTS / "fake_hub.py")
    await hub.start()
    try:
        hub_state = cloud.hubs["hub-wdt"]
        await cloud.wait_for(lambda: hub_state.sessions >= 1)
        assert hub_state.hellos[0]["reset_reason"] == "watchdog"
    finally:
        await hub.stop()


async def test_discover_printers_command_over_the_real_link(cloud, pki, tmp_path):
    """discover_printers from the cloud -> hub.printers -> device.discovery.handle -> printer_discovered."""
    import socket

    from hub_sim.bambu.printer import SimulatedBambuPrinter

    cloud.add_hub("hub-disc", HUB_SECRET)
    state = tmp_path / "hub-disc"
    provision(
        state,
        {
            "hub_id": "hub-disc",
            "secret": HUB_SECRET,
            "cloud_url": cloud.url,
            "ca": pki.ca_pem.decode(),
            "printers": [],
            "bo_min_ms": 100,
            "bo_max_ms": 1600,
        },
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    specs = [("00M09C452703629", "X1C"), ("01P00A123456789", "P1S"), ("039AAB111222333", "A1")]
    printers = [
        SimulatedBambuPrinter(
            serial,
            "12345678",
            model=model,
            mqtt_port=0,
            ftps_port=None,
            camera_port=None,
            ssdp_target=("127.0.0.1", port),
            ssdp_interval=0.2,
        )
        for serial, model in specs
    ]
    hub = HubProcess(
        state,
        extra_paths=[MPY_SCRIPTS],
        script=MPY_SCRIPTS / "fake_hub.py",
        env={"PRINTFARM_SSDP_PORT": str(port)},
    )
    for printer in printers:
        await printer.start()
    await hub.start()
    try:
        hub_state = cloud.hubs["hub-disc"]
        await cloud.wait_for(lambda: hub_state.sessions >= 1)
        await cloud.send_command(
            "hub-disc", {"type": "discover_printers", "command_id": "disc-1", "duration_s": 2}
        )

        def answered():
            return [m for m in hub_state.received if m.get("type") == "printer_discovered"]

        await cloud.wait_for(
            lambda: answered() and any(a["command_id"] == "disc-1" for a in hub_state.acks)
        )
        found = answered()[0]["printers"]
        assert [(p["serial"], p["model"], p["ip"]) for p in found] == [
            (s, m, "127.0.0.1") for s, m in specs
        ]
        ack = [a for a in hub_state.acks if a["command_id"] == "disc-1"][0]
        assert ack["success"] is True
    finally:
        await hub.stop()
        for printer in printers:
            await printer.stop()


async def test_ota_update_command_over_the_real_link(cloud, pki, tmp_path, files, signer):
    """ota_update over WebSocket/msgpack (signature as bin) -> device.ota.handle -> ack -> reset."""
    import asyncio
    import pathlib
    import sys

    sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "hardware" / "host"))
    import _app_image

    cloud.add_hub("hub-ota", HUB_SECRET)
    state = tmp_path / "hub-ota"
    provision(
        state,
        {
            "hub_id": "hub-ota",
            "secret": HUB_SECRET,
            "cloud_url": cloud.url,
            "ca": pki.ca_pem.decode(),
            "printers": [],
            "bo_min_ms": 100,
            "bo_max_ms": 1600,
        },
    )
    # The test's release key must shadow the (empty) key of firmware/release_key.py.
    path = firmware_env([MPY_SCRIPTS])["MICROPYPATH"]
    hub = HubProcess(
        state,
        extra_paths=[MPY_SCRIPTS],
        script=MPY_SCRIPTS / "fake_hub.py",
        env={"MICROPYPATH": str(signer.dir) + ":" + path},
    )
    await hub.start()
    try:
        hub_state = cloud.hubs["hub-ota"]
        await cloud.wait_for(lambda: hub_state.sessions >= 1)
        offer = signer.offer(
            files,
            "firmware",
            "5.0.0",
            _app_image.build("5.0.0", b"\x33" * 50000),
            command_id="ota-1",
        )
        await cloud.send_command("hub-ota", offer)
        await cloud.wait_for(lambda: any(a["command_id"] == "ota-1" for a in hub_state.acks))
        ack = [a for a in hub_state.acks if a["command_id"] == "ota-1"][0]
        assert ack["success"] is True, (ack, hub.output())
        assert ack["result"] == {"version": "5.0.0", "slot": "ota_1"}
        assert await asyncio.wait_for(hub.proc.wait(), 30) == 75  # machine.reset() after the ack
    finally:
        await hub.stop()
    probe = subprocess.run(
        [
            micropython_binary(),
            "-c",
            "from device import health\nprint('FW', health.firmware_version())",
        ],
        cwd=state,
        env=firmware_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "FW 5.0.0" in probe.stdout  # the bootloader now runs the new image (pending verify)
