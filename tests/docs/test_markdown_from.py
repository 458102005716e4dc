"""The docs' ``markdown-from`` directive (docs/_ext/markdown_from.py): a function's Markdown, parsed into a
MyST page; and the CLI reference it renders from the parser. Builds tiny Sphinx projects (the ``docs`` extra)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from testkit.docs_ext import load
from testkit.extras import require_extra

require_extra("docs")

EXT = Path(__file__).resolve().parents[2] / "docs" / "_ext"


def _build(tmp_path: Path, page: str, module_source: str) -> tuple[int, str, str]:
    from sphinx.cmd.build import build_main

    src = tmp_path / "src"
    src.mkdir()
    (src / "mdtable_fixture.py").write_text(module_source)
    (src / "conf.py").write_text(
        "from testkit.docs_ext import load, load_file\n"
        f"load('markdown_from')\nload_file('mdtable_fixture', {str(src / 'mdtable_fixture.py')!r})\n"
        "extensions = ['myst_parser', 'markdown_from']\n"
        "source_suffix = {'.md': 'markdown'}\n"
    )
    (src / "index.md").write_text(page)
    out = tmp_path / "html"
    warnings = tmp_path / "warnings.txt"
    rc = build_main(["-W", "-q", "-E", "-w", str(warnings), "-b", "html", str(src), str(out)])
    sys.modules.pop("mdtable_fixture", None)
    html = (out / "index.html").read_text() if (out / "index.html").exists() else ""
    return rc, html, warnings.read_text() if warnings.exists() else ""


TABLE = '''
def table():
    return "| arg | meaning |\\n|---|---|\\n| `k` | frames per **question** |\\n"

def rows(n):
    return "\\n".join(f"- item {i}" for i in range(int(n)))

def not_text():
    return 3
'''


def test_the_function_s_markdown_is_parsed_into_the_page(tmp_path):
    page = "# Page\n\nBefore.\n\n```{markdown-from} mdtable_fixture:table\n```\n\nAfter.\n"
    rc, html, warnings = _build(tmp_path, page, TABLE)
    assert rc == 0, warnings
    assert "<table" in html and "<code" in html and "<strong>question</strong>" in html
    assert html.index("Before.") < html.index("<table") < html.index("After.")


def test_words_after_the_function_are_its_arguments(tmp_path):
    rc, html, warnings = _build(tmp_path, "# Page\n\n```{markdown-from} mdtable_fixture:rows 3\n```\n", TABLE)
    assert rc == 0, warnings
    assert "item 2" in html and "item 3" not in html


@pytest.mark.parametrize("spec, message", [
    ("mdtable_fixture:not_text", "returned int, not Markdown text"),
    ("mdtable_fixture:missing", "has no function 'missing'"),
    ("no_such_module_xyz:table", "ModuleNotFoundError"),
    ("mdtable_fixture", "expected 'module:function'"),
])
def test_a_bad_function_fails_the_build_naming_it(tmp_path, spec, message):
    rc, _, warnings = _build(tmp_path, f"# Page\n\n```{{markdown-from}} {spec}\n```\n", TABLE)
    assert rc != 0
    assert message in warnings and spec.split(":")[0] in warnings


def test_the_cli_reference_lists_every_option_of_the_parser():
    cli_reference = load("cli_reference")
    # the CLI page has a section for every subcommand the parser has
    page = (EXT.parent / "cli.md").read_text()
    for command in cli_reference.commands():
        assert f"```{{markdown-from}} cli_reference:markdown {command}\n" in page, command
    text = cli_reference.markdown("select")
    for option in ("--questions", "--policy", "--index-dir", "--plot", "-k"):
        assert f"`{option}" in text or f", {option}" in text
    assert "--cache-dir" not in text  # hidden from --help, hidden here
    assert r"\$CLAMR\_FRAMES\_CACHE" in text  # Markdown in help text is escaped
    with pytest.raises(ValueError, match="no subcommand 'nope'"):
        cli_reference.markdown("nope")
