"""Machine-written benchmark records, and the RESULTS.md generated from them.

A benchmark script measures, then calls :func:`write_record`: one JSON file per result under
``benchmarks/results/<name>.json`` holding everything a reader needs to judge the numbers (date, commit,
machine, CPU count, load average before and after the run, the command, package versions, threads) and every
row it measured. A row that is a timing says its threads and what its timer includes (``threads``, ``timer``).
Nobody edits a record or RESULTS.md by hand: ``python -m benchmarks report`` regenerates RESULTS.md from the
records, byte for byte the same on every machine, and a test fails when the committed file differs.

Files in ``benchmarks/results/`` that are not records (no ``"schema"`` of this module, such as the raw
selections ``selection_identity_before.json``) are left alone by the report.
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
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"
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
        out = subprocess.run(cmd, cwd=BENCH_DIR.parent, capture_output=True, text=True, timeout=10, check=True)
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
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def machine_info() -> dict[str, Any]:
    """CPU model, cores this process may use, RAM and GPU (torch is asked only when already imported)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    ram = None
    try:
        kb = int(next(l for l in Path("/proc/meminfo").read_text().splitlines() if l.startswith("MemTotal")).split()[1])
        ram = round(kb / 2**20, 1)
    except (OSError, StopIteration, ValueError):
        pass
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
        script = os.path.relpath(script, BENCH_DIR.parent)
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
    """Write the record ``name`` (``benchmarks/results/<name>.json``) atomically and return its path.

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
    directory = Path(directory) if directory is not None else RESULTS_DIR
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.json"
    _atomic_write(path, text)
    return path


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


# -- reading and rendering --------------------------------------------------------------------------------------


def load_records(directory: Path | None = None) -> list[dict[str, Any]]:
    """Every record in ``directory`` (sorted by name); JSON files that are not records are skipped."""
    directory = Path(directory) if directory is not None else RESULTS_DIR
    out = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise RecordError(f"{path}: not readable as JSON ({e})") from e
        if not isinstance(data, dict) or data.get("schema") != SCHEMA:
            continue  # a raw file (e.g. recorded selections), not a record
        if data.get("name") != path.stem:
            raise RecordError(f"{path}: its name {data.get('name')!r} does not match the file name")
        out.append(data)
    return sorted(out, key=lambda r: r["name"])


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if v == int(v) and abs(v) < 1e15:
            return f"{v:.1f}"
        return f"{v:.4g}" if abs(v) < 1e-3 or abs(v) >= 1e6 else f"{v:.4f}".rstrip("0").rstrip(".")
    if isinstance(v, (list, tuple)):
        return ", ".join(_cell(x) for x in v)
    if isinstance(v, dict):
        return ", ".join(f"{k}: {_cell(x)}" for k, x in v.items())
    return str(v).replace("|", "\\|").replace("\n", " ")


def render_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A Markdown table of ``rows``; columns in order of first appearance, numbers right-aligned.

    >>> print(render_table([{"a": 1, "b": "x"}, {"a": 2.5, "c": True}]))
    | a | b | c |
    |---:|---|---|
    | 1 | x |  |
    | 2.5 |  | yes |
    """
    cols: list[str] = []
    for row in rows:
        cols.extend(k for k in row if k not in cols)
    numeric = {
        c: all(isinstance(r.get(c), (int, float)) and not isinstance(r.get(c), bool) for r in rows if r.get(c) is not None)
        and any(r.get(c) is not None for r in rows)
        for c in cols
    }
    lines = ["| " + " | ".join(_cell(c) for c in cols) + " |",
             "|" + "|".join("---:" if numeric[c] else "---" for c in cols) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(_cell(row.get(c)) for c in cols) + " |")
    return "\n".join(lines)


def _load(v: Any) -> str:
    return " / ".join(f"{x:.2f}" for x in v) if v else "unknown"


def render_record(rec: Mapping[str, Any]) -> str:
    """The Markdown section of one record."""
    m = rec.get("machine") or {}
    ram = f", {m['ram_gib']:g} GiB RAM" if m.get("ram_gib") else ""
    gpu = f", GPU {m['gpu']}" if m.get("gpu") else ", no GPU"
    vers = ", ".join(f"{k} {v}" for k, v in (rec.get("versions") or {}).items())
    out = [
        f"<!-- record: {rec['name']} -->",  # docs include one record's section between these markers
        f"## {rec['title']}",
        "",
        f"- record: `benchmarks/results/{rec['name']}.json`",
        f"- date: {rec['date']}",
        f"- commit: `{rec.get('commit') or 'unknown'}`",
        f"- machine: {m.get('cpu', '?')}, {rec.get('cpu_count', '?')} CPUs{ram}{gpu}, Python {m.get('python', '?')}",
        f"- load average (1/5/15 min) before: {_load(rec.get('load_before'))}; after: {_load(rec.get('load_after'))}",
        f"- command: `{rec['command']}`",
    ]
    if rec.get("threads") is not None:
        out.append(f"- threads: {rec['threads']}")
    if vers:
        out.append(f"- versions: {vers}")
    out.append("")
    if rec.get("rows"):
        out += [render_table(rec["rows"]), ""]
    if rec.get("notes"):
        out += [rec["notes"].strip(), ""]
    if rec.get("body"):
        out += [rec["body"].strip(), ""]
    out.append(f"<!-- end record: {rec['name']} -->")
    return "\n".join(out) + "\n"


HEADER = """\
# Benchmark results

Generated by `python -m benchmarks report` from the records in `benchmarks/results/` (one JSON file per
result, written by the script that measured it). Do not edit this file: re-run a benchmark, then the report.
A test fails when this file differs from what the records generate.
"""


def render(records: Sequence[Mapping[str, Any]]) -> str:
    """RESULTS.md for ``records`` (deterministic: depends on the records only)."""
    parts = [HEADER]
    if not records:
        parts.append("\nNo records yet.\n")
    else:
        parts.append("\n" + "\n".join(f"- [{r['title']}](#{_anchor(r['title'])})" for r in records) + "\n")
    for rec in records:
        parts.append("\n" + render_record(rec))
    return "".join(parts).rstrip("\n") + "\n"


def _anchor(title: str) -> str:
    """GitHub's heading anchor for ``title``."""
    s = re.sub(r"[^\w\- ]", "", title.strip().lower())
    return s.replace(" ", "-")


def report(directory: Path | None = None, out: Path | None = None, *, check: bool = False) -> bool:
    """Regenerate RESULTS.md (``check``: only compare). Returns whether the file was already up to date."""
    text = render(load_records(directory))
    out = Path(out) if out is not None else RESULTS_MD
    current = out.read_text(encoding="utf-8") if out.exists() else None
    same = current == text
    if not check and not same:
        _atomic_write(out, text)
    return same
