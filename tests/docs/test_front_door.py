"""The README stays a front door (at most 200 lines) and neither it nor the docs cite files the repository does
not hold (``reference/*.md`` notes)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _doc_files() -> list[Path]:
    docs = ROOT / "docs"
    return [ROOT / "README.md"] + sorted(p for p in docs.rglob("*") if p.suffix in {".md", ".rst"}
                                         and "_build" not in p.parts)


def test_readme_is_at_most_200_lines():
    lines = (ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move the detail into docs/"


def test_no_citation_of_files_outside_the_repository():
    cited = []
    for path in _doc_files():
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for m in re.finditer(r"(?<![\w/])reference/[\w./-]+", line):
                if not (ROOT / m.group(0)).exists():
                    cited.append(f"{path.relative_to(ROOT)}:{n}: {m.group(0)}")
    assert not cited, "\n".join(cited)
