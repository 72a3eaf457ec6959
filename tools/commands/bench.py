"""`printfarm bench NAME [options]`: run one benchmark; figures go to docs/benchmarks.md."""

import argparse
import importlib

# Benchmark name -> "module:function". The function takes the benchmark's own arguments (a list
# of strings) and returns an exit code. Modules are imported only when their benchmark runs, so
# `printfarm --help` stays instant. Add one line per benchmark.
BENCHMARKS = {
    "protocol": "tools.bench.protocol:main",
}


def register(subparsers) -> None:
    """Add the `bench` group."""
    parser = subparsers.add_parser(
        "bench",
        help="measure performance (figures in docs/benchmarks.md)",
        description="Run one benchmark. `printfarm bench NAME --help` shows its options.",
    )
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    parser.add_argument(
        "options", nargs=argparse.REMAINDER, help="options of that benchmark (see NAME --help)"
    )
    parser.set_defaults(func=_run)


def _run(args) -> int:
    module_name, func_name = BENCHMARKS[args.name].split(":")
    func = getattr(importlib.import_module(module_name), func_name)
    return int(func(list(args.options)) or 0)
