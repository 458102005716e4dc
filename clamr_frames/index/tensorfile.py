"""The index's tensor files: checked safetensors reads, the streaming merge of parts, and memory-mapped rows.

Split from :mod:`clamr_frames.index.store` (which decides what goes in which file); everything here works on
one file at a time and raises :class:`~clamr_frames.errors.IndexCacheError` naming it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clamr_frames._fs import atomic_writer, sha256_file
from clamr_frames.errors import IndexCacheError

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.encoders.base import DocEmbeddings


def file_sha256(path: Path) -> str:
    """sha256 of a file, read in 1 MiB blocks (never the whole file in memory)."""
    try:
        return sha256_file(path)
    except OSError as e:
        raise IndexCacheError(path, f"cannot read ({e.strerror})") from None


def load_all(path: Path) -> "dict[str, Any]":
    # Read into memory and parse (not load_file: its tensors may be backed by a memory map of the file, and a
    # file truncated or replaced in place under them would crash the process instead of raising).
    from safetensors.torch import load

    try:
        raw = path.read_bytes()
    except OSError as e:
        raise IndexCacheError(path, f"cannot read ({e.strerror})") from None
    try:
        return load(raw)
    except Exception as e:  # safetensors raises its own error types on corrupt headers
        raise IndexCacheError(path, f"not a readable safetensors index ({type(e).__name__}: {e})") from None


def check_layout(path: Path, rows: int, off: Any, mod: Any) -> None:
    ok = (
        off.ndim == 1
        and off.numel() >= 1
        and int(off[0]) == 0
        and int(off[-1]) == rows == mod.shape[0]
        and bool((off[1:] >= off[:-1]).all())
    )
    if not ok:
        raise IndexCacheError(path, "inconsistent tensors (offsets do not match the embeddings)")


def read_tensors(path: Path) -> "DocEmbeddings":
    from clamr_frames.encoders.base import DocEmbeddings

    t = load_all(path)
    try:
        emb, off, mod = t["embeddings"], t["offsets"], t["modality_ids"]
    except KeyError as e:
        raise IndexCacheError(path, f"missing tensor {e}") from None
    if emb.ndim != 2:
        raise IndexCacheError(path, "inconsistent tensors (embeddings are not a matrix)")
    check_layout(path, emb.shape[0], off, mod)
    return DocEmbeddings(emb, off, mod)


def memmap_fetch(path: Path, offsets: Any):
    """fp16 rows of chosen documents, read from the re-ranking file through a memory map (only those rows)."""
    import torch

    header = _safetensors_header(path)
    info = header["rerank_embeddings"]
    n, d = info["shape"]
    start = 8 + header["__len__"] + info["data_offsets"][0]
    mm = np.memmap(path, dtype=np.float16, mode="r", offset=start, shape=(n, d))
    off = offsets.to(torch.int64)

    def fetch(ids: "torch.Tensor") -> "tuple[torch.Tensor, torch.Tensor]":
        spans = [(int(off[i]), int(off[i + 1])) for i in ids.tolist()]
        rows = np.concatenate([np.arange(s, e) for s, e in spans]) if spans else np.zeros(0, np.int64)
        emb = torch.from_numpy(np.asarray(mm[rows], dtype=np.float16))
        local = torch.zeros(len(spans) + 1, dtype=torch.int64)
        if spans:
            local[1:] = torch.tensor([e - s for s, e in spans]).cumsum(0)
        return emb, local

    return fetch


#: bytes per element of the safetensors dtypes (tensors are merged as raw bytes, so any of them, BF16 included)
_ITEMSIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1}
_OFFSET_DTYPES = {"I64": "<i8", "I32": "<i4"}
_COPY_BLOCK = 1 << 20


def _safetensors_header(path: Path) -> dict[str, Any]:
    import struct

    try:
        with open(path, "rb") as f:
            (n,) = struct.unpack("<Q", f.read(8))
            header = json.loads(f.read(n))
    except (OSError, struct.error, ValueError) as e:
        raise IndexCacheError(path, f"not a readable safetensors file ({e})") from None
    header["__len__"] = n
    return header


def _tensor_info(path: Path, header: dict[str, Any], name: str) -> tuple[str, list[int], int, int]:
    """(dtype, shape, first byte in the file, byte count) of tensor ``name``, checked against its shape."""
    info = header.get(name)
    try:
        dtype, shape = info["dtype"], [int(x) for x in info["shape"]]
        begin, end = (int(x) for x in info["data_offsets"])
    except (TypeError, KeyError, ValueError):
        raise IndexCacheError(path, f"no well-formed tensor {name!r} to merge") from None
    if dtype not in _ITEMSIZE:
        raise IndexCacheError(path, f"tensor {name!r} has dtype {dtype}, which the index merge cannot copy")
    if end - begin != int(np.prod(shape, dtype=np.int64)) * _ITEMSIZE[dtype]:
        raise IndexCacheError(path, f"tensor {name!r}: {end - begin} bytes for shape {shape} of {dtype}")
    return dtype, shape, 8 + header["__len__"] + begin, end - begin


def merge_safetensors(parts: Sequence[Path], out: Path, names: Sequence[str], metadata: dict[str, str]) -> tuple[str, int]:
    """Concatenate tensors ``names`` of several safetensors files along dim 0 into ``out``, streaming.

    Tensors are copied as raw bytes in 1 MiB blocks (any dtype, BF16 included; every part must have the same
    dtype and the same trailing dimensions). ``offsets`` tensors (``[n + 1]`` document boundaries, I64 or I32)
    are joined with their shift applied and written as I64. The file is written to a temporary name, hashed
    while written, and renamed into place.

    Returns:
        (sha256 of the written file, number of documents).

    Raises:
        IndexCacheError: a part lacks a tensor, or its dtype or shape does not fit the others (names the part).
    """
    import struct

    heads = [_safetensors_header(p) for p in parts]
    plan: dict[str, list[tuple[str, list[int], int, int]]] = {}
    entries: dict[str, Any] = {}
    pos = 0
    n_docs = 0
    for name in names:
        infos = [_tensor_info(p, h, name) for p, h in zip(parts, heads)]
        for p, info in zip(parts[1:], infos[1:]):
            if name != "offsets" and (info[0] != infos[0][0] or info[1][1:] != infos[0][1][1:]):
                raise IndexCacheError(p, f"tensor {name!r} is {info[0]} {info[1]}, the first part's is "
                                         f"{infos[0][0]} {infos[0][1]}: parts of one index must agree")
        if name == "offsets":
            for p, info in zip(parts, infos):
                if info[0] not in _OFFSET_DTYPES or len(info[1]) != 1 or info[1][0] < 1:
                    raise IndexCacheError(p, f"offsets are {info[0]} {info[1]}, expected a non-empty I64 or I32 vector")
            dtype, shape = "I64", [1 + sum(i[1][0] - 1 for i in infos)]
            n_docs = shape[0] - 1
        else:
            dtype = infos[0][0] if infos else "F16"
            shape = [sum(i[1][0] for i in infos), *infos[0][1][1:]] if infos else [0]
        size = int(np.prod(shape, dtype=np.int64)) * _ITEMSIZE[dtype]
        entries[name] = {"dtype": dtype, "shape": shape, "data_offsets": [pos, pos + size]}
        plan[name] = infos
        pos += size
    header = json.dumps({"__metadata__": dict(metadata, n_docs=str(n_docs)), **entries}, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    h = hashlib.sha256()
    with atomic_writer(out) as f:

        def put(b: bytes) -> None:
            h.update(b)
            f.write(b)

        put(struct.pack("<Q", len(header)) + header)
        for name in names:
            base = 0
            for j, (p, (dtype, _, start, size)) in enumerate(zip(parts, plan[name])):
                with open(p, "rb") as src:
                    src.seek(start)
                    if name == "offsets":
                        off = np.frombuffer(src.read(size), dtype=_OFFSET_DTYPES[dtype]).astype(np.int64) + base
                        base = int(off[-1])
                        put((off if j == 0 else off[1:]).tobytes())
                        continue
                    while size > 0:
                        block = src.read(min(size, _COPY_BLOCK))
                        if not block:
                            raise IndexCacheError(p, f"tensor {name!r} ends early (truncated file)")
                        put(block)
                        size -= len(block)
            if name == "offsets" and not parts:
                put(np.zeros(1, np.int64).tobytes())
    return h.hexdigest(), n_docs
