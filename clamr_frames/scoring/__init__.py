"""Scoring stage: MaxSim (late-interaction) scores between a query and documents. Pure tensor code.

- Packed, for inference (one query, all candidate frames of a video, no padding):
  :func:`token_max`, :func:`modality_max`, :func:`maxsim` (dispatcher) and :class:`MaxSimArgmax`.
- Padded and differentiable, for the training losses: :func:`score_matrix` ``[B, C]`` and
  :func:`per_modality_scores` ``[B, C, M]``.
- Layout helpers: :func:`pack`, :func:`unpack`, :func:`pad_packed`.

torch is imported inside the functions, so importing this package stays cheap.
"""

from clamr_frames.scoring.batched import per_modality_scores, score_matrix
from clamr_frames.scoring.maxsim import AGGREGATIONS, MaxSimArgmax, maxsim, modality_max, token_max
from clamr_frames.scoring.packing import pack, pad_packed, unpack

__all__ = [
    "AGGREGATIONS",
    "MaxSimArgmax",
    "maxsim",
    "modality_max",
    "pack",
    "pad_packed",
    "per_modality_scores",
    "score_matrix",
    "token_max",
    "unpack",
]
