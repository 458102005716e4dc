"""Per-video on-disk index of document embeddings.

Layout of one index (a directory under the cache root, named by a hash of everything that changes the
embeddings, so a foreign or stale index is never picked up by name alone)::

    <root>/<video-stem>-<key[:16]>/
        manifest.json          format version, video fingerprint, encoder id + config, sampling, timestamps,
                               per-candidate ASR / OCR context, status ("partial" | "complete")
        part-00000.safetensors packed embeddings + offsets + modality ids of one chunk of candidates
        ...
        index.safetensors      all parts merged (written last, streamed part by part; parts are removed afterwards)
        rerank.safetensors     binary compression only: the fp16 rows the prefilter's candidates are re-scored with
        prior.safetensors      the visual prior (shot ids, novelty, cut scores, 16x9 thumbnails per candidate; see
                               clamr_frames.context.shots), described by the manifest's ``visual_prior`` entry
                               (algorithm version, settings, checksum). It does not depend on the encoder and is not
                               part of the index key: an index without it, or with another version, gets a new one
                               computed and added (see clamr_frames.index.prior); the embeddings are kept.

With a ``compression`` (see :mod:`clamr_frames.index.codecs`), parts are still written in fp16 and the merge
compresses them one part at a time; the manifest's ``compression`` block (method, layout version) and the tensor
file's metadata must agree with the requested compression, which is also part of the index key, so an index
built with another compression is never read as this one.

Shards make indexing resumable: an interrupted build keeps the finished parts and the next build encodes only
the rest. Every file is written to a temporary name and renamed into place, and a file lock serialises two
processes building the same index. On load, the manifest and tensors are checked against each other; anything
corrupt or mismatched raises :class:`IndexCacheError`, which the builder turns into a warning and a rebuild.
"""

from __future__ import annotations

import hashlib
import json
import re
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

# The cache root and the content fingerprint live in _fs: the context stages (OCR, ASR caches) use them too.
from clamr_frames._fs import (  # noqa: F401  (CACHE_ENV, default_cache_dir, video_fingerprint: re-exported)
    CACHE_ENV,
    atomic_write_bytes,
    atomic_writer,
    default_cache_dir,
    sha256_file,
    video_fingerprint,
)
from clamr_frames.errors import IndexCacheError, InputError
from clamr_frames.index.tensorfile import (  # noqa: F401  (file_sha256, merge_safetensors: re-exported)
    check_layout,
    file_sha256,
    load_all,
    memmap_fetch,
    merge_safetensors,
    read_tensors,
)

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.context.shots import VisualPrior
    from clamr_frames.encoders.base import DocEmbeddings
    from clamr_frames.index.codecs import CompressedDocs, CompressionSpec

FORMAT_VERSION = 1

def index_key(spec: dict[str, Any]) -> str:
    """Stable hash of an index spec (fingerprint, encoder, sampling, context settings)."""
    blob = json.dumps(spec, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def _safe_stem(name: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", name)[:48].strip("._")
    return stem or "video"


def _atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, indent=1).encode())


@dataclass
class VideoIndex:
    """A loaded index: everything the scorer and the selector need, nothing decoded.

    Attributes:
        embeddings: every candidate's tokens in candidate (time) order: :class:`DocEmbeddings` (fp16, also when
            pooled) or :class:`~clamr_frames.index.codecs.CompressedDocs` (int8 / binary). Both have
            ``offsets``, ``modality_ids`` and ``num_docs``.
        timestamps: [n] seconds of each candidate.
        frame_indices: [n] native frame index of each candidate (to decode picked frames later).
        asr / ocr: per-candidate context strings that were encoded.
        manifest: the JSON manifest.
        path: directory of the index.
        prior: the visual prior (shots and novelty of the candidates), or None when the index has none of the
            current version (``build_index`` adds it).
    """

    embeddings: "DocEmbeddings | CompressedDocs"
    timestamps: np.ndarray
    frame_indices: np.ndarray
    asr: list[str]
    ocr: list[str]
    manifest: dict[str, Any]
    path: Path
    prior: "VisualPrior | None" = None

    @property
    def num_candidates(self) -> int:
        return int(self.timestamps.shape[0])

    @property
    def asr_source(self) -> str:
        """Where the ASR context came from: ``none``, ``subtitles`` or ``whisper:<model>``."""
        asr = (self.manifest.get("spec") or {}).get("asr") or {}
        return str(asr.get("source") or ("subtitles" if asr.get("subtitles") else "none"))

    @property
    def compression(self) -> str | None:
        """Name of the index's compression (None: plain fp16)."""
        c = self.manifest.get("compression")
        return c.get("name") if isinstance(c, dict) else None


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

    def unwritable(self, path: Path, error: OSError) -> IndexCacheError:
        """The error for a cache directory that cannot be created or written: names the cache root (what the
        user chose) and the path and reason the operating system gave."""
        where = error.filename or path
        return IndexCacheError(
            self.root,
            f"index cache directory cannot be created or written ({error.strerror or error}: {where}); "
            f"point ${CACHE_ENV} or --index-dir at a writable directory",
        )

    def make_directory(self, directory: Path) -> None:
        """``mkdir -p directory``.

        Raises:
            IndexCacheError: it cannot be created (a parent is a file, read-only or virtual file system, ...).
        """
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise self.unwritable(directory, e) from None

    @contextmanager
    def writing(self, directory: Path) -> Iterator[None]:
        """Turn an OSError of the writes inside the block into :meth:`unwritable`'s IndexCacheError."""
        try:
            yield
        except OSError as e:
            raise self.unwritable(directory, e) from None

    @contextmanager
    def lock(self, directory: Path) -> Iterator[Any]:
        """Hold the file lock that serialises builders of one index (two processes, one video).

        Raises:
            IndexCacheError: the directory or its lock file cannot be created.
        """
        from filelock import FileLock

        self.make_directory(directory)
        lock = FileLock(str(directory) + ".lock")
        with self.writing(directory):
            lock.acquire()
        try:
            yield lock
        finally:
            lock.release()

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
        with self.writing(directory):
            atomic_write_bytes(self.part_path(directory, part), save(_tensors(docs), metadata=meta))

    def read_part(self, directory: Path, part: int, n_expected: int) -> "tuple[DocEmbeddings, list[str]] | None":
        """A finished part and its OCR text, or None if missing or unreadable (it is then re-encoded)."""
        from safetensors import safe_open

        p = self.part_path(directory, part)
        if not p.exists():
            return None
        try:
            docs = read_tensors(p)
            with safe_open(str(p), framework="pt") as f:
                ocr = json.loads((f.metadata() or {}).get("ocr", "null"))
        except (IndexCacheError, ValueError, OSError):
            p.unlink(missing_ok=True)
            return None
        if docs.num_docs != n_expected or not isinstance(ocr, list) or len(ocr) != n_expected:
            p.unlink(missing_ok=True)
            return None
        return docs, [str(x) for x in ocr]

    def finalize(
        self,
        directory: Path,
        manifest: dict[str, Any],
        n_parts: int,
        compression: "CompressionSpec | None" = None,
    ) -> None:
        """Merge the parts into index.safetensors, then mark the manifest complete and drop the parts.

        The merge streams: one part's tensors are in memory at a time (a 3-hour video indexes in the memory of a
        10-minute one). With ``compression``, each part is compressed first (into a temporary part file).
        """
        with self.writing(directory):
            self._finalize(directory, manifest, n_parts, compression)

    def _finalize(
        self, directory: Path, manifest: dict[str, Any], n_parts: int, compression: "CompressionSpec | None"
    ) -> None:
        paths = [self.part_path(directory, p) for p in range(n_parts)]
        extra: dict[str, Any] = {}
        tmp: list[Path] = []
        try:
            if compression is not None:
                from clamr_frames.index.codecs import compress

                cpaths = []
                for p, path in enumerate(paths):
                    cdocs, pooled = compress(read_tensors(path), compression)
                    t = {**cdocs.tensors, "offsets": cdocs.offsets, "modality_ids": cdocs.modality_ids}
                    if compression.codec == "binary":
                        t["rerank_embeddings"] = pooled.embeddings
                    from safetensors.torch import save

                    cp = directory / f"cpart-{p:05d}.safetensors"
                    atomic_write_bytes(cp, save({k: v.contiguous() for k, v in t.items()}))
                    cpaths.append(cp)
                tmp = cpaths
                names = [*sorted(cdocs.tensors), "offsets", "modality_ids"] if paths else []
                meta = {"format": str(FORMAT_VERSION), "compression": compression.name, "dim": str(cdocs.dim)}
                digest, n_docs = merge_safetensors(cpaths, directory / "index.safetensors", names, meta)
                if compression.codec == "binary":
                    rdigest, _ = merge_safetensors(
                        cpaths, directory / "rerank.safetensors", ["rerank_embeddings", "offsets"],
                        {"format": str(FORMAT_VERSION)},
                    )
                    extra["rerank_sha256"] = rdigest
                extra["compression"] = compression.to_json()
            else:
                digest, n_docs = merge_safetensors(
                    paths, directory / "index.safetensors", ["embeddings", "offsets", "modality_ids"],
                    {"format": str(FORMAT_VERSION)},
                )
        finally:
            for t in tmp:
                t.unlink(missing_ok=True)
        manifest = dict(manifest, status="complete", n_docs=n_docs, sha256=digest, **extra)
        _atomic_write_json(directory / "manifest.json", manifest)
        for path in paths:
            path.unlink(missing_ok=True)

    # -- visual prior ----------------------------------------------------------------------------
    def write_prior(self, directory: Path, manifest: dict[str, Any], prior: "VisualPrior") -> dict[str, Any]:
        """Store ``prior`` beside a complete index and describe it in the manifest; returns the new manifest.

        The tensor file is written first and the manifest after it (both atomically), so a reader sees either
        the old manifest or one whose checksum matches the file.
        """
        from safetensors.numpy import save

        from clamr_frames.context.shots import PRIOR_VERSION

        n = len(manifest.get("timestamps", []))
        if len(prior) != n:
            raise IndexCacheError(directory, f"visual prior of {len(prior)} candidates for an index of {n}")
        data = save(prior.tensors(), metadata={"format": str(FORMAT_VERSION), "prior_version": str(PRIOR_VERSION)})
        atomic_write_bytes(directory / "prior.safetensors", data)
        entry = {
            "version": PRIOR_VERSION,
            "settings": prior.settings.to_json(),
            "sha256": hashlib.sha256(data).hexdigest(),
            "shots": prior.num_shots,
        }
        manifest = dict(manifest, visual_prior=entry)
        _atomic_write_json(directory / "manifest.json", manifest)
        return manifest

    def read_prior(self, directory: Path, manifest: dict[str, Any]) -> "VisualPrior | None":
        """The index's visual prior if it has one of the current version; None otherwise (it is then recomputed).

        A prior file that is missing, corrupt or does not match the manifest gives a warning and None.
        """
        from clamr_frames.context.shots import PRIOR_VERSION, PriorSettings, VisualPrior

        entry = manifest.get("visual_prior")
        if not isinstance(entry, dict) or entry.get("version") != PRIOR_VERSION:
            return None
        p = directory / "prior.safetensors"
        try:
            if file_sha256(p) != entry.get("sha256"):
                raise IndexCacheError(p, "checksum mismatch")
            from safetensors.numpy import load

            prior = VisualPrior.from_tensors(load(p.read_bytes()), PriorSettings(**entry.get("settings", {})))
            if len(prior) != len(manifest.get("timestamps", [])):
                n = len(manifest.get("timestamps", []))
                raise IndexCacheError(p, f"{len(prior)} candidates, the index has {n}")
        except (IndexCacheError, InputError, TypeError, ValueError, OSError) as e:
            warnings.warn(f"{p}: unusable visual prior, recomputing it ({e})", stacklevel=3)
            return None
        return prior

    def write_manifest(self, directory: Path, manifest: dict[str, Any]) -> None:
        with self.writing(directory):
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
        want = (spec.get("compression") or {}).get("name") if isinstance(spec.get("compression"), dict) else None
        have = manifest.get("compression")
        have_name = have.get("name") if isinstance(have, dict) else None
        if want != have_name or (have is not None and have != spec.get("compression")):
            raise IndexCacheError(directory, f"index is stored with compression {have_name!r}, not {want!r}")
        if file_sha256(p) != manifest.get("sha256"):
            raise IndexCacheError(p, "checksum mismatch (truncated or modified index file)")
        if have_name is None:
            docs = read_tensors(p)
        else:
            docs = _read_compressed(p, directory, manifest)
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
            prior=self.read_prior(directory, manifest),
        )


def _tensors(docs: "DocEmbeddings") -> dict[str, Any]:
    import torch

    return {
        "embeddings": docs.embeddings.detach().to(torch.float16).contiguous().cpu(),
        "offsets": docs.offsets.to(torch.int64).contiguous().cpu(),
        "modality_ids": docs.modality_ids.to(torch.int8).contiguous().cpu(),
    }


def _read_compressed(path: Path, directory: Path, manifest: dict[str, Any]) -> "DocEmbeddings | CompressedDocs":
    """A compressed index file: pooled fp16 → DocEmbeddings; int8 / binary → CompressedDocs."""
    from safetensors import safe_open

    from clamr_frames.encoders.base import DocEmbeddings
    from clamr_frames.index.codecs import CompressedDocs, parse_compression

    info = manifest["compression"]
    spec = parse_compression(info.get("name"))
    if spec is None or info.get("version") != _compression_version():
        raise IndexCacheError(path, f"unknown compression layout {info!r}")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
    except Exception as e:
        raise IndexCacheError(path, f"not a readable safetensors index ({type(e).__name__}: {e})") from None
    if meta.get("compression") != spec.name:
        raise IndexCacheError(path, f"tensor file holds compression {meta.get('compression')!r}, manifest {spec.name!r}")
    t = load_all(path)
    try:
        off, mod = t.pop("offsets"), t.pop("modality_ids")
        dim = int(meta["dim"])
        rows = next(iter(t.values())).shape[0]
    except (KeyError, StopIteration, ValueError):
        raise IndexCacheError(path, "compressed index misses tensors") from None
    check_layout(path, rows, off, mod)
    if spec.codec == "fp16":
        return DocEmbeddings(t["embeddings"], off, mod)
    fetch = None
    if spec.codec == "binary":
        rp = directory / "rerank.safetensors"
        if file_sha256(rp) != manifest.get("rerank_sha256"):
            raise IndexCacheError(rp, "checksum mismatch (missing, truncated or modified re-ranking file)")
        fetch = memmap_fetch(rp, off)
    expected = {"int8": {"codes", "scales"}, "binary": {"bits"}}[spec.codec]
    if set(t) != expected:
        raise IndexCacheError(path, f"compressed index holds {sorted(t)}, expected {sorted(expected)}")
    return CompressedDocs(spec, dim, off, mod, t, fetch)


def _compression_version() -> int:
    from clamr_frames.index.codecs import COMPRESSION_VERSION

    return COMPRESSION_VERSION


def chunk_ranges(n: int, size: int) -> Sequence[tuple[int, int]]:
    """[(start, end), ...] covering range(n) in chunks of ``size``."""
    return [(s, min(s + size, n)) for s in range(0, n, size)]
