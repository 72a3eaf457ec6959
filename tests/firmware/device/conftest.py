"""Bench for firmware/device tests: run the firmware in the real micropython binary, reboot it."""

import os
import pathlib
import socket
import subprocess
import threading
import time

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[3]
MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"
HERE = pathlib.Path(__file__).resolve().parent
MP_HELPERS = HERE / "mp"
RADIO = MP_HELPERS / "radio"  # the mocked WiFi radio (network module) for WifiManager tests


def microdot_dir():
    """Folder holding the pinned microdot package from PyPI (as frozen into the firmware)."""
    import importlib.util

    spec = importlib.util.find_spec("microdot")
    return pathlib.Path(spec.submodule_search_locations[0]).parent


HEAP = "512K"


def free_port(kind=socket.SOCK_STREAM):
    """An ephemeral loopback port number (the test binds it right after)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


VENDOR = ROOT / "build" / "mp-vendor"  # holds only a link to microdot (not all of site-packages)


def _link_vendor():
    VENDOR.mkdir(parents=True, exist_ok=True)
    link = VENDOR / "microdot"
    if not link.exists():
        try:
            link.symlink_to(microdot_dir() / "microdot", target_is_directory=True)
        except FileExistsError:
            pass


class Hub:
    """One emulated hub: a state directory (flash, NVS) and boots of the firmware in micropython."""

    def __init__(self, hub_dir, extra_path=()):
        self.dir = hub_dir
        self.extra_path = list(extra_path)
        self.env = {}
        self.proc = None
        self.boots = []

    def environ(self):
        _link_vendor()
        env = dict(os.environ)
        path = [
            ".frozen",
            *self.extra_path,
            ROOT / "firmware",
            ROOT / "hardware" / "host",
            ROOT,
            MP_HELPERS,
            VENDOR,
        ]
        env["MICROPYPATH"] = ":".join(str(p) for p in path)
        env["PRINTFARM_HUB_DIR"] = str(self.dir)
        env.update({k: str(v) for k, v in self.env.items()})
        return env

    def run(self, code, timeout=60):
        """One boot running code to completion (or reset); returns CompletedProcess."""
        proc = subprocess.run(
            [str(MICROPYTHON), "-X", "heapsize=" + HEAP, "-c", code],
            env=self.environ(),
            cwd=self.dir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        self.boots.append(proc.stdout + proc.stderr)
        return proc

    def start(self, code):
        """Start one boot in the background; its output is collected line by line."""
        self.lines = []
        self.proc = subprocess.Popen(
            [str(MICROPYTHON), "-X", "heapsize=" + HEAP, "-c", code],
            env=self.environ(),
            cwd=self.dir,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        proc, lines = self.proc, self.lines

        def pump():
            for line in proc.stdout:
                lines.append(line.rstrip("\n"))

        self.pump = threading.Thread(target=pump, daemon=True)
        self.pump.start()
        return self.proc

    def wait_exit(self, timeout=60):
        """Wait for the running boot to end (a reset); returns its output."""
        self.proc.wait(timeout=timeout)
        self.pump.join(timeout=5)
        out = "\n".join(self.lines)
        self.boots.append(out)
        return out

    def wait_line(self, text, timeout=60):
        """Wait until the running boot prints a line containing text; return that line."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for line in list(self.lines):
                if text in line:
                    return line
            if self.proc.poll() is not None and not self.pump.is_alive():
                break
            time.sleep(0.05)
        raise AssertionError("no line with {!r}; output:\n{}".format(text, "\n".join(self.lines)))

    def power_on(self, code, max_boots=30):
        """Boot, and boot again after every reset (as the chip does), until stop()."""
        self.powered = True
        self.all_lines = []

        def cycle():
            for _ in range(max_boots):
                if not self.powered:
                    return
                self.start(code)
                self.all_lines.append(self.lines)
                self.proc.wait()
                self.pump.join(timeout=5)
                self.boots.append("\n".join(self.lines))

        self.cycler = threading.Thread(target=cycle, daemon=True)
        self.cycler.start()

    def output(self):
        """Everything every boot under power_on() printed so far, the running one included."""
        return "\n".join("\n".join(lines) for lines in getattr(self, "all_lines", []))

    def stop(self):
        """Power off (kill) the running boot, if any, and stop rebooting."""
        self.powered = False
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        if getattr(self, "cycler", None):
            self.cycler.join(timeout=10)
            self.cycler = None


@pytest.fixture
def hub(tmp_path):
    """A fresh emulated hub (empty flash and NVS)."""
    h = Hub(tmp_path / "hub")
    h.dir.mkdir()
    yield h
    h.stop()


@pytest.fixture(name="free_port")
def free_port_fixture():
    """free_port(kind=SOCK_STREAM) -> an ephemeral loopback port number."""
    return free_port


class BenchCloud:
    """Stand-in cloud for platform tests: newline-JSON over TCP, one connection per hub boot."""

    def __init__(self):
        import json
        import queue

        self._json = json
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(8)
        self.port = self.server.getsockname()[1]
        self.conns = []
        self.refuse = False  # close every connection right after hub_hello
        self.events = queue.Queue()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                sock, _ = self.server.accept()
            except OSError:
                return
            conn = {"sock": sock, "messages": [], "hello": None}
            self.conns.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        with conn["sock"].makefile("rb") as f:
            for line in f:
                msg = self._json.loads(line)
                if msg.get("type") == "hub_hello":
                    conn["hello"] = msg
                    if self.refuse:
                        conn["sock"].close()
                        conn["refused"] = True
                        return
                    self.send({"type": "hello_ok", "claimed": True}, conn)
                conn["messages"].append(msg)

    def send(self, msg, conn=None):
        """Send a command to a connection (default: the newest)."""
        conn = conn or self.conns[-1]
        payload = dict(msg)
        if isinstance(payload.get("signature"), bytes | bytearray):
            payload["signature"] = bytes(payload["signature"]).hex()
        conn["sock"].sendall((self._json.dumps(payload) + "\n").encode())

    def wait(self, predicate, timeout=60, what="message", since=0):
        """Wait for a message matching predicate on connection number since or later; return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for conn in list(self.conns)[since:]:
                for msg in list(conn["messages"]):
                    if predicate(msg):
                        return msg
            time.sleep(0.05)
        raise AssertionError(
            "cloud never got {}; got {!r}".format(what, [c["messages"] for c in self.conns])
        )

    def hellos(self):
        """hub_hello of every connection so far, in order."""
        return [c["hello"] for c in self.conns if c["hello"]]

    def wait_hellos(self, count, timeout=60):
        """Wait until count connections have said hello; return the last."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.hellos()) >= count:
                return self.hellos()[count - 1]
            time.sleep(0.05)
        raise AssertionError(f"only {len(self.hellos())} hellos: {self.hellos()!r}")

    def wait_hello(self, predicate, timeout=60):
        """Wait for a hub_hello matching predicate (any connection); return it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for hello in self.hellos():
                if predicate(hello):
                    return hello
            time.sleep(0.05)
        raise AssertionError(f"no matching hello in {self.hellos()!r}")

    def close(self):
        self.server.close()
        for c in self.conns:
            c["sock"].close()


class FileServer:
    """HTTP server for update images; records requests; can cut a download half way."""

    def __init__(self):
        import http.server

        self.files = {}
        self.requests = []
        self.cut = set()
        bench = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                bench.requests.append(self.path)
                body = bench.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.path in bench.cut:
                    self.wfile.write(body[: len(body) // 2])
                    return
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Signer:
    """A test release key: writes release_key.py for the hub and signs update offers."""

    def __init__(self, key_dir):
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.key = Ed25519PrivateKey.generate()
        public = self.key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        key_dir.mkdir(exist_ok=True)
        (key_dir / "release_key.py").write_text(f"PUBLIC_KEY = {public!r}\n")
        self.dir = key_dir

    def offer(self, files, kind, version, body, path=None, command_id="c1"):
        """Serve body and return a signed ota_update for it (signature per device/release.py)."""
        import hashlib

        path = path or f"/{kind}-{version}.bin"
        files.files[path] = body
        sha = hashlib.sha256(body).hexdigest()
        message = (
            b"printfarm-update\x00"
            + kind.encode()
            + b"\x00"
            + version.encode()
            + b"\x00"
            + str(len(body)).encode()
            + b"\x00"
            + bytes.fromhex(sha)
        )
        return {
            "type": "ota_update",
            "command_id": command_id,
            "kind": kind,
            "version": version,
            "url": files.url(path),
            "size": len(body),
            "sha256": sha,
            "signature": self.key.sign(message),
        }


BOOT = "import loader\nloader.run('benchapp.app')\n"


@pytest.fixture
def bench(tmp_path):
    """(hub, cloud, files, signer): a hub that boots through the loader into the bench app."""
    cloud = BenchCloud()
    files = FileServer()
    signer = Signer(tmp_path / "keys")
    h = Hub(tmp_path / "hub", extra_path=[signer.dir])
    h.dir.mkdir()
    h.env["BENCH_CLOUD_PORT"] = cloud.port
    yield h, cloud, files, signer
    h.stop()
    cloud.close()
    files.close()


@pytest.fixture
def files():
    """An HTTP server for update images (FileServer)."""
    server = FileServer()
    yield server
    server.close()


@pytest.fixture
def signer(tmp_path):
    """A test release key; signer.dir holds the matching release_key.py for the hub."""
    return Signer(tmp_path / "keys")
