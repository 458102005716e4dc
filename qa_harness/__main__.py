"""``python -m qa_harness COMMAND``: ``select-task`` (a selections file for a task, no answerer)."""

from __future__ import annotations

import sys

COMMANDS = {"select-task": "qa_harness.select_task"}


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m qa_harness {" + ",".join(COMMANDS) + "} ...", file=sys.stderr)
        return 2
    import importlib

    return int(importlib.import_module(COMMANDS[argv[0]]).main(argv[1:]) or 0)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
