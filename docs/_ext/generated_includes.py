"""Include generated Markdown files (``benchmarks/RESULTS.md``) into a page as they are, without warnings.

A page ``{include}``s a file that a script writes, so the file cannot be edited to suit the docs build, and the
build treats warnings as errors. For the files named in ``generated_includes`` (paths relative to the docs
folder), two things are adjusted as they are read (the ``include-read`` event; the file on disk is untouched):

- **heading levels** are renumbered so that none skips a level: RESULTS.md's blocks are ``###`` headings under
  one ``#``, a jump MyST reports (``myst.header``). Each heading becomes one level below the nearest earlier
  heading of a higher original level, so the outline keeps its shape. The ``{include}``'s ``heading-offset``
  applies after this. No warning type is silenced: any other page that skips a level still fails the build.
- **relative link and image targets** (``[record](results/x.json)``, ``![plot](stages.png)``) are rebased from
  the included file's folder to the including page's, so they resolve (files become downloads, Markdown
  files cross-references). Use this instead of the include's ``relative-docs`` / ``relative-images``.

Fenced code blocks are left alone.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from sphinx.application import Sphinx

_HEADING = re.compile(r"^(#{1,6})(\s.*|)$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")
# an inline link or image target: ](target) or ](target "title"); not a URL, an anchor or an absolute path
_TARGET = re.compile(r"(\]\()(?![a-zA-Z][a-zA-Z0-9+.-]*:|#|/|<)([^)\s]+)")


def _outside_fences(markdown: str):
    """(is_code, line) for each line: is_code is True inside fenced code blocks and on their fences."""
    fence: str | None = None
    for line in markdown.split("\n"):
        f = _FENCE.match(line)
        if fence is not None:
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence):
                fence = None
            yield True, line
        elif f:
            fence = f.group(1)
            yield True, line
        else:
            yield False, line


def consecutive_headings(markdown: str) -> str:
    """Renumber ATX headings (outside fenced code) so that no heading skips a level.

    >>> print(consecutive_headings("# A\\n### B\\n### C\\n```\\n# not a heading\\n```\\n## D\\n#### E"))
    # A
    ## B
    ## C
    ```
    # not a heading
    ```
    ## D
    ### E
    """
    out = []
    stack: list[tuple[int, int]] = []  # (original level, new level) of the enclosing headings
    for is_code, line in _outside_fences(markdown):
        m = None if is_code else _HEADING.match(line)
        if m:
            level = len(m.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            new = stack[-1][1] + 1 if stack else 1
            stack.append((level, new))
            line = "#" * new + m.group(2)
        out.append(line)
    return "\n".join(out)


def rebase_links(markdown: str, prefix: str) -> str:
    """Prefix relative link and image targets (outside fenced code) with ``prefix``, a folder.

    >>> print(rebase_links("[r](results/a.json) ![p](p.png) [w](https://x.org) [s](#sec) [d](../docs/i.md)",
    ...                    "../benchmarks"))
    [r](../benchmarks/results/a.json) ![p](../benchmarks/p.png) [w](https://x.org) [s](#sec) [d](../docs/i.md)
    """
    def rebase(m: re.Match[str]) -> str:
        return m.group(1) + os.path.normpath(os.path.join(prefix, m.group(2))).replace(os.sep, "/")

    return "\n".join(line if is_code else _TARGET.sub(rebase, line) for is_code, line in _outside_fences(markdown))


def _on_include_read(app: Sphinx, relative_path: Path, parent_docname: str, content: list[str]) -> None:
    if Path(relative_path) not in {Path(p) for p in app.config.generated_includes}:
        return
    # relative_path is relative to the source folder; links in the page resolve from the page's folder
    page_dir = Path(app.env.doc2path(app.env.docname)).parent
    prefix = os.path.relpath(Path(app.srcdir) / Path(relative_path).parent, page_dir)
    content[0] = rebase_links(consecutive_headings(content[0]), prefix)


def setup(app: Sphinx) -> dict[str, object]:
    app.add_config_value("generated_includes", [], "env", types=[list])
    app.connect("include-read", _on_include_read)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
