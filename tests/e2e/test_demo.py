"""`printfarm demo` as a user runs it (a subprocess, loopback only): it starts the cloud, seeds an
owner, runs a farm of real hub firmware and simulated printers, and a queued job completes."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.micropython]

REPO = Path(__file__).resolve().parents[2]
PRINTFARM = [sys.executable, "-m", "tools.cli"]


def demo_env():
    env = dict(os.environ)
    for name in ("PRINTFARM_DATABASE_URL", "PRINTFARM_REDIS_URL", "PRINTFARM_STORAGE_URL"):
        env.pop(name, None)  # the demo needs no external service
    return env


def test_demo_prints_end_to_end(tmp_path):
    data = tmp_path / "demo"
    proc = subprocess.run(
        [
            *PRINTFARM,
            "demo",
            "--data-dir",
            str(data),
            "--hubs",
            "1",
            "--heap",
            "512K",  # two printers' TLS sessions and a transfer on one hub (the boot-time buffer)
            "--speed",
            "100",
            "--print-seconds",
            "15",
            "--exit-after-first-print",
            "--timeout",
            "240",
        ],
        cwd=REPO,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=400,  # failure guard
    )
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    assert "login: demo@printfarm.local / demo-" in out
    assert "every printer is connected and idle" in out
    assert "dashboard: P1S-1-" in out  # live progress through /ws/dashboard
    assert "completed on P1S-" in out
    assert "CUBE-BLK stock 1" in out or "CUBE-BLK stock 2" in out
    assert out.rstrip().endswith("stopped")
    assert (data / "printfarm.sqlite3").exists() and (data / "printfarm-demo").exists()


def test_demo_refuses_a_folder_that_is_not_its_own(tmp_path):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("do not delete")
    proc = subprocess.run(
        [*PRINTFARM, "demo", "--data-dir", str(precious), "--exit-after-first-print"],
        cwd=REPO,
        env=demo_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 1
    assert "not a demo folder" in proc.stdout
    assert (precious / "thesis.txt").read_text() == "do not delete"


def test_demo_stops_cleanly_on_sigterm(tmp_path):
    proc = subprocess.Popen(
        [
            *PRINTFARM,
            "demo",
            "--data-dir",
            str(tmp_path / "d"),
            "--hubs",
            "1",
            "--printers-per-hub",
            "1",
            "--jobs",
            "0",
        ],
        cwd=REPO,
        env=demo_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        for line in proc.stdout:  # until the farm is set up
            if "Ctrl-C stops everything" in line:
                break
        else:
            pytest.fail("demo ended before it was set up")
        hub_pids = children_running_micropython(proc.pid)
        assert hub_pids, "no hub VM found"
        proc.send_signal(signal.SIGTERM)
        rest = proc.communicate(timeout=60)[0]
        assert proc.returncode == 0, rest
        assert rest.rstrip().endswith("stopped")
        assert not [pid for pid in hub_pids if Path(f"/proc/{pid}").exists()]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def children_running_micropython(parent: int) -> list[int]:
    """Direct children of `parent` whose command line runs micropython."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and "micropython" in cmdline:
            found.append(int(entry.name))
    return found
