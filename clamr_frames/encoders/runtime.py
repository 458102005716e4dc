"""Where and how encoders run: device, dtype and hub-offline resolution shared by every encoder."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clamr_frames.errors import InputError, ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    import torch


def resolve_device(device: Any) -> "torch.device":
    """``None`` → CUDA when available, else CPU; a CUDA device without CUDA → :class:`ModelLoadError`."""
    import torch

    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ModelLoadError(f"device {dev} requested but CUDA is not available")
    return dev


def resolve_dtype(dtype: Any, dev: "torch.device", *, cuda_default: str = "float16") -> "torch.dtype":
    """``None`` → ``cuda_default`` on CUDA, float32 elsewhere; strings like ``"bf16"`` work.

    >>> import torch
    >>> resolve_dtype("bf16", torch.device("cpu"))
    torch.bfloat16
    >>> resolve_dtype(None, torch.device("cpu"))
    torch.float32
    """
    import torch

    if dtype is None:
        return getattr(torch, cuda_default) if dev.type == "cuda" else torch.float32
    if isinstance(dtype, str):
        name = dtype.replace("torch.", "")
        aliases = {"bf16": "bfloat16", "fp16": "float16", "half": "float16", "fp32": "float32", "float": "float32"}
        got = getattr(torch, aliases.get(name, name), None)
        if not isinstance(got, torch.dtype) or not got.is_floating_point:
            raise InputError(f"unknown floating dtype {dtype!r}")
        return got
    return dtype


def resolve_offline(local_files_only: bool | None) -> bool:
    """The caller's choice, else ``HF_HUB_OFFLINE``."""
    if local_files_only is not None:
        return bool(local_files_only)
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except ImportError:  # pragma: no cover
        return False
