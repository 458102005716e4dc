"""Held-out synthetic videos from a generator written apart from the project's own (``clamr_frames.synth``).

The policy table (``benchmarks/policy_table.py``) needs picture and text questions on videos whose look the
project's defaults were not tuned on. ``clamr_frames.synth`` draws flat palettes in which its picture needles are
the only saturated colours, so anything that looks for colour finds them; this generator differs on purpose:

- backgrounds are textures: low-frequency colour fields in earthy, sky and foliage palettes with finer detail on
  top, panning slowly, with per-frame grain (a camera's noise), cut into scenes of 8-40 s;
- every scene has two to four saturated distractors (discs and bars) drifting across it, so a picture needle
  is *not* the only saturated colour on screen;
- picture needles are other shapes (star, triangle, cross, diamond) in the distractors' colours, shown 4-7 s;
- signs are dark or light panels in serif or monospaced system fonts (DejaVu; Pillow's default font if absent),
  two lines: a name and a fact, shown 5-8 s at one of several places;
- subtitles are an .srt written here: everyday filler lines every few seconds and the needle lines among them.

Every question comes with the span (seconds) where its answer is visible or said; a picked frame inside it is a
hit. Same arguments, same files.

>>> v = HeldoutVideo.plan(seed=3, duration=90.0)
>>> sorted({q.kind for q in v.questions})
['picture', 'sign', 'subtitle']
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

SIZE = (384, 216)  # (w, h): another frame size than clamr_frames.synth's
FPS = 2.0

# natural-ish palettes: (low-frequency colours, detail colour)
_PALETTES = (
    ((96, 84, 60), (140, 122, 88), (70, 64, 48)),  # earth
    ((120, 150, 180), (170, 190, 210), (90, 110, 130)),  # sky
    ((52, 88, 44), (90, 120, 64), (40, 60, 36)),  # foliage
    ((128, 128, 124), (160, 158, 150), (88, 88, 90)),  # concrete
    ((150, 110, 80), (190, 150, 110), (110, 80, 60)),  # sand and brick
)
_SATURATED = {"red": (220, 30, 30), "green": (30, 190, 40), "blue": (30, 70, 230), "yellow": (235, 215, 20),
              "magenta": (210, 30, 200), "orange": (240, 130, 10), "cyan": (20, 200, 210)}
_SHAPES = ("star", "triangle", "cross", "diamond")

# (sign name, sign fact, question): the question names the sign's subject in other words where it can
_SIGNS = (
    ("HERON PHARMACY", "CLOSED THURSDAYS", "On which weekday is the Heron chemist shut, according to its sign?"),
    ("QUARRY LANE BAKERY", "RYE LOAVES SOLD OUT", "Which bread has the Quarry Lane bakery run out of?"),
    ("PLATFORM ELEVEN", "DELAYED 40 MINUTES", "How late is the service at platform eleven, per the board?"),
    ("MAPLE STREET CLINIC", "FLU SHOTS ON FRIDAY", "When are vaccinations offered at the Maple Street clinic?"),
    ("OSPREY MARINA", "NO ANCHORING", "What does the notice at the Osprey marina forbid?"),
    ("COPPER KETTLE INN", "ROOMS FROM 65 EUROS", "What is the lowest room price at the Copper Kettle?"),
    ("WILLOW PARK", "DOGS ON LEADS", "What rule for pets is posted at Willow Park?"),
    ("GRANITE HALL", "EXAM IN ROOM B12", "In which room is the exam held at Granite Hall?"),
)
# (subtitle line, question)
_LINES = (
    ("Tell Marguerite the spare key is under the blue flowerpot.",
     "Where was the spare key for Marguerite left?"),
    ("The ferry to Inchcolm leaves at half past four, not five.",
     "At what time does the boat to Inchcolm depart?"),
    ("Doctor Okafor moved the lecture to the east auditorium.",
     "Where is Doctor Okafor's talk now taking place?"),
    ("We buried the time capsule beside the old sycamore.",
     "Next to which tree was the time capsule put in the ground?"),
    ("The violin was sold at the auction for nine thousand pounds.",
     "How much did the violin fetch when it was auctioned?"),
    ("Rafael's bicycle was stolen outside the swimming baths.",
     "From where was Rafael's bike taken?"),
    ("The quiz night winner was the team called Lucky Herons.",
     "Which team came first at the quiz evening?"),
    ("Grandpa Elias planted forty apple trees that spring.",
     "How many fruit trees did Grandpa Elias put in?"),
)
_FILLER = (
    "I think it might rain again this afternoon.", "Could you pass me the salt, please?",
    "The match went to extra time yesterday.", "She always takes the long way round.",
    "We should repaint the kitchen at some point.", "Honestly, the soup needed more pepper.",
    "Let's meet after lunch if that suits you.", "The neighbours' cat is back on our wall.",
    "That film was longer than I expected.", "He forgot his umbrella at the office again.",
    "My phone battery never lasts the whole day.", "The garden looks lovely in the evening light.",
)
_FONTS = ("DejaVuSerif-Bold.ttf", "DejaVuSansMono-Bold.ttf", "DejaVuSerif.ttf")
_FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"), Path("/usr/share/fonts/TTF"))


@dataclass(frozen=True)
class Question:
    kind: str  # "sign" | "subtitle" | "picture"
    question: str
    start: float  # seconds: where the answer is visible or said
    end: float
    detail: dict = field(default_factory=dict)

    @property
    def qtype(self) -> str:
        """``text`` (on-screen text, subtitles) or ``picture`` (only visible)."""
        return "picture" if self.kind == "picture" else "text"


@dataclass(frozen=True)
class Scene:
    start: float
    end: float
    palette: int
    seed: int


@dataclass
class HeldoutVideo:
    """The plan of one video (scenes, needles, subtitles); :meth:`write` renders it."""

    seed: int
    duration: float
    scenes: list[Scene]
    questions: list[Question]
    cues: list[tuple[float, float, str]]
    video_path: Path | None = None
    srt_path: Path | None = None

    @classmethod
    def plan(cls, seed: int, duration: float = 240.0, per_kind: int = 2) -> HeldoutVideo:
        if duration < 30.0 * per_kind:
            raise ValueError(f"a {duration:g}-s video is too short for {per_kind} needles of each kind")
        rng = np.random.default_rng([seed, 7741])
        scenes, t = [], 0.0
        while t < duration:
            end = min(duration, t + float(rng.uniform(8.0, 40.0)))
            scenes.append(Scene(t, end, int(rng.integers(len(_PALETTES))), int(rng.integers(2**31))))
            t = end
        # needles in disjoint slots (at least 3 s apart), away from both ends
        kinds = ["sign", "subtitle", "picture"] * per_kind
        rng.shuffle(kinds)
        slots = rng.permutation(np.arange(5.0, duration - 12.0, 1.0))  # spread over the whole video
        starts: list[float] = []
        for s in slots:
            if all(abs(s - x) >= 11.0 for x in starts):
                starts.append(float(s))
            if len(starts) == len(kinds):
                break
        if len(starts) < len(kinds):
            raise ValueError("could not place the needles; use a longer duration")
        rng.shuffle(starts)
        signs = list(rng.permutation(len(_SIGNS)))
        lines = list(rng.permutation(len(_LINES)))
        questions = []
        for kind, s in zip(kinds, starts):
            if kind == "sign":
                name, fact, q = _SIGNS[signs.pop()]
                dur = float(rng.uniform(5.0, 8.0))
                detail = {"lines": [name, fact], "font": _FONTS[int(rng.integers(len(_FONTS)))],
                          "dark": bool(rng.integers(2)), "place": int(rng.integers(4))}
            elif kind == "subtitle":
                line, q = _LINES[lines.pop()]
                dur = float(rng.uniform(3.0, 5.0))
                detail = {"line": line}
            else:
                shape = _SHAPES[int(rng.integers(len(_SHAPES)))]
                colour = list(_SATURATED)[int(rng.integers(len(_SATURATED)))]
                q = (f"What colour was the {shape} that showed up for a moment?" if rng.integers(2)
                     else f"Which shape appeared briefly in {colour}?")
                dur = float(rng.uniform(4.0, 7.0))
                detail = {"shape": shape, "colour": colour, "x": float(rng.uniform(0.15, 0.85)),
                          "y": float(rng.uniform(0.2, 0.8)), "size": float(rng.uniform(0.16, 0.24))}
            questions.append(Question(kind, q, round(s, 2), round(s + dur, 2), detail))
        questions.sort(key=lambda q: q.start)
        # filler subtitles every 3-7 s, none overlapping a needle line
        busy = [(q.start - 0.5, q.end + 0.5) for q in questions if q.kind == "subtitle"]
        cues, t = [], float(rng.uniform(1.0, 4.0))
        while t < duration - 3.0:
            d = float(rng.uniform(2.0, 3.5))
            if not any(a < t + d and t < b for a, b in busy):
                cues.append((t, t + d, _FILLER[int(rng.integers(len(_FILLER)))]))
            t += d + float(rng.uniform(1.0, 4.0))
        cues += [(q.start, q.end, q.detail["line"]) for q in questions if q.kind == "subtitle"]
        cues.sort()
        return cls(seed, float(duration), scenes, questions, cues)

    # -- rendering ---------------------------------------------------------------------------------------------

    def write(self, out_dir: str | Path) -> HeldoutVideo:
        """Write ``heldout-<seed>.mp4`` and its .srt under ``out_dir`` (reused when present)."""
        from clamr_frames.video.writer import write_video

        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        self.video_path = out / f"heldout-{self.seed}-{self.duration:g}.mp4"
        self.srt_path = self.video_path.with_suffix(".srt")
        if not self.srt_path.exists():
            tmp = self.srt_path.with_name(self.srt_path.name + ".partial")
            tmp.write_text(_srt(self.cues), encoding="utf-8")
            tmp.replace(self.srt_path)
        if not self.video_path.exists():
            tmp = self.video_path.with_name(self.video_path.stem + ".partial.mp4")
            n = round(self.duration * FPS)
            write_video(tmp, (self.frame(i / FPS) for i in range(n)), FPS, crf=26)
            tmp.replace(self.video_path)
        return self

    def frame(self, t: float) -> np.ndarray:
        scene = next((s for s in self.scenes if s.start <= t < s.end), self.scenes[-1])
        img = _background(scene, t)
        from PIL import Image, ImageDraw

        pic = Image.fromarray(img)
        draw = ImageDraw.Draw(pic)
        _distractors(draw, scene, t)
        for q in self.questions:
            if q.start <= t < q.end:
                if q.kind == "sign":
                    _sign(pic, q.detail)
                elif q.kind == "picture":
                    _shape(draw, q.detail, t - q.start)
        arr = np.asarray(pic, dtype=np.int16)
        grain = np.random.default_rng([self.seed, int(t * 1000)]).normal(0.0, 4.0, arr.shape)
        return np.clip(arr + grain, 0, 255).astype(np.uint8)


def _srt(cues: list[tuple[float, float, str]]) -> str:
    def ts(x: float) -> str:
        ms = round(x * 1000)
        return f"{ms // 3600000:02d}:{ms // 60000 % 60:02d}:{ms // 1000 % 60:02d},{ms % 1000:03d}"

    return "".join(f"{i}\n{ts(a)} --> {ts(b)}\n{text}\n\n" for i, (a, b, text) in enumerate(cues, 1))


_FIELD_CACHE: dict[int, np.ndarray] = {}


def _field(scene: Scene) -> np.ndarray:
    """The scene's texture, 1.5x the frame in width (the pan moves across it), float32 RGB."""
    got = _FIELD_CACHE.get(scene.seed)
    if got is not None:
        return got
    from PIL import Image

    w, h = SIZE
    big = (int(w * 1.5), h)
    rng = np.random.default_rng(scene.seed)
    cols = np.asarray(_PALETTES[scene.palette], np.float32)
    out = np.zeros((big[1], big[0], 3), np.float32)
    for cells, weight in (((6, 4), 1.0), ((24, 14), 0.35), ((96, 54), 0.15)):
        mix = rng.dirichlet(np.ones(len(cols)), size=(cells[1], cells[0])).astype(np.float32) @ cols
        layer = np.asarray(Image.fromarray(mix.clip(0, 255).astype(np.uint8)).resize(big, Image.Resampling.BICUBIC),
                           np.float32)
        # the coarsest layer sets the colours; finer ones add detail around zero
        out += layer if weight == 1.0 else weight * (layer - layer.mean(axis=(0, 1)))
    if len(_FIELD_CACHE) > 64:
        _FIELD_CACHE.clear()
    _FIELD_CACHE[scene.seed] = out
    return out


def _background(scene: Scene, t: float) -> np.ndarray:
    f = _field(scene)
    w = SIZE[0]
    span = f.shape[1] - w
    phase = ((t - scene.start) / max(scene.end - scene.start, 1e-6))
    x = round(span * (0.5 + 0.5 * math.sin(math.pi * (phase - 0.5))))
    return f[:, x : x + w].clip(0, 255).astype(np.uint8)


def _distractors(draw, scene: Scene, t: float) -> None:
    rng = np.random.default_rng([scene.seed, 1])
    w, h = SIZE
    names = list(_SATURATED)
    for _ in range(int(rng.integers(2, 5))):
        colour = _SATURATED[names[int(rng.integers(len(names)))]]
        x0, y0 = rng.uniform(0.1, 0.9) * w, rng.uniform(0.15, 0.85) * h
        vx, vy = rng.uniform(-6, 6), rng.uniform(-3, 3)
        x = (x0 + vx * (t - scene.start)) % w
        y = min(max(y0 + vy * (t - scene.start) * 0.3, 10), h - 10)
        r = float(rng.uniform(0.04, 0.08)) * h
        if rng.integers(2):
            draw.ellipse([x - r, y - r, x + r, y + r], fill=colour)
        else:
            draw.rectangle([x - 2 * r, y - r / 2, x + 2 * r, y + r / 2], fill=colour)


def _shape(draw, d: dict, dt: float) -> None:
    w, h = SIZE
    r = d["size"] * h
    cx = d["x"] * w + 3.0 * math.sin(dt * 2.0)
    cy = d["y"] * h + 2.0 * math.cos(dt * 1.5)
    colour = _SATURATED[d["colour"]]
    if d["shape"] == "star":
        pts = [(cx + (r if i % 2 == 0 else r * 0.45) * math.sin(i * math.pi / 5),
                cy - (r if i % 2 == 0 else r * 0.45) * math.cos(i * math.pi / 5)) for i in range(10)]
    elif d["shape"] == "triangle":
        pts = [(cx, cy - r), (cx + r * 0.9, cy + r * 0.7), (cx - r * 0.9, cy + r * 0.7)]
    elif d["shape"] == "diamond":
        pts = [(cx, cy - r), (cx + r * 0.6, cy), (cx, cy + r), (cx - r * 0.6, cy)]
    else:  # cross
        a, b = r, r * 0.3
        pts = [(cx - b, cy - a), (cx + b, cy - a), (cx + b, cy - b), (cx + a, cy - b), (cx + a, cy + b),
               (cx + b, cy + b), (cx + b, cy + a), (cx - b, cy + a), (cx - b, cy + b), (cx - a, cy + b),
               (cx - a, cy - b), (cx - b, cy - b)]
    draw.polygon(pts, fill=colour, outline=(20, 20, 20))


def _font(name: str, size: int):
    from PIL import ImageFont

    for d in _FONT_DIRS:
        if (d / name).exists():
            return ImageFont.truetype(str(d / name), size)
    return ImageFont.load_default(size=size)


def _sign(pic, d: dict) -> None:
    from PIL import ImageDraw

    w, h = SIZE
    draw = ImageDraw.Draw(pic)
    size = 20
    while True:
        fonts = [_font(d["font"], size), _font(d["font"], int(size * 0.8))]
        boxes = [draw.textbbox((0, 0), s, font=f) for s, f in zip(d["lines"], fonts)]
        tw = max(b[2] - b[0] for b in boxes)
        if tw <= 0.8 * w or size <= 9:
            break
        size -= 1
    th = sum(b[3] - b[1] for b in boxes) + 6
    pw, ph = tw + 16, th + 14
    x, y = ((0.06 * w, 0.08 * h), (w - pw - 0.06 * w, 0.1 * h), (0.5 * (w - pw), 0.55 * h),
            (0.08 * w, h - ph - 0.08 * h))[d["place"]]
    bg, ink = ((30, 34, 40), (240, 236, 220)) if d["dark"] else ((236, 228, 200), (40, 30, 24))
    draw.rectangle([x, y, x + pw, y + ph], fill=bg, outline=ink, width=2)
    yy = y + 7
    for s, f, b in zip(d["lines"], fonts, boxes):
        draw.text((x + (pw - (b[2] - b[0])) / 2 - b[0], yy - b[1]), s, font=f, fill=ink)
        yy += b[3] - b[1] + 6


def heldout_set(out_dir: str | Path, seeds: list[int], duration: float = 240.0, per_kind: int = 2) -> list[HeldoutVideo]:
    """Plan and write one video per seed under ``out_dir``."""
    return [HeldoutVideo.plan(s, duration, per_kind).write(out_dir) for s in seeds]


__all__ = ["FPS", "SIZE", "HeldoutVideo", "Question", "heldout_set"]
