"""The transcriber: words → subtitle-sized cues, speech clips and quiet cuts, and :class:`WhisperTranscriber`, which
reads a video's soundtrack in blocks and recognises them (in parallel workers)."""

from __future__ import annotations

import collections
import concurrent.futures
import functools
import json
import math
import re
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clamr_frames._machine import usable_cores
from clamr_frames.context.asr.models import (
    ResolvedModel,
    _load_whisper,
    resolve_device,
    resolve_model,
)
from clamr_frames.context.asr.settings import (
    MAX_AUTO_WORKERS,
    MULTILINGUAL_HINT,
    SAMPLE_RATE,
    AsrSettings,
)
from clamr_frames.context.asr.transcripts import Transcript, TranscriptState
from clamr_frames.context.subtitles import Cue, clean_text

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


def speech_clips(
    audio: np.ndarray, *, max_clip: float = 30.0, min_silence: float = 1.0, onset_pad: float = 0.2
) -> list[tuple[float, float]]:
    """Stretches of speech in 16 kHz ``audio`` (seconds) by Silero VAD (faster-whisper's ONNX copy), padded by
    0.2 s at their end and ``onset_pad`` s at their start (not before the end of the stretch before); neighbours
    are merged while the merged clip stays within ``max_clip`` s (one Whisper window), so a clip holds whole
    sentences and the pauses between them.

    Why a longer pad at the start: Silero scores a window from the audio up to it, and over background noise its
    speech probability rises past the threshold only during or after the first word of an utterance; a clip that
    starts there hands Whisper the sentence without its first word(s). Whisper itself skips the noise before.
    """
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    pad = 0.2
    extra = max(0.0, onset_pad - pad)
    # a stretch is at most max_clip once its start is moved back by `extra`
    opts = VadOptions(min_silence_duration_ms=int(min_silence * 1000), max_speech_duration_s=max_clip - extra,
                      speech_pad_ms=int(pad * 1000))
    clips: list[list[float]] = []
    prev_end = 0.0
    for ts in get_speech_timestamps(audio, opts, sampling_rate=SAMPLE_RATE):
        a, b = ts["start"] / SAMPLE_RATE, ts["end"] / SAMPLE_RATE
        a = max(prev_end, a - extra, 0.0)
        prev_end = b
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

    >>> t = WhisperTranscriber()               # the bundled tiny.en, on the CPU
    >>> tr = t.transcribe("tests/data/derived/jfk_live.mkv", progress=False)   # a clip of the test set
    >>> tr.cues[0].text
    'And so my fellow Americans ask not what your country can do for you'

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
        budget = self.settings.cpu_threads or usable_cores()
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
        clips = speech_clips(audio, onset_pad=s.vad_onset_pad) if s.vad else [(0.0, len(audio) / SAMPLE_RATE)]
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
