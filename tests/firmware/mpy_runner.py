"""Runs firmware code in the real MicroPython unix binary from pytest (printer-side suites)."""

import json
import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MICROPYTHON = REPO / ".venv" / "bin" / "micropython"
MICROPYPATH = os.pathsep.join(
    [str(REPO / "firmware"), str(REPO / "hardware" / "host"), str(REPO), ".frozen"]
)


def mpy_env(extra=None):
    """Environment for a micropython child: firmware/, hardware/host/ and the repo on its path."""
    env = dict(os.environ)
    env["MICROPYPATH"] = MICROPYPATH
    if extra:
        env.update(extra)
    return env


def popen(script: Path, args=(), heap="512K", env=None, **kw):
    """Start `micropython -X heapsize=HEAP script args…` (stdout/stderr piped)."""
    cmd = [str(MICROPYTHON), "-X", "heapsize=" + heap, str(script), *map(str, args)]
    return subprocess.Popen(
        cmd,
        env=mpy_env(env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def run(script: Path, args=(), heap="512K", env=None, timeout=60):
    """Run a script to completion; returns (returncode, list of JSON lines, stdout, stderr).

    Scripts report results as one JSON object per line on stdout; other lines are ignored.
    """
    proc = popen(script, args, heap, env)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(
            "micropython timed out\nstdout:\n" + out + "\nstderr:\n" + err
        ) from None
    return proc.returncode, parse_lines(out), out, err


def parse_lines(out: str):
    """The JSON objects a script printed, one per line."""
    rows = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except ValueError:
                pass
    return rows
