"""The one-line error text the CLI prints (clamr_frames.errors.first_line)."""

from __future__ import annotations

from clamr_frames.errors import first_line


def test_first_line():
    assert first_line(OSError("no such file\n  Traceback detail\n  more")) == "no such file"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(ValueError("  \n")) == "ValueError"
