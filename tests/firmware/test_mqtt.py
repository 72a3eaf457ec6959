"""net.mqtt in the real MicroPython binary against a real Mosquitto broker over TLS."""

import hashlib
import json
import os
import queue
import ssl
import time
from pathlib import Path

import paho.mqtt.client as paho
import pytest

from tests.firmware import mpy_runner
from tests.firmware.mosquitto_tls import MosquittoTLS
from tests.firmware.tls_certs import TestCA

pytestmark = pytest.mark.micropython

SCRIPT = Path(__file__).parent / "mpy" / "mqtt_check.py"
SERIAL = "01P00A000000001"


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    d = tmp_path_factory.mktemp("pki")
    ca = TestCA(d)
    cert, key = ca.issue("broker", SERIAL)
    other = TestCA(d / "other", cn="Unrelated CA")
    return ca, cert, key, other


@pytest.fixture
def broker(tmp_path, pki):
    ca, cert, key, _ = pki
    b = MosquittoTLS(tmp_path, cert, key, {"bblp": "12345678", "peer": "peerpass"}).start()
    yield b
    b.stop()


def peer(broker, ca_pem):
    """A paho client (CPython) on the same broker, playing the printer."""
    c = paho.Client(paho.CallbackAPIVersion.VERSION2, client_id="peer", protocol=paho.MQTTv311)
    c.username_pw_set("peer", "peerpass")
    c.tls_set(ca_certs=str(ca_pem), cert_reqs=ssl.CERT_REQUIRED)
    c.tls_insecure_set(True)  # the broker cert names the serial, not 127.0.0.1's DNS name
    inbox = queue.Queue()
    c.on_message = lambda _c, _u, msg: inbox.put((msg.topic, msg.payload))
    c.connect("127.0.0.1", broker.port, keepalive=30)
    c.subscribe("device/test/request", qos=1)
    c.loop_start()
    return c, inbox


def wait_for(proc, event, timeout=30):
    """Read the script's JSON lines until `event`; returns (that row, rows before it)."""
    rows = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith("{"):
            row = json.loads(line)
            rows.append(row)
            if row.get("event") == event:
                return row, rows
    raise AssertionError(f"no {event} event; got {rows!r}; stderr {proc.stderr.read()}")


def test_roundtrip_verified_tls_qos_and_size_cap(broker, pki):
    ca, *_ = pki
    c, inbox = peer(broker, ca.ca_pem)
    proc = mpy_runner.popen(
        SCRIPT,
        ["roundtrip", "127.0.0.1", broker.port, ca.ca_pem, "bblp", "12345678", 48 * 1024],
    )
    try:
        wait_for(proc, "published")
        got = [inbox.get(timeout=10), inbox.get(timeout=10)]
        assert got[0] == ("device/test/request", b'{"pushing":{"command":"pushall"}}')
        assert got[1] == ("device/test/request", b"qos0")
        big = b'{"print":' + b" " * (40 * 1024) + b"}"
        c.publish("device/test/report", b'{"print":{"msg":1}}', qos=0)
        c.publish("device/test/report", big, qos=1)
        c.publish("device/test/report", b"x" * (64 * 1024), qos=0)  # over the 48 KB cap
        c.publish("device/test/report", '{"name":"caf\u00e9"}'.encode(), qos=1)
        c.publish("device/test/report", b"end", qos=0)
        done, rows = wait_for(proc, "done")
        msgs = [r for r in rows if r["event"] == "message"]
        assert [m["size"] for m in msgs] == [19, len(big), 16, 3]
        assert msgs[0]["body"] == '{"print":{"msg":1}}'
        assert msgs[2]["body"] == '{"name":"caf\u00e9"}'
        assert done["dropped"] == 1
    finally:
        c.loop_stop()
        c.disconnect()
        proc.kill()
        proc.communicate()


def test_wrong_password_is_refused_with_code(broker, pki):
    ca, *_ = pki
    rc, rows, out, err = mpy_runner.run(
        SCRIPT, ["listen", "127.0.0.1", broker.port, ca.ca_pem, "bblp", "wrong"], timeout=30
    )
    assert rows and rows[0]["event"] == "refused", out + err
    assert rows[0]["code"] == 5
    assert "not authorized" in rows[0]["message"]


def test_untrusted_certificate_fails_handshake(broker, pki):
    _, _, _, other = pki
    rc, rows, out, err = mpy_runner.run(
        SCRIPT, ["listen", "127.0.0.1", broker.port, other.ca_pem, "bblp", "12345678"], timeout=30
    )
    assert rows and rows[0]["event"] == "connect_error", out + err


def test_connection_refused_port(pki):
    ca, *_ = pki
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    rc, rows, out, err = mpy_runner.run(
        SCRIPT, ["listen", "127.0.0.1", port, ca.ca_pem, "bblp", "x"], timeout=30
    )
    assert rows and rows[0]["event"] == "connect_error", out + err


def test_keepalive_pings_then_broker_death_ends_loop(broker, pki):
    ca, *_ = pki
    # keepalive 3 s: mosquitto drops a client silent for 4.5 s, so staying connected over
    # several keepalive periods proves the client pings.
    proc = mpy_runner.popen(
        SCRIPT, ["listen", "127.0.0.1", broker.port, ca.ca_pem, "bblp", "12345678", 65536, 3]
    )
    try:
        wait_for(proc, "subscribed")
        time.sleep(10)
        c, _ = peer(broker, ca.ca_pem)
        c.publish("device/test/report", b"still-here", qos=1).wait_for_publish(10)
        row, _ = wait_for(proc, "message")
        assert row["body"] == "still-here"
        c.loop_stop()
        c.disconnect()
        broker.stop()
        ended, _ = wait_for(proc, "loop_ended")
        assert ended["count"] == 1
    finally:
        proc.kill()
        proc.communicate()


def test_two_sessions_share_the_large_packet_buffer_without_mixing(broker, pki):
    ca, *_ = pki
    count = 6
    proc = mpy_runner.popen(
        SCRIPT, ["pair", "127.0.0.1", broker.port, ca.ca_pem, "bblp", "12345678", count]
    )
    c = None
    try:
        wait_for(proc, "subscribed")
        c, _ = peer(broker, ca.ca_pem)
        sent = {"a": [], "b": []}
        for i in range(count):
            for who, size in (("a", 30_000 + i * 997), ("b", 9_000 + i * 3001)):
                body = os.urandom(size)
                sent[who].append(hashlib.md5(body).hexdigest())
                c.publish(f"device/{who}/report", body, qos=0)
        _, rows = wait_for(proc, "done", 60)
        got = {"a": [], "b": []}
        for r in rows:
            if r["event"] == "digest":
                got[r["who"]].append(r["md5"])
        assert got == sent
    finally:
        if c is not None:
            c.loop_stop()
            c.disconnect()
        proc.kill()
        proc.communicate()
