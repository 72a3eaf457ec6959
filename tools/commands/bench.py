"""`printfarm bench NAME [options]`: run one benchmark; figures go to docs/benchmarks.md."""

import argparse
import importlib

# name -> (module, one-line help). Each module exposes add_arguments(parser) and run(args) and is
# imported only when its benchmark runs, so `printfarm --help` stays instant.
BENCHMARKS = {
    "protocol": (
        "tools.bench.protocol",
        "msgpack codec throughput on MicroPython and CPython, size vs JSON",
    ),
    "api": ("tools.bench.api", "REST staff mix over a seeded farm vs a bare aiohttp handler"),
    "fanout": (
        "tools.bench.fanout",
        "largest farm one cloud process holds at 1 status/s per printer",
    ),
    "stream": (
        "tools.bench.stream",
        "hub file streaming (HTTP -> FTPS) on MicroPython vs a CPython copy, peak heap",
    ),
}


def register(subparsers) -> None:
    """Add the `bench` group."""
    lines = "\n".join(f"  {name:10} {text}" for name, (_module, text) in sorted(BENCHMARKS.items()))
    parser = subparsers.add_parser(
        "bench",
        help="measure performance (figures in docs/benchmarks.md)",
        description=f"Run one benchmark; `printfarm bench NAME --help` shows its options.\n\n{lines}",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", choices=sorted(BENCHMARKS), help="which benchmark")
    parser.add_argument("options", nargs=argparse.REMAINDER, help="that benchmark's options")
    parser.set_defaults(func=_run)


def _run(args) -> int:
    module_name, text = BENCHMARKS[args.name]
    module = importlib.import_module(module_name)
    parser = argparse.ArgumentParser(prog=f"printfarm bench {args.name}", description=text)
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.options)) or 0)
