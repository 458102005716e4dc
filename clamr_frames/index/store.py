"""Per-video on-disk index of document embeddings.

Layout of one index (a directory under the cache root, named by a hash of everything that changes the
embeddings, so a foreign or stale index is never picked up by name alone)::

    <root>/<video-stem>-<key[:16]>/
        manifest.json          format version, video fingerprint, encoder id + config, sampling, timestamps,
                               per-candidate ASR / OCR context, status ("partial" | "complete")
        part-00000.safetensors packed embeddings + offsets + modality ids of one chunk of candidates
        ...
        index.safetensors      all parts merged (written last; parts are removed afterwards)

Shards make indexing resumable: an interrupted build keeps the finished parts and the next build encodes only
the rest. Every file is written to a temporary name and renamed into place, and a file lock serialises two
processes building the same index. On load, the manifest and tensors are checked against each other; anything
corrupt or mismatched raises :class:`IndexCacheError`, which the builder turns into a warning and a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clamr_frames.errors import IndexCacheError

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.encoders.base import DocEmbeddings

FORMAT_VERSION = 1
CACHE_ENV = "CLAMR_FRAMES_CACHE"
_SAMPLE_BYTES = 1 << 20


def default_cache_dir() -> Path:
    """``$CLAMR_FRAMES_CACHE`` if set, else the user's cache directory (e.g. ``~/.cache/clamr-frames``)."""
    env = os.environ.get(CACHE_ENV)
    if env:
        return Path(env).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("clamr-frames"))


def video_fingerprint(path: str | Path) -> str:
    """Content fingerprint of a file: its size plus sha256 of three 1 MiB samples (head, middle, tail).

    Path and mtime are deliberately not part of it: a copied or touched file keeps its index, an edited
    one (same name, other bytes) does not.
    """
    path = Path(path)
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        for pos in sorted({0, max(0, size // 2 - _SAMPLE_BYTES // 2), max(0, size - _SAMPLE_BYTES)}):
            f.seek(pos)
            h.update(f.read(_SAMPLE_BYTES))
    return h.hexdigest()


def index_key(spec: dict[str, Any]) -> str:
    """Stable hash of an index spec (fingerprint, encoder, sampling, context settings)."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:48].strip("._")
    return stem or "video"


def _atomic_write_bytes(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _atomic_write_json(path: Path, obj: Any) -> None:
    _atomic_write_bytes(path, json.dumps(obj, indent=1).encode())


@dataclass
class VideoIndex:
    """A loaded index: everything the scorer and the selector need, nothing decoded.

    Attributes:
        embeddings: DocEmbeddings of every candidate, in candidate (time) order.
        timestamps: [n] seconds of each candidate.
        frame_indices: [n] native frame index of each candidate (to decode picked frames later).
        asr / ocr: per-candidate context strings that were encoded.
        manifest: the JSON manifest.
        path: directory of the index.
    """

    embeddings: "DocEmbeddings"
    timestamps: np.ndarray
    frame_indices: np.ndarray
    asr: list[str]
    ocr: list[str]
    manifest: dict[str, Any]
    path: Path

    @property
    def num_candidates(self) -> int:
        return int(self.timestamps.shape[0])


@dataclass
class IndexStore:
    """The cache root holding every video index; paths inside cannot escape it."""

    root: Path = field(default_factory=default_cache_dir)

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser()

    def directory(self, video_name: str, key: str) -> Path:
        """The index directory for ``key``; raises if the result would lie outside the root."""
        if not re.fullmatch(r"[0-9a-f]{64}", key):
            raise IndexCacheError(self.root, f"invalid index key {key!r}")
        d = (self.root / f"{_safe_stem(video_name)}-{key[:16]}").resolve()
        root = self.root.resolve()
        if root not in d.parents:
            raise IndexCacheError(d, f"index path escapes the cache directory {root}")
        return d

    def lock(self, directory: Path):
        """A file lock that serialises builders of one index (two processes, one video)."""
        from filelock import FileLock

        directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(directory) + ".lock")

    # -- shards -------------------------------------------------------------------------------
    @staticmethod
    def part_path(directory: Path, part: int) -> Path:
        return directory / f"part-{part:05d}.safetensors"

    def write_part(self, directory: Path, part: int, docs: "DocEmbeddings", ocr: list[str]) -> None:
        """Write one chunk of encoded candidates (and their OCR text, which is costly to redo) atomically."""
        from safetensors.torch import save

        if docs.num_docs != len(ocr):
            raise IndexCacheError(directory, f"part {part}: {docs.num_docs} documents for {len(ocr)} candidates")
        meta = {"n_docs": str(len(ocr)), "format": str(FORMAT_VERSION), "ocr": json.dumps(ocr)}
        _atomic_write_bytes(self.part_path(directory, part), save(_tensors(docs), metadata=meta))

    def read_part(self, directory: Path, part: int, n_expected: int) -> "tuple[DocEmbeddings, list[str]] | None":
        """A finished part and its OCR text, or None if missing or unreadable (it is then re-encoded)."""
        from safetensors import safe_open

        p = self.part_path(directory, part)
        if not p.exists():
            return None
        try:
            docs = _read_tensors(p)
            with safe_open(str(p), framework="pt") as f:
                ocr = json.loads((f.metadata() or {}).get("ocr", "null"))
        except (IndexCacheError, ValueError, OSError):
            p.unlink(missing_ok=True)
            return None
        if docs.num_docs != n_expected or not isinstance(ocr, list) or len(ocr) != n_expected:
            p.unlink(missing_ok=True)
            return None
        return docs, [str(x) for x in ocr]

    def finalize(self, directory: Path, manifest: dict[str, Any], docs: "DocEmbeddings", n_parts: int) -> None:
        """Merge the parts into index.safetensors, then mark the manifest complete and drop the parts."""
        from safetensors.torch import save

        data = save(_tensors(docs), metadata={"n_docs": str(docs.num_docs), "format": str(FORMAT_VERSION)})
        _atomic_write_bytes(directory / "index.safetensors", data)
        manifest = dict(manifest, status="complete", n_docs=docs.num_docs)
        manifest["sha256"] = hashlib.sha256(data).hexdigest()
        _atomic_write_json(directory / "manifest.json", manifest)
        for part in range(n_parts):
            self.part_path(directory, part).unlink(missing_ok=True)

    def write_manifest(self, directory: Path, manifest: dict[str, Any]) -> None:
        _atomic_write_json(directory / "manifest.json", manifest)

    def read_manifest(self, directory: Path) -> dict[str, Any] | None:
        p = directory / "manifest.json"
        if not p.exists():
            return None
        try:
            m = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise IndexCacheError(p, f"unreadable manifest ({e})") from None
        if not isinstance(m, dict) or m.get("format") != FORMAT_VERSION:
            raise IndexCacheError(p, "not a clamr-frames index manifest of this format version")
        return m

    def load(self, directory: Path, spec: dict[str, Any]) -> VideoIndex | None:
        """The complete index in ``directory`` if it matches ``spec``; None if there is none yet.

        Raises:
            IndexCacheError: the index exists but is corrupt, truncated or built for something else.
        """
        manifest = self.read_manifest(directory)
        if manifest is None or manifest.get("status") != "complete":
            return None
        if manifest.get("spec") != json.loads(json.dumps(spec, default=str)):
            raise IndexCacheError(directory, "index was built for another video, encoder or setting")
        p = directory / "index.safetensors"
        try:
            raw = p.read_bytes()
        except OSError as e:
            raise IndexCacheError(p, f"cannot read ({e.strerror})") from None
        if hashlib.sha256(raw).hexdigest() != manifest.get("sha256"):
            raise IndexCacheError(p, "checksum mismatch (truncated or modified index file)")
        docs = _read_tensors(p, raw)
        n = len(manifest.get("timestamps", []))
        if docs.num_docs != n or len(manifest.get("asr", [])) != n or len(manifest.get("ocr", [])) != n:
            raise IndexCacheError(p, f"index holds {docs.num_docs} documents, manifest {n} candidates")
        return VideoIndex(
            embeddings=docs,
            timestamps=np.asarray(manifest["timestamps"], dtype=np.float64),
            frame_indices=np.asarray(manifest["frame_indices"], dtype=np.int64),
            asr=list(manifest["asr"]),
            ocr=list(manifest["ocr"]),
            manifest=manifest,
            path=directory,
        )


def _tensors(docs: "DocEmbeddings") -> dict[str, Any]:
    import torch

    return {
        "embeddings": docs.embeddings.detach().to(torch.float16).contiguous().cpu(),
        "offsets": docs.offsets.to(torch.int64).contiguous().cpu(),
        "modality_ids": docs.modality_ids.to(torch.int8).contiguous().cpu(),
    }


def _read_tensors(path: Path, raw: bytes | None = None) -> "DocEmbeddings":
    from safetensors.torch import load

    from clamr_frames.encoders.base import DocEmbeddings

    try:
        t = load(raw if raw is not None else path.read_bytes())
        emb, off, mod = t["embeddings"], t["offsets"], t["modality_ids"]
    except Exception as e:  # safetensors raises its own error types on corrupt headers
        raise IndexCacheError(path, f"not a readable safetensors index ({type(e).__name__}: {e})") from None
    ok = (
        emb.ndim == 2
        and off.ndim == 1
        and off.numel() >= 1
        and int(off[0]) == 0
        and int(off[-1]) == emb.shape[0] == mod.shape[0]
        and bool((off[1:] >= off[:-1]).all())
    )
    if not ok:
        raise IndexCacheError(path, "inconsistent tensors (offsets do not match the embeddings)")
    return DocEmbeddings(emb, off, mod)


def chunk_ranges(n: int, size: int) -> Sequence[tuple[int, int]]:
    """[(start, end), ...] covering range(n) in chunks of ``size``."""
    return [(s, min(s + size, n)) for s in range(0, n, size)]
