"""Where and how encoders run: device, dtype and hub-offline resolution, token-budget batching and the weights
fingerprint, shared by every encoder."""

from __future__ import annotations

from collections.abc import Sequence
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


def token_budget_batches(lengths: Sequence[int], max_batch_tokens: int, *, min_fill: float = 0.0) -> list[list[int]]:
    """Group sequence indices, longest first, so that ``batch size * longest <= max_batch_tokens`` (at least one
    sequence a batch); with ``min_fill`` > 0 a batch also closes when the next sequence is shorter than
    ``min_fill`` of its longest (bounds the compute spent on padding).

    >>> token_budget_batches([5, 9, 2, 9], 20)
    [[1, 3], [0, 2]]
    >>> token_budget_batches([5, 9, 2, 9], 40, min_fill=0.5)
    [[1, 3, 0], [2]]
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    cur: list[int] = []
    for i in order:
        longest = lengths[cur[0]] if cur else lengths[i]
        if cur and ((len(cur) + 1) * longest > max_batch_tokens or lengths[i] < min_fill * longest):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


def strided_sample(t: "torch.Tensor", n: int = 1024) -> bytes:
    """The bytes of ``n`` evenly strided elements of ``t`` (float tensors as float32): what a weights fingerprint
    hashes, since hashing billions of parameters in full would take seconds while any training step or other
    checkpoint changes the samples."""
    import torch

    flat = t.detach().reshape(-1)
    count = flat.numel()
    idx = torch.linspace(0, max(count - 1, 0), steps=min(count, n), device=flat.device).long()
    sample = flat[idx].to("cpu")
    if sample.is_floating_point():
        sample = sample.float()
    return sample.numpy().tobytes()
