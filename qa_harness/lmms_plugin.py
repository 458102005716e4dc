"""Entry point for lmms-eval's model registry (group ``lmms_eval.models``).

pyproject.toml::

    [project.entry-points."lmms_eval.models"]
    clamr_frames = "qa_harness.lmms_plugin:manifests"

lmms-eval loads it when ``lmms_eval.models`` is imported, so ``--model clamr_frames`` works without editing
lmms-eval. Without the entry point (e.g. a source checkout that was not pip-installed), call :func:`register`
before ``simple_evaluate(model="clamr_frames", ...)``, or pass a ``ClamrFrames`` instance as the model.
"""

from __future__ import annotations

from typing import Any

MODEL_ID = "clamr_frames"
SIMPLE_CLASS = "qa_harness.model.ClamrFrames"
CHAT_CLASS = "qa_harness.model.ClamrFramesChat"


def manifests() -> list[Any]:
    """The ``ModelManifest`` of ``clamr_frames`` (simple + chat classes), imported lazily from lmms-eval."""
    # registry_v2 is already imported by the time lmms_eval.models runs entry points, so this is no cycle.
    from lmms_eval.models.registry_v2 import ModelManifest

    return [ModelManifest(model_id=MODEL_ID, simple_class_path=SIMPLE_CLASS, chat_class_path=CHAT_CLASS)]


def register() -> None:
    """Register ``clamr_frames`` in lmms-eval's model registry at run time (idempotent)."""
    from lmms_eval.models import MODEL_REGISTRY_V2

    for m in manifests():
        MODEL_REGISTRY_V2.register_manifest(m, overwrite=True)


__all__ = ["CHAT_CLASS", "MODEL_ID", "SIMPLE_CLASS", "manifests", "register"]
