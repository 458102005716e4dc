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

Importing this package imports torch (the classes are plain ``nn.Module`` subclasses); :mod:`clamr_frames.train`
loads it only when a model is built.
"""

from __future__ import annotations

from clamr_frames.train.models.clamr import CLAMR_LORA_TARGETS, ClamrTrainable
from clamr_frames.train.models.clip import CLIP_LORA_TARGETS, ClipTrainable
from clamr_frames.train.models.common import HEAD_MODES, POOLINGS, TRAIN_META
from clamr_frames.train.models.default import DEFAULT_LORA_TARGETS, DefaultTrainable
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

__all__ = ["CLAMR_LORA_TARGETS", "CLIP_LORA_TARGETS", "DEFAULT_LORA_TARGETS", "HEAD_MODES", "POOLINGS", "TRAIN_META",
           "ClamrTrainable", "ClipTrainable", "DefaultTrainable", "enable_checkpointing", "inject_lora",
           "lora_state_dict", "lora_targets", "merged_copy", "quiet_hf", "save_merged", "set_trainable"]
