"""Named real-footage compositions with their questions, for the rarity, OCR and policy-table measurements.

Each composition is a video built by :func:`testkit.real_footage.compose` from the committed real clips
(nobody here made the footage) together with questions a user could ask about it and the time spans where the
answer is visible, so a selection is scored by whether any picked frame falls inside a span.

- :func:`recurring_with_inserts`: about 11 minutes of a background of five real clips that recurs every minute
  (as looped footage, or a programme that keeps coming back to the same sets), with two visually distinctive
  clips inserted once each: the cartoon pigs (minute 3) and the deer (minute 8).
- :func:`all_unique`: the opposite, about 70 s where nothing recurs: the film's first 30 s (its fade, cuts and
  title) and every other clip once, in sequence.

Questions come in two kinds: ``"picture"`` (answerable only by looking: what the once-only inserts show, what
happens in a shot) and ``"text"`` (the answer is written on screen: the test card's caption, the film's title).

>>> q = Question("What is the title of the film?", "Big Buck Bunny", "text", ((10.0, 12.0), (70.0, 72.0)))
>>> q.hit([3.0, 71.5]), q.hit([12.5])
(True, False)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from testkit.real_footage import Placed, Segment, compose

#: Frame rate and frame size (w, h) of every composition.
FPS = 8.0
SIZE = (480, 270)

#: Written text on the clips: name -> (clip, clip-local window where it is readable or None for the whole clip,
#: the text). Windows were read off the decoded frames (bunny at 2 frames/s, checked at 8).
TEXTS: dict[str, tuple[str, tuple[float, float] | None, str]] = {
    "caption": ("testcard", None, "1024 x 768 25 fps Photo JPEG 75%"),
    "presents": ("bunny", (21.0, 23.0), "The Peach Open Movie Project presents"),
    "title": ("bunny", (25.5, 29.5), "Big Buck Bunny"),
}


@dataclass(frozen=True)
class Question:
    """A question, its answer, its kind (``"picture"`` or ``"text"``) and the spans (s) where the answer shows."""

    text: str
    answer: str
    kind: str
    spans: tuple[tuple[float, float], ...]

    def hit(self, times: Iterable[float]) -> bool:
        """Whether any of the picked frame times (s) lies inside a span."""
        return any(a <= t < b for t in times for a, b in self.spans)


@dataclass(frozen=True)
class Composition:
    """A composed video: its name, file, where each segment landed and the questions about it."""

    name: str
    path: Path
    placed: tuple[Placed, ...]
    questions: tuple[Question, ...]

    @property
    def duration(self) -> float:
        return self.placed[-1].t1

    def clip_spans(self, clip: str) -> tuple[tuple[float, float], ...]:
        """Every span (s) showing ``clip``."""
        return tuple((p.t0, p.t1) for p in self.placed if p.segment.clip == clip)


def text_spans(placed: Iterable[Placed], name: str) -> tuple[tuple[float, float], ...]:
    """Where the on-screen text ``name`` of :data:`TEXTS` is readable in a composition (s).

    A segment that loops its clip (a short clip stretched) is counted whole when the text is on the whole clip;
    windowed text is mapped through the segment's start without looping (the compositions never loop those).
    """
    clip, window, _ = TEXTS[name]
    out = []
    for p in placed:
        if p.segment.clip != clip:
            continue
        if window is None:
            out.append((p.t0, p.t1))
            continue
        s = p.segment.start
        a, b = max(window[0], s), min(window[1], s + p.segment.duration)
        if a < b:
            out.append((p.t0 + a - s, p.t0 + b - s))
    return tuple(out)


def _text_questions(placed: tuple[Placed, ...]) -> list[Question]:
    asks = {
        "caption": "What does the caption at the top of the colour-bar test card say?",
        "presents": "Which project presents the animated film?",
        "title": "What is the title of the animated film?",
    }
    qs = []
    for name, ask in asks.items():
        spans = text_spans(placed, name)
        if spans:
            qs.append(Question(ask, TEXTS[name][2], "text", spans))
    return qs


def _build(name: str, out: str | Path, plan: list[Segment], picture: list[tuple[str, str, str]]) -> Composition:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    placed = tuple(compose(out, plan, fps=FPS, size=SIZE))
    qs = []
    for ask, answer, clip in picture:
        spans = tuple((p.t0, p.t1) for p in placed if p.segment.clip == clip)
        qs.append(Question(ask, answer, "picture", spans))
    qs += _text_questions(placed)
    return Composition(name, out, placed, tuple(qs))


#: The background of :func:`recurring_with_inserts`: 59 s of five clips, the bunny part with its own cuts
#: (meadow, stream, bird, the presents card, the title).
BACKGROUND = (
    Segment("cockatoo", 0.0, 14.0),
    Segment("chaplin", 0.0, 9.0),
    Segment("testcard", 0.0, 8.0),
    Segment("smpte", 0.0, 10.0),
    Segment("bunny", 12.0, 18.0),
)


def recurring_with_inserts(out: str | Path, *, minutes: int = 11) -> Composition:
    """``minutes`` repeats of :data:`BACKGROUND` with the pigs (4 s) inserted once in minute 3 and the deer
    (4 s, its 1 s looped) once in minute 8, each between two background clips; written to ``out`` (MP4).

    Picture questions are about the two inserts; text questions about the caption, the presents card and the
    title, which recur with the background (their spans are every minute's).
    """
    if minutes < 9:
        raise ValueError(f"recurring_with_inserts needs at least 9 minutes (the deer goes in minute 8), got {minutes}")
    plan: list[Segment] = []
    for m in range(minutes):
        bg = list(BACKGROUND)
        if m == 3:
            bg.insert(2, Segment("pigs", 0.0, 4.0))
        if m == 8:
            bg.insert(4, Segment("deer", 0.0, 4.0))
        plan += bg
    picture = [
        ("What animals dance in the cartoon?", "two pigs", "pigs"),
        ("Is there a hand-drawn cartoon in the video, and who is in it?", "yes, two dancing pigs", "pigs"),
        ("What wild animal stands in the field?", "a deer", "deer"),
        ("Is there a deer anywhere in the video?", "yes", "deer"),
    ]
    return _build("recurring_with_inserts", out, plan, picture)


def all_unique(out: str | Path) -> Composition:
    """Every clip once (about 70 s): the film's first 30 s with its cuts, then chaplin, the two test cards,
    the cartoon, the cockatoo, the deer and the room; written to ``out`` (MP4).

    Picture questions are about single shots; text questions about the caption, presents card and title.
    """
    plan = [
        Segment("bunny", 0.0, 30.0),
        Segment("chaplin", 0.0, 9.5),
        Segment("smpte", 0.0, 10.0),
        Segment("testcard", 0.0, 2.5),
        Segment("pigs", 0.0, 3.0),
        Segment("cockatoo", 0.0, 14.0),
        Segment("deer", 0.0, 1.0),
        Segment("room", 0.0, 1.2),
    ]
    picture = [
        ("What animals dance in the cartoon?", "two pigs", "pigs"),
        ("What wild animal stands in the field?", "a deer", "deer"),
        ("What bird sits on the perch?", "a white cockatoo", "cockatoo"),
        ("What are the men doing in the black-and-white film?", "walking in a park", "chaplin"),
    ]
    return _build("all_unique", out, plan, picture)


#: The compositions by name.
COMPOSITIONS = {"recurring_with_inserts": recurring_with_inserts, "all_unique": all_unique}

__all__ = ["BACKGROUND", "COMPOSITIONS", "Composition", "FPS", "Question", "SIZE", "TEXTS", "all_unique",
           "recurring_with_inserts", "text_spans"]
