"""What the trainable wrappers share: one forward for both sides, pooling, and the ``Embedded`` output."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clamr_frames.encoders.base import TRAIN_META  # noqa: F401  (the wrappers write it; defined once)
from clamr_frames.errors import InputError
from clamr_frames.types import Modality

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.train.losses import Embedded

POOLINGS = ("none", "mean")
HEAD_MODES = ("full", "lora", "frozen")


def _pool(emb: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """Masked mean over tokens, L2-normalised: ``[N, L, d]`` → ``[N, 1, d]``."""
    import torch.nn.functional as F

    m = mask.to(emb.dtype).unsqueeze(-1)
    mean = (emb * m).sum(1) / m.sum(1).clamp(min=1.0)
    return F.normalize(mean, p=2, dim=-1).unsqueeze(1)


def _embedded(emb: "torch.Tensor", mask: "torch.Tensor", modality: "torch.Tensor | None", pooling: str) -> "Embedded":
    import torch

    from clamr_frames.train.losses import Embedded

    if pooling == "mean":
        pooled = _pool(emb, mask)
        ones = torch.ones(pooled.shape[:2], dtype=torch.bool, device=pooled.device)
        mod = None if modality is None else torch.full_like(ones, int(Modality.OTHER), dtype=torch.long)
        return Embedded(pooled, ones, mod)
    return Embedded(emb, mask, modality)


def _pad_rows(rows: list[list[int]], pad: int) -> "torch.Tensor":
    import torch

    width = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), max(width, 1)), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


class _TwoSided:
    """The forward pass every trainable wrapper shares: queries and documents in one call (one DDP forward per
    step), each side through the wrapper's ``_encode_queries`` / ``_encode_documents`` (a prepared batch →
    ``(embeddings [N, L, d], mask [N, L])``), then ``embed`` pools (``pooling``) and labels the modalities."""

    pooling: str

    def _keep_encoder(self, encoder: Any, pooling: str) -> None:
        """Check ``pooling`` and keep ``encoder`` as a plain attribute, not a child module: the wrapper registers the
        encoder's model as its own child (``bert`` / ``clip`` / ``colqwen``), so each weight is registered once."""
        if pooling not in POOLINGS:
            raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.__dict__["encoder"] = encoder
        self.pooling = pooling

    def _encode_queries(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        raise NotImplementedError

    def _encode_documents(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        raise NotImplementedError

    def _embed_pooling(self) -> str:
        return self.pooling

    def forward(self, queries: dict | None = None, documents: dict | None = None) -> tuple:
        """``(q_emb, q_mask, d_emb, d_mask, d_modality)``; entries of a missing side are None."""
        out: list[Any] = [None] * 5
        if queries is not None:
            out[0], out[1] = self._encode_queries(queries)
        if documents is not None:
            out[2], out[3] = self._encode_documents(documents)
            out[4] = documents["modality"]
        return tuple(out)

    def embed(self, out: tuple) -> tuple["Embedded | None", "Embedded | None"]:
        """The two sides of a :meth:`forward` output as ``Embedded`` (None for a missing side)."""
        pooling = self._embed_pooling()
        q = None if out[0] is None else _embedded(out[0], out[1], None, pooling)
        d = None if out[2] is None else _embedded(out[2], out[3], out[4], pooling)
        return q, d
