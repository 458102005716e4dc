"""The CLI reference, written from ``clamr_frames.cli.build_parser()`` (used by the ``markdown-from`` directive).

Each subcommand's usage line, description and options come from the parser itself, so the reference cannot
drift from what ``clamr-frames COMMAND --help`` prints. Options hidden from ``--help`` (deprecated aliases) are
left out here too.
"""

from __future__ import annotations

import argparse
import re

# CommonMark lets a backslash escape any ASCII punctuation; these are the ones that would start markup in
# help text ($CLAMR_FRAMES_CACHE, <index-dir>, a | b, 'ocr' extra, *args)
_MARKUP = re.compile(r"([\\`*_{}\[\]<>()#+!|$~^&:])")


def _escape(text: str) -> str:
    text = " ".join(text.split())
    if text.count("`") % 2 == 0:  # `code` spans in help text stay code; everything else is literal
        return "`".join(_MARKUP.sub(r"\\\1", part) if i % 2 == 0 else part
                        for i, part in enumerate(text.split("`")))
    return _MARKUP.sub(r"\\\1", text)


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:  # argparse keeps the subparsers as one action; there is no public accessor
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def commands() -> list[str]:
    """The subcommand names, in the order ``clamr-frames --help`` lists them."""
    from clamr_frames.cli import build_parser

    return list(_subcommands(build_parser()))


def markdown(command: str) -> str:
    """Usage, description and options of ``clamr-frames COMMAND`` as Markdown (no headings)."""
    from clamr_frames.cli import build_parser

    subs = _subcommands(build_parser())
    if command not in subs:
        raise ValueError(f"clamr-frames has no subcommand {command!r} (it has {', '.join(subs)})")
    sub = subs[command]
    formatter = sub._get_formatter()
    usage = sub.format_usage().removeprefix("usage: ").strip()
    out = ["```text", usage, "```", ""]
    if sub.description:
        out += [_escape(sub.description), ""]
    for action in sub._actions:
        if action.help == argparse.SUPPRESS or isinstance(action, argparse._HelpAction):
            continue
        invocation = formatter._format_action_invocation(action)
        help_text = formatter._expand_help(action) if action.help else ""
        default = "the positional argument" if not action.option_strings else "(no help text)"
        out += [f"`{invocation}`", f": {_escape(help_text) or default}", ""]
    return "\n".join(out)
