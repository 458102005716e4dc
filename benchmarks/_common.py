"""Shared bits of the benchmark scripts: machine description, timing, appending to RESULTS.md."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / "_work"
RESULTS = BENCH_DIR / "RESULTS.md"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    n = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    mem = ""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GiB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {n} cores{mem}{gpu}, Python {platform.python_version()}, torch {torch.__version__}"


def header(title: str) -> str:
    script = os.path.relpath(sys.argv[0], BENCH_DIR.parent)
    if script == os.path.join("benchmarks", "__main__.py"):
        script = "-m benchmarks"  # how the entry point is run
    cmd = "python " + " ".join([script, *(shlex.quote(a) for a in sys.argv[1:])])
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"### {title}\n\n- date: {now}\n- machine: {machine()}\n- command: `{cmd}`\n"


def record(title: str, body: str, *, write: bool = True) -> str:
    """Print a result block and (optionally) append it to RESULTS.md."""
    block = header(title) + "\n" + body.rstrip() + "\n"
    print(block)
    if write:
        with open(RESULTS, "a", encoding="utf-8") as f:
            f.write("\n" + block)
    return block


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
