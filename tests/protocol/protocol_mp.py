"""Run scripts in the real micropython binary from pytest (path setup, heap, result parsing)."""

import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
HERE = pathlib.Path(__file__).resolve().parent
MICROPYTHON = pathlib.Path(sys.executable).with_name("micropython")
# Generous guard against a hung interpreter; never a performance assertion.
TIMEOUT_S = 300


def run(script, *args, heapsize="32M", timeout=TIMEOUT_S):
    """Run `script` (a file under tests/protocol) in micropython with the repo importable."""
    env = dict(os.environ)
    # .frozen keeps the interpreter's built-in frozen modules; the repo root makes
    # `import protocol` work and HERE the shared test modules.
    env["MICROPYPATH"] = os.pathsep.join([".frozen", str(REPO), str(HERE)])
    cmd = [str(MICROPYTHON), "-X", "heapsize=" + heapsize, str(HERE / script), *map(str, args)]
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout, cwd=HERE)


def run_cases(*modules, heapsize="32M"):
    """Run the shared case modules in micropython: {"module.case": (passed, detail)}."""
    proc = run("protocol_mp_harness.py", *modules, heapsize=heapsize)
    results = {}
    current = None
    for line in proc.stdout.splitlines():
        if line.startswith(("PASS ", "FAIL ")):
            current = line[5:]
            results[current] = [line.startswith("PASS"), ""]
        elif line.startswith("| ") and current:
            results[current][1] += line[2:] + "\n"
    if not proc.stdout.rstrip().endswith(f"DONE {len(results)}"):
        raise RuntimeError(
            f"micropython harness did not finish (rc {proc.returncode})\nstdout:\n{proc.stdout[-3000:]}\nstderr:\n{proc.stderr[-3000:]}"
        )
    return {name: tuple(value) for name, value in results.items()}


def case_names(module):
    """The `case_*` function names of a shared case module (imported on CPython)."""
    return sorted(name for name in dir(module) if name.startswith("case_"))


def run_checks(script, *args, heapsize="32M"):
    """Run a script printing "OK name"/"FAIL name: why" lines then "DONE": {name: (ok, why)}."""
    proc = run(script, *args, heapsize=heapsize)
    lines = proc.stdout.splitlines()
    if not lines or lines[-1] != "DONE":
        raise RuntimeError(
            f"{script} did not finish (rc {proc.returncode})\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
        )
    results = {}
    for line in lines[:-1]:
        status, _, rest = line.partition(" ")
        name, _, why = rest.partition(": ")
        results[name] = (status == "OK", why)
    return results
