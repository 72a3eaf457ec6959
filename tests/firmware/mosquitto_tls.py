"""A private Mosquitto broker with TLS and a password file, on an ephemeral port, for tests."""

import os
import pwd
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO = "/usr/sbin/mosquitto"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class MosquittoTLS:
    """Mosquitto listening with TLS on 127.0.0.1:<port>; users given as {name: password}."""

    def __init__(self, workdir: Path, cert: Path, key: Path, users: dict, max_packet=0):
        self.workdir = Path(workdir)
        self.cert, self.key = cert, key
        self.users = users
        self.max_packet = max_packet
        self.port = 0
        self.proc = None
        self.last_error = ""

    def start(self):
        """Start the broker; retries on a port race. Returns self."""
        pwfile = self.workdir / "passwd"
        pwfile.write_text("")
        for user, pw in self.users.items():
            subprocess.run(["mosquitto_passwd", "-b", str(pwfile), user, pw], check=True)
        os.chmod(pwfile, 0o600)
        for _ in range(5):
            self.port = _free_port()
            conf = self.workdir / "mosquitto.conf"
            lines = [
                "per_listener_settings false",
                # As root, mosquitto would drop to user "mosquitto", who cannot read tmp files.
                "user " + pwd.getpwuid(os.getuid()).pw_name,
                "allow_anonymous false",
                "password_file " + str(pwfile),
                "persistence false",
                "log_dest stderr",
                "log_type error",
                f"listener {self.port} 127.0.0.1",
                "certfile " + str(self.cert),
                "keyfile " + str(self.key),
            ]
            conf.write_text("\n".join(lines) + "\n")
            self.proc = subprocess.Popen(
                [MOSQUITTO, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
            )
            if self._wait_listening():
                return self
            self.stop()
            if self.last_error and "Address already in use" not in self.last_error:
                break
        raise RuntimeError("mosquitto did not start: " + (self.last_error or ""))

    def _wait_listening(self) -> bool:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self):
        """Terminate the broker process."""
        if self.proc and self.proc.poll() is not None:
            self.last_error = self.proc.stderr.read().decode(errors="replace")
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None
