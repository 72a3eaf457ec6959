"""Benchmarks run by `printfarm bench`: one module per benchmark with add_arguments(parser) and run(args)."""
