"""Fixtures for the hardware/ recipe tests: load the tools by path (hardware/ is not a package)."""

import importlib.util
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
HARDWARE = ROOT / "hardware"
BOARD = HARDWARE / "board" / "PRINTFARM_HUB_S3"


def load_tool(name):
    """Import hardware/tools/<name>.py as a module."""
    spec = importlib.util.spec_from_file_location(name, HARDWARE / "tools" / (name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def ptable():
    """The partition-table checker module."""
    return load_tool("partition_table")


MICROPYTHON = ROOT / ".venv" / "bin" / "micropython"


def micropython_env(hub_dir, **extra):
    """Environment for running firmware code under the real micropython binary."""
    import os

    env = dict(os.environ)
    env["MICROPYPATH"] = ":".join(
        str(p) for p in (".frozen", ROOT / "firmware", HARDWARE / "host", ROOT)
    )
    env["PRINTFARM_HUB_DIR"] = str(hub_dir)
    env.update({k: str(v) for k, v in extra.items()})
    return env


@pytest.fixture
def run_mp(tmp_path):
    """run_mp(code, **env) -> CompletedProcess: one boot of an emulated hub in tmp_path/hub."""
    import subprocess

    hub_dir = tmp_path / "hub"
    hub_dir.mkdir(exist_ok=True)

    def run(code, timeout=60, **extra):
        return subprocess.run(
            [str(MICROPYTHON), "-X", "heapsize=512K", "-c", code],
            env=micropython_env(hub_dir, **extra),
            cwd=hub_dir,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    run.hub_dir = hub_dir
    return run
