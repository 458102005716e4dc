"""Trainable CLaMR: Qwen2.5-VL + ``custom_text_proj`` with LoRA on the language model (QLoRA on a 4-bit backbone),
the head trained fully, through LoRA, or frozen; saved as a LoRA adapter folder ``ClamrEncoder`` loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from torch import nn

from clamr_frames.encoders.base import Document
from clamr_frames.errors import InputError
from clamr_frames.train.models.common import HEAD_MODES, TRAIN_META, _pad_rows, _TwoSided
from clamr_frames.train.models.lora import enable_checkpointing, inject_lora, lora_state_dict, lora_targets
from clamr_frames.types import Modality

#: LoRA targets of the CLaMR recipe (attention and MLP projections of the *language model*) in the installed
#: transformers-5 module names; the ViT (``model.visual``) is left alone, as the released adapter did.
CLAMR_LORA_TARGETS = (
    r"model\.language_model\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))"
)


class ClamrTrainable(_TwoSided, nn.Module):
    """Trainable :class:`~clamr_frames.encoders.clamr.ClamrEncoder` (see the module docstring).

    Args:
        encoder: the encoder (its ``model`` becomes this module's ``colqwen`` child; weights are shared).
        lora: ``{"r", "alpha", "dropout", "target_modules", "init"}`` or None (an encoder loaded with an
            unmerged adapter keeps training that adapter instead).
        head: ``"full"`` (train ``custom_text_proj``), ``"lora"`` (LoRA on it, the reference) or ``"frozen"``.
        pooling: ``"none"`` (multi-vector) or ``"mean"`` (single-vector baseline).
        gradient_checkpointing: recompute the backbone's activations in backward (less memory).
    """

    uses_image = True

    def __init__(self, encoder: Any, *, lora: dict[str, Any] | None = None, head: str = "full",
                 pooling: str = "none", gradient_checkpointing: bool = False):
        super().__init__()
        if head not in HEAD_MODES:
            raise InputError(f"head must be one of {HEAD_MODES}, got {head!r}")
        self._keep_encoder(encoder, pooling)
        self.colqwen = encoder.model
        self.head_mode = head
        vlm = self.colqwen.vlm
        quantized = bool(getattr(vlm, "is_loaded_in_4bit", False) or encoder.source.get("load_in_4bit"))
        if quantized:
            from peft import prepare_model_for_kbit_training

            # peft's default turns on reentrant checkpointing, which breaks backward on the CPU
            # (measured with peft here); checkpointing is handled below instead.
            prepare_model_for_kbit_training(vlm, use_gradient_checkpointing=False)
        for p in self.colqwen.parameters():
            p.requires_grad_(False)
        existing = [n for n, _ in self.colqwen.named_parameters() if ".lora_" in n]
        self.adapter_config: dict[str, Any] | None = None
        if lora is not None:
            if existing:
                raise InputError("the encoder already carries LoRA layers (an unmerged adapter); "
                                 "set lora: null to keep training them")
            extra = ["custom_text_proj"] if head == "lora" else []
            pattern = lora.get("target_modules") or CLAMR_LORA_TARGETS
            targets = lora_targets(self.colqwen, pattern, extra=extra)
            self.adapter_config = inject_lora(
                self.colqwen, targets, r=int(lora.get("r", 128)), alpha=float(lora.get("alpha", 128)),
                dropout=float(lora.get("dropout", 0.1)), init=lora.get("init", "gaussian"),
            )
        elif existing:
            self.adapter_config = _existing_adapter_config(encoder)
        else:
            raise InputError("ClamrTrainable needs LoRA (lora: {r: ...}) or an encoder with an unmerged adapter")
        for n, p in self.colqwen.named_parameters():
            if ".lora_" in n:
                p.requires_grad_(True)
        if head == "full":
            for p in self.colqwen.custom_text_proj.parameters():
                p.requires_grad_(True)
                if p.dtype != torch.float32 and quantized:
                    p.data = p.data.float()
        if gradient_checkpointing:
            enable_checkpointing(vlm)
            vlm.config.use_cache = False

    # ---------------------------------------------------------------- preparation (the encoder's code)
    def prepare_queries(self, queries: list[str]) -> dict[str, "torch.Tensor"]:
        enc = self.encoder
        return enc.query_batch([enc.prepare_query(q) for q in queries])

    def prepare_documents(self, docs: list[Document]) -> dict[str, "torch.Tensor"]:
        enc = self.encoder
        prepared = [enc.prepare_document(d, where=f"document {i}") for i, d in enumerate(docs)]
        batch = enc.document_batch(prepared)
        batch["modality"] = _pad_rows([p.modality_ids for p in prepared], int(Modality.OTHER))
        return batch

    # ---------------------------------------------------------------- forward
    def _encode(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        inputs = {k: v for k, v in batch.items() if k != "modality"}
        if "pixel_values" in inputs:
            inputs["pixel_values"] = inputs["pixel_values"].to(self.colqwen.custom_text_proj.weight.dtype)
        return self.colqwen(**inputs), batch["attention_mask"].bool()

    _encode_queries = _encode_documents = _encode  # one prompt format: the same pass for both sides

    # ---------------------------------------------------------------- saving
    def save_pretrained(self, path: str | Path, *, base_model: str | None = None) -> Path:
        """Write a LoRA adapter directory ``ClamrEncoder.from_pretrained(path, base_model=...)`` loads.

        Files: ``adapter_config.json`` + ``adapter_model.safetensors`` (keys in the installed layout),
        ``clamr_head.safetensors`` (the head's base weights: LoRA on the head is in the adapter),
        ``clamr_train.json`` (the encoder settings, pooling and base model to pass when loading).
        """
        from safetensors.torch import save_file

        from clamr_frames.encoders.clamr import CLAMR_HEAD
        from clamr_frames.encoders.clamr.adapter import ADAPTER_CONFIG, ADAPTER_WEIGHTS

        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        cfg = dict(self.adapter_config or {})
        src = self.encoder.source
        base = base_model or src.get("base_model")
        cfg["base_model_name_or_path"] = base
        save_file(lora_state_dict(self.colqwen), str(path / ADAPTER_WEIGHTS))
        (path / ADAPTER_CONFIG).write_text(json.dumps(cfg, indent=2), encoding="utf-8")
        head = self.colqwen.custom_text_proj
        head = getattr(head, "base_layer", head)
        save_file({"weight": head.weight.detach().float().cpu().contiguous(),
                   "bias": head.bias.detach().float().cpu().contiguous()}, str(path / CLAMR_HEAD))
        meta = {"kind": "clamr", "base_model": base, "settings": self.encoder.settings.to_dict(),
                "pooling": self.pooling}
        (path / TRAIN_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return path


def _existing_adapter_config(encoder: Any) -> dict[str, Any]:
    """Adapter config of LoRA layers an encoder was loaded with (unmerged), for saving them back."""
    from peft.tuners.lora import LoraLayer

    model = encoder.model
    targets = sorted(n for n, m in model.named_modules() if isinstance(m, LoraLayer))
    if not targets:
        raise InputError("the encoder has no LoRA layers")
    layer = model.get_submodule(targets[0])
    r = int(layer.r["default"])
    alpha = float(layer.lora_alpha["default"])
    drop = layer.lora_dropout["default"]
    return {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "lora_dropout": float(getattr(drop, "p", 0.0)),
            "target_modules": targets, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
            "use_dora": False, "init_lora_weights": True, "task_type": None}
