"""docs/_ext/generated_includes.py: a generated file (benchmarks/RESULTS.md) whose headings skip levels and whose
links are relative to its own folder is included into a page with warnings as errors, while no warning type is
silenced for the pages themselves."""

from __future__ import annotations

from pathlib import Path


from testkit.docs_ext import load
from testkit.extras import require_extra

require_extra("docs")

EXT = Path(__file__).resolve().parents[2] / "docs" / "_ext"
GENERATED = ("# Results\n\n### Block one\n\nrecord: [a.json](results/a.json), plot: ![plot](plot.png)\n\n"
             "```bash\n# a comment, not a heading\n```\n\n### Block two\n\n#### Detail\n")


def _ext():
    return load("generated_includes")


def test_headings_become_consecutive_and_keep_their_outline():
    fixed = _ext().consecutive_headings(GENERATED)
    assert [line for line in fixed.splitlines() if line.startswith("#")] == [
        "# Results", "## Block one", "# a comment, not a heading", "## Block two", "### Detail"]


def test_relative_targets_are_rebased_and_others_kept():
    text = "[a](results/a.json) ![p](p.png) [u](https://x.org/a) [s](#sec) [m](mailto:a@b.c)\n```\n[c](x)\n```"
    assert _ext().rebase_links(text, "../bench") == (
        "[a](../bench/results/a.json) ![p](../bench/p.png) [u](https://x.org/a) [s](#sec) [m](mailto:a@b.c)"
        "\n```\n[c](x)\n```")


def _build(tmp_path: Path, listed: bool, page_extra: str = "") -> tuple[int, str]:
    from sphinx.cmd.build import build_main

    src, bench = tmp_path / "src", tmp_path / "bench"
    src.mkdir()
    (bench / "results").mkdir(parents=True)
    (bench / "RESULTS.md").write_text(GENERATED)
    (bench / "results" / "a.json").write_text("{}")
    # a 1x1 PNG
    (bench / "plot.png").write_bytes(bytes.fromhex(
        "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
        "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082"))
    (src / "conf.py").write_text(
        "from testkit.docs_ext import load\nload('generated_includes')\n"
        "extensions = ['myst_parser', 'generated_includes']\n"
        f"generated_includes = {['../bench/RESULTS.md'] if listed else []!r}\n"
    )
    (src / "index.md").write_text(
        "# Page\n\n" + page_extra + "## Recorded\n\n```{include} ../bench/RESULTS.md\n:heading-offset: 2\n```\n")
    warnings = tmp_path / "warnings.txt"
    rc = build_main(["-W", "-q", "-E", "-w", str(warnings), "-b", "html", str(src), str(tmp_path / "html")])
    return rc, warnings.read_text() if warnings.exists() else ""


def test_a_listed_include_builds_with_warnings_as_errors(tmp_path):
    rc, warnings = _build(tmp_path, listed=True)
    assert rc == 0, warnings
    html = (tmp_path / "html" / "index.html").read_text()
    assert "a.json" in html and "<h5" in html  # the record is a download; Detail is h3 + 2 (the offset)


def test_without_it_the_include_warns(tmp_path):
    rc, warnings = _build(tmp_path, listed=False)
    assert rc != 0 and "myst.header" in warnings and "results/a.json" in warnings


def test_a_page_that_skips_a_level_still_fails(tmp_path):
    rc, warnings = _build(tmp_path, listed=True, page_extra="#### Skipped a level\n\n")
    assert rc != 0 and "myst.header" in warnings
