"""Transcript types: a finished :class:`Transcript` (usable wherever subtitles are) and the :class:`TranscriptState`
of one in progress (what the cache stores)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from clamr_frames._fs import atomic_write_bytes
from clamr_frames.context.subtitles import Cue, format_srt, format_vtt
from clamr_frames.errors import InputError


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
