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
SHIM = HERE / "shim"
MP_HELPERS = HERE / "mp"
HEAP = "512K"


def free_port(kind=socket.SOCK_STREAM):
    """An ephemeral loopback port number (the test binds it right after)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """One emulated hub: a state directory (flash, NVS) and boots of the firmware in micropython."""

    def __init__(self, hub_dir, extra_path=()):
        self.dir = hub_dir
        self.extra_path = list(extra_path)
        self.env = {}
        self.proc = None
        self.boots = []

    def environ(self):
        env = dict(os.environ)
        path = [
            ".frozen",
            *self.extra_path,
            ROOT / "firmware",
            ROOT / "hardware" / "host",
            ROOT,
            SHIM,
            MP_HELPERS,
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

    def stop(self):
        """Power off (kill) the running boot, if any."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


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
