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

import json
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from clamr_frames._fs import atomic_write_bytes

# the writer (and what a record says about its run) is shipped, so python -m qa_harness.compare --record writes
# records too; this module adds the reading and the RESULTS.md it renders
from clamr_frames.run_info import (  # noqa: F401  (re-exported for the benchmark scripts)
    SCHEMA,
    RecordError,
    command_line,
    commit,
    cpu_count,
    machine_info,
    versions,
)
from clamr_frames.run_info import write_record as _write_record

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_DIR = BENCH_DIR / "results"
RESULTS_MD = BENCH_DIR / "RESULTS.md"


def write_record(name: str, rows: Sequence[Mapping[str, Any]], **kwargs: Any) -> Path:
    """:func:`clamr_frames.run_info.write_record` into :data:`RESULTS_DIR` unless ``directory`` is given."""
    kwargs.setdefault("directory", RESULTS_DIR)
    return _write_record(name, rows, **kwargs)


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
        atomic_write_bytes(out, text.encode("utf-8"))
    return same
