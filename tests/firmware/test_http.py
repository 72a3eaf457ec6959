"""net.http in real MicroPython against scripted raw-socket servers (malformed and hostile replies)."""

import hashlib
import socket
import threading
from pathlib import Path

import pytest

from tests.firmware import mpy_runner

pytestmark = pytest.mark.micropython

SCRIPT = Path(__file__).parent / "mpy" / "http_check.py"


class Scripted:
    """Answers connection i with replies[i] (bytes; then closes); records what it was sent."""

    def __init__(self, replies, hold=False):
        self.replies = list(replies)
        self.requests = []
        self.hold = hold  # keep the last connection open without answering
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]
        self._conns = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._conns.append(conn)
            req = b""
            while b"\r\n\r\n" not in req:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                req += chunk
            self.requests.append(req.decode(errors="replace"))
            if not self.replies:
                if self.hold:
                    continue
                conn.close()
                continue
            conn.sendall(self.replies.pop(0))
            conn.close()

    def url(self, path="/f"):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.sock.close()
        for c in self._conns:
            c.close()


def run(*args):
    rc, rows, out, err = mpy_runner.run(SCRIPT, [str(a) for a in args], timeout=60)
    assert rc == 0 and rows, out + err
    return rows


def test_parse_url():
    rows = run(
        "parse",
        "http://h/x?a=1",
        "https://h:8443",
        "http://[::1]:81/p",
        "ftp://h/x",
        "http:///nohost",
    )
    assert rows[0]["parts"] == ["http", "h", 80, "/x?a=1"]
    assert rows[1]["parts"] == ["https", "h", 8443, "/"]
    assert rows[2]["parts"] == ["http", "::1", 81, "/p"]
    assert "scheme" in rows[3]["error"]
    assert "host" in rows[4]["error"]


def test_relative_redirect_and_request_shape():
    body = b"hello world"
    s = Scripted(
        [
            b"HTTP/1.1 302 Found\r\nLocation: /real\r\nContent-Length: 0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n" + body,
        ]
    )
    try:
        row = run("get", s.url("/start?sig=abc"), 11)[0]
        assert row["ok"] and row["md5"] == hashlib.md5(body).hexdigest(), row
        assert s.requests[0].startswith("GET /start?sig=abc HTTP/1.1\r\n")
        assert f"Host: 127.0.0.1:{s.port}" in s.requests[0]
        assert s.requests[1].startswith("GET /real HTTP/1.1\r\n")
    finally:
        s.close()


@pytest.mark.parametrize(
    "reply, expect",
    [
        (b"SPDY/9 200 OK\r\n\r\n", "not an HTTP response"),
        (b"HTTP/1.1 abc OK\r\n\r\n", "bad status line"),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 5000 + b"\r\n\r\n", "too long"),
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", "403"),
        (b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", "Location"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nabc", "at byte 3"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde", "expected 6"),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "chunk"),
    ],
)
def test_malformed_and_refused_responses(reply, expect):
    s = Scripted([reply])
    try:
        size = 6 if expect == "expected 6" else "-"
        if expect == "interrupted":
            size = 99
        row = run("get", s.url(), size)[0]
        assert not row["ok"], row
        assert expect in row["message"], row
    finally:
        s.close()


def test_resume_at_wrong_offset_is_refused():
    s = Scripted(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd",
            b"HTTP/1.1 206 Partial\r\nContent-Range: bytes 0-9/10\r\nContent-Length: 10\r\n\r\n"
            b"abcdefghij",
        ]
    )
    try:
        row = run("get", s.url(), 10)[0]
        assert not row["ok"] and "wrong offset" in row["message"], row
        assert "Range: bytes=4-" in s.requests[1]
    finally:
        s.close()


def test_resume_succeeds_with_206():
    s = Scripted(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabcd",
            b"HTTP/1.1 206 Partial\r\nContent-Range: bytes 4-9/10\r\nContent-Length: 6\r\n\r\n"
            b"efghij",
        ]
    )
    try:
        row = run("get", s.url(), 10)[0]
        assert row["ok"] and row["md5"] == hashlib.md5(b"abcdefghij").hexdigest(), row
        assert row["resumes"] == 1
    finally:
        s.close()


def test_silent_server_times_out():
    s = Scripted([], hold=True)
    try:
        row = run("get", s.url(), 10, 500)[0]
        assert not row["ok"] and "timed out" in row["message"], row
    finally:
        s.close()


def test_parse_url_refuses_bad_ports_and_missing_hosts():
    rows = run("parse", "http://h:notaport/x", "https://:443/x", "HTTP//h")
    assert all("error" in row for row in rows), rows
