"""Benchmarks run by `printfarm bench`."""
