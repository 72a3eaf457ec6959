"""The entry points hub.app calls (device.discovery.handle, device.ota.handle) and main.py -> loader."""

import json
import pathlib
import socket
import sys
import threading

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "hardware" / "host"))
import _app_image  # noqa: E402

pytestmark = pytest.mark.micropython

LINK = """
import asyncio, json
class Link:
    def __init__(self):
        self.sent = []
    async def send_now(self, msg):
        self.sent.append(msg)
        return True
    def tls_for(self, url):
        return None
link = Link()
"""


def notify(serial, ip):
    return (
        f"NOTIFY * HTTP/1.1\r\nLocation: {ip}\r\nNT: urn:bambulab-com:device:3dprinter:1\r\n"
        f"NTS: ssdp:alive\r\nUSN: {serial}\r\nDevModel.bambu.com: C12\r\n"
        f"DevName.bambu.com: P1S {serial[-3:]}\r\n\r\n"
    ).encode()


def test_discovery_handle_sends_printer_discovered(hub, free_port):
    port = free_port(socket.SOCK_DGRAM)
    stop = threading.Event()

    def announce():
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not stop.is_set():
                for n in range(3):
                    s.sendto(notify(f"01P00A00000000{n}", f"10.0.0.{10 + n}"), ("127.0.0.1", port))
                stop.wait(0.05)

    thread = threading.Thread(target=announce, daemon=True)
    thread.start()
    code = LINK + (
        "from device import discovery\n"
        "msg = {'type': 'discover_printers', 'command_id': 'd9', 'duration_s': 1}\n"
        f"ack = asyncio.run(discovery.handle(msg, link, {port}))\n"
        "msg = {'type': 'discover_printers', 'command_id': 'd8', 'duration_s': 600}\n"
        f"bad = asyncio.run(discovery.handle(msg, link, {port}))\n"
        "print('OUT', json.dumps([ack, bad, link.sent]))\n"
    )
    try:
        proc = hub.run(code)
    finally:
        stop.set()
        thread.join(timeout=5)
    ack, bad, sent = json.loads(proc.stdout.split("OUT ", 1)[1])
    assert ack == {"success": True, "result": {"printers": 3}}
    assert bad["success"] is False and bad["error"]["code"] == "bad_command"
    assert (
        len(sent) == 1 and sent[0]["type"] == "printer_discovered" and sent[0]["command_id"] == "d9"
    )
    assert [p["ip"] for p in sent[0]["printers"]] == ["10.0.0.10", "10.0.0.11", "10.0.0.12"]
    assert {p["model"] for p in sent[0]["printers"]} == {"P1S"}


def test_ota_handle_downloads_with_net_http_then_reboots(bench):
    """ota.handle streams through firmware/net/http.py, acks, and resets into the new image."""
    hub, _cloud, files, signer = bench
    offer = signer.offer(files, "firmware", "3.1.4", _app_image.build("3.1.4", b"\x5a" * 30000))
    offer["signature"] = list(offer["signature"])
    code = LINK + (
        "from device import ota\n"
        f"offer = json.loads({json.dumps(offer)!r})\n"
        "offer['signature'] = bytes(offer['signature'])\n"
        "async def main():\n"
        "    ack = await ota.handle(offer, link)\n"
        "    print('ACK', json.dumps(ack))\n"
        "    await asyncio.sleep(30)\n"
        "    print('NOT REBOOTED')\n"
        "asyncio.run(main())\n"
    )
    proc = hub.run(code)
    ack = json.loads(proc.stdout.split("ACK ", 1)[1].split("\n", 1)[0])
    assert ack == {"success": True, "result": {"version": "3.1.4", "slot": "ota_1"}}
    assert "NOT REBOOTED" not in proc.stdout and proc.returncode == 75
    probe = hub.run("from device import health\nprint('FW', health.firmware_version())")
    assert "FW 3.1.4" in probe.stdout


def test_main_runs_the_loader(hub):
    """firmware/main.py boots through the loader (an app that fails to import counts as a failed boot)."""
    proc = hub.run((ROOT / "firmware" / "main.py").read_text())
    assert "loader: boot 1, slot factory, mode normal" in proc.stdout
    assert proc.returncode == 75  # hub.app without provisioning returns; the loader resets
