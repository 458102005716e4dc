"""What a recorded result says about its run, and the writer of machine records.

A benchmark script (benchmarks/, a source checkout) or ``python -m qa_harness.compare --record`` measures, then
calls :func:`write_record`: one JSON file per result holding everything a reader needs to judge the numbers
(date, commit, machine, CPU count, load average before and after the run, the command, package versions,
threads) and every row it measured. ``python -m benchmarks report`` renders RESULTS.md from those records. The
writer lives in the shipped package so that a shipped module never imports the unshipped benchmarks folder.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from clamr_frames._fs import atomic_writer
from clamr_frames._machine import usable_cores

# the source checkout this module sits in (git and the relative command line are read there; outside a checkout
# the commit is None)
REPO_ROOT = Path(__file__).resolve().parents[1]
SCHEMA = "clamr-frames/benchmark-record/1"

# the load average when this module was first imported: the benchmark scripts import it (through _common) before
# they measure, so this is the machine's load "before" the run
_LOAD_AT_IMPORT: list[float] | None = list(os.getloadavg()) if hasattr(os, "getloadavg") else None

# the packages whose versions change the numbers the benchmarks measure
VERSIONED = (
    "clamr-frames", "numpy", "torch", "torchvision", "transformers", "av", "decord", "faster-whisper",
    "ctranslate2", "rapidocr", "onnxruntime", "ray", "scenedetect", "lmms-eval",
)
# row keys that mark a timing: such a row must say what its timer includes
_TIMING_KEY = re.compile(r"(^|[_ (])(s|ms|seconds|sec|time|wall|latency)\)?$|per_s$|fps$|rtf$|frames/s", re.IGNORECASE)
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,120}$")


class RecordError(ValueError):
    """A record that cannot be written or read: names the record and the problem."""


def _run(cmd: Sequence[str]) -> str | None:
    try:
        out = subprocess.run(cmd, cwd=REPO_ROOT, capture_output=True, text=True, timeout=10, check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip()


def commit() -> str | None:
    """The checked-out commit, with ``+dirty`` when tracked files other than the results differ from it (None
    outside git)."""
    head = _run(["git", "rev-parse", "HEAD"])
    if head is None:
        return None
    # the records and RESULTS.md are outputs (a run writing several records would otherwise mark its own later
    # records dirty)
    dirty = _run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".",
                  ":(exclude)benchmarks/results", ":(exclude)benchmarks/RESULTS.md"])
    return head + ("+dirty" if dirty else "")


def cpu_count() -> int:
    return usable_cores()


def _cpu_model() -> str:
    """The CPU's model name (/proc/cpuinfo), else what ``platform`` knows."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return cpu


def _ram_gib() -> float | None:
    """Total RAM in GiB (/proc/meminfo), or None where it cannot be read."""
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration, ValueError):
        return None
    return kb / 2**20


def machine_info() -> dict[str, Any]:
    """CPU model, cores this process may use, RAM and GPU (torch is asked only when already imported)."""
    cpu = _cpu_model()
    gib = _ram_gib()
    ram = None if gib is None else round(gib, 1)
    gpu = None
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        gpu = torch.cuda.get_device_name(0)
    return {"cpu": cpu, "cores": cpu_count(), "ram_gib": ram, "gpu": gpu, "os": platform.platform(),
            "python": platform.python_version()}


def versions(extra: Iterable[str] = ()) -> dict[str, str]:
    """Installed versions of the packages that shape the numbers (absent ones are left out)."""
    out = {}
    for name in (*VERSIONED, *extra):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def command_line(argv: Sequence[str] | None = None) -> str:
    """How the running script was invoked, relative to the repository root."""
    argv = list(sys.argv if argv is None else argv)
    script = argv[0] if argv else "?"
    try:
        script = os.path.relpath(script, REPO_ROOT)
    except ValueError:
        pass
    if script.endswith(os.path.join("benchmarks", "__main__.py")):
        script = "-m benchmarks"
    elif script.startswith("benchmarks" + os.sep) and script.endswith(".py"):
        script = "-m " + script[:-3].replace(os.sep, ".")
    return "python " + " ".join([script, *(shlex.quote(a) for a in argv[1:])])


def _check_rows(name: str, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise RecordError(f"record {name!r}: row {i} is a {type(row).__name__}, not a mapping")
        row = dict(row)
        timing = [k for k in row if _TIMING_KEY.search(str(k))]
        if timing and not row.get("timer"):
            raise RecordError(f"record {name!r}: row {i} holds timings {timing} but no 'timer' saying what they include")
        if timing and row.get("threads") is None:
            raise RecordError(f"record {name!r}: row {i} holds timings {timing} but does not say its 'threads'")
        for k, v in row.items():
            if isinstance(v, float) and not math.isfinite(v):
                row[k] = None if math.isnan(v) else str(v)  # JSON has no NaN/inf
        out.append(row)
    return out


def write_record(
    name: str,
    rows: Sequence[Mapping[str, Any]],
    *,
    title: str | None = None,
    notes: str | None = None,
    body: str | None = None,
    threads: int | None = None,
    timer: str | None = None,
    command: str | None = None,
    load_before: Sequence[float] | None = None,
    extra_versions: Iterable[str] = (),
    directory: Path | None = None,
) -> Path:
    """Write the record ``name`` (``<directory>/<name>.json``, default ``benchmarks/results/`` of the source
    checkout) atomically and return its path.

    ``rows``: one mapping per measured row, every value JSON-serialisable; a row holding a timing (a key
    such as ``seconds``, ``*_s``, ``*_ms``, ``fps``, ``rtf``) must have ``threads`` and ``timer`` (what the timer
    includes); ``threads`` and ``timer`` given here fill rows that lack them. ``notes``: prose printed under the
    table. ``body``: the Markdown text of a script that has no rows yet (prefer rows). ``load_before``: the
    1/5/15-minute load average before the measurement (default: when this module was imported).
    """
    if not _NAME.match(name):
        raise RecordError(f"record name {name!r}: use lower-case letters, digits, '.', '_' and '-'")
    filled = []
    for row in rows:
        row = dict(row)
        if threads is not None:
            row.setdefault("threads", threads)
        if timer is not None:
            row.setdefault("timer", timer)
        filled.append(row)
    checked = _check_rows(name, filled)
    load_after = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    before = list(load_before) if load_before is not None else _LOAD_AT_IMPORT
    rec = {
        "schema": SCHEMA,
        "name": name,
        "title": title or name,
        "date": _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit(),
        "machine": machine_info(),
        "cpu_count": cpu_count(),
        "load_before": [round(x, 2) for x in before] if before is not None else None,
        "load_after": [round(x, 2) for x in load_after] if load_after is not None else None,
        "command": command or command_line(),
        "versions": versions(extra_versions),
        "threads": threads,
        "rows": checked,
        "notes": notes,
        "body": body,
    }
    try:
        text = json.dumps(rec, indent=1, ensure_ascii=False, allow_nan=False) + "\n"
    except (TypeError, ValueError) as e:
        raise RecordError(f"record {name!r}: not JSON-serialisable ({e})") from e
    directory = Path(directory) if directory is not None else REPO_ROOT / "benchmarks" / "results"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    _atomic_write(path, text)
    return path


def _atomic_write(path: Path, text: str) -> None:
    with atomic_writer(path) as f:
        f.write(text.encode("utf-8"))


def describe_machine() -> str:
    """One line: CPU model, cores this process may use, RAM, GPU, Python and torch versions."""
    cpu = _cpu_model()
    n = usable_cores()
    gib = _ram_gib()
    mem = "" if gib is None else f", {gib:.0f} GiB RAM"
    import torch

    gpu = f", GPU {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else ", no GPU"
    return f"{cpu}, {n} cores{mem}{gpu}, Python {platform.python_version()}, torch {torch.__version__}"
