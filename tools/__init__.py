"""The `printfarm` command line and the benchmarks behind `printfarm bench`."""
