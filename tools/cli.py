"""Entry point of the `printfarm` command: one argparse tree, one module per command group."""

import argparse
import importlib
import logging
import os
import sys

# Each group module exposes `register(subparsers)`; it adds its parser and sets `func` on it.
# Listed explicitly (nothing registers itself at import); heavy imports stay inside handlers so
# `printfarm --help` is instant.
COMMAND_GROUPS = [
    "tools.commands.db",
    "tools.commands.cloud",
    "tools.commands.sim",
    "tools.commands.hub",
    "tools.commands.bench",
    "tools.commands.firmware",
    "tools.commands.demo",
]


def build_parser() -> argparse.ArgumentParser:
    """Build the full parser, every group included."""
    parser = argparse.ArgumentParser(
        prog="printfarm",
        description="PrintFarm: run a 3D-print farm end to end (cloud, hubs, simulated printers).",
    )
    parser.add_argument(
        "--log-level",
        default=os.environ.get("PRINTFARM_LOG_LEVEL", "INFO"),
        help="logging level (env PRINTFARM_LOG_LEVEL, default INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in COMMAND_GROUPS:
        importlib.import_module(name).register(subparsers)
    return parser


def main(argv=None) -> int:
    """Parse arguments and run the chosen command; its return value is the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if not hasattr(args, "func"):
        parser.parse_args([*(argv or sys.argv[1:]), "--help"])
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
