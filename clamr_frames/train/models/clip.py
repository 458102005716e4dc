"""Trainable CLIP, the single-vector baseline: both towers, fully or through LoRA (merged on save); saved as a
CLIP checkpoint folder ``ClipEncoder.from_pretrained`` loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from clamr_frames.encoders.base import Document
from clamr_frames.errors import InputError
from clamr_frames.train.models.common import TRAIN_META, _TwoSided
from clamr_frames.train.models.lora import enable_checkpointing, save_merged, set_trainable
from clamr_frames.types import Modality

#: LoRA targets for CLIP: attention and MLP projections of both towers.
CLIP_LORA_TARGETS = r"(text_model|vision_model)\.encoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.(fc1|fc2))"


class ClipTrainable(_TwoSided, nn.Module):
    """Trainable :class:`~clamr_frames.encoders.clip.ClipEncoder`: the single-vector CLIP baseline.

    One L2-normalised vector per query (text tower, EOS pooling, projection) and per frame (image tower,
    projection), computed with the encoder's own tokeniser settings and image preprocessing; the same losses
    and loop as the late-interaction models train it (MaxSim over one token each is the cosine similarity).

    Args:
        encoder: the encoder (its ``CLIPModel`` becomes this module's ``clip`` child; weights are shared).
        mode: ``"full"`` (both towers and projections; the token / position embedding tables and
            ``logit_scale`` stay frozen) or ``"lora"`` (LoRA on the towers' attention and MLP projections,
            folded in on save).
        lora: LoRA settings for ``mode="lora"``.
        pooling: only ``"none"``/``"mean"`` (identical here: one vector already).
        gradient_checkpointing: recompute the towers' activations in backward.
    """

    uses_image = True

    def __init__(self, encoder: Any, *, mode: str = "full", lora: dict[str, Any] | None = None,
                 pooling: str = "none", gradient_checkpointing: bool = False):
        super().__init__()
        self._keep_encoder(encoder, pooling)
        if getattr(encoder, "uses_audio", False):
            raise InputError("training the audio tower (LanguageBind V+A) is not supported; train the V scorer")
        self.clip = encoder.model
        self.mode = mode
        self.adapter_config = set_trainable(
            self.clip, mode, lora, default_targets=CLIP_LORA_TARGETS, what="clip",
            full=lambda n: not ("embeddings.token_embedding" in n or "position_embedding" in n
                                or n == "logit_scale"))
        if gradient_checkpointing:
            enable_checkpointing(self.clip)

    # ---------------------------------------------------------------- preparation (the encoder's code)
    def prepare_queries(self, queries: list[str]) -> dict[str, "torch.Tensor"]:
        enc = self.encoder
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not q.strip():
                raise InputError(f"query {i} is empty")
        out = enc.tokenizer([str(q) for q in queries], padding=True, truncation=True,
                            max_length=enc.max_text_tokens, return_tensors="pt")
        return {"input_ids": out["input_ids"], "attention_mask": out["attention_mask"]}

    def prepare_documents(self, docs: list[Document]) -> dict[str, "torch.Tensor"]:
        from clamr_frames.encoders.clip_common import _rgb_array

        missing = [i for i, d in enumerate(docs) if d.image is None]
        if missing:
            raise InputError(f"document(s) {missing[:5]} have no frame: an image-text scorer needs the pixels")
        arrays = [_rgb_array(d.image, f"document {i}") for i, d in enumerate(docs)]
        pixels = self.encoder.preprocess(arrays)
        return {"pixel_values": pixels,
                "modality": torch.full((len(docs), 1), int(Modality.VIDEO), dtype=torch.long)}

    # ---------------------------------------------------------------- forward
    def _texts(self, batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        ids = batch["input_ids"]
        hidden = self.clip.text_model(input_ids=ids, attention_mask=batch["attention_mask"])
        pooled = self.encoder._pool_text(hidden, ids)
        return F.normalize(self.clip.text_projection(pooled).float(), dim=-1).unsqueeze(1)

    def _images(self, batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        dtype = self.clip.visual_projection.weight.dtype
        pooled = self.clip.vision_model(pixel_values=batch["pixel_values"].to(dtype)).pooler_output
        return F.normalize(self.clip.visual_projection(pooled).float(), dim=-1).unsqueeze(1)

    def _encode_queries(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        emb = self._texts(batch)
        return emb, torch.ones(emb.shape[:2], dtype=torch.bool, device=emb.device)

    def _encode_documents(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        emb = self._images(batch)
        return emb, torch.ones(emb.shape[:2], dtype=torch.bool, device=emb.device)

    def _embed_pooling(self) -> str:
        return "none"  # one vector per side already; "mean" would only relabel the frame's modality

    # ---------------------------------------------------------------- saving
    def save_pretrained(self, path: str | Path, **_: Any) -> Path:
        """Write a CLIP checkpoint folder (safetensors, LoRA folded in, tokenizer, image processor) that
        ``ClipEncoder.from_pretrained(path)`` / ``FrameSelector.from_pretrained("clip",
        encoder_kwargs={"weights": path})`` loads."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_merged(self.clip, self.mode, path, self.encoder.tokenizer)
        processor = getattr(self.encoder, "image_processor", None)
        if processor is not None:
            processor.save_pretrained(str(path))
        meta = {"kind": "clip", "source": self.encoder.source.get("label")}
        (path / TRAIN_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return path
