"""What a recorded result says about its run: the machine, the date and the command, and the Markdown block that
carries them. Shared by the benchmark scripts (benchmarks/, a source checkout) and ``python -m qa_harness.compare
--record``, so a shipped module never imports the unshipped benchmarks folder."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import shlex
import sys
from pathlib import Path


def describe_machine() -> str:
    """One line: CPU model, cores this process may use, RAM, GPU, Python and torch versions."""
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


def result_header(title: str, root: Path) -> str:
    """``### title`` and the date, machine and command lines (the command as run from ``root``, the repository)."""
    script = os.path.relpath(sys.argv[0], root)
    if script == os.path.join("benchmarks", "__main__.py"):
        script = "-m benchmarks"  # how the entry point is run
    elif script.endswith(".py") and not script.startswith(".."):
        script = "-m " + script[:-3].replace(os.sep, ".")  # python -m package.module
    cmd = "python " + " ".join([script, *(shlex.quote(a) for a in sys.argv[1:])])
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"### {title}\n\n- date: {now}\n- machine: {describe_machine()}\n- command: `{cmd}`\n"


def append_result(results: Path, title: str, body: str, *, root: Path, write: bool = True) -> str:
    """Print a result block (header + body) and, when ``write``, append it to the Markdown file ``results``."""
    block = result_header(title, root) + "\n" + body.rstrip() + "\n"
    print(block)
    if write:
        with open(results, "a", encoding="utf-8") as f:
            f.write("\n" + block)
    return block
