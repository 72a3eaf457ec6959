"""`printfarm demo`: the cloud, a seeded tenant and a simulated farm printing, in one command."""

from __future__ import annotations

import os

DEFAULT_DATA_DIR = os.path.join("data", "demo")
# Marks a folder the demo created, so a re-run may empty it and nothing else is ever deleted.
MARKER = "printfarm-demo"
DEMO_EMAIL = "demo@printfarm.local"
# A print takes about this many seconds of wall time whatever --speed (plus ~10 s of start-up).
PRINT_SECONDS = 90


def register(subparsers) -> None:
    """Add `printfarm demo`."""
    demo = subparsers.add_parser(
        "demo",
        help="run the cloud + a seeded tenant + a simulated farm that prints",
        description="Start the cloud (SQLite and files under --data-dir, emptied first), register "
        "a demo owner, start a simulated farm (real hub firmware under micropython, simulated "
        "Bambu printers), claim the hubs, add the printers, upload a 3MF, create a product and "
        "SKU and queue jobs; the dispatcher sends them to the printers. Prints what happens "
        "until Ctrl-C. Needs nothing but loopback.",
    )
    demo.add_argument("--host", default="127.0.0.1", help="cloud bind address")
    demo.add_argument("--port", type=int, default=0, help="cloud port (default: any free one)")
    demo.add_argument("--data-dir", default=DEFAULT_DATA_DIR, help="default ./data/demo")
    demo.add_argument("--hubs", type=int, default=2, help="hubs (default 2)")
    demo.add_argument("--printers-per-hub", type=int, default=2, help="printers per hub (2)")
    demo.add_argument("--jobs", type=int, default=2, help="jobs queued at start (default 2)")
    demo.add_argument("--model", default="P1S", help="printer model (default P1S)")
    demo.add_argument(
        "--speed", type=float, default=40.0, help="simulated-time multiplier (default 40)"
    )
    demo.add_argument(
        "--print-seconds",
        type=float,
        default=PRINT_SECONDS,
        help=f"wall time of one print at --speed (default {PRINT_SECONDS})",
    )
    demo.add_argument("--heap", default=None, help="hub heap (default: as `sim farm`)")
    demo.add_argument(
        "--exit-after-first-print",
        action="store_true",
        help="exit 0 once a job completed and its stock was counted (exit 1 on failure or after "
        "--timeout seconds): the whole demo as one bounded check",
    )
    demo.add_argument("--timeout", type=float, default=600.0, help="with --exit-after-first-print")
    demo.add_argument("--verbose", action="store_true", help="show cloud logs and hub consoles")
    demo.set_defaults(func=run_demo)


def run_demo(args) -> int:
    """Run the demo in the foreground."""
    import asyncio

    from tools.commands.demo_run import DemoError, run

    if args.hubs < 1 or args.printers_per_hub < 1 or args.jobs < 0:
        print("--hubs and --printers-per-hub must be at least 1, --jobs at least 0")
        return 2
    try:
        return asyncio.run(run(args))
    except DemoError as e:
        print(f"demo: {e}", flush=True)
        return 1
