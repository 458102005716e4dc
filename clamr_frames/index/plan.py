"""The context plan: one place decides, for a video and its settings, where its context comes from.

:func:`plan_context` takes the video, its subtitles, the ASR mode and settings, the OCR flag and the store's root,
and returns a :class:`ContextPlan`:

- the **ASR source** (``subtitles``, ``whisper`` or ``none``; :func:`clamr_frames.context.asr.asr_source_for`
  applies the mode and warns when a video gets less than it asks for) and its cues: the subtitles as given, a
  transcript the cache already holds, or a soundtrack still to transcribe — streamed into the index build
  (:class:`~clamr_frames.context.asr.WhisperCues`) or transcribed before it (``stream=False``);
- the **OCR pass** (a fresh stateful pass per video on an engine that is built once per runner:
  :class:`OcrEngines`), or none. Whether a video gets one is decided by :func:`resolve_ocr`, the one place that
  applies the default (on where the scorer reads OCR text);
- the **thread shares** of the stages that run at the same time (:func:`clamr_frames.index.pipeline.thread_plan`).

Every transcript lives under ``<store root>/asr`` (:func:`transcript_cache`). The :class:`~clamr_frames.FrameSelector`,
the local corpus runner (:func:`clamr_frames.index.corpus.index_locally`) and the Ray pipeline's context tasks
(:func:`clamr_frames.index.distributed.context_stage`) all call :func:`plan_context`; none of them assembles context
itself.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamr_frames.context.asr import (
    AsrSettings,
    TranscriptCache,
    WhisperCues,
    asr_source_for,
    check_asr_mode,
)
from clamr_frames.index.pipeline import thread_plan

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.context.ocr import OcrEngine
    from clamr_frames.index.builder import OcrFn


_warned_no_ocr = False  # the missing-extra warning is given once per process, not once per video or runner


def ocr_available() -> bool:
    """Whether the ``ocr`` extra imports (rapidocr and onnxruntime; a broken install counts as missing)."""
    try:
        import onnxruntime  # noqa: F401
        import rapidocr  # noqa: F401
    except Exception:  # ImportError, or e.g. OpenCV's shared libraries failing to load
        return False
    return True


def resolve_ocr(ocr: bool | None, reads_ocr: bool) -> bool:
    """Whether the videos get an OCR pass: the one place the OCR default is decided.

    Args:
        ocr: the caller's choice (``--ocr`` / ``--no-ocr``, ``ocr=``); None: the default, which is on when the
            scorer reads OCR text and the ``ocr`` extra is installed. When the extra is missing the default
            warns once (naming the extra and ``--no-ocr``) and indexes without OCR.
        reads_ocr: the scorer reads OCR text (its encoder's ``uses_ocr``: the embedded default and CLaMR do,
            the visual scorers CLIP and LanguageBind do not).

    Raises:
        OcrUnavailableError: ``ocr=True`` without the ``ocr`` extra.

    >>> resolve_ocr(False, reads_ocr=True), resolve_ocr(None, reads_ocr=False)
    (False, False)
    """
    global _warned_no_ocr
    if ocr is not None:
        if ocr and not ocr_available():
            from clamr_frames.context.ocr import OCR_EXTRA_HINT, OcrUnavailableError

            raise OcrUnavailableError(f"OCR was asked for, but the optional 'ocr' extra does not import: "
                                      f"{OCR_EXTRA_HINT}")
        return bool(ocr)
    if not reads_ocr:
        return False
    if ocr_available():
        return True
    if not _warned_no_ocr:
        _warned_no_ocr = True
        warnings.warn("the scorer reads on-screen text, but the 'ocr' extra is not installed: indexing without "
                      "OCR (pip install 'clamr-frames[ocr]' to read it, or --no-ocr / ocr=False to say so)",
                      stacklevel=3)
    return False


def transcript_cache(store_root: str | Path) -> TranscriptCache:
    """The transcript cache of an index store: ``<store root>/asr`` (the one place that names it)."""
    return TranscriptCache(Path(store_root) / "asr")


class OcrEngines:
    """OCR engines by (threads, device), each built once (its models loaded once) and shared by every video a
    runner indexes; a video gets a fresh pass over it (:func:`clamr_frames.context.ocr.make_ocr_pass`)."""

    def __init__(self) -> None:
        self._engines: dict[tuple[int | None, str], OcrEngine] = {}

    def get(self, threads: int | None = None, device: str = "cpu") -> "OcrEngine":
        """The engine with ``threads`` onnxruntime threads (None: onnxruntime's own) on ``device``.

        Raises:
            OcrUnavailableError: the ``ocr`` extra is not installed.
        """
        from clamr_frames.context.ocr import OcrEngine

        key = (threads, device)
        if key not in self._engines:
            self._engines[key] = OcrEngine(threads=threads, device=device)
        return self._engines[key]

    def __len__(self) -> int:
        return len(self._engines)


@dataclass
class ContextPlan:
    """Where one video's context comes from (see :func:`plan_context`).

    Attributes:
        video: the video.
        asr_source: ``"subtitles"``, ``"whisper"`` or ``"none"``.
        subtitles: the ASR context known now, as ``build_index(subtitles=...)`` takes it: the subtitles as given, a
            finished :class:`~clamr_frames.context.asr.Transcript`, or None.
        cues: the soundtrack still to transcribe while the index is built (``build_index(cues=...)``), or None.
        ocr / ocr_id: the video's OCR pass and its id (``build_index(ocr=..., ocr_id=...)``), or None.
        threads: the thread shares of the stages that run together in this process (``ocr``, ``asr``,
            ``torch``; :func:`~clamr_frames.index.pipeline.thread_plan`), or None when each library keeps its own
            threading (``stream=False``).
    """

    video: str
    asr_source: str
    subtitles: Any = None
    cues: WhisperCues | None = None
    ocr: "OcrFn | None" = None
    ocr_id: str | None = None
    threads: dict[str, int] | None = None

    def torch_threads(self, uses_image: bool) -> int | None:
        """torch threads while indexing: a share of the cores beside OCR / speech recognition for a text encoder;
        a heavy image encoder (``uses_image``) keeps torch's own setting (encoding is then the bulk of the work)."""
        if self.threads is None or uses_image or not (self.ocr is not None or self.cues is not None):
            return None
        return self.threads["torch"]

    def build_kwargs(self, uses_image: bool) -> dict[str, Any]:
        """What :func:`clamr_frames.index.builder.build_index` takes from the plan."""
        return {"subtitles": self.subtitles, "cues": self.cues, "ocr": self.ocr, "ocr_id": self.ocr_id,
                "torch_threads": self.torch_threads(uses_image)}


def plan_context(
    video: str | Path,
    subtitles: Any = None,
    *,
    asr: str | bool = "auto",
    asr_settings: AsrSettings | None = None,
    ocr: bool = False,
    store_root: str | Path,
    stream: bool = True,
    cores: int | None = None,
    ocr_engines: OcrEngines | None = None,
    progress: bool = True,
) -> ContextPlan:
    """Plan the context of ``video``: its ASR source and cues, its OCR pass, the thread shares.

    Args:
        video: a local video file.
        subtitles: its subtitle file / object / cues, or None.
        asr / asr_settings: where the ASR context comes from (``auto``, ``subtitles``, ``whisper``, ``none``) and
            how speech is recognised.
        ocr: give the video an OCR pass.
        store_root: the index store's root; transcripts are cached under ``<store_root>/asr``.
        stream: the stages run together in this process (the :class:`~clamr_frames.FrameSelector`): a soundtrack
            still to transcribe is streamed into the build, and the cores are shared between OCR, speech
            recognition and torch (:func:`~clamr_frames.index.pipeline.thread_plan`). False (the corpus runners):
            the soundtrack is transcribed first (through the cache, with ``cores`` threads when given), and OCR
            and torch keep their libraries' own threading.
        cores: the cores this video's context may use (None: this process's; a Ray context task has one).
        ocr_engines: where the OCR engine comes from (a runner keeps one for all its videos); None: a new one.
        progress: a progress bar while transcribing first (``stream=False``).

    Raises:
        VideoError: the video cannot be opened. AsrUnavailableError: ``asr="whisper"`` without the ``asr`` extra.
        OcrUnavailableError: ``ocr`` without the ``ocr`` extra.
    """
    mode = check_asr_mode(asr)
    settings = asr_settings or AsrSettings()
    if not settings.cpu_threads and (stream or cores is not None):
        # speech recognition runs beside OCR (or in a task with `cores` cores): its share of the cores
        settings = dataclasses.replace(settings, cpu_threads=thread_plan(ocr=ocr and stream, asr=True, cores=cores)["asr"])
    source = asr_source_for(video, subtitles, mode, settings)
    context = subtitles if source == "subtitles" else None
    cues: WhisperCues | None = None
    if source == "whisper":
        cues = WhisperCues(video, settings, cache=transcript_cache(store_root))
        context = cues.ready()
        if context is not None:
            cues = None
    threads = thread_plan(ocr=ocr, asr=cues is not None, cores=cores) if stream else None
    ocr_fn, ocr_id = None, None
    if ocr:
        from clamr_frames.context.ocr import make_ocr_pass

        engines = ocr_engines if ocr_engines is not None else OcrEngines()
        # stages that share the cores: OCR's onnxruntime threads are its share (and CUDA where onnxruntime has it)
        engine = engines.get(threads["ocr"], "auto") if threads is not None else engines.get()
        ocr_fn, ocr_id = make_ocr_pass(engine)
    if cues is not None and not stream:
        context, cues = cues.wait(progress=progress), None
    return ContextPlan(str(video), source, context, cues, ocr_fn, ocr_id, threads)


__all__ = ["ContextPlan", "OcrEngines", "ocr_available", "plan_context", "resolve_ocr", "transcript_cache"]
