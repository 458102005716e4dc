"""Benchmark scripts (speed, memory, quality). Run them as `python benchmarks/<name>.py`."""
