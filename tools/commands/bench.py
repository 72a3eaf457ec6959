"""`printfarm bench`: performance measurements (figures go to docs/benchmarks.md)."""

import importlib

# name -> (module with register_arguments(parser) and run(args), one-line help)
BENCHMARKS = {
    "fanout": ("tools.bench.fanout", "largest farm one cloud process holds at 1 status/s/printer"),
}


def register(subparsers) -> None:
    """Add the `bench` group."""
    parser = subparsers.add_parser("bench", help="performance benchmarks")
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCH")
    sub.required = True
    for name, (module_name, text) in BENCHMARKS.items():
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.set_defaults(func=_runner(module_name))
        importlib.import_module(module_name).register_arguments(cmd)


def _runner(module_name: str):
    def run(args) -> int:
        return importlib.import_module(module_name).run(args)

    return run
