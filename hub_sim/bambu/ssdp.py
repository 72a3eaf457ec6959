"""SSDP announcer: the printer's `NOTIFY * HTTP/1.1` datagrams (normally to 255.255.255.255:2021)."""

from __future__ import annotations

import asyncio
import logging
import socket

log = logging.getLogger(__name__)

DEFAULT_TARGET = ("255.255.255.255", 2021)


def notify_message(printer) -> bytes:
    """One NOTIFY datagram, headers in the order captured from printers (bambu-protocol.md §3)."""
    model = printer.model
    host = "239.255.255.250:1900" if model.key == "P1P" else "239.255.255.250:1990"
    signal = printer.state.get("wifi_signal", "-50dBm").replace("dBm", "")
    connect = "lan" if printer.lan_only else "cloud"
    headers = [
        "NOTIFY * HTTP/1.1",
        f"Host: {host}",
        "Server: UPnP/1.0",
        f"Location: {printer.advertise_ip}",
        "NT: urn:bambulab-com:device:3dprinter:1",
        "NTS: ssdp:alive",
        f"USN: {printer.serial}",
        "Cache-Control: max-age=1800",
        f"DevModel.bambu.com: {model.model_id}",
        f"DevName.bambu.com: {printer.name}",
        f"DevSignal.bambu.com: {signal}",
        f"DevConnect.bambu.com: {connect}",
        "DevBind.bambu.com: free",
        "Devseclink.bambu.com: secure",
        "DevInf.bambu.com: wlan0",
        f"DevVersion.bambu.com: {model.ota_version}",
        "DevCap.bambu.com: 1",
    ]
    return ("\r\n".join(headers) + "\r\n\r\n").encode("utf-8")


class SsdpAnnouncer:
    """Sends a NOTIFY to `target` every `interval` seconds while the printer is up."""

    def __init__(self, printer, target: tuple[str, int], interval: float):
        self.printer = printer
        self.target = target
        self.interval = interval
        self.sent = 0
        self._sock: socket.socket | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        """Open the socket and start announcing (the first NOTIFY goes out at once)."""
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        self._sock.setblocking(False)
        self._task = asyncio.create_task(self._run(), name=f"ssdp-{self.printer.serial}")

    async def stop(self) -> None:
        """Stop announcing."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def _run(self) -> None:
        warned = False
        while True:
            try:
                self._sock.sendto(notify_message(self.printer), self.target)
                self.sent += 1
            except OSError as exc:
                # No broadcast route (e.g. a loopback-only host): keep trying quietly.
                if not warned:
                    log.warning("%s: SSDP to %s failed: %s", self.printer.serial, self.target, exc)
                    warned = True
            await asyncio.sleep(self.interval)
