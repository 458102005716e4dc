"""docs/_ext/included_headings.py: a generated file whose headings skip levels (benchmarks/RESULTS.md) is
included without a myst.header warning, and no warning type is silenced for the other pages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="the 'docs' extra (Python 3.11+) is not installed")
pytest.importorskip("myst_parser", reason="the 'docs' extra (Python 3.11+) is not installed")

EXT = Path(__file__).resolve().parents[2] / "docs" / "_ext"
GENERATED = "# Results\n\n### Block one\n\ntext\n\n```bash\n# a comment, not a heading\n```\n\n### Block two\n\n#### Detail\n"


def _headings():
    sys.path.insert(0, str(EXT))
    try:
        from included_headings import consecutive_headings
    finally:
        sys.path.remove(str(EXT))
    return consecutive_headings


def test_headings_become_consecutive_and_keep_their_outline():
    fixed = _headings()(GENERATED)
    assert [line for line in fixed.splitlines() if line.startswith("#")] == [
        "# Results", "## Block one", "# a comment, not a heading", "## Block two", "### Detail"]


def _build(tmp_path: Path, listed: bool, page_extra: str = "") -> tuple[int, str]:
    from sphinx.cmd.build import build_main

    src = tmp_path / "src"
    src.mkdir()
    (tmp_path / "RESULTS.md").write_text(GENERATED)
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXT)!r})\n"
        "extensions = ['myst_parser', 'included_headings']\n"
        f"consecutive_heading_includes = {['../RESULTS.md'] if listed else []!r}\n"
    )
    (src / "index.md").write_text(
        "# Page\n\n" + page_extra + "## Recorded\n\n```{include} ../RESULTS.md\n:heading-offset: 2\n```\n")
    warnings = tmp_path / "warnings.txt"
    rc = build_main(["-W", "-q", "-E", "-w", str(warnings), "-b", "html", str(src), str(tmp_path / "html")])
    return rc, warnings.read_text() if warnings.exists() else ""


def test_a_listed_include_builds_with_warnings_as_errors(tmp_path):
    rc, warnings = _build(tmp_path, listed=True)
    assert rc == 0, warnings


def test_without_it_the_include_warns(tmp_path):
    rc, warnings = _build(tmp_path, listed=False)
    assert rc != 0 and "myst.header" in warnings


def test_a_page_that_skips_a_level_still_fails(tmp_path):
    rc, warnings = _build(tmp_path, listed=True, page_extra="#### Skipped a level\n\n")
    assert rc != 0 and "myst.header" in warnings
