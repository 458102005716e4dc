"""Packed layout of variable-length documents: one ``[N_tok, d]`` tensor plus ``offsets``.

Document ``i`` owns rows ``offsets[i]:offsets[i + 1]``; ``offsets`` has ``n_docs + 1`` entries, starts at 0 and
ends at ``N_tok``. A document may have zero tokens (two equal offsets). This is the layout the index stores and
the packed scorers read, so no document is ever padded to a common length.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

from clamr_frames.errors import InputError

if TYPE_CHECKING:
    from torch import Tensor


def pack(tensors: Sequence[Tensor]) -> tuple[Tensor, Tensor]:
    """Concatenate per-document tensors along dim 0 and return ``(packed, offsets)``.

    Args:
        tensors: ``n_docs`` tensors of shape ``[n_i, *rest]`` (same ``rest``, dtype and device); ``n_i`` may be 0.

    Returns:
        ``packed`` ``[sum n_i, *rest]`` and ``offsets`` ``[n_docs + 1]`` (int64, on ``packed``'s device).

    Example:
        >>> import torch
        >>> from clamr_frames.scoring import pack
        >>> packed, offsets = pack([torch.ones(2, 3), torch.zeros(0, 3), torch.ones(1, 3)])
        >>> packed.shape, offsets
        (torch.Size([3, 3]), tensor([0, 2, 2, 3]))
    """
    import torch

    tensors = list(tensors)
    if not tensors:
        raise InputError("pack() needs at least one tensor (the shape of an empty pack is unknown)")
    rest = tensors[0].shape[1:]
    for i, t in enumerate(tensors):
        if t.dim() < 1 or t.shape[1:] != rest:
            want = ", ".join(["n", *map(str, rest)])
            raise InputError(f"pack(): tensor {i} has shape {tuple(t.shape)}, expected [{want}]")
    lengths = torch.tensor([t.shape[0] for t in tensors], dtype=torch.int64)
    offsets = torch.zeros(len(tensors) + 1, dtype=torch.int64)
    torch.cumsum(lengths, 0, out=offsets[1:])
    return torch.cat(tensors, 0), offsets.to(tensors[0].device)


def unpack(packed: Tensor, offsets: Tensor | Sequence[int]) -> list[Tensor]:
    """Split a packed tensor back into per-document views (no copy).

    Example:
        >>> import torch
        >>> from clamr_frames.scoring import pack, unpack
        >>> docs = unpack(*pack([torch.arange(4).view(2, 2), torch.arange(2).view(1, 2)]))
        >>> [d.tolist() for d in docs]
        [[[0, 1], [2, 3]], [[0, 1]]]
    """
    off = check_offsets(offsets, packed.shape[0])
    return list(packed.split(off.diff().tolist(), 0))


def pad_packed(packed: Tensor, offsets: Tensor | Sequence[int], *, pad_value: float = 0.0,
               max_len: int | None = None) -> tuple[Tensor, Tensor]:
    """Pad packed documents to a dense ``[n_docs, L, *rest]`` tensor and a boolean mask ``[n_docs, L]``.

    ``L`` is the longest document (or ``max_len`` when given; it must be at least that). Used by the padded
    (training) scorers and by reference implementations; the packed scorers never need it.

    Example:
        >>> import torch
        >>> from clamr_frames.scoring import pad_packed
        >>> padded, mask = pad_packed(torch.tensor([[1.0], [2.0], [3.0]]), torch.tensor([0, 2, 3]))
        >>> padded.squeeze(-1), mask
        (tensor([[1., 2.],
                [3., 0.]]), tensor([[ True,  True],
                [ True, False]]))
    """
    import torch

    off = check_offsets(offsets, packed.shape[0])
    lengths = off.diff()
    longest = int(lengths.max()) if len(lengths) else 0
    L = longest if max_len is None else int(max_len)
    if L < longest:
        raise InputError(f"pad_packed(): max_len={max_len} is shorter than the longest document ({longest} tokens)")
    mask = torch.arange(L).unsqueeze(0) < lengths.unsqueeze(1)
    mask = mask.to(packed.device)
    padded = packed.new_full((len(lengths), L, *packed.shape[1:]), pad_value)
    # Row-major order of the True entries of ``mask`` is exactly the packed order.
    padded[mask] = packed
    return padded, mask


def check_offsets(offsets: Tensor | Sequence[int], n_tokens: int) -> Tensor:
    """Validate ``offsets`` against ``n_tokens`` rows; return them as a CPU int64 tensor.

    Raises:
        InputError: not 1-D integers, not starting at 0, not ending at ``n_tokens``, or decreasing.
    """
    import torch

    if isinstance(offsets, torch.Tensor):
        if offsets.dtype.is_floating_point or offsets.dtype.is_complex or offsets.dtype == torch.bool:
            raise InputError(f"offsets must be integers, got dtype {offsets.dtype}")
        off = offsets.detach().to("cpu", torch.int64)
    else:
        try:
            off = torch.as_tensor(list(offsets), dtype=torch.int64)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InputError(f"offsets must be a sequence of integers: {exc}") from None
    if off.dim() != 1 or off.numel() < 1:
        raise InputError(f"offsets must be 1-D with n_docs + 1 entries, got shape {tuple(off.shape)}")
    if int(off[0]) != 0:
        raise InputError(f"offsets must start at 0, got {int(off[0])}")
    if int(off[-1]) != n_tokens:
        raise InputError(f"offsets end at {int(off[-1])} but there are {n_tokens} token rows")
    if off.numel() > 1 and bool((off.diff() < 0).any()):
        bad = int(torch.nonzero(off.diff() < 0)[0, 0])
        raise InputError(
            f"offsets must be non-decreasing: offsets[{bad}]={int(off[bad])} > offsets[{bad + 1}]={int(off[bad + 1])}"
        )
    return off
