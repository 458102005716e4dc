"""Exceptions raised by the library. Only the CLI turns them into messages and exit codes."""

from __future__ import annotations

from pathlib import Path


class ClamrFramesError(Exception):
    """Base class of every error this library raises on purpose."""


class InputError(ClamrFramesError, ValueError):
    """A bad argument from the caller (empty question, k <= 0, unknown policy, ...)."""


class VideoError(ClamrFramesError):
    """A video cannot be read. ``path`` and ``reason`` say which file and why."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class SubtitleError(ClamrFramesError):
    """A subtitle file cannot be read at all (a malformed cue alone is skipped, not raised)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class IndexCacheError(ClamrFramesError):
    """An on-disk cache (an index, or the OCR text cache) is unusable: corrupt, foreign, outside its cache
    directory, or the directory cannot be created or written."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ModelLoadError(ClamrFramesError):
    """Weights or an adapter cannot be loaded (unreachable hub id, unmatched adapter keys, ...)."""


def first_line(e: BaseException) -> str:
    """The first line of an exception's message (its type name when the message is empty): third-party errors
    often carry pages of detail, and a one-line message must stay one line."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
