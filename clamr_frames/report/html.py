"""Self-contained HTML: the page data as inline JSON, rendered in the browser by the inline report script."""

from __future__ import annotations

import json
from functools import cache
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

from clamr_frames._fs import atomic_write_bytes


@cache
def asset(name: str) -> str:
    """The text of a file of ``clamr_frames/report/assets`` (CSS and JavaScript shipped in the wheel)."""
    return resources.files("clamr_frames.report").joinpath("assets", name).read_text(encoding="utf-8")


def _json_script(element_id: str, data: Any) -> str:
    # "<" escaped as \u003c: no "</script>" or "<!--" inside the data can end the element early
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")
    return f'<script id="{element_id}" type="application/json">{text}</script>'


def _document(title: str, body: str, scripts: tuple[str, ...]) -> str:
    js = "\n".join(asset(s) for s in scripts)
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><link rel=\"icon\" href=\"data:,\">"
        f"<title>{escape(title)}</title><style>{asset('report.css')}</style></head>"
        f"<body><div id=\"report\"></div>{body}<script>{js}</script></body></html>\n"
    )


def render_page(data: dict[str, Any]) -> str:
    """One selection's page (``data`` from :func:`~clamr_frames.report.page.page_data`)."""
    return _document(f"clamr-frames: {data.get('question', '')}"[:200], _json_script("clamr-data", data),
                     ("dom.js", "report.js"))


def render_index(rows: list[dict[str, Any]], *, columns: list[dict[str, str]], title: str = "clamr-frames report",
                 source: str | None = None) -> str:
    """A table of questions (one row per page), sortable, with a wrong-answers filter."""
    data = {"title": title, "source": source, "columns": columns, "rows": rows}
    return _document(title, _json_script("clamr-index", data), ("dom.js", "index.js"))


def write_page(path: str | Path, data: dict[str, Any]) -> Path:
    """Write one selection's page atomically; returns its path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, render_page(data).encode("utf-8"))
    return path


def write_index(path: str | Path, rows: list[dict[str, Any]], **kwargs: Any) -> Path:
    """Write an index page atomically (see :func:`render_index`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, render_index(rows, **kwargs).encode("utf-8"))
    return path
