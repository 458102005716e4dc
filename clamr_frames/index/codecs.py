"""Index compression codecs: fewer bytes per frame for the packed token embeddings of an index.

Pure tensor functions (no I/O, no model), and a spec that combines them. A codec is the stored format of a
compressed index (its layout version is checked when the index is read), so it sits with the store that writes
and reads it (:mod:`clamr_frames.index.store`), as ColBERT keeps its residual codec under indexing; all scoring of
what it produces is :mod:`clamr_frames.scoring.compressed`'s.

- **int8** (:func:`quantize_int8` / :func:`dequantize_int8`): symmetric per-token quantisation, one float16
  scale per token (``max |x| / 127``). ``d + 2`` bytes per token instead of ``2 d``.
- **binary** (:func:`pack_signs` / :func:`unpack_signs`): the sign bit of every dimension, ``d / 8`` bytes per
  token. Scored by a Hamming-MaxSim prefilter and exact re-ranking of the best frames from their float16 rows
  (:func:`~clamr_frames.scoring.compressed.binary_rerank`), which the store keeps in a separate file and reads
  only for those candidates.
- **pool** (:func:`pool_tokens`): merges similar tokens *within* a frame and within one modality
  (agglomerative, by cosine of the running centroids), keeping each group's modality id; the merged vector is
  the re-normalised mean. ``factor`` bounds how many tokens remain (``ceil(n / factor)`` per modality group of a
  frame), ``threshold`` stops merging pairs less similar than it.

A spec string names the combination: ``"int8"``, ``"binary"``, ``"pool"``, ``"pool+int8"``, ``"pool+binary"``,
optionally with the pooling factor (``"pool4+int8"``) — see :func:`parse_compression`. :func:`compress` applies a
spec to packed documents and returns :class:`CompressedDocs`; scores of a compressed index come from
:func:`~clamr_frames.scoring.compressed.score_compressed`, which returns what
:func:`clamr_frames.scoring.maxsim` returns.

Defaults, from ``benchmarks/compress.py`` (RESULTS.md, "Index compression"): an index is stored uncompressed
(fp16) unless asked. What each method costs in bytes, recall and scoring time on the default and CLaMR
scorers is recorded there.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from clamr_frames.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.encoders.base import DocEmbeddings

#: Version of the stored layout of compressed indexes (recorded in the manifest and the tensor file).
COMPRESSION_VERSION = 1
CODECS = ("fp16", "int8", "binary")
#: Default pooling factor (chosen from benchmarks/compress.py; see RESULTS.md).
DEFAULT_POOL_FACTOR = 2
#: Default number of frames the binary prefilter hands to exact fp16 re-ranking (at least 4 k of them).
DEFAULT_RERANK = 256


@dataclass(frozen=True)
class CompressionSpec:
    """What a compressed index stores.

    Attributes:
        codec: ``"fp16"`` (no quantisation), ``"int8"`` or ``"binary"``.
        pool_factor: merge tokens within each frame down to ``ceil(n / pool_factor)`` per modality; None: no pooling.
        pool_threshold: only merge token pairs at least this similar (cosine); None: merge down to the factor.
        rerank: binary only: how many prefiltered frames get exact fp16 scores.
    """

    codec: str = "fp16"
    pool_factor: int | None = None
    pool_threshold: float | None = None
    rerank: int = DEFAULT_RERANK

    def __post_init__(self) -> None:
        if self.codec not in CODECS:
            raise InputError(f"unknown compression codec {self.codec!r}; expected one of {CODECS}")
        if self.pool_factor is not None and self.pool_factor < 1:
            raise InputError(f"pool factor must be >= 1, got {self.pool_factor}")
        if self.rerank < 1:
            raise InputError(f"rerank must be >= 1, got {self.rerank}")

    @property
    def name(self) -> str:
        """Canonical spec string (round-trips through :func:`parse_compression`)."""
        parts = []
        if self.pool_factor is not None:
            parts.append(f"pool{self.pool_factor}")
        if self.codec != "fp16" or not parts:
            parts.append(self.codec)
        return "+".join(parts)

    def to_json(self) -> dict[str, Any]:
        """What the manifest records (every field that changes the stored tensors, plus the layout version)."""
        return {
            "name": self.name,
            "version": COMPRESSION_VERSION,
            "codec": self.codec,
            "pool_factor": self.pool_factor,
            "pool_threshold": self.pool_threshold,
        }


def parse_compression(value: "str | CompressionSpec | None") -> CompressionSpec | None:
    """Parse a compression option: None / ``"none"`` / ``"fp16"`` → None (plain fp16 index).

    Accepted: ``int8``, ``binary``, ``pool`` / ``poolN`` (N = factor), and ``pool[N]+int8`` / ``pool[N]+binary``.

    Raises:
        InputError: anything else.

    Example:
        >>> parse_compression("pool3+int8")
        CompressionSpec(codec='int8', pool_factor=3, pool_threshold=None, rerank=256)
        >>> parse_compression("pool").name, parse_compression(None)
        ('pool2', None)
    """
    if value is None or isinstance(value, CompressionSpec):
        return value
    s = str(value).strip().lower()
    if s in ("", "none", "fp16"):
        return None
    m = re.fullmatch(r"(?:pool(\d*)(?:\+(int8|binary|fp16))?|(int8|binary))", s)
    if not m:
        raise InputError(
            f"unknown compression {value!r}; expected none, int8, binary, pool[N], pool[N]+int8 or pool[N]+binary"
        )
    if m.group(3):
        return CompressionSpec(codec=m.group(3))
    factor = int(m.group(1)) if m.group(1) else DEFAULT_POOL_FACTOR
    return CompressionSpec(codec=m.group(2) or "fp16", pool_factor=factor)


# -- int8 -------------------------------------------------------------------------------------------------
def quantize_int8(embeddings: "torch.Tensor") -> "tuple[torch.Tensor, torch.Tensor]":
    """Symmetric int8 quantisation with one scale per token (row).

    Args:
        embeddings: ``[N, d]`` float tensor.

    Returns:
        ``(codes [N, d] int8, scales [N] float16)`` with ``embeddings ≈ codes * scales[:, None]``; an all-zero
        row gets scale 0 (and decodes to zeros).

    Example:
        >>> import torch
        >>> codes, scales = quantize_int8(torch.tensor([[0.5, -1.0], [0.0, 0.0]]))
        >>> codes.tolist(), [round(x, 5) for x in scales.tolist()]     # scale = 1.0 / 127 in float16
        ([[64, -127], [0, 0]], [0.00787, 0.0])
    """
    import torch

    x = embeddings.detach().float()
    amax = x.abs().amax(dim=1) if x.shape[0] else torch.zeros(0)
    scales = (amax / 127.0).to(torch.float16)
    s = scales.float().clamp(min=torch.finfo(torch.float16).tiny)
    codes = torch.round(x / s[:, None]).clamp_(-127, 127).to(torch.int8)
    return codes, scales


def dequantize_int8(codes: "torch.Tensor", scales: "torch.Tensor", dtype: "torch.dtype | None" = None) -> "torch.Tensor":
    """Inverse of :func:`quantize_int8`: ``codes * scales[:, None]`` in ``dtype`` (default float32).

    Example:
        >>> import torch
        >>> dequantize_int8(torch.tensor([[64, -127]], dtype=torch.int8), torch.tensor([0.5 / 64]))
        tensor([[ 0.5000, -0.9922]])
    """
    out = codes.float() * scales.float()[:, None]
    return out if dtype is None else out.to(dtype)


# -- binary -----------------------------------------------------------------------------------------------
_BIT_WEIGHTS = (128, 64, 32, 16, 8, 4, 2, 1)


def pack_signs(embeddings: "torch.Tensor") -> "torch.Tensor":
    """Sign bits of ``[N, d]`` embeddings packed 8 per byte (bit set where ``x > 0``): ``[N, ceil(d / 8)]`` uint8.

    Example:
        >>> import torch
        >>> pack_signs(torch.tensor([[0.3, -0.1, 0.2, 0.0, 1.0, -1.0, -2.0, 5.0, 0.7]]))
        tensor([[169, 128]], dtype=torch.uint8)
    """
    import torch

    n, d = embeddings.shape
    nbytes = (d + 7) // 8
    bits = torch.zeros(n, nbytes * 8, dtype=torch.uint8)
    bits[:, :d] = (embeddings.detach() > 0).to(torch.uint8)
    w = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8)
    return (bits.view(n, nbytes, 8) * w).sum(-1, dtype=torch.uint8)


def unpack_signs(bits: "torch.Tensor", dim: int, dtype: "torch.dtype | None" = None, scale: float = 1.0) -> "torch.Tensor":
    """``[N, ceil(dim / 8)]`` packed bits → ``[N, dim]`` of ±``scale`` (bit set → +) in ``dtype`` (default float32).

    Example:
        >>> import torch
        >>> unpack_signs(torch.tensor([[169, 128]], dtype=torch.uint8), 9)
        tensor([[ 1., -1.,  1., -1.,  1., -1., -1.,  1.,  1.]])
    """
    import torch

    dtype = dtype or torch.float32
    table = _sign_table(dtype, float(scale))
    out = table[bits.long()].reshape(bits.shape[0], -1)  # one gather of 8 values per byte
    return out[:, :dim] if out.shape[1] != dim else out


_SIGN_TABLES: dict = {}


def _sign_table(dtype: "torch.dtype", scale: float) -> "torch.Tensor":
    import torch

    key = (dtype, scale)
    if key not in _SIGN_TABLES:
        byte = torch.arange(256, dtype=torch.uint8)[:, None]
        w = torch.tensor(_BIT_WEIGHTS, dtype=torch.uint8)
        _SIGN_TABLES[key] = (((byte & w).ne(0).to(torch.float32) * 2 - 1) * scale).to(dtype)
    return _SIGN_TABLES[key]


# -- pooling ----------------------------------------------------------------------------------------------
def pool_tokens(
    embeddings: "torch.Tensor",
    offsets: "torch.Tensor | Sequence[int]",
    modality_ids: "torch.Tensor",
    *,
    factor: int = DEFAULT_POOL_FACTOR,
    threshold: float | None = None,
) -> "tuple[torch.Tensor, torch.Tensor, torch.Tensor]":
    """Merge similar tokens within each frame (document), never across modalities.

    Per document and modality group of ``n`` tokens: agglomerative merging of the most similar pair of clusters
    (cosine of their running centroids) until ``ceil(n / factor)`` clusters remain, or earlier when the best pair
    is less similar than ``threshold``. A cluster becomes the re-normalised mean of its members, placed at its
    first member's position (so the token order, and the layout of modalities, is kept). Rows that are all zero
    (the default encoder's "no text" token) stay as they are.

    Args:
        embeddings: ``[N_tok, d]`` float (L2-normalised rows).
        offsets: ``[n_docs + 1]``.
        modality_ids: ``[N_tok]`` modality of each token.
        factor: merge down to ``ceil(n / factor)`` tokens per (document, modality) group.
        threshold: never merge a pair less similar (cosine) than this, even if that leaves more tokens than the
            factor allows (None: merge down to the factor whatever the similarity).

    Returns:
        ``(embeddings [M, d] in the input dtype, offsets [n_docs + 1] int64, modality_ids [M])``.

    Example:
        >>> import torch
        >>> emb = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0], [1.0, 0.0]]), dim=1)
        >>> e, o, m = pool_tokens(emb, [0, 3, 4], torch.tensor([2, 2, 2, 3]), factor=3, threshold=0.9)
        >>> o.tolist(), m.tolist(), e.shape[0]     # rows 0 and 1 merge; row 2 differs; doc 1 untouched
        ([0, 2, 3], [2, 2, 3], 3)
    """
    import numpy as np
    import torch

    if factor < 1:
        raise InputError(f"pool factor must be >= 1, got {factor}")
    off = torch.as_tensor(offsets, dtype=torch.int64)
    x = embeddings.detach().float().cpu().numpy()
    mods = modality_ids.detach().cpu().numpy()
    o = off.numpy()
    out_rows: list[np.ndarray] = []
    out_mods: list[np.ndarray] = []
    counts = np.zeros(len(o) - 1, dtype=np.int64)
    for i in range(len(o) - 1):
        s, e = int(o[i]), int(o[i + 1])
        if e - s <= 1:
            out_rows.append(x[s:e])
            out_mods.append(mods[s:e])
            counts[i] = e - s
            continue
        doc_rows, doc_pos, doc_mods = [], [], []
        dm = mods[s:e]
        for m in np.unique(dm):
            pos = np.nonzero(dm == m)[0]
            rows, first = _agglomerate(x[s + pos], factor, threshold)
            doc_rows.append(rows)
            doc_pos.append(pos[first])
            doc_mods.append(np.full(len(first), m, dtype=mods.dtype))
        order = np.argsort(np.concatenate(doc_pos), kind="stable")
        out_rows.append(np.concatenate(doc_rows)[order])
        out_mods.append(np.concatenate(doc_mods)[order])
        counts[i] = len(order)
    d = x.shape[1]
    rows = np.concatenate(out_rows) if out_rows else np.zeros((0, d), np.float32)
    new_off = torch.zeros(len(o), dtype=torch.int64)
    new_off[1:] = torch.from_numpy(np.cumsum(counts))
    new_mods = torch.from_numpy(np.concatenate(out_mods) if out_mods else mods[:0]).to(modality_ids.dtype)
    return torch.from_numpy(np.ascontiguousarray(rows)).to(embeddings.dtype), new_off, new_mods


def _agglomerate(x: Any, factor: int, threshold: float | None) -> tuple[Any, Any]:
    """Greedy agglomerative merging of rows of ``x`` (float32 [n, d]); returns (rows, first member of each)."""
    import numpy as np

    n = x.shape[0]
    target = max(1, math.ceil(n / factor))
    norms = np.linalg.norm(x, axis=1)
    if n <= 1 or target >= n or not (norms > 0).all():
        return x, np.arange(n)
    sums = x.astype(np.float32).copy()
    first = np.arange(n)
    alive = np.ones(n, dtype=bool)
    unit = sums / norms[:, None]
    sim = unit @ unit.T
    np.fill_diagonal(sim, -np.inf)
    k = n
    while k > target:
        flat = int(np.argmax(sim))
        a, b = divmod(flat, n)
        if threshold is not None and sim[a, b] < threshold:
            break
        a, b = min(a, b), max(a, b)
        sums[a] += sums[b]
        alive[b] = False
        sim[b, :] = -np.inf
        sim[:, b] = -np.inf
        nrm = float(np.sqrt(sums[a] @ sums[a]))
        unit[a] = sums[a] / nrm if nrm > 0 else sums[a]
        row = unit @ unit[a]
        row[~alive] = -np.inf
        row[a] = -np.inf
        sim[a, :] = row
        sim[:, a] = row
        k -= 1
    keep = np.nonzero(alive)[0]
    out = sums[keep]
    out /= np.maximum(np.linalg.norm(out, axis=1), 1e-12)[:, None]
    return out, first[keep]


# -- compressed documents ---------------------------------------------------------------------------------
@dataclass
class CompressedDocs:
    """Packed document tokens in a compressed layout (what a compressed index holds in memory).

    Attributes:
        spec: how they were compressed.
        dim: embedding size.
        offsets: ``[n_docs + 1]`` int64.
        modality_ids: ``[N_tok]`` int8.
        tensors: the codec's tensors: fp16 ``{"embeddings"}``, int8 ``{"codes", "scales"}``, binary ``{"bits"}``.
        fetch_fp16: binary only: reads the exact fp16 rows of some documents (see :func:`binary_rerank`).
    """

    spec: CompressionSpec
    dim: int
    offsets: "torch.Tensor"
    modality_ids: "torch.Tensor"
    tensors: "dict[str, torch.Tensor]"
    fetch_fp16: "Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]] | None" = None

    @property
    def num_docs(self) -> int:
        return int(self.offsets.numel()) - 1

    @property
    def num_tokens(self) -> int:
        return int(self.offsets[-1])

    def nbytes(self) -> int:
        """Bytes of the tensors scoring reads (codes / bits, scales, offsets, modality ids)."""
        return sum(t.numel() * t.element_size() for t in (*self.tensors.values(), self.offsets, self.modality_ids))

    def decode(self, start: int = 0, end: int | None = None) -> "torch.Tensor":
        """Token rows ``start:end`` as float16 (int8: dequantised; binary: ±1/sqrt(d) sign vectors)."""
        import torch

        end = self.num_tokens if end is None else end
        if self.spec.codec == "int8":
            return dequantize_int8(self.tensors["codes"][start:end], self.tensors["scales"][start:end], torch.float16)
        if self.spec.codec == "binary":
            return unpack_signs(self.tensors["bits"][start:end], self.dim, torch.float16, 1.0 / math.sqrt(self.dim))
        return self.tensors["embeddings"][start:end]

    def to_doc_embeddings(self) -> "DocEmbeddings":
        """Decoded float16 :class:`DocEmbeddings` (for code that needs plain embeddings)."""
        from clamr_frames.encoders.base import DocEmbeddings

        return DocEmbeddings(self.decode(), self.offsets, self.modality_ids)


def compress(docs: "DocEmbeddings", spec: CompressionSpec) -> tuple[CompressedDocs, "DocEmbeddings"]:
    """Apply ``spec`` to packed documents.

    Returns:
        ``(compressed, pooled)``: the compressed documents and the (pooled, else unchanged) float16 documents they
        were made from — the binary codec's re-ranking rows.

    Example:
        >>> import torch
        >>> from clamr_frames.encoders.base import DocEmbeddings
        >>> docs = DocEmbeddings(torch.eye(4)[:3].half(), torch.tensor([0, 2, 3]), torch.tensor([2, 2, 3], dtype=torch.int8))
        >>> c, _ = compress(docs, parse_compression("int8"))
        >>> c.tensors["codes"].dtype, c.nbytes()     # 3*4 codes + 3*2 scale bytes + 3*8 offset bytes + 3 ids
        (torch.int8, 45)
    """
    import torch

    from clamr_frames.encoders.base import DocEmbeddings

    emb = docs.embeddings
    off = docs.offsets.to(torch.int64)
    mods = docs.modality_ids.to(torch.int8)
    if spec.pool_factor is not None:
        emb, off, mods = pool_tokens(emb, off, mods, factor=spec.pool_factor, threshold=spec.pool_threshold)
    emb16 = emb.to(torch.float16).contiguous()
    pooled = DocEmbeddings(emb16, off, mods)
    dim = int(emb.shape[1])
    if spec.codec == "int8":
        codes, scales = quantize_int8(emb)
        tensors = {"codes": codes, "scales": scales}
    elif spec.codec == "binary":
        tensors = {"bits": pack_signs(emb)}
    else:
        tensors = {"embeddings": emb16}
    fetch = _memory_fetch(emb16, off) if spec.codec == "binary" else None
    return CompressedDocs(spec, dim, off, mods, tensors, fetch), pooled


def _memory_fetch(emb16: "torch.Tensor", off: "torch.Tensor") -> "Callable[[torch.Tensor], tuple[torch.Tensor, torch.Tensor]]":
    import torch

    def fetch(ids: "torch.Tensor") -> "tuple[torch.Tensor, torch.Tensor]":
        spans = [(int(off[i]), int(off[i + 1])) for i in ids.tolist()]
        rows = torch.cat([emb16[s:e] for s, e in spans]) if spans else emb16[:0]
        local = torch.zeros(len(spans) + 1, dtype=torch.int64)
        local[1:] = torch.tensor([e - s for s, e in spans], dtype=torch.int64).cumsum(0)
        return rows, local

    return fetch


__all__ = [
    "CODECS",
    "COMPRESSION_VERSION",
    "CompressedDocs",
    "CompressionSpec",
    "DEFAULT_POOL_FACTOR",
    "DEFAULT_RERANK",
    "compress",
    "dequantize_int8",
    "pack_signs",
    "parse_compression",
    "pool_tokens",
    "quantize_int8",
    "unpack_signs",
]
