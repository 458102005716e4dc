"""Small value types shared by every stage (no stage-specific imports here)."""

from __future__ import annotations

from enum import IntEnum


class Modality(IntEnum):
    """Modality id of a document token; ``modality_max`` takes the best of these per document.

    ``OTHER`` marks chat-template and prefix tokens. They are scored like any token under
    ``token_max`` and compete as their own group under ``modality_max`` (as in the reference).
    ``AUDIO`` marks an embedding of the soundtrack around a frame (LanguageBind V+A).
    """

    OTHER = 0
    VIDEO = 1
    ASR = 2
    OCR = 3
    AUDIO = 4


MODALITY_NAMES = {m.value: m.name.lower() for m in Modality}

#: How a single-vector V+A scorer fuses its per-modality similarities (each z-scored over the video's
#: candidates): the scorer declares one (``encoder.score_fusion``), :mod:`clamr_frames.scoring.fusion` applies it.
FUSIONS = ("max", "mean")
