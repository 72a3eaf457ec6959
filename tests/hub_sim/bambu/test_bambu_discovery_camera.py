"""SSDP NOTIFY announcements and the port-6000 JPEG camera, as discovery tools and clients see them."""

from __future__ import annotations

import asyncio
import socket
import ssl
import struct

import pytest

from hub_sim.bambu import SimulatedBambuPrinter
from hub_sim.bambu.camera import AUTH_LEN
from tests.hub_sim.mqtt_client import ACCESS_CODE, GUARD_S

SERIAL = "03900A391800005"


@pytest.fixture
def udp_listener():
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(GUARD_S)
    yield sock
    sock.close()


@pytest.fixture
async def a1(tmp_path, udp_listener):
    async with SimulatedBambuPrinter(
        SERIAL,
        ACCESS_CODE,
        model="A1",
        mqtt_port=0,
        ftps_port=None,
        camera_port=0,
        ssdp_target=udp_listener.getsockname(),
        ssdp_interval=0.2,
        name="Bench A1 #5",
        workdir=tmp_path / "a1",
    ) as p:
        p.camera.frame_interval = 0.2
        yield p


def parse_notify(datagram: bytes) -> tuple[str, dict]:
    head, _, rest = datagram.partition(b"\r\n\r\n")
    assert rest == b""
    lines = head.decode("utf-8").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers


async def test_ssdp_notify_headers(a1, udp_listener):
    datagrams = [await asyncio.to_thread(udp_listener.recvfrom, 4096) for _ in range(2)]
    start, headers = parse_notify(datagrams[0][0])
    assert start == "NOTIFY * HTTP/1.1"
    assert headers["usn"] == SERIAL
    assert headers["location"] == "127.0.0.1"
    assert headers["nt"] == "urn:bambulab-com:device:3dprinter:1"
    assert headers["nts"] == "ssdp:alive"
    assert headers["devmodel.bambu.com"] == "N2S"
    assert headers["devname.bambu.com"] == "Bench A1 #5"
    assert headers["devconnect.bambu.com"] == "lan"
    assert int(headers["devsignal.bambu.com"]) < 0
    assert headers["host"] == "239.255.255.250:1990"


def camera_session(port, access_code, frames=2):
    """What bambulabs-api / pybambu do: auth packet, then 16-byte headers and JPEGs."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    auth = struct.pack("<IIII", 0x40, 0x3000, 0, 0)
    auth += b"bblp".ljust(32, b"\0") + access_code.encode().ljust(32, b"\0")
    assert len(auth) == AUTH_LEN
    got = []
    raw = socket.create_connection(("127.0.0.1", port), timeout=GUARD_S)
    with raw, ctx.wrap_socket(raw, server_hostname="printer") as tls:
        tls.sendall(auth)
        while len(got) < frames:
            header = tls.recv(4096)
            if not header:
                return got
            assert len(header) == 16, "header must arrive in its own TLS record"
            size, itrack, flags, _ = struct.unpack("<IIII", header)
            assert (itrack, flags) == (0, 1)
            jpeg = b""
            while len(jpeg) < size:
                chunk = tls.recv(4096)
                assert chunk
                jpeg += chunk
            assert len(jpeg) == size
            got.append(jpeg)
    return got


async def test_camera_streams_jfif_frames(a1):
    frames = await asyncio.to_thread(camera_session, a1.camera_port, ACCESS_CODE)
    assert len(frames) == 2
    for jpeg in frames:
        assert jpeg[:4] == b"\xff\xd8\xff\xe0" and jpeg[-2:] == b"\xff\xd9"
    import io

    from PIL import Image

    assert Image.open(io.BytesIO(frames[0])).size == (1280, 720)


async def test_camera_wrong_access_code_is_closed(a1):
    frames = await asyncio.to_thread(camera_session, a1.camera_port, "00000000")
    assert frames == []


async def test_x1_has_no_jpeg_camera(tmp_path):
    async with SimulatedBambuPrinter(
        "00M00A391800006",
        ACCESS_CODE,
        model="X1C",
        mqtt_port=0,
        ftps_port=None,
        camera_port=0,
        workdir=tmp_path / "x1",
    ) as p:
        assert p.camera_port is None
        assert p.state["ipcam"]["rtsp_url"] == "disable"
