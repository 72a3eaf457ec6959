"""`printfarm bench protocol`: msgpack codec throughput on MicroPython and CPython, size vs JSON.

Encodes and decodes one realistic `printer_status` frame in a tight loop: on CPython with the C
`msgpack` package (what the cloud runs) and with the pure codec, and inside the real micropython
binary with the pure codec (what the hub runs). Timings are the best of several rounds, which is
the least disturbed figure on a shared machine.
"""

import argparse
import json
import os
import pathlib
import platform
import subprocess
import sys
import time

import msgpack

from protocol import codec, umsgpack
from protocol.messages import HUB_TO_CLOUD, validate

REPO = pathlib.Path(__file__).resolve().parents[2]
DOCS = REPO / "docs" / "benchmarks.md"
SECTION = "protocol"
MICROPYTHON = pathlib.Path(sys.executable).with_name("micropython")
# Heap for the micropython run: the simulated hub's heap (hub_sim.hub_runner.DEFAULT_HEAP).
# The encoder's figure depends on it (a smaller heap collects garbage more often).
MP_HEAP = "512K"


def printer_status():
    """A full normalised status of a printing P1S: every key, 4 AMS trays + external, 3 HMS."""
    return {
        "type": "printer_status",
        "printer_id": "9b2f6c1e-4c1d-4e7a-9d0f-3a5b7c9e1f20",
        "ts": 1764424800123,
        "status": {
            "state": "printing",
            "gcode_state": "RUNNING",
            "progress": 47,
            "remaining_minutes": 83,
            "current_layer": 112,
            "total_layers": 240,
            "job_name": "bracket_v3_PLA_0.2mm",
            "gcode_file": "bracket_v3.gcode.3mf",
            "nozzle_temp": 219.8,
            "nozzle_target": 220.0,
            "bed_temp": 54.9,
            "bed_target": 55.0,
            "chamber_temp": 31.0,
            "speed_level": 2,
            "print_error": 0,
            "hms": [
                {"attr": 0x03000200, "code": 0x00010001},
                {"attr": 0x07002100, "code": 0x00030004},
                {"attr": 0x0C000300, "code": 0x00020001},
            ],
            "ams": [
                {"id": 0, "type": "PLA", "color": "D357FEFF", "remain": 83},
                {"id": 1, "type": "PETG", "color": "161616FF", "remain": 40},
                {"id": 2, "type": "PLA", "color": "FFFFFFFF", "remain": -1},
                {"id": 3, "type": "PLA-CF", "color": "00AE42FF", "remain": 100},
                {"id": 254, "type": "TPU", "color": "F72323FF", "remain": -1},
            ],
            "wifi_signal": -53,
            "connected": True,
            "error": "",
        },
    }


# Runs inside micropython; FRAME, ITERATIONS and ROUNDS are substituted before the run.
_MP_SCRIPT = """
import sys, time
from binascii import unhexlify
from protocol import codec, umsgpack
from protocol.messages import HUB_TO_CLOUD, validate
frame = unhexlify(FRAME)
msg = codec.unpackb(frame)
assert codec.packb is umsgpack.packb, "micropython must use the pure codec"
assert len(codec.packb(msg)) == len(frame)


def best(fn, arg):
    low = None
    for _ in range(ROUNDS):
        start = time.ticks_us()
        for _ in range(ITERATIONS):
            fn(arg)
        took = time.ticks_diff(time.ticks_us(), start)
        low = took if low is None or took < low else low
    return low / ITERATIONS


print("encode_us", best(codec.packb, msg))
print("decode_us", best(codec.unpackb, frame))
print("validate_us", best(lambda m: validate(m, HUB_TO_CLOUD), msg))
print("version", sys.implementation.name + "-" + ".".join(str(v) for v in sys.implementation.version[:3]))
"""


def _best_us(fn, arg, iterations, rounds):
    low = None
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(iterations):
            fn(arg)
        took = time.perf_counter() - start
        low = took if low is None or took < low else low
    return low / iterations * 1e6


def measure_cpython(msg, frame, iterations, rounds):
    """Per-operation microseconds of each CPython codec (and JSON for reference)."""
    text = json.dumps(msg, separators=(",", ":"))
    return {
        "c": (
            _best_us(codec.packb, msg, iterations, rounds),
            _best_us(codec.unpackb, frame, iterations, rounds),
        ),
        "pure": (
            _best_us(umsgpack.packb, msg, iterations, rounds),
            _best_us(umsgpack.unpackb, frame, iterations, rounds),
        ),
        "json": (
            _best_us(
                lambda m: json.dumps(m, separators=(",", ":")).encode(), msg, iterations, rounds
            ),
            _best_us(json.loads, text, iterations, rounds),
        ),
        "validate": _best_us(lambda m: validate(m, HUB_TO_CLOUD), msg, iterations, rounds),
    }


def measure_micropython(frame, iterations, rounds, heap=MP_HEAP):
    """Per-operation microseconds inside the micropython binary (pure codec)."""
    script = (
        _MP_SCRIPT.replace("FRAME", repr(frame.hex()))
        .replace("ITERATIONS", str(iterations))
        .replace("ROUNDS", str(rounds))
    )
    env = dict(os.environ, MICROPYPATH=os.pathsep.join([".frozen", str(REPO)]))
    proc = subprocess.run(
        [str(MICROPYTHON), "-X", "heapsize=" + heap, "-c", script],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError("micropython benchmark failed:\n" + proc.stdout + proc.stderr)
    values = dict(line.split(" ", 1) for line in proc.stdout.splitlines() if " " in line)
    return {
        "pure": (float(values["encode_us"]), float(values["decode_us"])),
        "validate": float(values["validate_us"]),
        "version": values["version"],
    }


def _rate(us, size):
    per_s = 1e6 / us
    return f"{per_s:,.0f}", f"{per_s * size / 1e6:,.1f}"


def _cpu_model():
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def render(results, sizes, iterations, rounds):
    """The markdown section for docs/benchmarks.md."""
    frame_size = sizes["msgpack"]
    cp, mp = results["cpython"], results["micropython"]
    py = f"CPython {platform.python_version()}"
    rows = [
        (
            py,
            f"C `msgpack` {msgpack.version[0]}.{msgpack.version[1]}.{msgpack.version[2]} (`protocol.codec`)",
            cp["c"],
        ),
        (py, "pure `protocol.umsgpack`", cp["pure"]),
        (
            f"{mp['version']} unix, heap {MP_HEAP}",
            "pure `protocol.umsgpack` (`protocol.codec`)",
            mp["pure"],
        ),
        (py, "JSON (`json`, compact), for reference", cp["json"]),
    ]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## protocol",
        "",
        f"`printfarm bench protocol`: one full hub `printer_status` frame ({frame_size} bytes of "
        "msgpack: every status key, 5 AMS trays, 3 HMS entries), encoded and decoded in a loop; "
        f"best of {rounds} rounds of {iterations}. Machine: {os.cpu_count()} cores "
        f"({_cpu_model()}), load average {load:.1f} while measuring (shared with other work). "
        "Decode includes the frame size and depth checks.",
        "",
        "| runtime | codec | encode msg/s | encode MB/s | decode msg/s | decode MB/s |",
        "|---|---|---:|---:|---:|---:|",
    ]
    for runtime, name, (enc, dec) in rows:
        size = sizes["json_compact"] if name.startswith("JSON") else frame_size
        lines.append(
            f"| {runtime} | {name} | {' | '.join(_rate(enc, size))} | {' | '.join(_rate(dec, size))} |"
        )
    lines += [
        "",
        f"`validate()` of the same message: {1e6 / cp['validate']:,.0f} msg/s on CPython, "
        f"{1e6 / mp['validate']:,.0f} msg/s on MicroPython.",
        "",
        "| encoding of the same message | bytes | vs msgpack |",
        "|---|---:|---:|",
    ]
    for label, key in (
        ("msgpack (hub frame)", "msgpack"),
        ("JSON, compact separators", "json_compact"),
        ("JSON, `json.dumps` defaults", "json_default"),
    ):
        lines.append(f"| {label} | {sizes[key]} | {sizes[key] / frame_size:.2f}x |")
    lines += [
        "",
        "MicroPython runs here on a desktop core; an ESP32-S3 at 240 MHz is much slower, so read "
        "the MicroPython row as relative cost, not as the hub's rate.",
    ]
    return "\n".join(lines) + "\n"


HEADER = (
    "# Benchmarks\n\n"
    "Figures measured by `printfarm bench NAME --write-docs` on this development machine: 2 CPU\n"
    "cores shared with other work, so they are best-of-N timings and orders of magnitude, not\n"
    "guarantees. Each benchmark rewrites only its own section (between its HTML comments).\n"
)


def write_section(path, name, body):
    """Replace (or append) the section `name` of the benchmarks file, keeping the others."""
    start, end = f"<!-- bench:{name}:start -->", f"<!-- bench:{name}:end -->"
    block = f"{start}\n{body}{end}\n"
    text = path.read_text() if path.exists() else HEADER
    if start in text and end in text:
        before = text[: text.index(start)]
        after = text[text.index(end) + len(end) :].lstrip("\n")
        text = before + block + ("\n" + after if after else "")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `printfarm bench protocol`."""
    parser.add_argument("--iterations", type=int, default=200, help="operations per round (200)")
    parser.add_argument("--rounds", type=int, default=40, help="rounds; the best one counts (40)")
    parser.add_argument("--write-docs", action="store_true", help="update docs/benchmarks.md")
    parser.add_argument("--docs", type=pathlib.Path, default=DOCS, help=argparse.SUPPRESS)


def run(args) -> int:
    """Run the benchmark, print the section, and with --write-docs record it."""
    msg = validate(printer_status(), HUB_TO_CLOUD)
    frame = codec.packb(msg)
    sizes = {
        "msgpack": len(frame),
        "json_compact": len(json.dumps(msg, separators=(",", ":")).encode()),
        "json_default": len(json.dumps(msg).encode()),
    }
    results = {
        "cpython": measure_cpython(msg, frame, args.iterations, args.rounds),
        "micropython": measure_micropython(frame, args.iterations, args.rounds),
    }
    body = render(results, sizes, args.iterations, args.rounds)
    print(body, end="")
    if args.write_docs:
        write_section(args.docs, SECTION, body)
        print(f"wrote the {SECTION} section of {args.docs}")
    return 0
