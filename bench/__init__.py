"""Benchmarks: figures, not pass/fail timing."""
