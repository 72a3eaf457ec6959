"""Printer discovery: listen for Bambu Lab SSDP NOTIFY datagrams on UDP 2021.

Bambu printers do not answer M-SEARCH (older firmware); they broadcast `NOTIFY * HTTP/1.1`
about every 5 s to 255.255.255.255:2021 with USN = serial, Location = bare IPv4 and
DevModel/DevName.bambu.com headers. discover() listens for the requested time and returns
one entry per serial, shaped as printer_discovered wants. Printers on another subnet never
show up (broadcasts do not cross routers): the cloud can always add one by IP by hand.
"""

import asyncio
import os
import socket
import time

from micropython import const

SSDP_PORT = const(2021)
MAX_DATAGRAM = const(1024)  # a NOTIFY is about 500 bytes (RAM cost: 1 KiB receive buffer)
MAX_PRINTERS = const(64)  # cap on distinct serials kept per scan
NOTIFY_TARGET = "urn:bambulab-com:device:3dprinter:1"

# DevModel.bambu.com code -> model name (shared/bambu-protocol.md, section 6).
MODELS = {
    "BL-P001": "X1C",
    "3DPrinter-X1-Carbon": "X1C",
    "BL-P002": "X1",
    "3DPrinter-X1": "X1",
    "C13": "X1E",
    "C11": "P1P",
    "C12": "P1S",
    "N1": "A1 mini",
    "N2S": "A1",
    "N7": "P2S",
    "N6": "X2D",
    "O1D": "H2D",
    "O1S": "H2S",
}


MAX_DURATION_S = const(60)  # longest listen a command may ask for


def listen_port():
    """UDP port to listen on: 2021, or $PRINTFARM_SSDP_PORT on the unix port (many simulated
    hubs and printers share one machine there)."""
    getenv = getattr(os, "getenv", None)  # the ESP32 port has no environment
    value = getenv("PRINTFARM_SSDP_PORT") if getenv else None
    return int(value) if value else SSDP_PORT


def parse_notify(data, source_ip=None):
    """A printer dict {serial, model, name, ip} from one datagram, or None if it is not one."""
    try:
        text = bytes(data).decode()
    except UnicodeError:
        return None
    lines = text.replace("\r\n", "\n").split("\n")
    start = lines[0].strip().upper()
    if not (start.startswith("NOTIFY * HTTP/1.") or start.startswith("HTTP/1.1 200")):
        return None
    headers = {}
    for line in lines[1:]:
        if ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    kind = headers.get("nt") or headers.get("st") or ""
    if kind.lower() != NOTIFY_TARGET or headers.get("nts", "ssdp:alive").lower() != "ssdp:alive":
        return None
    serial = headers.get("usn", "")
    ip = headers.get("location", "") or (source_ip or "")
    if not serial or not _is_ipv4(ip):
        return None
    code = headers.get("devmodel.bambu.com", "")
    return {
        "serial": serial,
        "model": MODELS.get(code, code or "unknown"),
        "name": headers.get("devname.bambu.com", serial),
        "ip": ip,
    }


def _is_ipv4(text):
    parts = text.split(".")
    if len(parts) != 4:
        return False
    for part in parts:
        if not part.isdigit() or int(part) > 255:
            return False
    return True


def _open_socket(port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
    sock.setblocking(False)
    return sock


async def _wait_readable(sock, timeout_ms):
    # asyncio's IO queue wakes us when the socket is readable (no busy polling).
    try:
        await asyncio.wait_for_ms(_readable(sock), timeout_ms)
        return True
    except asyncio.TimeoutError:
        return False


async def _readable(sock):
    yield asyncio.core._io_queue.queue_read(sock)


async def discover(duration_s=10, port=None):
    """Listen for duration_s seconds (on listen_port() unless given); return the printers heard,
    one per serial."""
    if port is None:
        port = listen_port()
    found = {}
    sock = _open_socket(port)
    try:
        deadline = time.ticks_add(time.ticks_ms(), int(duration_s * 1000))
        while True:
            left = time.ticks_diff(deadline, time.ticks_ms())
            if left <= 0:
                break
            if not await _wait_readable(sock, left):
                break
            while True:
                try:
                    data, addr = sock.recvfrom(MAX_DATAGRAM)
                except OSError:
                    break  # EAGAIN: drained
                printer = parse_notify(data, _source_ip(addr))
                if printer and (printer["serial"] in found or len(found) < MAX_PRINTERS):
                    found[printer["serial"]] = printer
    finally:
        sock.close()
    return sorted(found.values(), key=lambda p: p["serial"])


def _source_ip(addr):
    if isinstance(addr, tuple):
        return addr[0]
    try:  # MicroPython on the ESP32 returns a sockaddr bytes object
        return socket.inet_ntop(socket.AF_INET, addr[4:8])
    except Exception:
        return None


async def handle(msg, link, port=None):
    """The application's entry for discover_printers: listen, send printer_discovered, ack."""
    duration = msg.get("duration_s", 10)
    if not isinstance(duration, int) or not 0 < duration <= MAX_DURATION_S:
        return {
            "success": False,
            "error": {"code": "bad_command", "message": "duration_s must be 1..60"},
        }
    reply = await discovered_message(msg.get("command_id", ""), duration, port)
    await link.send_now(reply)
    return {"success": True, "result": {"printers": len(reply["printers"])}}


async def discovered_message(command_id, duration_s=10, port=None):
    """The printer_discovered message answering a discover_printers command."""
    printers = await discover(duration_s, port)
    return {"type": "printer_discovered", "command_id": command_id, "printers": printers}
