"""From examples to per-frame documents: candidates, their ASR / OCR context, positives and hard negatives.

A video's candidate frames, and each candidate's ASR context, are computed exactly as the index builder does for
inference (:class:`~clamr_frames.index.builder.IndexSettings`: candidates every ``1 / fps`` seconds from the
container's timestamps, subtitle words within ``asr_before`` / ``asr_after`` seconds, at most ``asr_max_words``),
so a model is trained on the documents it will later score. A training document is one candidate frame (its pixels
when the model looks at images) with that context; the model's own preparation code (tokeniser, chat template,
image processor) turns documents and queries into tensors (:mod:`clamr_frames.train.models`).

Per example and epoch, a seeded generator (``seed``, ``epoch``, example index) draws the query phrasing, the
positive candidate (one inside an evidence span) and the hard negatives (the example's explicit negatives first,
then candidates of the same video at least ``negative_margin`` seconds away from every evidence span), so a run is
reproducible and a resumed run sees the same batches.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, Sequence

import numpy as np

from clamr_frames.encoders.base import Document
from clamr_frames.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.train.data import Example


class VideoSource(Protocol):
    """Where candidate timestamps and pixels come from (default: :class:`ReaderSource`)."""

    def candidates(self, video: Path) -> tuple[np.ndarray, np.ndarray, float]:
        """``(frame indices, timestamps in seconds, duration)`` of the candidate frames."""
        ...

    def frames(self, video: Path, frame_indices: Sequence[int]) -> list["np.ndarray | None"]:
        """uint8 RGB frames for the given native frame indices (None where one does not decode)."""
        ...


class ReaderSource:
    """Candidates and frames through the library's :class:`~clamr_frames.video.VideoReader` (as inference)."""

    def __init__(self, settings: "IndexSettings"):
        self.settings = settings

    def candidates(self, video: Path) -> tuple[np.ndarray, np.ndarray, float]:
        from clamr_frames.video import VideoReader

        s = self.settings
        with VideoReader(video, backend=s.backend) as reader:
            idx, ts = reader.candidate_indices(fps=s.fps, num_frames=s.num_frames)
            duration = float(reader.metadata.duration)
        return np.asarray(idx, dtype=np.int64), np.asarray(ts, dtype=np.float64), duration

    def frames(self, video: Path, frame_indices: Sequence[int]) -> list["np.ndarray | None"]:
        from clamr_frames.video import VideoReader

        want = [int(i) for i in frame_indices]
        with VideoReader(video, backend=self.settings.backend) as reader:
            got = reader.get_frames(np.asarray(sorted(set(want)), dtype=np.int64), max_side=self.settings.max_side)
        by_index = dict(zip((int(i) for i in got.indices), got.frames))
        return [by_index.get(i) for i in want]


class SyntheticSource:
    """Candidates and frames of generated videos rendered by :class:`~clamr_frames.synth.SyntheticScene`.

    For examples built by :func:`~clamr_frames.train.builders.examples_from_synthetic` (their ``meta["synthetic"]``
    holds the scene): the frames are the generator's own pixels (before compression), nothing is decoded, so
    training on generated data is fast. Candidates follow :class:`~clamr_frames.video.VideoReader`'s sampling
    rules (its own functions, applied to the rendered frames' times).
    Examples without scene metadata fall back to ``fallback`` (a :class:`ReaderSource`).
    """

    def __init__(self, settings: "IndexSettings", fallback: VideoSource | None = None):
        self.settings = settings
        self.fallback = fallback if fallback is not None else ReaderSource(settings)
        self._scenes: dict[str, Any] = {}
        self._meta: dict[str, dict[str, Any]] = {}

    def register(self, ex: "Example") -> bool:
        """Remember the scene of ``ex`` (True if it has one)."""
        meta = ex.meta.get("synthetic") if isinstance(ex.meta, dict) else None
        if meta:
            self._meta[str(ex.video)] = meta
        return bool(meta)

    def _scene(self, video: Path) -> Any:
        key = str(video)
        scene = self._scenes.get(key)
        if scene is None:
            from clamr_frames.synth import Needle, SyntheticScene

            m = self._meta[key]
            needles = [Needle(n[0], float(n[1]), float(n[2]), n[3], n[4], tuple(tuple(d) for d in n[5]))
                       for n in m["needles"]]
            scene = SyntheticScene(seed=int(m["seed"]), duration=float(m["duration"]), fps=float(m["fps"]),
                                   width=int(m["width"]), height=int(m["height"]), needles=needles)
            self._scenes[key] = scene
        return scene

    def candidates(self, video: Path) -> tuple[np.ndarray, np.ndarray, float]:
        if str(video) not in self._meta:
            return self.fallback.candidates(video)
        from clamr_frames.video.reader import nearest_frames, sample_times

        scene = self._scene(video)
        native = scene.timestamps  # i / fps: what the container of a generated constant-rate video holds
        s = self.settings
        n = len(native)
        if s.num_frames is not None:  # the reader's rules, applied to the rendered frame times
            idx = np.arange(n) if s.num_frames >= n else np.linspace(0, n - 1, int(s.num_frames), dtype=int)
        else:
            idx = nearest_frames(native, sample_times(float(scene.duration), float(s.fps)))
        idx = np.asarray(idx, dtype=np.int64)
        return idx, native[idx], float(scene.duration)

    def frames(self, video: Path, frame_indices: Sequence[int]) -> list["np.ndarray | None"]:
        if str(video) not in self._meta:
            return self.fallback.frames(video, frame_indices)
        scene = self._scene(video)
        out = []
        for i in frame_indices:
            frame = scene.render_frame(float(scene.timestamps[int(i)]))
            out.append(_downscale(frame, self.settings.max_side))
        return out


def _downscale(frame: np.ndarray, max_side: int | None) -> np.ndarray:
    """Shrink so the longer side is at most ``max_side`` (as the reader's ``max_side`` does)."""
    if max_side is None or max(frame.shape[:2]) <= max_side:
        return frame
    from PIL import Image

    h, w = frame.shape[:2]
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.asarray(Image.fromarray(frame).resize(size, Image.BILINEAR))


@dataclass
class VideoContext:
    """The candidates of one video and their context."""

    frame_indices: np.ndarray
    timestamps: np.ndarray
    asr: list[str]
    ocr: list[str]
    duration: float

    def __len__(self) -> int:
        return int(len(self.timestamps))


def _ocr_cues(ocr: Any) -> list[Any]:
    from clamr_frames.context.subtitles import Cue, load_subtitles

    if ocr is None:
        return []
    if isinstance(ocr, (str, Path)):
        return list(load_subtitles(ocr).cues)
    return [Cue(float(a), float(b), str(t)) for a, b, t in ocr]


class ContextProvider:
    """Per-video candidates with ASR and OCR context, computed once and cached (LRU, thread-safe)."""

    def __init__(self, settings: "IndexSettings", source: VideoSource | None = None, cache_size: int = 256):
        self.settings = settings
        self.source = source if source is not None else ReaderSource(settings)
        self.cache_size = int(cache_size)
        self._cache: OrderedDict[Any, VideoContext] = OrderedDict()
        self._lock = threading.Lock()

    def context(self, ex: "Example") -> VideoContext:
        ocr_key = ex.ocr if not isinstance(ex.ocr, Path) else str(ex.ocr)
        key = (str(ex.video), str(ex.subtitles), ocr_key)
        with self._lock:
            got = self._cache.get(key)
            if got is not None:
                self._cache.move_to_end(key)
                return got
        ctx = self._build(ex)
        with self._lock:
            self._cache[key] = ctx
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return ctx

    def _build(self, ex: "Example") -> VideoContext:
        from clamr_frames.context.subtitles import asr_contexts, lines_for_timestamps, load_subtitles

        s = self.settings
        idx, ts, duration = self.source.candidates(ex.video)
        if len(ts) == 0:
            raise InputError(f"{ex.video}: no candidate frames")
        if ex.subtitles is not None:
            cues = list(load_subtitles(ex.subtitles, duration=duration).cues)
            asr = asr_contexts(cues, ts, before=s.asr_before, after=s.asr_after, max_words=s.asr_max_words)
        else:
            asr = [""] * len(ts)
        ocr_cues = _ocr_cues(ex.ocr)
        if ocr_cues:
            ocr = [" ".join(c.text for c in lines_for_timestamps(ocr_cues, [t])) for t in ts]
        else:
            ocr = [""] * len(ts)
        return VideoContext(idx, ts, asr, ocr, duration)

    def documents(self, ex: "Example", candidates: Sequence[int], with_images: bool) -> list[Document]:
        """Documents of the given candidates of ``ex``'s video (pixels only when ``with_images``)."""
        ctx = self.context(ex)
        images: list[Any] = [None] * len(candidates)
        if with_images:
            images = self.source.frames(ex.video, [int(ctx.frame_indices[c]) for c in candidates])
            missing = [int(candidates[i]) for i, im in enumerate(images) if im is None]
            if missing:
                raise InputError(f"{ex.video}: candidate frame(s) {missing[:5]} did not decode")
        return [
            Document(image=images[i], asr=ctx.asr[c], ocr=ctx.ocr[c], timestamp=float(ctx.timestamps[c]))
            for i, c in enumerate(candidates)
        ]


def positive_candidates(ts: np.ndarray, spans: Sequence[tuple[float, float]], tol: float = 1e-6) -> np.ndarray:
    """Candidates inside any span; for a span that holds none (a short span, a timestamp), its nearest candidate.

    >>> positive_candidates(np.arange(10.0), [(2.5, 4.0), (7.2, 7.2)]).tolist()
    [3, 4, 7]
    """
    hits: set[int] = set()
    for a, b in spans:
        inside = np.nonzero((ts >= a - tol) & (ts <= b + tol))[0]
        if len(inside):
            hits.update(int(i) for i in inside)
        else:
            hits.add(int(np.argmin(np.abs(ts - 0.5 * (a + b)))))
    return np.asarray(sorted(hits), dtype=np.int64)


def negative_candidates(ts: np.ndarray, spans: Sequence[tuple[float, float]], margin: float) -> np.ndarray:
    """Candidates more than ``margin`` seconds away from every span.

    >>> negative_candidates(np.arange(10.0), [(4.0, 5.0)], margin=2.0).tolist()
    [0, 1, 8, 9]
    """
    ok = np.ones(len(ts), dtype=bool)
    for a, b in spans:
        ok &= (ts < a - margin) | (ts > b + margin)
    return np.nonzero(ok)[0]


@dataclass
class RawBatch:
    """One micro-batch before tokenisation: the texts, documents and metadata of the losses.

    ``documents`` holds the positives (one per query, in query order) followed by the hard negatives;
    ``targets[i]`` is query ``i``'s positive among them.
    """

    queries: list[str]
    documents: list[Document]
    targets: list[int]
    query_modality: list[int]
    query_video: list[int]
    query_spans: list[list[tuple[float, float]]]
    doc_video: list[int]
    doc_time: list[float]
    example_ids: list[str] = field(default_factory=list)


class BatchBuilder:
    """Turns example indices into a :class:`RawBatch` (see the module docstring for the sampling)."""

    def __init__(
        self,
        examples: Sequence["Example"],
        contexts: ContextProvider,
        *,
        seed: int = 0,
        with_images: bool = True,
        hard_negatives: int = 1,
        negative_margin: float = 3.0,
    ):
        if hard_negatives < 0:
            raise InputError(f"hard_negatives must be >= 0, got {hard_negatives}")
        self.examples = list(examples)
        self.contexts = contexts
        self.seed = int(seed)
        self.with_images = bool(with_images)
        self.hard_negatives = int(hard_negatives)
        self.negative_margin = float(negative_margin)

    def rng(self, epoch: int, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, int(epoch), int(index)])

    def build(self, indices: Sequence[int], epoch: int) -> RawBatch:
        queries, targets, qmods, qvids, qspans, ids = [], [], [], [], [], []
        positives: list[tuple[Any, int]] = []
        negatives: list[tuple[Any, int]] = []
        for i in indices:
            ex = self.examples[int(i)]
            rng = self.rng(epoch, int(i))
            ctx = self.contexts.context(ex)
            queries.append(ex.queries[int(rng.integers(len(ex.queries)))])
            pos = positive_candidates(ctx.timestamps, ex.positives)
            positives.append((ex, int(pos[int(rng.integers(len(pos)))])))
            negatives.extend((ex, c) for c in self._negatives(ex, ctx, rng))
            qmods.append(ex.modality)
            qvids.append(ex.video_key)
            qspans.append(list(ex.positives))
            ids.append(ex.id)
        targets = list(range(len(positives)))
        docs: list[Document] = []
        doc_video, doc_time = [], []
        for ex, c in positives + negatives:
            docs.extend(self.contexts.documents(ex, [c], self.with_images))
            doc_video.append(ex.video_key)
            doc_time.append(docs[-1].timestamp)
        return RawBatch(queries, docs, targets, qmods, qvids, qspans, doc_video, doc_time, ids)

    def _negatives(self, ex: "Example", ctx: VideoContext, rng: np.random.Generator) -> list[int]:
        n = self.hard_negatives
        if n == 0:
            return []
        picked: list[int] = []
        if ex.negatives:
            explicit = positive_candidates(ctx.timestamps, ex.negatives)
            far = set(negative_candidates(ctx.timestamps, ex.positives, 0.0).tolist())
            explicit = np.asarray([c for c in explicit if c in far], dtype=np.int64)
            if len(explicit):
                picked = [int(c) for c in rng.permutation(explicit)[:n]]
        if len(picked) < n:
            pool = negative_candidates(ctx.timestamps, ex.positives, self.negative_margin)
            pool = np.asarray([c for c in pool if int(c) not in picked], dtype=np.int64)
            if len(pool):
                picked += [int(c) for c in rng.choice(pool, size=min(n - len(picked), len(pool)), replace=False)]
        return picked


def tensorize_meta(raw: RawBatch) -> dict[str, Any]:
    """The loss metadata of a :class:`RawBatch` as tensors (spans padded with NaN)."""
    import torch

    n_spans = max(len(s) for s in raw.query_spans) if raw.query_spans else 1
    spans = torch.full((len(raw.query_spans), n_spans, 2), float("nan"), dtype=torch.float64)
    for i, ss in enumerate(raw.query_spans):
        if ss:
            spans[i, : len(ss)] = torch.tensor(ss, dtype=torch.float64)
    return {
        "targets": torch.tensor(raw.targets, dtype=torch.int64),
        "query_modality": torch.tensor(raw.query_modality, dtype=torch.int64),
        "query_video": torch.tensor(raw.query_video, dtype=torch.int64),
        "query_spans": spans,
        "doc_video": torch.tensor(raw.doc_video, dtype=torch.int64),
        "doc_time": torch.tensor(raw.doc_time, dtype=torch.float64),
    }
