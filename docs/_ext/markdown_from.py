"""``markdown-from``: insert the Markdown a Python function returns, parsed like the page around it.

Tables that the code defines (the lmms-eval model args, say) are written by the code, so the docs cannot
drift from it::

    ```{markdown-from} qa_harness.model_args:markdown_table
    ```

The argument is ``module:function``; the function returns Markdown (a ``str``). Words after it are passed to
the function as string arguments (``{markdown-from} cli_reference:markdown select`` calls
``markdown("select")``).
It works in MyST Markdown pages, where the returned text is parsed by MyST as if it were written in the page
(headings are not allowed in it: they would break the page's own sections).
"""

from __future__ import annotations

import importlib

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective


def call_markdown_function(spec: str, *args: str) -> str:
    """Import ``module:function``, call it with ``args`` and return its Markdown text."""
    module_name, sep, func_name = spec.partition(":")
    if not sep or not module_name or not func_name:
        raise ValueError(f"expected 'module:function', got {spec!r}")
    module = importlib.import_module(module_name)
    func = getattr(module, func_name, None)
    if not callable(func):
        raise TypeError(f"{module_name} has no function {func_name!r}")
    text = func(*args)
    if not isinstance(text, str):
        raise TypeError(f"{spec} returned {type(text).__name__}, not Markdown text (str)")
    return text


class MarkdownFrom(SphinxDirective):
    """``{markdown-from} module:function``: the function's Markdown, parsed into the page."""

    required_arguments = 1
    optional_arguments = 8
    has_content = False

    def run(self) -> list[nodes.Node]:
        from myst_parser.mocking import MockState

        spec, *args = self.arguments
        if not isinstance(self.state, MockState):
            raise self.error("markdown-from works in MyST Markdown pages only")
        try:
            text = call_markdown_function(spec, *args)
        except Exception as exc:  # an import error or a bad return value: a build error naming the function
            raise self.error(f"markdown-from {' '.join(self.arguments)}: {type(exc).__name__}: {exc}") from exc
        # rebuild the page when the function's module changes
        module = importlib.import_module(spec.partition(":")[0])
        if getattr(module, "__file__", None):
            self.env.note_dependency(module.__file__)
        container = nodes.container(classes=["markdown-from"])
        self.state.nested_parse(StringList(text.splitlines(), source=" ".join(self.arguments)), 0, container)
        return container.children


def setup(app: Sphinx) -> dict[str, object]:
    app.add_directive("markdown-from", MarkdownFrom)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
