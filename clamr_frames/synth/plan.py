"""What a synthetic video contains: needle events, subtitle cues and the questions about them.

Everything here is plain Python + a seeded ``numpy.random.Generator``; nothing is rendered.
Each concern draws from its own random stream (``_rng(seed, stream)``), so changing the question
phrasing never moves a needle, and changing the subtitles never changes a frame.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from clamr_frames.context.subtitles import Cue
from clamr_frames.errors import InputError
from clamr_frames.synth import vocab

KINDS = ("ocr", "asr", "vision")

#: most needles of one kind in one video: each vision needle needs its own colour and shape
#: (7 of each), so that "the star" or "the magenta object" names exactly one needle.
MAX_NEEDLES_PER_KIND = 7

# (min, max) length of a needle's span in seconds, per kind.
_SPAN = {"ocr": (4.0, 8.0), "asr": (3.0, 6.0), "vision": (3.0, 6.0)}

# Video-MME fields (lmms-eval's videomme aggregation only knows its own category names).
_TASK_TYPE = {"ocr": "OCR Problems", "asr": "Information Synopsis", "vision": "Attribute Perception"}
_DOMAIN = ("Life Record", "Daily Life")

# random streams (second entropy word of the seed sequence)
_STREAM_NEEDLES, _STREAM_SUBS, _STREAM_OPTIONS, _STREAM_PHRASING, _STREAM_SPEECH = 1, 2, 3, 4, 5

_STOPWORDS = frozenset({"the", "and", "for", "with", "that", "this", "was", "are", "you"})


def _rng(seed: int, stream: int) -> np.random.Generator:
    return np.random.default_rng([int(seed), stream])


@dataclass(frozen=True)
class Needle:
    """One ground-truth event of a synthetic video.

    Attributes:
        kind: ``"ocr"`` (a sign), ``"asr"`` (a subtitle line) or ``"vision"`` (a coloured shape).
        start, end: the span in seconds (milliseconds precision, as in the .srt).
        key: the answer, written as the video shows it (``"COBALT"``, ``"Falcon"``, ``"magenta"``).
        text: the sign text, the subtitle line, or a description of the object.
        details: kind-specific facts as ``(name, value)`` pairs: ``place`` / ``key_type`` (ocr),
            ``speaker`` / ``attribute`` / ``key_type`` (asr), ``colour`` / ``shape`` / ``asked`` (vision).
    """

    kind: str
    start: float
    end: float
    key: str
    text: str
    details: tuple[tuple[str, str], ...] = ()

    def detail(self, name: str) -> str:
        """The value of one of ``details`` (KeyError when absent)."""
        for k, v in self.details:
            if k == name:
                return v
        raise KeyError(name)

    def to_dict(self) -> dict:
        """The ``needle`` entry of a question: kind, span and key."""
        return {"kind": self.kind, "start": self.start, "end": self.end, "key": self.key}


def duration_class(seconds: float) -> str:
    """Video-MME's length class: ``short`` (< 2 min), ``medium`` (4–15 min), ``long`` (30–60 min).

    Lengths between the classes go to the nearer one (boundaries at 3 and 22.5 minutes).

    >>> duration_class(90), duration_class(600), duration_class(3600)
    ('short', 'medium', 'long')
    """
    if seconds < 180.0:
        return "short"
    if seconds < 1350.0:
        return "medium"
    return "long"


def _pick(rng: np.random.Generator, pool: Sequence[str], used: set[str]) -> str:
    free = [p for p in pool if p not in used]  # never empty: pools outnumber MAX_NEEDLES_PER_KIND
    choice = free[int(rng.integers(len(free)))]
    used.add(choice)
    return choice


def _draw_key(rng: np.random.Generator, key_type: str, used: set[str]) -> str:
    if key_type == "number":
        while True:
            key = str(int(rng.integers(100, 1000)))
            if key not in used:
                used.add(key)
                return key
    return _pick(rng, vocab.KEY_POOLS[key_type], used)


def _asr_form(key: str, key_type: str) -> str:
    # spoken words are written in ordinary case in subtitles; signs are upper case
    return key if key_type == "number" else key.capitalize()


def plan_needles(
    seed: int, duration: float, fps: float, needles_per_kind: int, kinds: Sequence[str]
) -> tuple[Needle, ...]:
    """Place ``needles_per_kind`` needles of each kind, spread over the video, in time order.

    The timeline between a margin at each end (5 % of the video, 1–10 s) is cut into one equal
    slot per needle; each needle lies inside its slot with a gap on both sides, so needles never
    overlap and none sits at the very start or end. Kinds are shuffled over the slots.
    """
    kinds = tuple(kinds)
    if needles_per_kind > MAX_NEEDLES_PER_KIND:
        raise InputError(
            f"needles_per_kind={needles_per_kind}: at most {MAX_NEEDLES_PER_KIND} needles of a kind "
            "fit in one video with unambiguous questions; generate more videos instead"
        )
    n = needles_per_kind * len(kinds)
    if n == 0:
        return ()
    rng = _rng(seed, _STREAM_NEEDLES)
    order = [k for k in kinds for _ in range(needles_per_kind)]
    order = [order[i] for i in rng.permutation(n)]
    margin = min(10.0, max(1.0, 0.05 * duration))
    slot = (duration - 2 * margin) / n
    min_span = max(1.0, 2.0 / fps)  # at least two frames at the native rate
    gap = min(2.0, 0.25 * slot)
    if slot - gap < min_span:
        need = min_span / 0.75 if min_span / 0.75 < 8.0 else min_span + 2.0
        raise InputError(
            f"a {duration:g} s video at {fps:g} fps is too short for {n} needle(s): each needs "
            f"{need:.1f} s between {margin:g} s margins; lower needles_per_kind or raise duration"
        )
    used_keys: set[str] = set()
    used_places: set[str] = set()
    used_speakers: set[str] = set()
    used_colours: set[str] = set()
    used_shapes: set[str] = set()
    needles = []
    for i, kind in enumerate(order):
        lo, hi = _SPAN[kind]
        length = max(min_span, min(float(rng.uniform(lo, hi)), slot - gap))
        slot_start = margin + i * slot + gap / 2
        start = slot_start + float(rng.uniform(0.0, slot - gap - length))
        start, end = round(start, 3), round(start + length, 3)
        if kind == "ocr":
            place = _pick(rng, vocab.OCR_PLACES, used_places)
            key_type = vocab.OCR_KEY_TYPES[int(rng.integers(len(vocab.OCR_KEY_TYPES)))]
            key = _draw_key(rng, key_type, used_keys)
            needles.append(
                Needle(kind, start, end, key, f"{place}: {key}", (("place", place), ("key_type", key_type)))
            )
        elif kind == "asr":
            speaker = _pick(rng, vocab.ASR_SPEAKERS, used_speakers)
            attr, key_type = vocab.ASR_ATTRIBUTES[int(rng.integers(len(vocab.ASR_ATTRIBUTES)))]
            key = _asr_form(_draw_key(rng, key_type, used_keys), key_type)
            line = vocab.ASR_LINES[int(rng.integers(len(vocab.ASR_LINES)))]
            text = line.format(speaker=speaker, attr=attr, key=key)
            text = text[0].upper() + text[1:] + "."
            needles.append(
                Needle(
                    kind, start, end, key, text,
                    (("speaker", speaker), ("attribute", attr), ("key_type", key_type)),
                )
            )
        elif kind == "vision":
            colour = _pick(rng, tuple(vocab.VISION_COLOURS), used_colours)
            shape = _pick(rng, vocab.VISION_SHAPES, used_shapes)
            asked = ("colour", "shape")[int(rng.integers(2))]
            key = colour if asked == "colour" else shape
            needles.append(
                Needle(
                    kind, start, end, key, f"{'an' if colour[0] in 'aeiou' else 'a'} {colour} {shape}",
                    (("colour", colour), ("shape", shape), ("asked", asked)),
                )
            )
        else:
            raise InputError(f"unknown needle kind {kind!r}; expected some of {KINDS}")
    return tuple(needles)


def content_words(text: str) -> set[str]:
    """Lower-case words of three letters or more, minus a few stop words.

    >>> sorted(content_words("The harbour master said: FALCON"))
    ['falcon', 'harbour', 'master', 'said']
    """
    return {w for w in re.findall(r"[a-z]+", text.lower()) if len(w) >= 3 and w not in _STOPWORDS}


def all_key_words() -> set[str]:
    """Every key word of the word pools, lower case (numbers are excluded: filler has no digits)."""
    return {w.lower() for pool in vocab.KEY_POOLS.values() for w in pool}


def _filler_line(rng: np.random.Generator) -> str:
    def pick(pool: Sequence[str]) -> str:
        return pool[int(rng.integers(len(pool)))]

    template = pick(vocab.FILLER_TEMPLATES)
    text = template.format(
        person=pick(vocab.FILLER_PEOPLE),
        chore=pick(vocab.FILLER_CHORES),
        time=pick(vocab.FILLER_TIMES),
        weather=pick(vocab.FILLER_WEATHER),
        grocery=pick(vocab.FILLER_GROCERIES),
        hobby=pick(vocab.FILLER_HOBBIES),
        media=pick(vocab.FILLER_MEDIA),
        thing=pick(vocab.FILLER_THINGS),
    )
    return text[0].upper() + text[1:]


def _banned_words(needles: Sequence[Needle]) -> set[str]:
    """Words filler must not use: every key word, and the content words of this video's needle subjects."""
    banned = all_key_words()
    for nd in needles:
        banned |= content_words(" ".join(v for k, v in nd.details if k in ("place", "speaker", "attribute")))
    return banned


def _clean_filler_line(rng: np.random.Generator, banned: set[str]) -> str:
    line = _filler_line(rng)
    for _ in range(20):  # banned words are rare; redraw until clean
        if not (content_words(line) & banned):
            return line
        line = _filler_line(rng)
    return "Right, where were we?"  # pragma: no cover - vocab makes this unreachable


def narration_lines(seed: int, needles: Sequence[Needle]) -> Iterator[str]:
    """An endless stream of filler lines for a spoken narration (same rules as the subtitle filler, its own
    random stream): no key word and no needle subject word ever occurs in them."""
    rng = _rng(seed, _STREAM_SPEECH)
    banned = _banned_words(needles)
    while True:
        yield _clean_filler_line(rng, banned)


def speech_rng(seed: int) -> np.random.Generator:
    """The random stream of a spoken soundtrack's layout (voices, rates, pauses)."""
    return _rng(seed, _STREAM_SPEECH + 100)


def plan_subtitles(seed: int, duration: float, needles: Sequence[Needle]) -> list[Cue]:
    """Filler cues every few seconds, plus each ASR needle's line over exactly its span.

    Filler never overlaps an ASR needle (0.3 s clearance) and never uses a key word or a content
    word of this video's needle subjects, so the needle line is the only place they occur.
    """
    rng = _rng(seed, _STREAM_SUBS)
    banned = _banned_words(needles)
    asr = [(nd.start - 0.3, nd.end + 0.3) for nd in needles if nd.kind == "asr"]
    cues: list[Cue] = []
    t = float(rng.uniform(0.3, 1.5))
    while t < duration - 0.5:
        length = float(rng.uniform(1.8, 3.5))
        end = min(t + length, duration)
        line = _clean_filler_line(rng, banned)
        start, stop = round(t, 3), round(end, 3)
        if stop > start and not any(start < b and stop > a for a, b in asr):
            cues.append(Cue(start, stop, line))
        t = end + float(rng.uniform(0.4, 2.5))
    cues.extend(Cue(nd.start, nd.end, nd.text) for nd in needles if nd.kind == "asr")
    cues.sort(key=lambda c: (c.start, c.end))
    return cues


def _template(kind: str, phrasing: int | Sequence[int] | None, rng: np.random.Generator) -> int:
    n = vocab.N_PHRASINGS[kind]
    if phrasing is None:
        return int(rng.integers(n))
    if isinstance(phrasing, (int, np.integer)):
        return int(phrasing) % n
    choices = [int(p) % n for p in phrasing]
    if not choices:
        raise InputError("phrasing: an empty sequence of templates")
    return choices[int(rng.integers(len(choices)))]


def _question_text(nd: Needle, t: int) -> tuple[str, str]:
    """(question, key type) of a needle with phrasing template ``t``."""
    if nd.kind == "ocr":
        key_type = nd.detail("key_type")
        q = vocab.OCR_QUESTIONS[t].format(noun=vocab.KEY_NOUNS[key_type], place=nd.detail("place").lower())
        return q, key_type
    if nd.kind == "asr":
        key_type = nd.detail("key_type")
        q = vocab.ASR_QUESTIONS[t].format(attr=nd.detail("attribute"), speaker=nd.detail("speaker"))
        return q, key_type
    if nd.detail("asked") == "colour":
        return vocab.VISION_COLOUR_QUESTIONS[t].format(shape=nd.detail("shape")), "colour"
    return vocab.VISION_SHAPE_QUESTIONS[t].format(colour=nd.detail("colour")), "shape"


def _distractors(
    rng: np.random.Generator, nd: Needle, key_type: str, taken: set[str]
) -> list[str]:
    """Three other answers of the key's type, none of which is a key anywhere in this video."""
    if key_type == "number":
        out: list[str] = []
        while len(out) < 3:
            cand = str(int(rng.integers(100, 1000)))
            if cand not in taken and cand not in out:
                out.append(cand)
        return out
    if key_type == "colour":
        pool = list(vocab.VISION_COLOURS)
    elif key_type == "shape":
        pool = list(vocab.VISION_SHAPES)
    else:
        form = _asr_form if nd.kind == "asr" else (lambda k, _t: k)
        pool = [form(w, key_type) for w in vocab.KEY_POOLS[key_type]]
    # a vision needle's other attributes may be distractors (hard negatives); text keys may not
    banned = {nd.key.lower()} | ({t.lower() for t in taken} if nd.kind != "vision" else set())
    pool = [p for p in pool if p.lower() not in banned]
    idx = rng.choice(len(pool), size=3, replace=False)
    return [pool[int(i)] for i in idx]


def make_questions(
    seed: int,
    video_id: str,
    duration: float,
    needles: Sequence[Needle],
    phrasing: int | Sequence[int] | None = 0,
) -> list[dict]:
    """One four-option question per needle, in Video-MME's schema plus a ``needle`` entry.

    The options and the answer letter depend on ``seed`` only; ``phrasing`` picks the question's
    template (an int for all questions, a sequence of ints to draw from, or ``None`` for any), so
    the same video can be asked in held-out phrasings.
    """
    opt_rng = _rng(seed, _STREAM_OPTIONS)
    phr_rng = _rng(seed, _STREAM_PHRASING)
    taken = {nd.key for nd in needles if nd.kind != "vision"}
    questions = []
    for i, nd in enumerate(needles, 1):
        question, key_type = _question_text(nd, _template(nd.kind, phrasing, phr_rng))
        options = _distractors(opt_rng, nd, key_type, taken)
        answer = int(opt_rng.integers(4))
        options.insert(answer, nd.key)
        questions.append(
            {
                "video_id": video_id,
                "videoID": video_id,
                "question_id": f"{video_id}-{i}",
                "duration": duration_class(duration),
                "domain": _DOMAIN[0],
                "sub_category": _DOMAIN[1],
                "task_type": _TASK_TYPE[nd.kind],
                "question": question,
                "options": [f"{'ABCD'[j]}. {o}" for j, o in enumerate(options)],
                "answer": "ABCD"[answer],
                "needle": nd.to_dict(),
            }
        )
    return questions


def check_seed(seed: int) -> None:
    """Raise InputError unless ``seed`` is a non-negative integer."""
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")


def check_scene_args(seed: int, duration: float, fps: float, needles_per_kind: int, kinds: Sequence[str]) -> None:
    """Raise InputError on a bad seed, length, frame rate or needle plan of a synthetic video."""
    check_seed(seed)
    if not (duration > 0 and np.isfinite(duration)):
        raise InputError(f"duration must be a positive number of seconds, got {duration!r}")
    if not (fps > 0 and np.isfinite(fps)):
        raise InputError(f"fps must be positive, got {fps!r}")
    if needles_per_kind < 0:
        raise InputError(f"needles_per_kind must be >= 0, got {needles_per_kind}")
    bad = [k for k in kinds if k not in KINDS]
    if bad or len(set(kinds)) != len(tuple(kinds)):
        raise InputError(f"kinds must be distinct names among {KINDS}, got {tuple(kinds)}")


def check_even(width: int, height: int) -> None:
    """Raise InputError unless both sides are even and large enough to draw on (H.264 / yuv420p)."""
    for name, v in (("width", width), ("height", height)):
        if not isinstance(v, (int, np.integer)) or v < 16 or v % 2:
            raise InputError(f"{name} must be an even integer >= 16, got {v!r}")


def n_frames_for(duration: float, fps: float) -> int:
    """Frames of a video of ``duration`` seconds at ``fps`` (at least one)."""
    return max(1, int(math.floor(duration * fps + 0.5)))
