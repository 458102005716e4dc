"""Pipelined index building: decoding, OCR, speech recognition and encoding at the same time.

The index builder's stages, each usable alone (a distributed runner can put them in other processes):

- decode — :func:`decode_parts`: the candidate frames of each stored part, in time order;
- OCR — the stateful OCR pass (``clamr_frames.context.ocr.make_ocr_pass``) over each part's frames;
- cues — a :class:`CueSource` (speech recognition of the soundtrack) that publishes timed cues into a
  :class:`CueStream` while it runs; a part's ASR context is taken from the stream once the cues cover it;
- encode — ``clamr_frames.index.builder.encode_part``, then the part is written to the store.

:func:`run_parts` runs decode, OCR and the cue source in threads of their own and encodes in the calling
thread, connected by bounded queues: at most ``frame_parts`` parts of decoded frames are held at any time (a
few hundred frames, whatever the video's length). The libraries behind the heavy stages (FFmpeg, onnxruntime,
CTranslate2, torch) release Python's global lock while they compute, so the stages overlap on separate cores.
:func:`thread_plan` shares the cores between their thread pools (see there why speech recognition gets them all).
One progress bar shows every stage's rate (:class:`PipelineStats`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from clamr_frames._machine import usable_cores
from clamr_frames.errors import ClamrFramesError

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.context.subtitles import Cue
    from clamr_frames.encoders.base import DocEmbeddings, Document

#: Parts of decoded frames the pipeline holds at most (being decoded, read, queued or encoded).
FRAME_PARTS = 4
#: Parts of context (texts only: frames dropped after OCR) that may wait for the cues to catch up.
TEXT_PARTS = 32


# ------------------------------------------------------------------------------------------------
# statistics and the progress line


@dataclass
class StageStats:
    """What one stage did: ``done`` units (frames, or seconds of audio) in ``busy`` seconds of work.

    Only work the stage really did counts: a stage with nothing to do (no frame decoded when nothing needs
    pixels) is not created at all, and units it found done already (``cached``: seconds of a saved transcript
    that speech recognition resumes from) are in neither ``done`` nor ``busy``, so that no rate mixes them in.
    """

    name: str
    unit: str = "frame"
    done: float = 0.0
    busy: float = 0.0
    cached: float = 0.0

    @property
    def rate(self) -> float:
        """Units per second of the stage's own work (its capacity; the slowest stage sets the pace); 0 before
        any work."""
        return self.done / self.busy if self.busy > 0 and self.done > 0 else 0.0

    def text(self) -> str | None:
        """The stage in the progress line, or None while it has shown no work (nothing done, nothing cached).

        >>> StageStats("decode", done=620, busy=2.0).text()
        'decode 310 frame/s'
        >>> StageStats("ocr", done=3, busy=4.0).text()
        'ocr 0.8 frame/s'
        >>> StageStats("asr", "s audio", done=410.0, busy=10.0, cached=120.0).text()
        'asr 41x, 120 s cached'
        >>> StageStats("asr", "s audio", cached=600.0).text()
        'asr cached'
        >>> StageStats("decode", busy=0.5).text() is None
        True
        """
        cached = f"{self.cached:.0f} s cached" if self.unit == "s audio" else f"{self.cached:.0f} {self.unit}s cached"
        if self.rate <= 0:
            return f"{self.name} cached" if self.cached > 0 else None
        r = self.rate
        shown = f"{r:.0f}" if r >= 10 else f"{r:.1f}"
        out = f"{self.name} {shown}x" if self.unit == "s audio" else f"{self.name} {shown} {self.unit}/s"
        return f"{out}, {cached}" if self.cached > 0 else out


@dataclass
class PipelineStats:
    """Per-stage work and the wall time of one build (filled while it runs; benchmarks print it)."""

    stages: dict[str, StageStats] = field(default_factory=dict)
    wall: float = 0.0
    waited_for_cues: float = 0.0  # seconds the encoder waited for speech recognition to catch up

    def stage(self, name: str, unit: str = "frame") -> StageStats:
        if name not in self.stages:
            self.stages[name] = StageStats(name, unit)
        return self.stages[name]

    def line(self) -> str:
        """One line for the progress bar: ``decode 310 frame/s | ocr 24 frame/s | asr 41x | encode 900 frame/s``;
        a stage that has done nothing is left out (:meth:`StageStats.text`)."""
        return " | ".join(t for t in (st.text() for st in self.stages.values()) if t)

    def to_json(self) -> dict[str, Any]:
        return {
            "wall": round(self.wall, 3),
            "waited_for_cues": round(self.waited_for_cues, 3),
            "stages": {k: {"unit": s.unit, "done": round(s.done, 3), "busy": round(s.busy, 3), "cached": round(s.cached, 3)}
                       for k, s in self.stages.items()},
        }


# ------------------------------------------------------------------------------------------------
# cores


def thread_plan(*, ocr: bool, asr: bool, cores: int | None = None) -> dict[str, int]:
    """Threads for each library so that the stages running together keep the cores busy.

    OCR (onnxruntime) gets half of the cores. Speech recognition (CTranslate2) gets all of them, as parallel
    workers that transcribe separate blocks of audio (one per thread up to 4 workers, the threads split between
    them: :meth:`clamr_frames.context.asr.WhisperTranscriber.parallelism`): it is the longest stage on a
    soundtrack with speech throughout (a 1-hour video: OCR of its text regions about 40 s of one core, tiny.en
    about 180 s), so sharing the cores with OCR while OCR runs, and having them all once it is done, finishes
    sooner than a fixed split that leaves OCR's cores idle (``benchmarks/context_speed.py``). Single-threaded
    workers do not spin while they wait, so this oversubscription costs little. The encoder (torch, in the
    builder's thread, working in short bursts, mostly waiting for the cues) gets one thread then. A single
    context stage gets every core. Decoding keeps FFmpeg's own threading (a small share).

    >>> thread_plan(ocr=True, asr=True, cores=2)
    {'ocr': 1, 'asr': 2, 'torch': 1}
    >>> thread_plan(ocr=True, asr=True, cores=8)
    {'ocr': 4, 'asr': 8, 'torch': 1}
    >>> thread_plan(ocr=True, asr=False, cores=4)
    {'ocr': 4, 'asr': 0, 'torch': 1}
    """
    n = usable_cores() if cores is None else max(1, int(cores))
    if ocr and asr:
        return {"ocr": max(1, (n + 1) // 2), "asr": n, "torch": 1}
    o = n if ocr else 0
    a = n if asr else 0
    return {"ocr": o, "asr": a, "torch": max(1, n - o - a)}


# ------------------------------------------------------------------------------------------------
# cues arriving while the index is built


class CueStream:
    """Timed cues published by a running :class:`CueSource`, read by the encoder as they become final.

    The source calls :meth:`publish` with every cue so far and the time up to which they are final (speech
    recognition works in blocks: cues before the end of a finished block do not change), :meth:`finish` when it
    is done and :meth:`fail` if it fails; :meth:`wait_until` blocks until the cues cover a time.
    """

    def __init__(self, stop: threading.Event | None = None) -> None:
        self._stop = stop
        self._cond = threading.Condition()
        self._cues: list[Cue] = []
        self._until = 0.0
        self._done = False
        self._error: BaseException | None = None
        self.stats = StageStats("asr", "s audio")
        self._t0 = time.perf_counter()

    def publish(self, cues: Sequence["Cue"], until: float) -> None:
        """Every cue so far (final up to ``until`` seconds). Raises inside the source when the build stopped
        (another stage failed), so that it does not run on for nothing."""
        if self._stop is not None and self._stop.is_set():
            raise _Stopped()
        with self._cond:
            self._cues = list(cues)
            self._until = max(self._until, float(until))
            self.stats.done = max(0.0, self._until - self.stats.cached)  # recognised in this run
            if self.stats.done > 0:
                self.stats.busy = time.perf_counter() - self._t0
            self._cond.notify_all()

    def resume(self, cues: Sequence["Cue"], until: float) -> None:
        """Cues the source had before it started (a saved transcript it resumes, final up to ``until``):
        published like :meth:`publish`, but counted as cached, not as the source's work."""
        with self._cond:
            self.stats.cached = max(self.stats.cached, float(until))
        self.publish(cues, until)

    def finish(self, cues: Sequence["Cue"] | None = None) -> None:
        """The source is done; ``cues`` (if given) are all of them."""
        with self._cond:
            if cues is not None:
                self._cues = list(cues)
            self._done = True
            if self.stats.done > 0:  # (a source that only read a cache did no timed work)
                self.stats.busy = time.perf_counter() - self._t0
            self._cond.notify_all()

    def fail(self, error: BaseException) -> None:
        with self._cond:
            self._error = error
            self._done = True
            self._cond.notify_all()

    @property
    def done(self) -> bool:
        return self._done

    def wait_until(self, t: float, stop: threading.Event | None = None) -> list["Cue"]:
        """The cues once they are final up to ``t`` seconds (or the source is done).

        Raises:
            the source's own exception, if it failed.
        """
        with self._cond:
            while not (self._done or self._until >= t):
                if stop is not None and stop.is_set():
                    raise _Stopped()
                self._cond.wait(timeout=0.2)
            if self._error is not None:
                raise self._error
            return list(self._cues)

    def result(self) -> list["Cue"]:
        """Every cue, waiting for the source to finish."""
        return self.wait_until(float("inf"))


class CueSource(Protocol):
    """A producer of timed cues for one video that runs alongside decoding (speech recognition:
    :class:`clamr_frames.context.asr.WhisperCues`).

    ``key`` names the source and its settings while the index is built (the cues are not known before); ``run``
    blocks, publishing into the stream as it goes, and finishes it. Optional: ``subtitles``, what the finished
    index records as its ASR (e.g. the transcript; default the cues), and ``ready()``, the final cues when they
    are known without running (e.g. cached), else None.
    """

    key: str

    def run(self, stream: CueStream) -> None: ...


# ------------------------------------------------------------------------------------------------
# threads and queues


class _Stopped(Exception):
    """Raised in a stage thread when the pipeline is shutting down."""


_END = object()


def _put(q: queue.Queue, item: Any, stop: threading.Event) -> None:
    while True:
        if stop.is_set():
            raise _Stopped()
        try:
            q.put(item, timeout=0.2)
            return
        except queue.Full:
            continue


def _get(q: queue.Queue, stop: threading.Event) -> Any:
    while True:
        if stop.is_set():
            raise _Stopped()
        try:
            return q.get(timeout=0.2)
        except queue.Empty:
            continue


class _Stage(threading.Thread):
    """A daemon thread that runs ``fn``; an exception stops the pipeline and is re-raised by the caller."""

    def __init__(self, name: str, fn: Callable[[], None], stop: threading.Event, errors: list[BaseException]):
        super().__init__(name=f"clamr-frames-{name}", daemon=True)
        self.fn, self.stop, self.errors = fn, stop, errors

    def run(self) -> None:
        try:
            self.fn()
        except _Stopped:
            pass
        except BaseException as e:  # re-raised in the caller's thread
            self.errors.append(e)
            self.stop.set()


# ------------------------------------------------------------------------------------------------
# the stages


def decode_parts(
    frames_for: Callable[[int], list["np.ndarray | None"]] | None,
    ranges: Sequence[tuple[int, int]],
    skip: "set[int] | frozenset[int]" = frozenset(),
) -> Iterator[tuple[int, list["np.ndarray | None"]]]:
    """The decode stage: ``(part, frames)`` for every part not in ``skip``, in time order.

    ``frames_for(part)`` decodes one part (``clamr_frames.index.builder.frame_source``); None when nothing
    needs pixels (the frames are then all None and nothing is decoded).
    """
    for part, (s, e) in enumerate(ranges):
        if part in skip:
            continue
        yield part, (frames_for(part) if frames_for is not None else [None] * (e - s))


def part_docs(
    timestamps: np.ndarray,
    span: tuple[int, int],
    frames: Sequence["np.ndarray | None"] | None,
    asr: Sequence[str],
    ocr_text: Sequence[str],
    uses_image: bool,
) -> list["Document"]:
    """One part's documents: frame (when the encoder sees pixels) + ASR and OCR context per candidate."""
    from clamr_frames.encoders.base import Document

    s, e = span
    return [
        Document(
            image=frames[i - s] if uses_image and frames is not None else None,
            asr=asr[i - s],
            ocr=ocr_text[i - s],
            timestamp=float(timestamps[i]),
        )
        for i in range(s, e)
    ]


@dataclass
class PartJob:
    """What :func:`run_parts` needs to know about the build (the builder fills it from its plan)."""

    timestamps: np.ndarray
    ranges: Sequence[tuple[int, int]]
    skip: "set[int] | frozenset[int]"
    uses_image: bool
    frames_for: Callable[[int], list["np.ndarray | None"]] | None
    ocr: Callable[[np.ndarray, list["np.ndarray | None"]], list[str]] | None
    # ASR context of candidates [s, e): from fixed subtitles, or from the cues once they cover the part
    asr_for: Callable[[Sequence["Cue"] | None, int, int], list[str]]
    asr_after: float = 0.0


def run_parts(
    job: PartJob,
    encode: Callable[[list["Document"]], "DocEmbeddings"],
    sink: Callable[[int, "DocEmbeddings", list[str]], None],
    *,
    cues: CueSource | None = None,
    stats: PipelineStats | None = None,
    progress: Callable[[int, PipelineStats], None] | None = None,
    frame_parts: int = FRAME_PARTS,
    text_parts: int = TEXT_PARTS,
) -> list["Cue"] | None:
    """Run decode → OCR → (cues) → encode over the parts of ``job`` with bounded queues; ``sink`` stores each
    encoded part. Returns the cue source's cues (None without one).

    Decoding and OCR run in threads of their own, the cue source in a third, encoding in the calling thread.
    At most ``frame_parts`` parts of decoded frames exist at any time (a part's frames count until OCR drops
    them, or until it is encoded when the encoder sees pixels); up to ``text_parts`` parts of texts may wait
    for speech recognition to reach them. The first error of any stage stops the others and is raised here.

    Args:
        encode: one part's documents → embeddings (``clamr_frames.index.builder.encode_part``).
        sink: ``(part, embeddings, OCR texts)`` of each encoded part, in time order.
        cues: a :class:`CueSource` run alongside (its key must already be in the index spec).
        stats: filled with each stage's work while it runs.
        progress: called after each encoded part with its candidate count and the stats.
    """
    stats = stats if stats is not None else PipelineStats()
    stop = threading.Event()
    errors: list[BaseException] = []
    t_start = time.perf_counter()
    dec = stats.stage("decode") if job.frames_for is not None else None  # a stage with no work has no stats
    ocr_st = stats.stage("ocr") if job.ocr is not None else None
    stream = CueStream(stop) if cues is not None else None
    if stream is not None:
        stats.stages["asr"] = stream.stats
    enc = stats.stage("encode")
    keep_frames = job.uses_image or job.ocr is None  # else OCR drops each part's frames
    slots = threading.Semaphore(max(1, frame_parts))  # one per part of decoded frames alive
    frames_q: queue.Queue = queue.Queue(maxsize=max(1, text_parts))
    ctx_q: queue.Queue = queue.Queue(maxsize=max(1, text_parts))

    def decode() -> None:
        it = decode_parts(job.frames_for, job.ranges, job.skip)
        while True:
            while not slots.acquire(timeout=0.2):
                if stop.is_set():
                    raise _Stopped()
            t0 = time.perf_counter()
            item = next(it, None)
            if item is None:
                break
            if dec is not None:  # (without pixels to decode, the parts pass through empty: no decoding work)
                dec.busy += time.perf_counter() - t0
                dec.done += sum(f is not None for f in item[1])
            _put(frames_q, item, stop)
        _put(frames_q, _END, stop)

    def read_text() -> None:
        while True:
            item = _get(frames_q, stop)
            if item is _END:
                break
            part, frames = item
            s, e = job.ranges[part]
            t0 = time.perf_counter()
            texts = job.ocr(job.timestamps[s:e], frames)  # type: ignore[misc]
            ocr_st.busy += time.perf_counter() - t0  # type: ignore[union-attr]
            ocr_st.done += e - s  # type: ignore[union-attr]
            if not keep_frames:
                del frames, item
                slots.release()
                frames = None
            _put(ctx_q, (part, frames, texts), stop)
        _put(ctx_q, _END, stop)

    def recognise() -> None:
        try:
            cues.run(stream)  # type: ignore[union-attr]
            if not stream.done:  # type: ignore[union-attr]
                stream.finish()  # type: ignore[union-attr]
        except BaseException as e:
            stream.fail(e)  # type: ignore[union-attr]
            raise

    threads = [_Stage("decode", decode, stop, errors)]
    source_q = frames_q
    if job.ocr is not None:
        threads.append(_Stage("ocr", read_text, stop, errors))
        source_q = ctx_q
    if stream is not None:
        threads.append(_Stage("asr", recognise, stop, errors))

    def encode_all() -> list["Cue"] | None:
        while True:
            if errors:
                raise errors[0]
            item = _get(source_q, stop)
            if item is _END:
                break
            if job.ocr is not None:
                part, frames, texts = item
            else:
                part, frames = item
                texts = [""] * len(frames)
            s, e = job.ranges[part]
            got = None
            if stream is not None:
                t0 = time.perf_counter()
                got = stream.wait_until(float(job.timestamps[e - 1]) + job.asr_after, stop)
                stats.waited_for_cues += time.perf_counter() - t0
            t0 = time.perf_counter()
            docs = part_docs(job.timestamps, (s, e), frames, job.asr_for(got, s, e), texts, job.uses_image)
            sink(part, encode(docs), list(texts))
            del docs, frames, item
            if keep_frames:
                slots.release()
            enc.busy += time.perf_counter() - t0
            enc.done += e - s
            stats.wall = time.perf_counter() - t_start
            if progress is not None:
                progress(e - s, stats)
        return stream.result() if stream is not None else None

    for t in threads:
        t.start()
    try:
        result = encode_all()
    except _Stopped:  # another stage failed: its error is the one to raise
        stop.set()
        raise (errors[0] if errors else ClamrFramesError("index pipeline stopped")) from None
    except BaseException:
        stop.set()
        raise
    finally:
        for t in threads:  # after an error, a stage busy inside a library call is left to end on its own
            t.join(timeout=5.0 if stop.is_set() else None)
        stats.wall = time.perf_counter() - t_start
    if errors:
        raise errors[0]
    return result


__all__ = [
    "CueSource",
    "CueStream",
    "FRAME_PARTS",
    "PartJob",
    "PipelineStats",
    "StageStats",
    "TEXT_PARTS",
    "decode_parts",
    "part_docs",
    "run_parts",
    "thread_plan",
    "usable_cores",
]
