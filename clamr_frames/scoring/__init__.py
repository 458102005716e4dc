"""Scoring stage: MaxSim (late-interaction) scores between a query and documents. Pure tensor code.

- Packed, for inference (one query, all candidate frames of a video, no padding):
  :func:`token_max`, :func:`modality_max`, :func:`maxsim` (dispatcher) and :class:`MaxSimArgmax`.
- One video's index, whatever it holds: :func:`score_frames` (plain, compressed or score-fused documents), the
  entry point of ``FrameSelector.score``.
- Compressed indexes: their MaxSim (:mod:`clamr_frames.scoring.compressed`). The codecs that write them (int8,
  binary, token pooling, the spec and :class:`CompressedDocs`) are the index's stored format
  (:mod:`clamr_frames.index.codecs`) and are re-exported here.
- Score fusion of single-vector multi-modality scorers (:mod:`clamr_frames.scoring.fusion`).
- Padded and differentiable, for the training losses: :func:`score_matrix` ``[B, C]`` and
  :func:`per_modality_scores` ``[B, C, M]``.
- Layout helpers: :func:`pack`, :func:`unpack`, :func:`pad_packed`.

torch is imported inside the functions, so importing this package stays cheap.
"""

from clamr_frames.scoring.batched import per_modality_scores, score_matrix
from clamr_frames.index.codecs import CompressedDocs, CompressionSpec, compress, parse_compression
from clamr_frames.scoring.compressed import score_compressed
from clamr_frames.scoring.frames import score_frames
from clamr_frames.scoring.fusion import fuse_scores, modality_similarities
from clamr_frames.scoring.maxsim import AGGREGATIONS, MaxSimArgmax, maxsim, modality_max, token_max
from clamr_frames.scoring.packing import pack, pad_packed, unpack

__all__ = [
    "AGGREGATIONS",
    "CompressedDocs",
    "CompressionSpec",
    "MaxSimArgmax",
    "compress",
    "fuse_scores",
    "maxsim",
    "modality_max",
    "modality_similarities",
    "pack",
    "pad_packed",
    "parse_compression",
    "per_modality_scores",
    "score_compressed",
    "score_frames",
    "score_matrix",
    "token_max",
    "unpack",
]
