"""Make the heading levels of generated Markdown files consecutive when a page ``{include}``s them.

``benchmarks/RESULTS.md`` is written by the benchmark scripts: its blocks are ``###`` headings under one ``#``,
a jump that MyST reports (``myst.header``) and the build, with warnings as errors, would fail on. Rather than
silence that warning for every page, the files named in ``consecutive_heading_includes`` (paths relative to the
docs folder) get their headings renumbered as they are included: each heading becomes one level below the
nearest earlier heading of a higher original level, so the outline keeps its shape and skips no level. The
file on disk is not touched; the ``{include}``'s ``heading-offset`` applies after this.
"""

from __future__ import annotations

import re
from pathlib import Path

from sphinx.application import Sphinx

_HEADING = re.compile(r"^(#{1,6})(\s.*|)$")
_FENCE = re.compile(r"^\s{0,3}(`{3,}|~{3,})")


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
    fence: str | None = None
    for line in markdown.split("\n"):
        f = _FENCE.match(line)
        if fence is not None:
            if f and f.group(1)[0] == fence[0] and len(f.group(1)) >= len(fence):
                fence = None
            out.append(line)
            continue
        if f:
            fence = f.group(1)
            out.append(line)
            continue
        m = _HEADING.match(line)
        if m:
            level = len(m.group(1))
            while stack and stack[-1][0] >= level:
                stack.pop()
            new = stack[-1][1] + 1 if stack else 1
            stack.append((level, new))
            line = "#" * new + m.group(2)
        out.append(line)
    return "\n".join(out)


def _on_include_read(app: Sphinx, relative_path: Path, parent_docname: str, content: list[str]) -> None:
    wanted = {Path(p) for p in app.config.consecutive_heading_includes}
    if Path(relative_path) in wanted:
        content[0] = consecutive_headings(content[0])


def setup(app: Sphinx) -> dict[str, object]:
    app.add_config_value("consecutive_heading_includes", [], "env", types=[list])
    app.connect("include-read", _on_include_read)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
