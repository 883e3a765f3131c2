"""Benchmarks: `make bench`. Each compares with the reference system in the same run."""
