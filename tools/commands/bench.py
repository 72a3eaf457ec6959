"""`printfarm bench`: performance measurements (one sub-command per benchmark module)."""

import importlib

# name -> (module under tools.bench, help). Each module has add_arguments(parser) and run(args).
BENCHMARKS = {
    "api": ("tools.bench.api", "REST staff mix over a seeded farm vs a bare aiohttp handler"),
}


def register(subparsers) -> None:
    """Add the `bench` group."""
    parser = subparsers.add_parser("bench", help="performance benchmarks")
    sub = parser.add_subparsers(dest="bench_command", metavar="BENCHMARK")
    sub.required = True
    for name, (module, text) in BENCHMARKS.items():
        cmd = sub.add_parser(name, help=text, description=text)
        cmd.set_defaults(func=_runner(module))
        _arguments(module)(cmd)


def _arguments(module: str):
    return importlib.import_module(module).add_arguments


def _runner(module: str):
    def run(args):
        return importlib.import_module(module).run(args)

    return run
