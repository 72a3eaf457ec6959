"""discovery.discover() under micropython hears Bambu SSDP NOTIFY announcers on loopback."""

import pathlib
import socket
import threading

import pytest

pytestmark = pytest.mark.micropython

MICROPYTHON = pathlib.Path(__file__).resolve().parents[3] / ".venv" / "bin" / "micropython"

NOTIFY = (
    "NOTIFY * HTTP/1.1\r\n"
    "Host: 239.255.255.250:1990\r\n"
    "Server: UPnP/1.0\r\n"
    "Location: {ip}\r\n"
    "NT: urn:bambulab-com:device:3dprinter:1\r\n"
    "NTS: ssdp:alive\r\n"
    "USN: {serial}\r\n"
    "Cache-Control: max-age=1800\r\n"
    "DevModel.bambu.com: {model}\r\n"
    "DevName.bambu.com: {name}\r\n"
    "DevSignal.bambu.com: -51\r\n"
    "DevConnect.bambu.com: lan\r\n"
    "DevBind.bambu.com: free\r\n"
    "Devseclink.bambu.com: secure\r\n"
    "DevVersion.bambu.com: 01.08.00.00\r\n"
    "DevCap.bambu.com: 1\r\n\r\n"
)
PRINTERS = [
    ("00M09C452703629", "BL-P001", "X1C", "Farm X1C", "192.168.1.68"),
    ("01P00A123456789", "C12", "P1S", "P1S left", "192.168.1.70"),
    ("039AAB111222333", "N2S", "A1", "A1 \u00e9tag\u00e8re", "192.168.1.71"),
]


class Announcers:
    """Three printers announcing every 50 ms to 127.0.0.1:port, plus noise that must be ignored."""

    def __init__(self, port):
        self.port = port
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.loop, daemon=True)

    def loop(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            while not self.stop.is_set():
                for serial, code, _, name, ip in PRINTERS:
                    text = NOTIFY.format(ip=ip, serial=serial, model=code, name=name)
                    s.sendto(text.encode(), ("127.0.0.1", self.port))
                s.sendto(b"M-SEARCH * HTTP/1.1\r\nST: ssdp:all\r\n\r\n", ("127.0.0.1", self.port))
                s.sendto(b"\xff\xfe garbage", ("127.0.0.1", self.port))
                s.sendto(
                    NOTIFY.format(ip="not-an-ip", serial="X", model="C11", name="n").encode(),
                    ("127.0.0.1", self.port),
                )
                self.stop.wait(0.05)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(timeout=5)


def test_discover_three_printers(hub, free_port):
    port = free_port(socket.SOCK_DGRAM)
    code = (
        "import asyncio, json\n"
        "from device import discovery\n"
        f"msg = asyncio.run(discovery.discovered_message('cmd-1', 1.5, {port}))\n"
        "print('RESULT', json.dumps(msg))\n"
    )
    with Announcers(port):
        proc = hub.run(code)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    import json

    msg = json.loads(proc.stdout.split("RESULT ", 1)[1])
    assert msg["type"] == "printer_discovered" and msg["command_id"] == "cmd-1"
    expected = sorted(
        ({"serial": s, "model": m, "name": n, "ip": ip} for s, _, m, n, ip in PRINTERS),
        key=lambda p: p["serial"],
    )
    assert msg["printers"] == expected


def test_discover_hears_nothing_and_returns_empty(hub, free_port):
    port = free_port(socket.SOCK_DGRAM)
    proc = hub.run(
        "import asyncio\nfrom device import discovery\n"
        f"print('RESULT', asyncio.run(discovery.discover(0.3, {port})))"
    )
    assert "RESULT []" in proc.stdout, proc.stdout + proc.stderr


def test_parse_notify_variants(hub):
    code = r"""
from device.discovery import parse_notify
ok = b'NOTIFY * HTTP/1.1\nlocation: 10.0.0.5\nnt: URN:BAMBULAB-COM:DEVICE:3DPRINTER:1\nusn: 22E8BJ610801473\nDevModel.bambu.com: N7\n\n'
print(parse_notify(ok))
print(parse_notify(ok.replace(b'location: 10.0.0.5\n', b''), '10.0.0.9')['ip'])
print(parse_notify(ok.replace(b'N7', b'ZZ9'))['model'])
print(parse_notify(ok.replace(b'usn: 22E8BJ610801473\n', b'')))
print(parse_notify(b'HTTP/1.1 200 OK\r\nST: urn:bambulab-com:device:3dprinter:1\r\nUSN: S1\r\nLocation: 1.2.3.4\r\n\r\n')['serial'])
print(parse_notify(ok.replace(b'NOTIFY', b'GET')))
print(parse_notify(ok + b'NTS: ssdp:byebye\n'))
"""
    proc = hub.run(code)
    out = proc.stdout.split("\n")
    assert (
        out[0]
        == "{'ip': '10.0.0.5', 'name': '22E8BJ610801473', 'model': 'P2S', 'serial': '22E8BJ610801473'}"
        or "'model': 'P2S'" in out[0]
    ), proc.stdout
    assert out[1:7] == ["10.0.0.9", "ZZ9", "None", "S1", "None", "None"], proc.stdout


async def test_discover_finds_three_simulated_printers(hub, free_port):
    """The hub_sim Bambu printers' own SSDP announcers (aimed at loopback) are heard."""
    import asyncio
    import json

    from hub_sim.bambu.printer import SimulatedBambuPrinter

    port = free_port(socket.SOCK_DGRAM)
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
            advertise_ip=f"10.1.0.{n}",
        )
        for n, (serial, model) in enumerate(specs, 1)
    ]
    for printer in printers:
        await printer.start()
    try:
        code = (
            "import asyncio, json\nfrom device import discovery\n"
            f"print('RESULT', json.dumps(asyncio.run(discovery.discover(1.5, {port}))))\n"
        )
        proc = await asyncio.create_subprocess_exec(
            str(MICROPYTHON),
            "-c",
            code,
            env=hub.environ(),
            cwd=hub.dir,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out = (await asyncio.wait_for(proc.communicate(), 60))[0].decode()
    finally:
        for printer in printers:
            await printer.stop()
    found = json.loads(out.split("RESULT ", 1)[1])
    assert [(p["serial"], p["model"], p["ip"]) for p in found] == [
        (serial, model, f"10.1.0.{n}") for n, (serial, model) in enumerate(specs, 1)
    ]
    assert all(p["name"] == printer.name for p, printer in zip(found, printers, strict=True))
