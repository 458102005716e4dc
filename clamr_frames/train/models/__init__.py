"""Differentiable wrappers around the inference encoders, for training (one model class per file).

The inference encoders (:class:`~clamr_frames.encoders.clamr.ClamrEncoder`,
:class:`~clamr_frames.encoders.default.DefaultEncoder`) run under ``torch.inference_mode`` and return packed
embeddings. A trainable wrapper holds the *same* encoder object and calls its own preparation code (chat template,
tokeniser, truncation, image resizing, modality labelling, stop-word filtering), so training and inference see
identical inputs; only the forward pass is new: padded, with autograd, one call for queries and documents together
(so a ``DistributedDataParallel`` wrapper sees one forward per step). The tests check that a wrapper's embeddings
equal the encoder's ``encode_queries`` / ``encode_documents`` output.

- :class:`ClamrTrainable` — Qwen2.5-VL + ``custom_text_proj``; LoRA on the language model (and optionally the
  head), the head trained fully, through LoRA, or frozen; QLoRA when the encoder was loaded in 4 bit (CUDA);
  gradient checkpointing. Saved as a LoRA adapter directory that
  ``ClamrEncoder.from_pretrained(dir, base_model=...)`` (and so ``FrameSelector.from_pretrained``) loads.
- :class:`DefaultTrainable` — all-MiniLM-L6-v2 token embeddings; the full weights or LoRA (merged on save).
  Saved as a model folder that ``DefaultEncoder(model_path=dir)`` loads.
- :class:`ClipTrainable` — the CLIP single-vector baseline (:class:`~clamr_frames.encoders.clip.ClipEncoder`):
  both towers, fully or through LoRA (merged on save). Saved as a CLIP checkpoint folder that
  ``ClipEncoder.from_pretrained(dir)`` (``FrameSelector.from_pretrained("clip", encoder_kwargs={"weights": dir})``)
  loads.

``pooling="mean"`` turns either into a single-vector baseline (one L2-normalised vector per query and per
document, the masked mean of the token vectors): MaxSim over one token is the dot product, so the same losses
and loop train it.
"""

from __future__ import annotations

from typing import Any

from clamr_frames.train.models.clamr import CLAMR_LORA_TARGETS
from clamr_frames.train.models.clip import CLIP_LORA_TARGETS
from clamr_frames.train.models.common import HEAD_MODES, POOLINGS, TRAIN_META
from clamr_frames.train.models.default import DEFAULT_LORA_TARGETS
from clamr_frames.train.models.lora import (
    enable_checkpointing,
    inject_lora,
    lora_state_dict,
    lora_targets,
    merged_copy,
    quiet_hf,
    save_merged,
    set_trainable,
)

_CLASSES: dict[str, Any] = {}


def ClamrTrainable(*args: Any, **kwargs: Any):  # noqa: N802 - a class built lazily (keeps torch out of import)
    """Build a trainable CLaMR model; see :mod:`clamr_frames.train.models.clamr` for the arguments."""
    if "clamr" not in _CLASSES:
        from clamr_frames.train.models.clamr import _clamr_class

        _CLASSES["clamr"] = _clamr_class()
    return _CLASSES["clamr"](*args, **kwargs)


def DefaultTrainable(*args: Any, **kwargs: Any):  # noqa: N802
    """Build a trainable default (MiniLM) model; see :mod:`clamr_frames.train.models.default` for the arguments."""
    if "default" not in _CLASSES:
        from clamr_frames.train.models.default import _default_class

        _CLASSES["default"] = _default_class()
    return _CLASSES["default"](*args, **kwargs)


def ClipTrainable(*args: Any, **kwargs: Any):  # noqa: N802
    """Build a trainable CLIP (single-vector) model; see :mod:`clamr_frames.train.models.clip` for the arguments."""
    if "clip" not in _CLASSES:
        from clamr_frames.train.models.clip import _clip_class

        _CLASSES["clip"] = _clip_class()
    return _CLASSES["clip"](*args, **kwargs)


__all__ = ["CLAMR_LORA_TARGETS", "CLIP_LORA_TARGETS", "DEFAULT_LORA_TARGETS", "HEAD_MODES", "POOLINGS", "TRAIN_META",
           "ClamrTrainable", "ClipTrainable", "DefaultTrainable", "enable_checkpointing", "inject_lora",
           "lora_state_dict", "lora_targets", "merged_copy", "quiet_hf", "save_merged", "set_trainable"]
