"""Shared bits of the benchmark scripts: machine description, timing, appending to RESULTS.md."""

from __future__ import annotations

import time
from pathlib import Path

# the machine / header / block writers are shared with the shipped `python -m qa_harness.compare --record`
from clamr_frames.run_info import append_result, describe_machine, result_header

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / "_work"
RESULTS = BENCH_DIR / "RESULTS.md"


def machine() -> str:
    return describe_machine()


def header(title: str) -> str:
    return result_header(title, BENCH_DIR.parent)


def record(title: str, body: str, *, write: bool = True) -> str:
    """Print a result block and (optionally) append it to RESULTS.md."""
    return append_result(RESULTS, title, body, root=BENCH_DIR.parent, write=write)


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
