"""What the machine offers this process, read once where a stage sizes its thread pools (speech recognition,
OCR, the index pipeline) and where a benchmark record describes the machine."""

from __future__ import annotations

import os


def usable_cores() -> int:
    """CPU cores this process may run on (its affinity mask where the OS has one, else the CPU count; at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


__all__ = ["usable_cores"]
