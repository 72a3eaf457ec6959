"""The printer's MQTT-over-TLS broker: amqtt with bblp/access-code auth and the printer attached."""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import ssl
from dataclasses import dataclass
from typing import Any

from amqtt.broker import Broker
from amqtt.plugins.base import BaseAuthPlugin, BasePlugin

log = logging.getLogger(__name__)

USERNAME = "bblp"


class AccessCodeAuthPlugin(BaseAuthPlugin):
    """Only `bblp` with the LAN access code may connect (refused with CONNACK 5, as printers do)."""

    @dataclass
    class Config:
        """Plugin settings: the object that owns the current access code."""

        printer: Any = None

    async def authenticate(self, *, session) -> bool:
        """True for bblp + the access code; False otherwise."""
        password = session.password
        if isinstance(password, bytes | bytearray):
            password = password.decode("utf-8", "replace")
        expected = self.config.printer.access_code
        return session.username == USERNAME and hmac.compare_digest(
            (password or "").encode(), expected.encode()
        )


class PrinterLinkPlugin(BasePlugin):
    """Hands requests published on `device/<serial>/request` to the printer."""

    @dataclass
    class Config:
        """Plugin settings: the printer the broker belongs to."""

        printer: Any = None

    async def on_broker_message_received(self, *, client_id: str, message) -> None:
        """Every PUBLISH the broker receives; only the request topic concerns the printer."""
        printer = self.config.printer
        if message is not None and message.topic == printer.request_topic:
            await printer.handle_request(bytes(message.data))

    async def on_broker_client_subscribed(self, *, client_id: str, topic: str, qos: int) -> None:
        """P1P/P1S drop a client that subscribes to the request topic (OpenBambuAPI issue #26)."""
        printer = self.config.printer
        if printer.model.drops_request_subscribers and topic == printer.request_topic:
            log.info(
                "%s: client %s subscribed to request topic; dropping", printer.serial, client_id
            )
            printer.mqtt.drop_client(client_id)


class PrinterBroker(Broker):
    """amqtt broker serving one printer: our TLS context, connection tracking, drop-on-demand."""

    def __init__(self, config: dict, ssl_context, max_clients: int | None, serial: str):
        self.printer_serial = serial
        self._printer_ssl = ssl_context
        self._max_clients = max_clients
        self._writers: set[asyncio.StreamWriter] = set()
        super().__init__(config)

    def _create_ssl_context(self, listener) -> ssl.SSLContext:
        # amqtt builds its own context from files; ours pins TLS 1.2 like the ESP32 printers.
        return self._printer_ssl

    async def stream_connected(self, reader, writer, listener_name: str) -> None:
        """Track every TLS connection so faults and reboots can cut them."""
        if self._max_clients is not None and len(self._writers) >= self._max_clients:
            # P1/A1 accept only a few clients; extra ones are closed at once.
            writer.transport.abort()
            return
        self._writers.add(writer)
        try:
            await super().stream_connected(reader, writer, listener_name)
        except (ConnectionError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            # A client vanishing mid-session is normal on a LAN; amqtt lets it escape.
            log.debug("%s: connection ended: %r", self.printer_serial, exc)
        finally:
            self._writers.discard(writer)

    async def _initialize_client_session(self, reader, writer, remote_address, remote_port):
        handler, session = await super()._initialize_client_session(
            reader, writer, remote_address, remote_port
        )
        # MQTT 3.1.1 §3.1.2.10: allow one and a half keep-alive periods (amqtt allows exactly one,
        # which races with paho's PINGREQ at keepalive=5 as pybambu uses).
        if session.keep_alive > 0:
            session.keep_alive = math.ceil(session.keep_alive * 1.5)
        return handler, session

    def abort_all(self) -> int:
        """Cut every client connection without an MQTT DISCONNECT (Wi-Fi drop, reboot)."""
        count = 0
        for writer in list(self._writers):
            writer.transport.abort()
            count += 1
        return count

    def abort_client(self, client_id: str) -> bool:
        """Cut one client's connection by its MQTT client id."""
        entry = self.sessions.get(client_id)
        if not entry:
            return False
        session = entry[0]
        for writer in list(self._writers):
            peer = writer.get_extra_info("peername")
            if peer and (peer[0], peer[1]) == (session.remote_address, session.remote_port):
                writer.transport.abort()
                return True
        return False

    @property
    def client_count(self) -> int:
        """Open TLS connections (authenticated or not)."""
        return len(self._writers)


class PrinterMqtt:
    """Starts/stops the broker for a printer and publishes its reports."""

    def __init__(self, printer, host: str, port: int, ssl_context: ssl.SSLContext, max_clients):
        self.printer = printer
        self.host = host
        self.requested_port = port
        self.ssl_context = ssl_context
        self.max_clients = max_clients
        self.broker: PrinterBroker | None = None
        self.port: int | None = None

    async def start(self) -> None:
        """Bind and serve; `port` holds the real port afterwards (useful with port 0)."""
        config = {
            "listeners": {
                "default": {
                    "type": "tcp",
                    "bind": f"{self.host}:{self.requested_port}",
                    "ssl": True,
                }
            },
            "timeout_disconnect_delay": 0,
            "plugins": {
                "hub_sim.bambu.mqtt.AccessCodeAuthPlugin": {"printer": self.printer},
                "hub_sim.bambu.mqtt.PrinterLinkPlugin": {"printer": self.printer},
            },
        }
        self.broker = PrinterBroker(config, self.ssl_context, self.max_clients, self.printer.serial)
        await self.broker.start()
        server = self.broker._servers["default"].instance  # amqtt keeps the asyncio.Server here
        self.port = server.sockets[0].getsockname()[1]
        # A reboot must come back on the same port.
        self.requested_port = self.port

    async def stop(self) -> None:
        """Cut clients and close the listener."""
        if self.broker is None:
            return
        self.broker.abort_all()
        try:
            await self.broker.shutdown()
        except Exception:  # shutting down with aborted sessions may raise inside amqtt
            log.debug("broker shutdown raised", exc_info=True)
        self.broker = None

    async def publish(self, topic: str, payload: bytes) -> None:
        """Send to every subscriber of `topic`."""
        if self.broker is not None:
            await self.broker.internal_message_broadcast(topic, payload, None)

    def drop_all(self) -> int:
        """Fault: drop every MQTT connection."""
        return self.broker.abort_all() if self.broker else 0

    def drop_client(self, client_id: str) -> bool:
        """Drop one client."""
        return self.broker.abort_client(client_id) if self.broker else False

    @property
    def client_count(self) -> int:
        """Open MQTT connections."""
        return self.broker.client_count if self.broker else 0
