"""Benchmarks run by `printfarm bench` (one module per benchmark)."""
