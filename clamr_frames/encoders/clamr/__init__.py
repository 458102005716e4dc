"""The CLaMR scorer (Qwen2.5-VL + ``Linear(hidden→128)``, late interaction), split as colpali-engine splits a model:

- :mod:`~clamr_frames.encoders.clamr.processing` — documents (frame + OCR / ASR text) and queries → token ids,
  modality ids and padded batches (:class:`ClamrSettings`, :class:`ClamrProcessor`);
- :mod:`~clamr_frames.encoders.clamr.modeling` — the backbone + projection head module and its forward pass;
- :mod:`~clamr_frames.encoders.clamr.loading` — backbone, processor, head and LoRA adapter from the Hub or a
  folder (4-bit NF4 on CUDA, Hub revisions), and saving back;
- :mod:`~clamr_frames.encoders.clamr.adapter` — the released adapter's transformers-4.51 key names remapped and
  checked; :mod:`~clamr_frames.encoders.clamr.head` — the reference's random head, replayed bit for bit;
- :mod:`~clamr_frames.encoders.clamr.encoder` — :class:`ClamrEncoder`, the three behind the encoder protocol.

How it is built and how it differs from the reference implementation: ``docs/clamr_scorer.md``.
"""

from clamr_frames.encoders.clamr.encoder import ClamrEncoder
from clamr_frames.encoders.clamr.loading import (
    CLAMR_CONFIG,
    CLAMR_HEAD,
    DEFAULT_ADAPTER,
    DEFAULT_BASE_MODEL,
    FORMAT,
    FORMAT_VERSION,
    TRAIN_META,
)
from clamr_frames.encoders.clamr.modeling import HEAD_SEED, init_head_like_reference, make_colqwen
from clamr_frames.encoders.clamr.processing import ClamrProcessor, ClamrSettings, PreparedDocument

# The query format is shared by every scorer and by training; re-exported for the scorer's users.
from clamr_frames.encoders.query import OPTIONS_MARKER, build_query, has_options

__all__ = [
    "CLAMR_CONFIG",
    "CLAMR_HEAD",
    "DEFAULT_ADAPTER",
    "DEFAULT_BASE_MODEL",
    "FORMAT",
    "FORMAT_VERSION",
    "HEAD_SEED",
    "OPTIONS_MARKER",
    "TRAIN_META",
    "ClamrEncoder",
    "ClamrProcessor",
    "ClamrSettings",
    "PreparedDocument",
    "build_query",
    "has_options",
    "init_head_like_reference",
    "make_colqwen",
]
