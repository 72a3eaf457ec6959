"""Test helpers: a paho-mqtt report client as third-party software uses it, and predicates."""

from __future__ import annotations

import asyncio
import json
import queue
import ssl
import time

import paho.mqtt.client as mqtt

SERIAL = "01P00A391800001"
ACCESS_CODE = "12345678"
# Failure guard only: how long a test waits for something that should happen promptly.
GUARD_S = 20.0


class ReportClient:
    """paho-mqtt over TLS, as third-party clients use it; collects every report it receives."""

    def __init__(self, printer, *, password=ACCESS_CODE, username="bblp", keepalive=60, ca=None):
        self.printer = printer
        self.messages: queue.Queue = queue.Queue()
        self.merged: dict = {}
        self.connack: queue.Queue = queue.Queue()
        self.disconnects: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv311)
        self.client.username_pw_set(username, password)
        if ca is None:
            self.client.tls_set(cert_reqs=ssl.CERT_NONE)
            self.client.tls_insecure_set(True)
        else:
            self.client.tls_set(ca_certs=str(ca), cert_reqs=ssl.CERT_REQUIRED)
            self.client.tls_insecure_set(True)  # printers' certs carry no IP SAN
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.client.on_disconnect = lambda c, u, f, rc, p: self.disconnects.put(rc)
        self.client.connect_async("127.0.0.1", printer.mqtt_port, keepalive)
        self.client.loop_start()

    def _on_connect(self, client, userdata, flags, rc, props):
        self.connack.put(rc)
        if not rc.is_failure:
            client.subscribe(self.printer.report_topic)

    def _on_message(self, client, userdata, msg):
        doc = json.loads(msg.payload)
        self.messages.put(doc)

    async def connected(self):
        """Wait for the CONNACK; returns paho's reason code (== 0 when accepted)."""
        rc = await asyncio.to_thread(self.connack.get, True, GUARD_S)
        if not rc.is_failure:
            # The subscription must be in place before the test publishes.
            await asyncio.sleep(0.2)
        return rc

    def send(self, payload) -> None:
        """Publish a request (dict as JSON, bytes as is)."""
        data = payload if isinstance(payload, bytes) else json.dumps(payload)
        self.client.publish(self.printer.request_topic, data).wait_for_publish(GUARD_S)

    async def next_message(self, predicate, timeout=GUARD_S) -> dict:
        """The next report matching `predicate` (earlier ones are merged into `merged`)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no matching report before the guard timeout")
            try:
                doc = await asyncio.to_thread(self.messages.get, True, min(left, 0.5))
            except queue.Empty:
                continue
            self._merge(doc)
            if predicate(doc):
                return doc

    async def wait_state(self, predicate, timeout=GUARD_S) -> dict:
        """Wait until the merged `print` state satisfies `predicate`; returns it."""
        if predicate(self.merged.get("print", {})):
            return self.merged["print"]
        await self.next_message(lambda d: predicate(self.merged.get("print", {})), timeout)
        return self.merged["print"]

    def _merge(self, doc: dict) -> None:
        for key, value in doc.items():
            if isinstance(value, dict):
                self.merged.setdefault(key, {}).update(value)

    def close(self) -> None:
        """Disconnect and stop paho's thread."""
        self.client.disconnect()
        self.client.loop_stop()


def is_print_ack(command):
    """Predicate: the ack of a print.<command>."""
    return lambda d: d.get("print", {}).get("command") == command and "result" in d["print"]


def is_full_report(doc) -> bool:
    """Predicate: a full push_status (msg 0)."""
    p = doc.get("print", {})
    return p.get("command") == "push_status" and p.get("msg") == 0
