"""Training core: one loop for late-interaction (CLaMR, the embedded default) and single-vector retrievers.

- :mod:`~clamr_frames.train.data` — the JSONL format and its validation.
- :mod:`~clamr_frames.train.builders` — examples from the synthetic generator, QA annotations with evidence
  timestamps, Charades-STA, QVHighlights.
- :mod:`~clamr_frames.train.collate` — candidates, ASR / OCR context, positives and hard negatives per example.
- :mod:`~clamr_frames.train.models` — differentiable wrappers that reuse the encoders' own preparation code.
- :mod:`~clamr_frames.train.losses` — InfoNCE (in-batch + cross-process negatives), the modality variants,
  pairwise softplus; scores from :mod:`clamr_frames.scoring`.
- :mod:`~clamr_frames.train.build` — what a run is built from (examples, model, optimizer, schedule, contexts).
- :mod:`~clamr_frames.train.batches`, :mod:`~clamr_frames.train.evaluation`, :mod:`~clamr_frames.train.checkpoints`,
  :mod:`~clamr_frames.train.metric_log` — epoch plans, held-out retrieval, crash-safe checkpoints, metric logs.
- :mod:`~clamr_frames.train.trainer` — :func:`train` on accelerate: setup, resume, epochs, finish.

``clamr-frames train CONFIG.yaml`` calls :func:`train`. Example configs: ``clamr_frames/train/configs/``.
Imports are lazy: ``import clamr_frames.train`` does not import torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = [
    "DataError",
    "Example",
    "TrainResult",
    "TrainingConfig",
    "build_loss",
    "evaluate",
    "examples_from_qa",
    "examples_from_synthetic",
    "load_config",
    "read_charades_sta",
    "read_jsonl",
    "read_qvhighlights",
    "train",
    "write_jsonl",
    "write_synthetic_dataset",
]

_LAZY = {
    "DataError": "clamr_frames.train.data",
    "Example": "clamr_frames.train.data",
    "examples_from_qa": "clamr_frames.train.builders",
    "examples_from_synthetic": "clamr_frames.train.builders",
    "read_charades_sta": "clamr_frames.train.builders",
    "read_jsonl": "clamr_frames.train.data",
    "read_qvhighlights": "clamr_frames.train.builders",
    "write_jsonl": "clamr_frames.train.data",
    "write_synthetic_dataset": "clamr_frames.train.builders",
    "TrainingConfig": "clamr_frames.train.config",
    "load_config": "clamr_frames.train.config",
    "build_loss": "clamr_frames.train.losses",
    "TrainResult": "clamr_frames.train.trainer",
    "evaluate": "clamr_frames.train.evaluation",
    "train": "clamr_frames.train.trainer",
}

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.train.config import TrainingConfig, load_config
    from clamr_frames.train.builders import (
        examples_from_qa,
        examples_from_synthetic,
        read_charades_sta,
        read_qvhighlights,
        write_synthetic_dataset,
    )
    from clamr_frames.train.data import DataError, Example, read_jsonl, write_jsonl
    from clamr_frames.train.losses import build_loss
    from clamr_frames.train.evaluation import evaluate
    from clamr_frames.train.trainer import TrainResult, train


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'clamr_frames.train' has no attribute {name!r}")
