"""Provisioning under micropython: portal over real HTTP, catch-all DNS, WiFi fallbacks."""

import json
import pathlib
import socket
import struct
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

pytestmark = pytest.mark.micropython

BOOT = "import provision_main\n"
SET_ID = "import esp32\nn = esp32.NVS('printfarm')\nn.set_blob('hub_id', 'hub-0001')\nn.commit()\n"
READ = (
    "from device.settings import Settings\ns = Settings()\n"
    "print('NVS', s.get('wifi_ssid'), s.get('wifi_pass'), s.get('cloud_url'))\n"
)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def http(port, path, data=None, json_body=None, raw_json=None):
    """(status, headers, body) of one request to the portal."""
    headers = {}
    if raw_json is not None:
        data = raw_json
        headers["Content-Type"] = "application/json"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    elif data is not None:
        data = urllib.parse.urlencode(data).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, headers=headers)
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def wait_portal(port, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            return http(port, "/api/status")
        except OSError:
            time.sleep(0.05)
    raise AssertionError("portal never answered")


def dns_query(port, name, qtype=1, ident=0x1234):
    question = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\x00"
    packet = (
        struct.pack(">HHHHHH", ident, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", qtype, 1)
    )
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(5)
        s.sendto(packet, ("127.0.0.1", port))
        return s.recv(512)


@pytest.fixture
def radio_hub(hub, free_port):

    hub.extra_path = [pathlib.Path(__file__).resolve().parent / "mp" / "radio"]  # mocked radio
    hub.env["PORTAL_PORT"] = free_port()
    hub.env["DNS_PORT"] = free_port(socket.SOCK_DGRAM)
    assert hub.run(SET_ID).returncode == 0
    (hub.dir / "wifi_ap").write_text("farm-wifi secretpass")  # the network that exists
    return hub


def test_fresh_hub_opens_portal_and_accepts_settings(radio_hub):
    hub = radio_hub
    port, dport = hub.env["PORTAL_PORT"], hub.env["DNS_PORT"]
    hub.start(BOOT)
    hub.wait_line("provisioning mode (no credentials)")
    status, _, body = wait_portal(port)
    info = json.loads(body)
    assert status == 200 and info["hub_id"] == "hub-0001" and info["mode"] == "provisioning"
    assert info["claim"] == "not claimed: enter code K7Q2XM in PrintFarm"
    status, headers, page = http(port, "/")
    assert status == 200 and "hub-0001" in page and "K7Q2XM" in page and "farm-wifi" in page
    # Captive-portal probes and unknown paths lead to the portal.
    for probe in ("/generate_204", "/hotspot-detect.html", "/anything/else"):
        status, headers, _ = http(port, probe)
        assert status == 302 and headers["Location"] == "http://127.0.0.1/"
    # DNS: every A query answers with the access point's address; AAAA has no answer.
    reply = dns_query(dport, "connectivitycheck.gstatic.com")
    assert reply[:2] == b"\x12\x34" and struct.unpack(">H", reply[6:8])[0] == 1
    assert reply[-4:] == bytes([192, 168, 4, 1])
    assert struct.unpack(">H", dns_query(dport, "captive.apple.com", qtype=28)[6:8])[0] == 0
    # Bad settings are refused and change nothing.
    for bad, field in (
        ({"ssid": "farm-wifi", "password": "short"}, "password"),
        ({"ssid": "", "password": "secretpass"}, "ssid"),
        ({"ssid": "farm-wifi", "cloud_url": "http://x"}, "cloud_url"),
    ):
        status, _, body = http(port, "/api/settings", data=bad)
        assert status == 400 and json.loads(body)["error"]["message"].startswith(field)
    status, _, body = http(port, "/api/settings", raw_json=b"{not json")
    assert status == 400 and json.loads(body)["error"]["code"] == "bad_request"
    # A body over MAX_BODY is refused from its Content-Length, before it is read.
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /api/settings HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n")
        assert s.recv(64).split(b" ")[1] == b"413"
    status, _, body = http(port, "/api/status")
    assert json.loads(body)["wifi_ssid"] == ""
    # Good settings: stored, portal and DNS stop, the station joins.
    status, _, body = http(
        port,
        "/api/settings",
        json_body={
            "ssid": "farm-wifi",
            "password": "secretpass",
            "cloud_url": "wss://cloud.example.com",
        },
    )
    assert status == 200 and json.loads(body)["saved"] is True
    hub.wait_line("JOINED farm-wifi")
    with pytest.raises(OSError):  # the portal's socket is released once provisioned
        for _ in range(100):
            http(port, "/api/status")
            time.sleep(0.05)
    hub.stop()
    out = hub.run(READ).stdout
    assert "NVS farm-wifi secretpass wss://cloud.example.com" in out


def test_repeated_failures_and_boot_button_enter_provisioning(radio_hub):
    hub = radio_hub
    port = hub.env["PORTAL_PORT"]
    hub.start(BOOT)
    hub.wait_line("provisioning mode (no credentials)")
    wait_portal(port)
    http(port, "/api/settings", data={"ssid": "farm-wifi", "password": "wrongpassword"})
    hub.wait_line("provisioning mode (3 failed joins)")
    assert "wrong password" in "\n".join(hub.lines)
    wait_portal(port)
    http(port, "/api/settings", data={"ssid": "farm-wifi", "password": "secretpass"})
    hub.wait_line("JOINED farm-wifi")
    (hub.dir / "button").write_text("held")  # hold BOOT for 3 s
    hub.wait_line("BOOT held, entering provisioning mode")
    hub.wait_line("provisioning mode (button)")
    (hub.dir / "button").unlink()
    status, _, body = wait_portal(port)
    assert json.loads(body)["wifi_ssid"] == "farm-wifi"  # settings kept, shown for editing


def test_portal_restarts_the_application_out_of_safe_mode(hub, free_port):
    port = free_port()
    setup = "import loader\nfor _ in range(7):\n    print(loader.choose())\n"
    assert "('factory', 'safe')" in hub.run(setup).stdout
    hub.start(
        "import asyncio\nfrom device.portal import Portal\n"
        f"asyncio.run(Portal(port={port}, address='127.0.0.1').serve())\n"
    )
    wait_portal(port)
    status, _, body = http(port, "/api/leave_safe_mode", data={})
    assert status == 200 and json.loads(body) == {"restarting": True}
    hub.proc.wait(timeout=30)
    assert hub.proc.returncode == 75  # machine.reset()
    assert "('factory', 'normal')" in hub.run("import loader\nprint(loader.choose())").stdout
