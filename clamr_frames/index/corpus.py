"""A corpus of videos to index: the job list, remote inputs, and the corpus report.

Jobs come from paths on the command line or from a manifest, one video per row:

* CSV with a header: ``video`` (required), ``subtitles``, ``options`` (a JSON object), ``id``;
* JSONL: one object per line with the same keys (``options`` an object).

``options`` override the corpus' settings for that video: any :class:`~clamr_frames.index.IndexSettings` field
(``fps``, ``num_frames``, ``max_side``, ``asr_before``, ``asr_after``, ``asr_max_words``, ``chunk_size``,
``backend``, ``compression``) and ``ocr`` (true / false). Relative paths are relative to the manifest's folder.

Paths may be local, or URIs of any filesystem pyarrow (``s3://``, ``gs://``, ``hdfs://``, ...) or fsspec knows;
or paths inside a filesystem object passed as ``filesystem=`` (a ``pyarrow.fs.FileSystem`` or an fsspec
filesystem). Decoders need a local file, so a remote video is copied to a temporary file by the worker that
reads it and removed afterwards. :func:`index_locally` indexes a job list in this process; the Ray pipeline
(:mod:`clamr_frames.index.distributed`) spreads it over a cluster. Both return a :class:`CorpusReport`.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import io
import json
import shutil
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from clamr_frames.errors import ClamrFramesError, IndexCacheError, InputError

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.encoders.base import Encoder
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.index.store import IndexStore

#: Manifest columns / keys.
MANIFEST_KEYS = ("video", "subtitles", "options", "id")


def _option_keys() -> tuple[str, ...]:
    from clamr_frames.index.builder import IndexSettings

    return (*(f.name for f in dataclasses.fields(IndexSettings)), "ocr")


@dataclass(frozen=True)
class VideoJob:
    """One video of a corpus.

    Attributes:
        video: local path or URI (relative paths already resolved against the manifest's folder).
        subtitles: its subtitle file (path or URI), or None.
        options: per-video overrides of the corpus settings (see the module docstring).
        name: how reports name it (the manifest's ``id``, else ``video``).
        where: where it was given ("manifest.csv:3", "argument 2"), for messages.
    """

    video: str
    subtitles: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    name: str = ""
    where: str = ""

    def __post_init__(self) -> None:
        if not self.name:
            object.__setattr__(self, "name", self.video)

    def settings(self, base: "IndexSettings") -> "IndexSettings":
        """``base`` with this video's overrides applied."""
        over = {k: v for k, v in self.options.items() if k != "ocr"}
        try:
            return dataclasses.replace(base, **over) if over else base
        except InputError as e:
            raise InputError(f"{self.where or self.video}: {e}") from None

    def ocr(self, default: bool) -> bool:
        """Whether this video gets OCR context."""
        return bool(self.options.get("ocr", default))

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _json_object(value: Any, where: str, what: str) -> dict[str, Any]:
    """``value`` (a JSON text or an already parsed value) as a dict, or an InputError naming ``where``."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except json.JSONDecodeError as e:
            raise InputError(f"{where}: {what} is not valid JSON ({e.msg})") from None
    if not isinstance(value, dict):
        raise InputError(f"{where}: {what} must be a JSON object, got {type(value).__name__}")
    return value


def _only_known(keys: Any, known: Sequence[str], where: str, what: str) -> None:
    unknown = sorted(set(keys) - set(known))
    if unknown:
        raise InputError(f"{where}: unknown {what} {unknown[0]!r} (known: {', '.join(known)})")


def _check_options(options: Any, where: str) -> dict[str, Any]:
    from clamr_frames.index.builder import IndexSettings

    if options in (None, ""):
        return {}
    options = _json_object(options, where, "options")
    _only_known(options, _option_keys(), where, "option")
    if "ocr" in options and not isinstance(options["ocr"], bool):
        raise InputError(f"{where}: option 'ocr' must be true or false, got {options['ocr']!r}")
    try:  # the settings check their own values
        IndexSettings(**{k: v for k, v in options.items() if k != "ocr"})
    except (InputError, TypeError) as e:
        raise InputError(f"{where}: {e}") from None
    return dict(options)


def jobs_from_paths(
    videos: Sequence[str | Path],
    subtitles: Sequence[str | Path | None] | None = None,
    options: dict[str, Any] | None = None,
) -> list[VideoJob]:
    """One job per video (``subtitles``: one entry per video, or None)."""
    subs = list(subtitles) if subtitles is not None else [None] * len(videos)
    if len(subs) != len(videos):
        raise InputError(f"{len(subs)} subtitle files for {len(videos)} videos")
    opts = _check_options(options, "options")
    return [
        VideoJob(str(v), None if s is None else str(s), opts, where=f"argument {i + 1}")
        for i, (v, s) in enumerate(zip(videos, subs))
    ]


def is_uri(path: str) -> bool:
    """True for ``scheme://...`` (a remote or explicitly addressed file), False for a plain local path."""
    head, sep, _ = str(path).partition("://")
    return bool(sep) and head.isidentifier() and len(head) > 1


def _join(base: str, rel: str) -> str:
    """``rel`` relative to the folder holding ``base`` (a local path or a URI); absolute ``rel`` wins."""
    if is_uri(rel) or rel.startswith("/"):
        return rel
    if is_uri(base):
        scheme, _, rest = base.partition("://")
        return f"{scheme}://{PurePosixPath(rest).parent / rel}"
    return str(Path(base).parent / rel)


def read_manifest(path: str | Path, filesystem: Any = None) -> list[VideoJob]:
    """The jobs of a CSV or JSONL manifest (see the module docstring).

    Raises:
        InputError: unreadable file, unknown format, a row without ``video``, an unknown column or option, a
            bad JSON line — each naming the file and line.
    """
    where = str(path)
    try:
        with open_input(where, filesystem) as f:
            text = f.read().decode("utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"{where}: cannot read the manifest ({e})") from None
    suffix = PurePosixPath(where.partition("?")[0]).suffix.lower()
    rows: list[tuple[int, dict[str, Any]]] = []
    if suffix == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        _only_known(reader.fieldnames or (), MANIFEST_KEYS, where, "column")
        rows = [(reader.line_num, dict(r)) for r in reader]
    elif suffix in (".jsonl", ".ndjson"):
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                obj = _json_object(line, f"{where}:{n}", "the line")
                _only_known(obj, MANIFEST_KEYS, f"{where}:{n}", "key")
                rows.append((n, obj))
    else:
        raise InputError(f"{where}: a manifest must be .csv or .jsonl, got {suffix or 'no extension'!r}")
    jobs = []
    for n, row in rows:
        at = f"{where}:{n}"
        video = row.get("video")
        if not isinstance(video, str) or not video.strip():
            raise InputError(f"{at}: no 'video'")
        subs = row.get("subtitles") or None
        if subs is not None and not isinstance(subs, str):
            raise InputError(f"{at}: 'subtitles' must be a path")
        name = row.get("id") or ""
        jobs.append(
            VideoJob(
                _join(where, video.strip()),
                _join(where, subs.strip()) if subs else None,
                _check_options(row.get("options"), at),
                name=str(name),
                where=at,
            )
        )
    if not jobs:
        raise InputError(f"{where}: the manifest lists no videos")
    return jobs


# -- remote files ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def open_input(path: str, filesystem: Any = None) -> Iterator[IO[bytes]]:
    """A binary stream of ``path``: local, a URI pyarrow or fsspec resolves, or a path inside ``filesystem``."""
    if filesystem is None and not is_uri(path):
        with open(path, "rb") as f:
            yield f
        return
    if filesystem is None:
        try:
            from pyarrow import fs as pafs

            filesystem, path = pafs.FileSystem.from_uri(path)
        except (ImportError, ValueError, OSError):  # a scheme pyarrow does not know: fsspec's registry
            try:
                import fsspec
            except ImportError:
                raise InputError(f"{path}: no filesystem for this URI (install pyarrow or fsspec)") from None
            try:
                filesystem, path = fsspec.core.url_to_fs(path)
            except (ValueError, ImportError) as e:
                raise InputError(f"{path}: no filesystem for this URI ({e})") from None
    if hasattr(filesystem, "open_input_stream"):  # pyarrow.fs.FileSystem
        with filesystem.open_input_stream(path) as f:
            yield f
    else:  # fsspec
        with filesystem.open(path, "rb") as f:
            yield f


@contextlib.contextmanager
def local_copy(path: str | None, filesystem: Any = None) -> Iterator[str | None]:
    """``path`` itself when it is a local file, else a temporary local copy (same name), removed on exit.

    Raises:
        InputError: the remote file cannot be read (naming it and why).
    """
    if path is None or (filesystem is None and not is_uri(path)):
        yield path
        return
    # the file's own name: the index directory is named after the video, and subtitles parse by suffix
    name = PurePosixPath(path.partition("?")[0]).name
    name = name if name not in ("", ".", "..") else "input"
    tmp = Path(tempfile.mkdtemp(prefix="clamr-frames-"))
    try:
        dest = tmp / name
        try:
            with open_input(path, filesystem) as src, open(dest, "wb") as out:
                shutil.copyfileobj(src, out, 1 << 22)
        except (OSError, ValueError) as e:  # pyarrow raises OSError / FileNotFoundError, fsspec likewise
            raise InputError(f"{path}: cannot read ({e})") from None
        yield str(dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# -- report ------------------------------------------------------------------------------------------------
@dataclass
class CorpusReport:
    """What indexing a corpus did.

    Attributes:
        indexed: videos whose index was built (or completed) by this run: ``video``, ``index``, ``candidates``,
            ``frames_encoded``.
        skipped: videos that already had a verified index: ``video``, ``index``, ``candidates``.
        failed: ``video``, ``reason`` and, on Ray, the ``stage`` that failed.
        stages: per stage (``context``: decode + subtitles / ASR + OCR; ``encode``; ``finalize``: merge and
            verify): ``frames``, ``busy_s`` (summed over workers) and ``frames_per_busy_s`` (one worker's rate).
        wall_s: wall time of the run; ``frames_per_s`` = frames encoded / wall_s (the corpus' throughput).
        startup_s: time until the first part was encoded (model loads, workers starting); ``steady_frames_per_s``
            = frames encoded / (wall_s - startup_s), the rate a long corpus approaches.
        setup: how it ran (scorer, workers, cluster resources, settings).
    """

    indexed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    stages: dict[str, dict[str, float]] = field(default_factory=dict)
    wall_s: float = 0.0
    startup_s: float = 0.0
    setup: dict[str, Any] = field(default_factory=dict)

    @property
    def frames_encoded(self) -> int:
        return int(sum(v.get("frames_encoded", 0) for v in self.indexed))

    @property
    def frames_per_s(self) -> float:
        return self.frames_encoded / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def steady_frames_per_s(self) -> float:
        steady = self.wall_s - self.startup_s
        return self.frames_encoded / steady if steady > 0 else 0.0

    def add_stage(self, name: str, frames: int, busy_s: float) -> None:
        self.stages[name] = {
            "frames": int(frames),
            "busy_s": round(float(busy_s), 3),
            "frames_per_busy_s": round(frames / busy_s, 2) if busy_s > 0 else 0.0,
        }

    def to_json(self) -> dict[str, Any]:
        return {
            "videos": len(self.indexed) + len(self.skipped) + len(self.failed),
            "indexed": self.indexed,
            "skipped": self.skipped,
            "failed": self.failed,
            "frames_encoded": self.frames_encoded,
            "wall_s": round(self.wall_s, 3),
            "frames_per_s": round(self.frames_per_s, 2),
            "startup_s": round(self.startup_s, 3),
            "steady_frames_per_s": round(self.steady_frames_per_s, 2),
            "stages": self.stages,
            "setup": self.setup,
        }

    def write(self, path: str | Path) -> Path:
        """Write the report as JSON (atomically); returns the path."""
        from clamr_frames._fs import atomic_write_bytes

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, json.dumps(self.to_json(), indent=1).encode())
        return path

    def summary(self) -> str:
        """One line: counts, time and throughput."""
        n = len(self.indexed) + len(self.skipped) + len(self.failed)
        return (f"{n} videos: {len(self.indexed)} indexed, {len(self.skipped)} already indexed, "
                f"{len(self.failed)} failed; {self.frames_encoded} frames encoded in {self.wall_s:.1f} s "
                f"({self.frames_per_s:.1f} frames/s)")


def unique_jobs(jobs: Sequence[VideoJob]) -> list[VideoJob]:
    """``jobs`` without repeats of the same (video, subtitles, options), first occurrence kept."""
    seen: set[str] = set()
    out = []
    for j in jobs:
        key = json.dumps([j.video, j.subtitles, j.options], sort_keys=True, default=str)
        if key not in seen:
            seen.add(key)
            out.append(j)
    return out


def index_locally(
    jobs: Sequence[VideoJob],
    encoder: "Encoder",
    *,
    settings: "IndexSettings | None" = None,
    ocr: bool | None = None,
    store: "IndexStore | None" = None,
    filesystem: Any = None,
    progress: bool = True,
    asr: str = "subtitles",
    asr_settings: Any = None,
) -> CorpusReport:
    """Index ``jobs`` one after another in this process (the reference the Ray pipeline is checked against).

    A video that fails is reported with its reason and the others go on. ``asr`` / ``asr_settings``: where the
    ASR context comes from (the context plan, :func:`clamr_frames.index.plan.plan_context`; the default
    ``subtitles`` reads only the jobs' subtitle files, as the Ray pipeline does; ``auto`` transcribes videos that
    have none, before indexing them, cached under ``<store root>/asr``). ``ocr``: OCR context for every video (a
    job's ``ocr`` option overrides it); None: on where the encoder reads OCR text
    (:func:`clamr_frames.index.plan.resolve_ocr`).
    """
    from clamr_frames.index.builder import IndexSettings, build_index
    from clamr_frames.index.plan import OcrEngines, plan_context, resolve_ocr
    from clamr_frames.index.store import IndexStore

    settings = settings or IndexSettings()
    store = store or IndexStore()
    store.make_directory(store.root)  # an unusable store fails the corpus here, once, not every video
    ocr = resolve_ocr(ocr, bool(getattr(encoder, "uses_ocr", False)))
    report = CorpusReport(setup={"runner": "local", "settings": dataclasses.asdict(settings), "ocr": ocr})
    engines = OcrEngines()  # one OCR engine for the whole run (its models loaded once)
    t0 = time.perf_counter()
    for job in unique_jobs(jobs):
        counting = _Counting(encoder)
        try:
            s = job.settings(settings)
            with local_copy(job.video, filesystem) as video, local_copy(job.subtitles, filesystem) as subs:
                plan = plan_context(video, subs, asr=asr, asr_settings=asr_settings, ocr=job.ocr(ocr),
                                    store_root=store.root, stream=False, ocr_engines=engines, progress=progress)
                idx = build_index(video, counting, **plan.build_kwargs(counting.uses_image), settings=s,
                                  store=store, progress=progress)
        except IndexCacheError:  # the store (not this video) is unusable: every later video would fail the same way
            raise
        except ClamrFramesError as e:
            report.failed.append({"video": job.name, "reason": str(e)})
            continue
        entry = {"video": job.name, "index": str(idx.path), "candidates": idx.num_candidates}
        if counting.count:
            report.indexed.append({**entry, "frames_encoded": counting.count})
        else:
            report.skipped.append(entry)
    report.wall_s = time.perf_counter() - t0
    report.add_stage("build", report.frames_encoded, report.wall_s)
    return report


class _Counting:
    """Proxy of an encoder that counts the documents it encodes."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def encode_documents(self, docs):
        self.count += len(docs)
        return self._inner.encode_documents(docs)

    def encode_video_documents(self, docs, path):
        self.count += len(docs)
        return self._inner.encode_video_documents(docs, path)


__all__ = [
    "CorpusReport",
    "VideoJob",
    "index_locally",
    "is_uri",
    "jobs_from_paths",
    "local_copy",
    "open_input",
    "read_manifest",
    "unique_jobs",
]
