"""LoRA (peft) on the encoders' modules, activation checkpointing, and saving with LoRA folded in."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from clamr_frames.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import torch


def lora_targets(model: "torch.nn.Module", pattern: str | Sequence[str], *, extra: Sequence[str] = ()) -> list[str]:
    """Names of the ``nn.Linear`` modules of ``model`` that ``pattern`` (a regex, full match, or a list of exact
    names) selects, plus ``extra`` names. Raises :class:`InputError` when nothing matches."""
    from torch import nn

    names = []
    for name, module in model.named_modules():
        if not name or not isinstance(module, nn.Linear):
            continue
        if isinstance(pattern, str):
            hit = re.fullmatch(pattern, name) is not None
        else:
            hit = name in set(pattern)
        if hit or name in extra:
            names.append(name)
    if not names:
        raise InputError(f"LoRA target pattern {pattern!r} matches no linear layer of the model")
    return names


def inject_lora(
    model: "torch.nn.Module",
    targets: list[str],
    *,
    r: int,
    alpha: float,
    dropout: float,
    init: str | bool = True,
) -> dict[str, Any]:
    """Add LoRA layers (peft) to ``targets`` of ``model`` in place; returns the adapter config (JSON-ready)."""
    from peft import LoraConfig, inject_adapter_in_model

    if r < 1:
        raise InputError(f"LoRA r must be >= 1, got {r}")
    cfg = LoraConfig(r=int(r), lora_alpha=float(alpha), lora_dropout=float(dropout), target_modules=sorted(targets),
                     init_lora_weights=init, bias="none")
    inject_adapter_in_model(cfg, model, adapter_name="default")
    return {
        "peft_type": "LORA",
        "r": int(r),
        "lora_alpha": float(alpha),
        "lora_dropout": float(dropout),
        "target_modules": sorted(targets),
        "init_lora_weights": init,
        "bias": "none",
        "fan_in_fan_out": False,
        "use_rslora": False,
        "use_dora": False,
        "task_type": None,
    }


def lora_state_dict(model: "torch.nn.Module", prefix: str = "base_model.model.") -> dict[str, "torch.Tensor"]:
    """LoRA tensors of ``model`` in peft's saved layout (``<prefix><module>.lora_A.weight``, no adapter name)."""
    out = {}
    for name, p in model.named_parameters():
        if ".lora_" in name:
            out[prefix + name.replace(".default", "", 1)] = p.detach().to("cpu").contiguous()
    return out


def merged_copy(model: "torch.nn.Module") -> "torch.nn.Module":
    """A deep copy of ``model`` with every LoRA layer folded into its base weights (the original is untouched)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    clone = copy.deepcopy(model)
    for name, module in [(n, m) for n, m in clone.named_modules() if isinstance(m, BaseTunerLayer)]:
        module.merge(safe_merge=True)
        parent_name, _, child = name.rpartition(".")
        parent = clone.get_submodule(parent_name) if parent_name else clone
        setattr(parent, child, module.get_base_layer())
    return clone


class quiet_hf:
    """No transformers progress bars inside the block (a library call should not draw them)."""

    def __enter__(self) -> None:
        from transformers.utils import logging as hf_logging

        self.was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()

    def __exit__(self, *a: Any) -> None:
        from transformers.utils import logging as hf_logging

        if self.was_on:
            hf_logging.enable_progress_bar()


def enable_checkpointing(model: Any) -> None:
    """Non-reentrant activation checkpointing (works with frozen inputs and on the CPU with 4-bit weights)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def set_trainable(module: "torch.nn.Module", mode: str, lora: dict[str, Any] | None, *, default_targets: str,
                  full: Any, what: str) -> dict[str, Any] | None:
    """Choose what trains in ``module``: LoRA adapters on ``default_targets`` (``mode="lora"``; everything else
    frozen) or the parameters whose name ``full(name)`` accepts (``mode="full"``). Returns the adapter config
    (None for full training).

    Raises:
        InputError: an unknown mode (the message names ``what`` is trained), or LoRA targets that match nothing.
    """
    if mode not in ("full", "lora"):
        raise InputError(f"{what} training mode must be 'full' or 'lora', got {mode!r}")
    if mode == "full":
        for n, p in module.named_parameters():
            p.requires_grad_(bool(full(n)))
        return None
    lora = lora or {}
    targets = lora_targets(module, lora.get("target_modules") or default_targets)
    cfg = inject_lora(module, targets, r=int(lora.get("r", 16)), alpha=float(lora.get("alpha", 32)),
                      dropout=float(lora.get("dropout", 0.0)), init=lora.get("init", True))
    for n, p in module.named_parameters():
        p.requires_grad_(".lora_" in n)
    return cfg


def save_merged(module: "torch.nn.Module", mode: str, path: Path, tokenizer: Any) -> None:
    """Write ``module`` (LoRA folded into a copy when ``mode="lora"``) as safetensors, and its tokenizer."""
    model = merged_copy(module) if mode == "lora" else module
    with quiet_hf():
        model.save_pretrained(str(path), safe_serialization=True)
    tokenizer.save_pretrained(str(path))
