"""Frame renderer of the synthetic generator: numpy for the background, PIL only for sign text.

A frame at time ``t`` is: the scene's cached gradient background + one of a few precomputed noise
tiles + the scene's moving shapes + any needle active at ``t`` (a sign or a saturated shape).
Everything in the background is *muted* (HSV saturation <= 0.45), so the pure colours of the
vision needles never occur outside their spans.

``motion`` picks how the picture moves (:data:`MOTIONS`): ``"shapes"`` (the default: a still background
with shapes gliding over it), ``"pan"`` (a swaying camera: a textured background larger than the frame is
seen through a window that moves in every frame, and the signs move with it, as signs in filmed footage
do), or ``"static"`` (no shapes and no camera: slide-like, only sensor noise changes).
"""

from __future__ import annotations

import bisect
import dataclasses
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from clamr_frames.errors import InputError
from clamr_frames.synth import vocab
from clamr_frames.synth.plan import Needle, check_even, check_scene_args, n_frames_for, plan_needles

_STREAM_SCENES, _STREAM_NOISE, _STREAM_PLACEMENT, _STREAM_CAMERA = 5, 6, 7, 8
#: How the picture moves: see the module docstring.
MOTIONS = ("shapes", "pan", "static")
_PAN_MARGIN = 0.08  # the camera sways up to this fraction of the frame size away from the centre
_PAN_PERIOD = (6.0, 14.0)  # seconds per sway, per axis and scene
_SCENE_SECONDS = (20.0, 90.0)
_NOISE_BYTES = 8_000_000  # noise tiles kept in memory: 16 at 320x180, 4 at 720p
_NOISE_AMPLITUDE = 3
_SIGN_INK = (0, 0, 0)
_SIGN_PAPER = (255, 255, 255)


def _muted(rng: np.random.Generator, sat: tuple[float, float], val: tuple[float, float]) -> np.ndarray:
    """A random colour (float RGB 0..255) with bounded saturation and value."""
    h = float(rng.uniform(0, 1))
    s = float(rng.uniform(*sat))
    v = float(rng.uniform(*val))
    # HSV -> RGB by the standard sector formula
    i = int(h * 6) % 6
    f = h * 6 - int(h * 6)
    p, q, u = v * (1 - s), v * (1 - f * s), v * (1 - (1 - f) * s)
    rgb = [(v, u, p), (q, v, p), (p, v, u), (p, q, v), (u, p, v), (v, p, q)][i]
    return np.array(rgb, dtype=np.float32) * 255.0


@dataclass(frozen=True)
class _Shape:
    mask: np.ndarray  # bool [h, w]
    colour: np.ndarray  # uint8 [3]
    x0: float
    y0: float
    vx: float
    vy: float


@dataclass(frozen=True)
class _Scene:
    start: float
    colours: tuple[np.ndarray, np.ndarray, np.ndarray]
    angle: float
    blob: tuple[float, float, float]  # centre x, centre y (fractions), radius (fraction of width)
    shapes: tuple[_Shape, ...]
    # camera sway of the "pan" motion: (period x, phase x, period y, phase y); None for a still camera
    sway: tuple[float, float, float, float] | None = None


def _ellipse(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return ((yy + 0.5 - h / 2) / (h / 2)) ** 2 + ((xx + 0.5 - w / 2) / (w / 2)) ** 2 <= 1.0


def _polygon_mask(size: int, points: Sequence[tuple[float, float]]) -> np.ndarray:
    from PIL import Image, ImageDraw

    img = Image.new("L", (size, size), 0)
    ImageDraw.Draw(img).polygon([(x * (size - 1), y * (size - 1)) for x, y in points], fill=255)
    return np.asarray(img) > 127


def shape_mask(shape: str, size: int) -> np.ndarray:
    """Boolean ``[size, size]`` mask of one of the vision needle shapes.

    >>> m = shape_mask("diamond", 21)
    >>> m.shape, bool(m[10, 10]), bool(m[0, 0])
    ((21, 21), True, False)
    """
    if shape == "star":
        pts = []
        for k in range(10):
            r = 0.5 if k % 2 == 0 else 0.2
            a = -math.pi / 2 + k * math.pi / 5
            pts.append((0.5 + r * math.cos(a), 0.52 + r * math.sin(a)))
        return _polygon_mask(size, pts)
    if shape == "triangle":
        return _polygon_mask(size, [(0.5, 0.02), (0.98, 0.95), (0.02, 0.95)])
    if shape == "diamond":
        return _polygon_mask(size, [(0.5, 0.0), (1.0, 0.5), (0.5, 1.0), (0.0, 0.5)])
    if shape == "cross":
        m = np.zeros((size, size), dtype=bool)
        a, b = int(size * 0.33), int(math.ceil(size * 0.67))
        m[a:b, :] = True
        m[:, a:b] = True
        return m
    if shape == "hexagon":
        pts = [(0.5 + 0.5 * math.cos(k * math.pi / 3), 0.5 + 0.5 * math.sin(k * math.pi / 3)) for k in range(6)]
        return _polygon_mask(size, pts)
    if shape == "arrow":
        return _polygon_mask(
            size, [(0.0, 0.35), (0.55, 0.35), (0.55, 0.08), (1.0, 0.5), (0.55, 0.92), (0.55, 0.65), (0.0, 0.65)]
        )
    if shape == "crescent":
        yy, xx = np.mgrid[0:size, 0:size] + 0.5
        r = size / 2
        outer = (yy - r) ** 2 + (xx - r) ** 2 <= r**2
        inner = (yy - r * 0.85) ** 2 + (xx - r * 1.45) ** 2 <= (r * 0.8) ** 2
        return outer & ~inner
    raise ValueError(f"unknown shape {shape!r}")


def _check_scene_seconds(value: Sequence[float]) -> tuple[float, float]:
    try:
        lo, hi = (float(x) for x in value)
    except (TypeError, ValueError):
        raise InputError(f"scene_seconds must be (shortest, longest) in seconds, got {value!r}") from None
    if not (0.5 <= lo <= hi and math.isfinite(hi)):
        raise InputError(f"scene_seconds must satisfy 0.5 <= shortest <= longest, got {value!r}")
    return lo, hi


def _bounce(x0: float, v: float, t: float, span: float) -> int:
    """Position at time t of a point moving at v px/s that bounces inside [0, span]."""
    if span <= 0:
        return 0
    x = (x0 + v * t) % (2 * span)
    return int(span - abs(x - span))


class SyntheticScene:
    """Renders the frames of one synthetic video at any timestamp, without writing a file.

    Build it with the same arguments as :func:`~clamr_frames.synth.generate_video` to get exactly
    the frames of that video (before compression)::

        scene = SyntheticScene(seed=0, duration=600.0)
        frame = scene.render_frame(123.5)        # uint8 [height, width, 3]
        for frame in scene.frames(): ...         # every frame at i / fps

    These keyword arguments and their defaults are also ``generate_video``'s (its ``**scene_args``).

    Args:
        seed: the scenes and the planned needles follow from it.
        duration: length in seconds, from a few seconds to hours.
        fps: native frame rate of the video.
        width, height: frame size; both even (H.264 with 4:2:0 chroma).
        needles_per_kind: needles of each kind in ``kinds`` (``"ocr"``, ``"asr"``, ``"vision"``).
        needles: the needles to draw; by default planned from the seed as ``generate_video`` does.
        motion: ``"shapes"`` (shapes glide over a still background), ``"pan"`` (a swaying camera: the
            whole picture, signs included, moves in every frame) or ``"static"`` (slide-like); see
            :data:`MOTIONS` and the module docstring. The needles and the scene cuts do not depend on it.
        scene_seconds: (shortest, longest) scene; lengths are drawn uniformly between them (the default
            20–90 s; e.g. ``(2, 60)`` mixes brief shots with long ones).
    """

    def __init__(
        self,
        *,
        seed: int = 0,
        duration: float = 600.0,
        fps: float = 2.0,
        width: int = 320,
        height: int = 180,
        needles_per_kind: int = 2,
        kinds: Sequence[str] = ("ocr", "asr", "vision"),
        needles: Sequence[Needle] | None = None,
        motion: str = "shapes",
        scene_seconds: tuple[float, float] = _SCENE_SECONDS,
    ):
        check_scene_args(seed, duration, fps, needles_per_kind, kinds)
        check_even(width, height)
        self.scene_seconds = _check_scene_seconds(scene_seconds)
        if motion not in MOTIONS:
            raise InputError(f"motion must be one of {MOTIONS}, got {motion!r}")
        self.motion = motion
        # the canvas the camera looks at is larger than the frame when it pans
        self._margin = (
            (int(round(_PAN_MARGIN * width)), int(round(_PAN_MARGIN * height))) if motion == "pan" else (0, 0)
        )
        self.seed, self.fps, self.width, self.height = int(seed), float(fps), int(width), int(height)
        self.n_frames = n_frames_for(duration, fps)
        self.duration = self.n_frames / self.fps
        if needles is None:
            needles = plan_needles(self.seed, self.duration, self.fps, needles_per_kind, kinds)
        self.needles: tuple[Needle, ...] = tuple(needles)
        self._scenes = self._plan_scenes()
        self._starts = [s.start for s in self._scenes]
        self._bg_cache: dict[int, np.ndarray] = {}
        noise_rng = np.random.default_rng([self.seed, _STREAM_NOISE])
        a = _NOISE_AMPLITUDE
        # int noise stored as uint8 two's complement: uint8 addition wraps to bg + noise exactly,
        # because every background value lies well inside [a, 255 - a]
        n_tiles = int(np.clip(_NOISE_BYTES // (height * width * 3), 4, 16))
        self._noise = noise_rng.integers(-a, a + 1, size=(n_tiles, height, width, 3)).astype(np.uint8)
        self._overlays = self._plan_overlays()

    # -- planning ---------------------------------------------------------------------------------

    def _plan_scenes(self) -> list[_Scene]:
        rng = np.random.default_rng([self.seed, _STREAM_SCENES])
        w, h = self.width, self.height
        scenes = []
        t = 0.0
        while t < self.duration or not scenes:
            colours = (
                _muted(rng, (0.12, 0.40), (0.40, 0.78)),
                _muted(rng, (0.12, 0.40), (0.40, 0.78)),
                _muted(rng, (0.12, 0.40), (0.40, 0.78)),
            )
            shapes = []
            for _ in range(int(rng.integers(2, 5))):
                sh = max(2, int(rng.uniform(0.08, 0.3) * h))
                sw = max(2, int(sh * rng.uniform(0.6, 1.8)))
                sw = min(sw, w - 2)
                mask = _ellipse(sh, sw) if rng.uniform() < 0.5 else np.ones((sh, sw), dtype=bool)
                colour = np.clip(_muted(rng, (0.2, 0.45), (0.45, 0.85)), 8, 247).astype(np.uint8)
                speed = rng.uniform(0.05, 0.25) * w
                angle = rng.uniform(0, 2 * math.pi)
                shapes.append(
                    _Shape(
                        mask, colour, float(rng.uniform(0, w)), float(rng.uniform(0, h)),
                        float(speed * math.cos(angle)), float(speed * math.sin(angle)),
                    )
                )
            blob = (float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.1, 0.9)), float(rng.uniform(0.2, 0.6)))
            scenes.append(_Scene(t, colours, float(rng.uniform(0, 2 * math.pi)), blob, tuple(shapes)))
            t += float(rng.uniform(*self.scene_seconds))
        if self.motion == "static":
            scenes = [dataclasses.replace(sc, shapes=()) for sc in scenes]
        elif self.motion == "pan":  # its own random stream: the other motions' scenes stay as they were
            cam = np.random.default_rng([self.seed, _STREAM_CAMERA])
            scenes = [
                dataclasses.replace(
                    sc,
                    sway=(float(cam.uniform(*_PAN_PERIOD)), float(cam.uniform(0, 2 * math.pi)),
                          float(cam.uniform(*_PAN_PERIOD)), float(cam.uniform(0, 2 * math.pi))),
                )
                for sc in scenes
            ]
        return scenes

    def _plan_overlays(self) -> list[tuple[np.ndarray, np.ndarray | None, int, int]]:
        """Per needle: (patch RGB or a colour, mask or None, x, y); empty patch for ASR needles."""
        rng = np.random.default_rng([self.seed, _STREAM_PLACEMENT])
        out = []
        for nd in self.needles:
            if nd.kind == "ocr":
                patch = render_sign(nd.detail("place"), nd.key, self.width, self.height)
                ph, pw = patch.shape[:2]
                x = int(rng.integers(0, self.width - pw + 1))
                y = int(rng.integers(0, self.height - ph + 1))
                out.append((patch, None, x, y))
            elif nd.kind == "vision":
                size = max(8, int(round(0.4 * self.height)))
                mask = shape_mask(nd.detail("shape"), size)
                colour = np.array(vocab.VISION_COLOURS[nd.detail("colour")], dtype=np.uint8)
                x = int(rng.integers(0, self.width - size + 1))
                y = int(rng.integers(0, self.height - size + 1))
                out.append((colour, mask, x, y))
            else:
                out.append((np.zeros(0, np.uint8), None, 0, 0))
        return out

    # -- rendering --------------------------------------------------------------------------------

    def scene_index(self, t: float) -> int:
        """Index of the background scene shown at time ``t``."""
        return max(0, bisect.bisect_right(self._starts, t) - 1)

    @property
    def scene_starts(self) -> list[float]:
        """Start time of every scene (a new palette and new shapes), in seconds."""
        return list(self._starts)

    def _background(self, i: int) -> np.ndarray:
        bg = self._bg_cache.get(i)
        if bg is None:
            sc = self._scenes[i]
            mx, my = self._margin
            h, w = self.height + 2 * my, self.width + 2 * mx
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            proj = xx * math.cos(sc.angle) + yy * math.sin(sc.angle)
            g = ((proj - proj.min()) / max(float(np.ptp(proj)), 1e-6))[..., None]
            img = sc.colours[0] * (1 - g) + sc.colours[1] * g
            cx, cy, r = sc.blob
            d2 = ((xx - cx * w) ** 2 + (yy - cy * h) ** 2) / (r * w) ** 2
            wgt = np.exp(-d2)[..., None] * 0.8
            img = img * (1 - wgt) + sc.colours[2] * wgt
            if sc.sway is not None:
                # brightness texture (scaling a muted colour keeps it muted): without it a pan of a smooth
                # gradient would hardly change any pixel
                img = img * self._texture(i, h, w)[..., None]
            bg = np.clip(np.rint(img), 8, 247).astype(np.uint8)
            if len(self._bg_cache) >= 4:  # frames come in time order: a tiny cache suffices
                self._bg_cache.pop(next(iter(self._bg_cache)))
            self._bg_cache[i] = bg
        return bg

    def _texture(self, i: int, h: int, w: int) -> np.ndarray:
        """A smooth brightness texture in [0.8, 1.2] (a few random gratings) of scene ``i``'s canvas."""
        rng = np.random.default_rng([self.seed, _STREAM_CAMERA, i])
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        tex = np.zeros((h, w), np.float32)
        for _ in range(4):
            a = rng.uniform(0, 2 * math.pi)
            wavelength = rng.uniform(0.08, 0.3) * self.width
            tex += np.sin((xx * math.cos(a) + yy * math.sin(a)) * (2 * math.pi / wavelength) + rng.uniform(0, 6.3))
        return 1.0 + 0.05 * tex

    def camera_offset(self, t: float) -> tuple[int, int]:
        """Where the camera looks at ``t``: (dx, dy) pixels from the centre of the canvas ((0, 0) unless
        ``motion="pan"``)."""
        sc = self._scenes[self.scene_index(t)]
        if sc.sway is None:
            return 0, 0
        px, fx, py, fy = sc.sway
        mx, my = self._margin
        return (int(round(mx * math.sin(2 * math.pi * t / px + fx))),
                int(round(my * math.sin(2 * math.pi * t / py + fy))))

    def render_frame(self, t: float) -> np.ndarray:
        """The frame shown at ``t`` seconds: a new uint8 array ``[height, width, 3]`` (RGB)."""
        i_scene = self.scene_index(t)
        sc = self._scenes[i_scene]
        frame_no = int(math.floor(t * self.fps + 1e-6))
        bg = self._background(i_scene)
        dx, dy = self.camera_offset(t)
        mx, my = self._margin
        bg = bg[my + dy : my + dy + self.height, mx + dx : mx + dx + self.width]
        frame = bg + self._noise[frame_no % len(self._noise)]
        local = t - sc.start
        for s in sc.shapes:
            sh, sw = s.mask.shape
            x = _bounce(s.x0, s.vx, local, self.width - sw)
            y = _bounce(s.y0, s.vy, local, self.height - sh)
            frame[y : y + sh, x : x + sw][s.mask] = s.colour
        for nd, (patch, mask, x, y) in zip(self.needles, self._overlays):
            if nd.kind == "asr" or not (nd.start <= t < nd.end):
                continue
            if mask is None:
                ph, pw = patch.shape[:2]
                # a sign is part of the filmed world: it moves against the camera, kept inside the frame
                x = min(max(x - dx, 0), self.width - pw)
                y = min(max(y - dy, 0), self.height - ph)
                frame[y : y + ph, x : x + pw] = patch
            else:
                sz = mask.shape[0]
                frame[y : y + sz, x : x + sz][mask] = patch
        return frame

    @property
    def timestamps(self) -> np.ndarray:
        """Presentation time of every frame, ``i / fps``."""
        return np.arange(self.n_frames, dtype=np.float64) / self.fps

    def frames(self) -> Iterator[np.ndarray]:
        """Every frame of the video in order (each a fresh array)."""
        for i in range(self.n_frames):
            yield self.render_frame(i / self.fps)

    def audio(self, rate: int = 16000) -> np.ndarray:
        """A quiet mono tone track (float32 in [-1, 1]); its pitch changes with every scene."""
        n = int(round(self.duration * rate))
        out = np.empty(n, dtype=np.float32)
        rng = np.random.default_rng([self.seed, _STREAM_SCENES + 100])
        bounds = [int(round(s * rate)) for s in self._starts] + [n]
        for a, b in zip(bounds[:-1], bounds[1:]):
            if b <= a:
                continue
            freq = float(rng.uniform(180.0, 440.0))
            tt = np.arange(a, b, dtype=np.float64) / rate
            out[a:b] = (0.05 * np.sin(2 * np.pi * freq * tt)).astype(np.float32)
        return out


def render_sign(place: str, key: str, width: int, height: int) -> np.ndarray:
    """A high-contrast sign: ``PLACE:`` over ``KEY``, black on white with a black frame.

    Font sizes follow the frame height (about 11 % and 16 %) and shrink until the sign fits in
    92 % of the width, so the text stays legible to OCR at 320x180.
    """
    from PIL import Image, ImageDraw, ImageFont

    lines = [f"{place}:", key]
    rel = [0.11, 0.16]
    scale = 1.0
    while True:
        fonts = [ImageFont.load_default(size=max(6, round(r * height * scale))) for r in rel]
        boxes = [f.getbbox(s) for f, s in zip(fonts, lines)]
        text_w = max(b[2] - b[0] for b in boxes)
        pad = max(3, round(0.03 * height * scale))
        line_h = [b[3] - b[1] for b in boxes]
        sign_w = text_w + 2 * pad + 4
        sign_h = sum(line_h) + 3 * pad + 4
        if (sign_w <= 0.92 * width and sign_h <= 0.9 * height) or scale < 0.3:
            break
        scale *= 0.9
    sign_w, sign_h = min(sign_w, width), min(sign_h, height)
    img = Image.new("RGB", (sign_w, sign_h), _SIGN_INK)
    draw = ImageDraw.Draw(img)
    draw.rectangle([2, 2, sign_w - 3, sign_h - 3], fill=_SIGN_PAPER)
    y = 2 + pad
    for font, text, box, lh in zip(fonts, lines, boxes, line_h):
        tw = box[2] - box[0]
        draw.text(((sign_w - tw) / 2 - box[0], y - box[1]), text, font=font, fill=_SIGN_INK)
        y += lh + pad
    return np.asarray(img, dtype=np.uint8).copy()
