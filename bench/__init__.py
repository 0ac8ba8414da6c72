"""Reproducible benchmarks. `make bench` (or `python -m bench`) runs them all and prints
ratios against a baseline measured in the same run."""
