"""Build (or load) the index of one video: decode candidates, attach ASR / OCR context, encode, store."""

from __future__ import annotations

import os
import shutil
import warnings
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clamr_frames.encoders.base import DocEmbeddings, Document
from clamr_frames.errors import IndexCacheError, InputError
from clamr_frames.index.store import (
    FORMAT_VERSION,
    IndexStore,
    VideoIndex,
    chunk_ranges,
    index_key,
    video_fingerprint,
)

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.context.shots import PriorBuilder
    from clamr_frames.encoders.base import Encoder
    from clamr_frames.index.pipeline import CueSource, PipelineStats

#: A stateful OCR pass over the candidates, called chunk by chunk in time order:
#: (timestamps [n], frames: n arrays [H, W, 3] or None where a frame did not decode) -> one text per frame.
OcrFn = Callable[[np.ndarray, list["np.ndarray | None"]], list[str]]


@dataclass(frozen=True)
class IndexSettings:
    """Everything besides the video and the encoder that changes an index.

    Attributes:
        fps: candidate frames per second (ignored when ``num_frames`` is set).
        num_frames: take this many evenly spaced candidates instead (lmms-eval's uniform grid).
        max_side: downscale decoded frames so the longer side is at most this (the encoder resizes anyway).
        asr_before / asr_after: seconds of subtitles around each candidate that form its ASR context. The
            default 0 gives each frame the line on screen at its timestamp (as CLaMR's Video-MME runs align one
            subtitle line per frame); a wider window adds neighbouring lines, but then frames seconds away from
            the line score the same as frames during it.
        asr_max_words: cap on the ASR context (words farthest from the frame are dropped first).
        chunk_size: candidates per stored part (the unit of resuming).
        backend: video backend ("auto", "decord", "pyav").
        compression: None (fp16 tokens) or a spec of :func:`clamr_frames.index.codecs.parse_compression`
            (``"int8"``, ``"binary"``, ``"pool"``, ``"pool+int8"``, ...). Part of the index key: an index with
            another compression is a different index.
        visual_prior: compute the visual prior (shots and novelty, :mod:`clamr_frames.context.shots`) from the
            decoded candidates and store it with the index (the ``coverage`` and ``gated`` policies use it). For
            a text-only encoder without OCR, which decodes no frame, it is computed (decoding the candidates
            with PyAV) when a policy first needs it (:mod:`clamr_frames.index.prior`). Not part of the index key.
    """

    fps: float = 1.0
    num_frames: int | None = None
    max_side: int | None = 448
    asr_before: float = 0.0
    asr_after: float = 0.0
    asr_max_words: int | None = 64
    chunk_size: int = 64
    backend: str = "auto"
    compression: str | None = None
    visual_prior: bool = True

    def __post_init__(self) -> None:
        from clamr_frames.index.codecs import parse_compression

        spec = parse_compression(self.compression)  # raises InputError on an unknown spec
        object.__setattr__(self, "compression", spec.name if spec is not None else None)
        if self.num_frames is None and not (self.fps > 0):
            raise InputError(f"fps must be > 0, got {self.fps}")
        if self.num_frames is not None and self.num_frames < 1:
            raise InputError(f"num_frames must be >= 1, got {self.num_frames}")
        if self.chunk_size < 1:
            raise InputError(f"chunk_size must be >= 1, got {self.chunk_size}")


def asr_source_of(subtitles: Any) -> str:
    """The ASR source an index built on ``subtitles`` records: ``none``, ``subtitles``, or what the object says
    (a :class:`~clamr_frames.context.asr.Transcript` says ``whisper:<model>``)."""
    if subtitles is None:
        return "none"
    return str(getattr(subtitles, "asr_source", None) or "subtitles")


def _subtitle_state(subtitles: Any) -> tuple[list, str | None]:
    """Cues and a content hash of the subtitles argument (a path, a Subtitles object, a Transcript, cues, or
    None)."""
    import hashlib
    import json

    from clamr_frames.context.subtitles import Cue, load_subtitles

    if subtitles is None:
        return [], None
    if isinstance(subtitles, (str, Path)):
        subtitles = load_subtitles(subtitles)
    cues = list(getattr(subtitles, "cues", subtitles))
    if not all(isinstance(c, Cue) for c in cues):
        raise InputError("subtitles must be a path, a Subtitles object or a list of Cue")
    blob = json.dumps([[c.start, c.end, c.text] for c in cues])
    return cues, hashlib.sha256(blob.encode()).hexdigest()


def subtitles_digest(subtitles: Any) -> str | None:
    """sha256 of the cues a subtitles argument holds (a path, a Subtitles object or cues; None for None): the
    key under which an index remembers its ASR context."""
    return _subtitle_state(subtitles)[1]


@dataclass
class IndexPlan:
    """Everything an index build knows before it encodes a frame (see :func:`plan_index`).

    Attributes:
        video: the local video file that is read.
        spec: what the index depends on (its hash names ``directory``).
        directory: the index's directory in the store.
        manifest: the manifest written before encoding ("partial"; the OCR text is added when complete).
        frame_idx / timestamps: native index and seconds of each candidate.
        asr: each candidate's ASR context (None while a cue source is still producing the cues).
        ranges: ``(start, end)`` candidates of each stored part.
    """

    video: Path
    spec: dict[str, Any]
    directory: Path
    manifest: dict[str, Any]
    frame_idx: np.ndarray
    timestamps: np.ndarray
    asr: list[str] | None
    ranges: list[tuple[int, int]]
    cues: list[Any] | None = None  # the cue source's cues, once it has finished


def plan_index(
    reader: Any,
    encoder: Any,
    *,
    subtitles: Any = None,
    ocr_id: str | None = None,
    settings: IndexSettings,
    store: IndexStore,
    source: str | None = None,
    cues_key: str | None = None,
) -> IndexPlan:
    """Candidates, ASR context, spec and store directory of the index of ``reader``'s video.

    Args:
        reader: an open :class:`~clamr_frames.video.VideoReader`.
        encoder: the encoder, or anything with its ``encoder_id``, ``config`` and ``source`` (the weights are not
            needed: the Ray pipeline passes an ``EncoderIdentity``; what the manifest takes from the encoder must be
            on it too).
        subtitles: as :func:`build_index` takes them.
        ocr_id: the OCR pass's id, or None without OCR.
        source: the video's name as the user gave it (a URI for a copied remote file); default the local path.
        cues_key: the key of a cue source that runs during the build (``build_index(cues=...)``) instead of
            ``subtitles``: it names the ASR context in the spec, and ``plan.asr`` stays None until the cues exist.
    """
    from clamr_frames.context.subtitles import asr_contexts
    from clamr_frames.index.codecs import parse_compression
    from clamr_frames.video import FRAME_RULES

    video = Path(reader.metadata.path)
    if cues_key is not None and subtitles is not None:
        raise InputError("build_index: give subtitles or a cue source (cues=...), not both")
    cues, subs_hash = _subtitle_state(subtitles)
    meta = reader.metadata
    frame_idx, timestamps = reader.candidate_indices(fps=settings.fps, num_frames=settings.num_frames)
    frame_idx = np.asarray(frame_idx, dtype=np.int64)
    timestamps = np.asarray(timestamps, dtype=np.float64)
    spec = {
        "format": FORMAT_VERSION,
        "video": video_fingerprint(video),
        "encoder_id": encoder.encoder_id,
        "encoder_config": encoder.config,
        "sampling": {"fps": settings.fps, "num_frames": settings.num_frames, "max_side": settings.max_side},
        "frames": FRAME_RULES,  # which frame an index and a timestamp name: indexes from other rules are stale
        "asr": {
            "source": asr_source_of(subtitles),
            "subtitles": subs_hash,
            "before": settings.asr_before,
            "after": settings.asr_after,
            "max_words": settings.asr_max_words,
        },
        "ocr": ocr_id,
    }
    if cues_key is not None:  # absent otherwise, so existing indexes keep their keys
        spec["asr"]["cues"] = cues_key
    compression = parse_compression(settings.compression)
    if compression is not None:  # absent for fp16, so plain indexes keep their keys
        spec["compression"] = compression.to_json()
    name = Path(source).stem if source else video.stem
    directory = store.directory(name, index_key(spec))
    asr: list[str] | None = (
        None
        if cues_key is not None
        else asr_contexts(
            cues, timestamps, before=settings.asr_before, after=settings.asr_after, max_words=settings.asr_max_words
        )
        if cues
        else [""] * len(timestamps)
    )
    manifest = {
        "format": FORMAT_VERSION,
        "status": "partial",
        "spec": spec,
        "video_path": source or str(video.resolve()),
        "video_meta": {k: v for k, v in asdict(meta).items() if k != "path"},
        "encoder_source": _scalars(getattr(encoder, "source", None)),
        "settings": asdict(settings),
        "timestamps": timestamps.tolist(),
        "frame_indices": frame_idx.tolist(),
        "asr": asr,
    }
    ranges = list(chunk_ranges(len(timestamps), settings.chunk_size))
    return IndexPlan(video, spec, directory, manifest, frame_idx, timestamps, asr, ranges)


def _scalars(source: Any) -> dict[str, Any]:
    """The JSON scalars of an encoder's ``source`` (where its weights came from: paths, Hub ids, the revision asked
    for and the commit it resolved to), for the manifest; not part of the index key, which the weights'
    fingerprint in ``encoder_id`` already covers."""
    if not isinstance(source, dict):
        return {}
    return {str(k): v for k, v in source.items() if isinstance(v, (str, int, float, bool)) or v is None}


def build_index(
    video: str | Path,
    encoder: "Encoder",
    *,
    subtitles: Any = None,
    ocr: OcrFn | None = None,
    ocr_id: str | None = None,
    settings: IndexSettings | None = None,
    store: IndexStore | None = None,
    progress: bool = True,
    cues: "CueSource | None" = None,
    stats: "PipelineStats | None" = None,
    torch_threads: int | None = None,
) -> VideoIndex:
    """Return the index of ``video`` for ``encoder``, building it (or the missing parts of it) if needed.

    Decoding, OCR, the cue source and encoding run at the same time, connected by bounded queues (see
    :mod:`clamr_frames.index.pipeline`); memory does not grow with the video's length.

    Args:
        video: path of the video file.
        encoder: any :class:`~clamr_frames.encoders.base.Encoder`.
        subtitles: .srt / .vtt / LongVideoBench .json path, a ``Subtitles`` object, a speech-recognition
            ``Transcript`` (:mod:`clamr_frames.context.asr`), a list of ``Cue``, or None (ASR context empty). The
            manifest records which source it was (``asr.source``), and another source builds another index.
        ocr: a stateful OCR pass (see ``OcrFn``); None means no OCR context.
        ocr_id: name + settings of the OCR pass, part of the index key (required with ``ocr``).
        settings: sampling and context knobs.
        store: where indexes live (default: the user cache directory or ``$CLAMR_FRAMES_CACHE``).
        progress: show a progress bar (frames indexed, and each stage's rate).
        cues: a :class:`~clamr_frames.index.pipeline.CueSource` (speech recognition of the soundtrack,
            :class:`~clamr_frames.context.asr.WhisperCues`) run alongside decoding and OCR; each part's ASR context
            is taken from its cues once they cover the part. Instead of ``subtitles``. The finished index is
            stored as if its cues (the source's ``subtitles``, e.g. the transcript) had been given as subtitles,
            so either way of building finds the other's index.
        stats: a :class:`~clamr_frames.index.pipeline.PipelineStats` to fill with each stage's work.
        torch_threads: torch's intra-op threads while encoding (restored afterwards); None leaves them.

    Raises:
        VideoError: the video cannot be read.
        SubtitleError: the subtitle file cannot be read.
    """
    from clamr_frames.context.shots import PriorBuilder
    from clamr_frames.index.prior import ensure_prior
    from clamr_frames.video import VideoReader

    settings = settings or IndexSettings()
    store = store or IndexStore()
    if ocr is not None and not ocr_id:
        raise InputError("build_index: pass ocr_id (the OCR engine and its settings) together with ocr")
    if cues is not None and subtitles is not None:
        raise InputError("build_index: give subtitles or a cue source (cues=...), not both")
    known = _cues_ready(cues)
    if known is not None:  # the cues exist already (a cached transcript): a plain build on them
        subtitles, cues = known, None
    ocr_key = ocr_id if ocr is not None else None
    with VideoReader(Path(video), backend=settings.backend) as reader:
        plan = plan_index(reader, encoder, subtitles=subtitles, ocr_id=ocr_key, settings=settings, store=store,
                          cues_key=cues.key if cues is not None else None)
        with store.lock(plan.directory):
            known = _cues_ready(cues)
            if known is None:  # (else another process finished the cues while this one waited for the lock)
                index = load_verified(store, plan)
                prior = None
                if index is None:
                    store.write_manifest(plan.directory, plan.manifest)
                    prior = PriorBuilder() if settings.visual_prior else None
                    with _torch_threads(torch_threads):
                        ocr_text = _encode_parts(reader, encoder, store, plan, ocr, settings, progress, cues, stats,
                                                 prior)
                    if cues is not None:
                        done = getattr(cues, "subtitles", None)  # (a transcript of silence is empty: not falsy)
                        final = plan_index(reader, encoder, subtitles=done if done is not None else plan.cues,
                                           ocr_id=ocr_key, settings=settings, store=store)
                        index = _promote(store, plan, final, settings, ocr_text, prior, progress)
                        shutil.rmtree(plan.directory, ignore_errors=True)
                        return index
                    index = finish_index(store, plan, settings, ocr_text)
                # the prior from the frames this build decoded, if it decoded them all (no builder without
                # settings.visual_prior); else it comes when a policy needs it
                return ensure_prior(index, store, plan.video, settings, prior, decode=False, progress=progress)
    return build_index(video, encoder, subtitles=known, ocr=ocr, ocr_id=ocr_id, settings=settings, store=store,
                       progress=progress, stats=stats, torch_threads=torch_threads)


def _cues_ready(cues: "CueSource | None") -> Any:
    """A cue source's final cues when they are known without running it (``ready()``), else None."""
    ready = getattr(cues, "ready", None)
    return ready() if callable(ready) else None


def _promote(
    store: IndexStore,
    built: IndexPlan,
    final: IndexPlan,
    settings: IndexSettings,
    ocr_text: list[str],
    prior: "PriorBuilder | None",
    progress: bool,
) -> VideoIndex:
    """Store an index built with a cue source under the key the same cues give as subtitles (its parts move
    there), so that an index built either way finds the other: the key of an index holds its transcript's
    content, which was not known when the build began."""
    from clamr_frames.index.prior import ensure_prior

    if final.asr != built.asr:  # each part took the cues that covered it: they must be the final cues
        raise IndexCacheError(final.directory, "the ASR context of the encoded parts differs from the final cues'")
    with store.lock(final.directory):
        index = load_verified(store, final)
        if index is None:  # (else built meanwhile by another process)
            store.write_manifest(final.directory, final.manifest)
            for part in range(len(final.ranges)):
                os.replace(store.part_path(built.directory, part), store.part_path(final.directory, part))
            index = finish_index(store, final, settings, ocr_text)
        return ensure_prior(index, store, final.video, settings, prior, decode=False, progress=progress)


def load_verified(store: IndexStore, plan: IndexPlan) -> VideoIndex | None:
    """The plan's complete, checksum-verified index, or None; a corrupt or foreign one is removed with a warning.

    Call it holding ``store.lock(plan.directory)``.
    """
    return _load_or_discard(store, plan.directory, plan.spec)


def finish_index(
    store: IndexStore, plan: IndexPlan, settings: IndexSettings, ocr_text: list[str] | None = None
) -> VideoIndex:
    """Merge the plan's parts (all on disk) into the index, mark it complete, and load it back verified.

    Args:
        ocr_text: every candidate's OCR text; None reads it from the parts (when they were written elsewhere).

    Raises:
        IndexCacheError: a part is missing or unreadable.
    """
    from clamr_frames.index.codecs import parse_compression

    if ocr_text is None:
        ocr_text = []
        for part, (s, e) in enumerate(plan.ranges):
            got = store.read_part(plan.directory, part, e - s)
            if got is None:
                raise IndexCacheError(store.part_path(plan.directory, part), "missing or unreadable part")
            ocr_text += got[1]
            del got
    if plan.asr is None:
        raise InputError("finish_index: the plan's ASR context is not known yet (its cue source has not finished)")
    manifest = dict(plan.manifest, ocr=ocr_text, asr=plan.asr)
    store.finalize(plan.directory, manifest, len(plan.ranges), parse_compression(settings.compression))
    index = store.load(plan.directory, plan.spec)
    assert index is not None
    return index


def _load_or_discard(store: IndexStore, directory: Path, spec: dict[str, Any]) -> VideoIndex | None:
    """A matching complete index, or None; a corrupt or foreign one is removed with a warning."""
    try:
        return store.load(directory, spec)
    except IndexCacheError as e:
        warnings.warn(f"discarding unusable index and rebuilding: {e}", stacklevel=3)
        shutil.rmtree(directory, ignore_errors=True)
        store.make_directory(directory)
        return None


def _encode_parts(
    reader: Any,
    encoder: "Encoder",
    store: IndexStore,
    plan: IndexPlan,
    ocr: OcrFn | None,
    settings: IndexSettings,
    progress: bool,
    cues: "CueSource | None" = None,
    stats: "PipelineStats | None" = None,
    prior: "PriorBuilder | None" = None,
) -> list[str]:
    """Encode the parts not on disk yet, through the pipeline; return every candidate's OCR text.

    ``prior`` gets every decoded part's frames (in time order, on the decode stage's thread) when the encoder or
    OCR needs them decoded.

    Embeddings go to disk part by part and are not kept: memory does not grow with the video's length. With a
    cue source, ``plan.asr`` is filled from its cues at the end.
    """
    from tqdm.auto import tqdm

    from clamr_frames.context.subtitles import asr_contexts
    from clamr_frames.index.pipeline import PartJob, PipelineStats, run_parts

    if not plan.ranges:
        raise InputError(f"{reader.metadata.path}: no candidate frames to index")
    done: dict[int, list[str]] = {}
    for part, (s, e) in enumerate(plan.ranges):
        got = store.read_part(plan.directory, part, e - s)
        if got is not None:
            done[part] = got[1]
        del got
    stats = stats if stats is not None else PipelineStats()
    bar = tqdm(total=len(plan.timestamps), desc=f"indexing {Path(reader.metadata.path).name}", unit="frame",
               disable=not progress)
    bar.update(sum(e - s for p, (s, e) in enumerate(plan.ranges) if p in done))

    def asr_for(got: Any, s: int, e: int) -> list[str]:
        if got is None:
            return plan.asr[s:e]  # type: ignore[index]
        return asr_contexts(got, plan.timestamps[s:e], before=settings.asr_before, after=settings.asr_after,
                            max_words=settings.asr_max_words)

    def sink(part: int, emb: DocEmbeddings, ocr_text: list[str]) -> None:
        store.write_part(plan.directory, part, emb, ocr_text)
        done[part] = ocr_text

    def shown(n: int, st: PipelineStats) -> None:
        bar.set_postfix_str(st.line(), refresh=False)
        bar.update(n)

    need_pixels = bool(encoder.uses_image or ocr is not None)
    frames_for = _frame_source(reader, plan.frame_idx, plan.ranges, set(done), settings) if need_pixels else None
    if frames_for is not None and prior is not None:  # else the prior decodes on its own, faster (index/prior.py)
        frames_for = _feeding_prior(frames_for, prior, plan)
    job = PartJob(
        timestamps=plan.timestamps,
        ranges=plan.ranges,
        skip=set(done),
        uses_image=bool(encoder.uses_image),
        frames_for=frames_for,
        ocr=ocr,
        asr_for=asr_for,
        asr_after=settings.asr_after,
    )
    try:
        all_cues = run_parts(job, lambda docs: encode_part(encoder, docs, reader.metadata.path), sink, cues=cues,
                             stats=stats, progress=shown)
    finally:
        bar.close()
    if all_cues is not None:
        plan.cues = all_cues
        plan.asr = asr_for(all_cues, 0, len(plan.timestamps))
    return [t for p in range(len(plan.ranges)) for t in done[p]]


def _feeding_prior(
    frames_for: Callable[[int], list["np.ndarray | None"]], prior: "PriorBuilder", plan: IndexPlan
) -> Callable[[int], list["np.ndarray | None"]]:
    """``frames_for`` that also hands each part's frames to the visual prior (the decode stage asks in time order)."""

    def fetch(part: int) -> list["np.ndarray | None"]:
        frames = frames_for(part)
        s, e = plan.ranges[part]
        prior.add(plan.timestamps[s:e], frames)
        return frames

    return fetch


class _torch_threads:
    """Set torch's intra-op threads for a block and restore them (no-op for None or without torch loaded)."""

    def __init__(self, n: int | None) -> None:
        self.n, self.old = n, None

    def __enter__(self) -> None:
        if self.n is not None:
            import torch

            self.old = torch.get_num_threads()
            torch.set_num_threads(max(1, int(self.n)))

    def __exit__(self, *exc: Any) -> None:
        if self.old is not None:
            import torch

            torch.set_num_threads(self.old)


def part_documents(
    reader: Any,
    plan: IndexPlan,
    uses_image: bool,
    ocr: OcrFn | None,
    settings: IndexSettings,
    skip: set[int] | frozenset[int] = frozenset(),
) -> Iterator[tuple[int, list[Document], list[str]]]:
    """The context stage: ``(part, documents, OCR texts)`` of every part not in ``skip``, in time order.

    Decodes the candidates (only when the encoder or OCR needs pixels) and attaches each one's ASR and OCR
    context; documents carry the frame only when ``uses_image``.

    Raises:
        InputError: the video has no candidate frames.
    """
    from clamr_frames.index.pipeline import decode_parts, part_docs

    if not plan.ranges:
        raise InputError(f"{reader.metadata.path}: no candidate frames to index")
    if plan.asr is None:
        raise InputError("part_documents: the plan's ASR context comes from a cue source; use build_index(cues=...)")
    need_pixels = bool(uses_image or ocr is not None)
    frames_for = _frame_source(reader, plan.frame_idx, plan.ranges, skip, settings) if need_pixels else None
    # The OCR pass is stateful (it skips frames that did not change): parts are visited in time order, and
    # after a resume its chain simply restarts at the first missing part.
    for part, frames in decode_parts(frames_for, plan.ranges, skip):
        s, e = plan.ranges[part]
        ocr_text = ocr(plan.timestamps[s:e], frames) if ocr is not None else [""] * (e - s)
        docs = part_docs(plan.timestamps, (s, e), frames, plan.asr[s:e], ocr_text, uses_image)
        yield part, docs, ocr_text
        del frames, docs


def encode_part(encoder: "Encoder", docs: list[Document], video_path: str | Path) -> DocEmbeddings:
    """The encode stage: one part's documents → embeddings.

    Encoders with an audio channel (LanguageBind V+A) read the soundtrack around each frame themselves, from
    ``video_path``.
    """
    encode_av = getattr(encoder, "encode_video_documents", None) if getattr(encoder, "uses_audio", False) else None
    return encode_av(docs, video_path) if encode_av else encoder.encode_documents(docs)


def _frame_source(
    reader: Any,
    frame_idx: np.ndarray,
    ranges: list[tuple[int, int]],
    done: "set[int] | frozenset[int]",
    settings: IndexSettings,
) -> Callable[[int], list["np.ndarray | None"]]:
    """Frames of a part, one per candidate (None where the frame did not decode).

    Streams in order on a fresh build and fetches by index when resuming. Matching is by native frame
    index, so a chunk that lost undecodable frames cannot shift later frames onto wrong candidates.
    """
    if done:

        def fetch(part: int) -> list["np.ndarray | None"]:
            want = frame_idx[ranges[part][0] : ranges[part][1]]
            got = reader.get_frames(want, max_side=settings.max_side)
            return _match(want, got.indices, got.frames)

        return fetch
    stream: Iterator[Any] = reader.iter_candidates(
        fps=settings.fps, num_frames=settings.num_frames, max_side=settings.max_side, chunk_size=settings.chunk_size
    )
    buffer: dict[int, np.ndarray] = {}

    def next_part(part: int) -> list["np.ndarray | None"]:
        want = frame_idx[ranges[part][0] : ranges[part][1]]
        last = int(want[-1])
        while not buffer or max(buffer) < last:
            chunk = next(stream, None)
            if chunk is None:
                break
            buffer.update(zip((int(i) for i in chunk.indices), chunk.frames))
        out = [buffer.pop(int(i), None) for i in want]
        for i in [i for i in buffer if i <= last]:
            del buffer[i]
        return out

    return next_part


def _match(want: np.ndarray, indices: np.ndarray, frames: np.ndarray) -> list["np.ndarray | None"]:
    by_index = dict(zip((int(i) for i in indices), frames))
    return [by_index.get(int(i)) for i in want]
