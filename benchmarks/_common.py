"""Shared bits of the benchmark scripts: machine description, timing, writing a result record."""

from __future__ import annotations

import datetime as _dt
import os
import re
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks.records import command_line, render_table, write_record

# the machine line is shared with the shipped `python -m qa_harness.compare --record`
from clamr_frames.run_info import describe_machine

BENCH_DIR = Path(__file__).resolve().parent
WORK = BENCH_DIR / "_work"
RESULTS = BENCH_DIR / "RESULTS.md"  # generated from the records: python -m benchmarks report


def machine() -> str:
    return describe_machine()


def header(title: str) -> str:
    cmd = command_line()
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    return f"### {title}\n\n- date: {now}\n- machine: {machine()}\n- command: `{cmd}`\n"


def record_name(title: str, script: str | None = None) -> str:
    """The record name of a result: the script's name and the title's words (a rerun replaces its record)."""
    stem = Path(script or sys.argv[0]).stem
    if stem == "__main__":
        stem = "stages"
    slug = re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")[:80].rstrip("-")
    return f"{stem}--{slug}" if slug else stem


def record(
    title: str,
    body: str = "",
    *,
    write: bool = True,
    rows: Sequence[Mapping[str, Any]] | None = None,
    notes: str | None = None,
    threads: int | None = None,
    timer: str | None = None,
    name: str | None = None,
) -> str:
    """Print a result block and (unless ``write`` is false) write its record under benchmarks/results/.

    ``rows`` are the measured rows (preferred: RESULTS.md renders them as a table); ``body`` is Markdown that a
    script without rows yet produces, kept in the record as text. Regenerate RESULTS.md with
    ``python -m benchmarks report``.
    """
    parts = [header(title)]
    if rows:
        parts.append(render_table(rows))
    if notes:
        parts.append(notes.strip())
    if body.strip():
        parts.append(body.rstrip())
    block = "\n\n".join(p.rstrip("\n") for p in parts) + "\n"
    print(block)
    if write:
        path = write_record(name or record_name(title), rows or [], title=title, notes=notes,
                            body=body.strip() or None, threads=threads, timer=timer)
        print(f"recorded: {os.path.relpath(path)} (regenerate RESULTS.md: python -m benchmarks report)")
    return block


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0
