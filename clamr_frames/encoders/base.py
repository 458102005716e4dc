"""The encoder protocol every scorer implements (CLaMR, the embedded default, single-vector baselines).

A document is one candidate frame with its local context; an encoder turns it into token embeddings plus a
modality id per token. Documents of one call are *packed*: their tokens are concatenated along dim 0 and
``offsets`` marks where each starts, so no padding is stored or scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

#: The training record the training core writes beside the weights it saves (``{"kind": <scorer name>,
#: "settings": ..., ...}``); the scorer registry and the loaders read it. Its one definition.
TRAIN_META = "clamr_train.json"

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch


@dataclass
class Document:
    """One candidate frame and its context.

    Attributes:
        image: uint8 RGB array [H, W, 3] (or None for a text-only encoder / missing frame).
        asr: subtitle / speech text around the frame's timestamp ("" if none).
        ocr: text visible in the frame ("" if none or OCR not run).
        timestamp: seconds from the start of the video.
    """

    image: "np.ndarray | None"
    asr: str = ""
    ocr: str = ""
    timestamp: float = 0.0


@dataclass
class DocEmbeddings:
    """Packed token embeddings of a batch of documents.

    Attributes:
        embeddings: [N_tok, dim] float (fp16/bf16/fp32), L2-normalised rows.
        offsets: [n_docs + 1] int64; document i owns rows ``offsets[i]:offsets[i+1]``.
        modality_ids: [N_tok] int8/int64 ``clamr_frames.types.Modality`` values.
    """

    embeddings: "torch.Tensor"
    offsets: "torch.Tensor"
    modality_ids: "torch.Tensor"

    @property
    def num_docs(self) -> int:
        return int(self.offsets.numel()) - 1

    @staticmethod
    def concat(parts: "list[DocEmbeddings]") -> "DocEmbeddings":
        """Pack several batches into one (offsets shifted, order kept)."""
        import torch

        if not parts:
            raise ValueError("DocEmbeddings.concat needs at least one part")
        embs, mods, offs = [], [], [torch.zeros(1, dtype=torch.int64)]
        base = 0
        for p in parts:
            embs.append(p.embeddings)
            mods.append(p.modality_ids)
            offs.append(p.offsets[1:].to(torch.int64) + base)
            base += int(p.offsets[-1])
        return DocEmbeddings(torch.cat(embs), torch.cat(offs), torch.cat(mods))


@runtime_checkable
class Encoder(Protocol):
    """What the index, the selector and the trainer need from a scorer.

    Attributes:
        encoder_id: stable name + version of the weights, part of the index fingerprint.
        config: JSON-serialisable settings that change embeddings (also fingerprinted).
        dim: embedding size.
        multi_vector: False for single-vector baselines (one token per query and per document).
        uses_image / uses_ocr: whether documents need decoded pixels / OCR text; lets the
            pipeline skip work an encoder would ignore (OCR is on by default exactly where ``uses_ocr``).

    Optional: ``default_policy``, the selection policy ``policy=None`` means for this scorer
    (:func:`clamr_frames.encoders.registry.default_policy`; ``topk`` when absent).
    """

    encoder_id: str
    config: dict[str, Any]
    dim: int
    multi_vector: bool
    uses_image: bool
    uses_ocr: bool

    def encode_queries(self, queries: list[str]) -> "list[torch.Tensor]":
        """Each query → [n_q, dim] L2-normalised token embeddings (n_q = 1 for single-vector)."""
        ...

    def encode_documents(self, docs: list[Document]) -> DocEmbeddings:
        """Documents → packed token embeddings with a modality id per token."""
        ...
