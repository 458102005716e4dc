"""Long videos composed only of the committed real footage (tests/data/video, sources in its README).

The measurements of the visual prior's rarity term, of OCR on real footage and of the policy table need
videos minutes long made of material nobody here made. This module cuts the real clips into segments and joins
them into one H.264 file, every segment letterboxed to one frame size and resampled to one frame rate; it
returns where each segment lies, so a question can be scored by whether a picked frame falls inside the
segment it is about.

>>> plan = [Segment("cockatoo", 0.0, 2.0), Segment("chaplin", 1.0, 1.5)]
>>> [round(s.duration, 1) for s in plan]
[2.0, 1.5]
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from testkit.real_media import DATA

#: The real clips by short name: (file under tests/data, what is in it).
CLIPS: dict[str, tuple[str, str]] = {
    "bunny": ("video/big_buck_bunny_0_30.webm", "an animated film's first 30 s: sky, meadow, a tree, the title"),
    "chaplin": ("video/chaplin.mp4", "black-and-white silent film: two men in a park"),
    "smpte": ("video/smpte_2997.mp4", "broadcast test card with three running counters"),
    "testcard": ("video/testcard_timecode.mp4", "colour bars, a caption and a running timecode"),
    "pigs": ("video/pigs_in_a_polka.gif", "a hand-drawn cartoon: two pigs dancing"),
    "cockatoo": ("video/cockatoo.mp4", "handheld camera: a white cockatoo on a perch"),
    "deer": ("video/sample_h264_aac.mp4", "a deer in a field, 1 s"),
    "room": ("video/realshort.mp4", "a room, 1.2 s"),
}


@dataclass(frozen=True)
class Segment:
    """``duration`` seconds of clip ``clip`` from its second ``start`` (a shorter clip is looped)."""

    clip: str
    start: float
    duration: float


@dataclass(frozen=True)
class Placed:
    """Where a segment landed in the composed video (seconds)."""

    segment: Segment
    t0: float
    t1: float


@functools.lru_cache(maxsize=16)
def _decoded(clip: str, fps: float, size: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Every frame of ``clip`` resampled to ``fps`` (nearest earlier frame) and letterboxed to ``size`` (w, h)."""
    import av
    from PIL import Image

    rel, _ = CLIPS[clip]
    w, h = size
    times, pictures = [], []
    with av.open(str(DATA / rel)) as c:
        stream = c.streams.video[0]
        for fr in c.decode(stream):
            if fr.time is None:
                continue
            img = fr.to_image().convert("RGB")
            scale = min(w / img.width, h / img.height)
            nw, nh = max(2, round(img.width * scale)), max(2, round(img.height * scale))
            canvas = Image.new("RGB", (w, h))
            canvas.paste(img.resize((nw, nh), Image.Resampling.BILINEAR), ((w - nw) // 2, (h - nh) // 2))
            times.append(float(fr.time))
            pictures.append(np.asarray(canvas))
    if not pictures:
        raise ValueError(f"{rel}: no video frame decoded")
    t = np.asarray(times) - times[0]
    step = 1.0 / fps
    grid = np.arange(0.0, t[-1] + step / 2, step)
    pick = np.clip(np.searchsorted(t, grid, side="right") - 1, 0, len(pictures) - 1)
    return tuple(pictures[i] for i in pick)


def clip_frames(clip: str, start: float, duration: float, fps: float, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """``duration`` seconds of ``clip`` from ``start`` at ``fps``, looping a clip shorter than that."""
    frames = _decoded(clip, fps, size)
    first = int(round(start * fps))
    for i in range(int(round(duration * fps))):
        yield frames[(first + i) % len(frames)]


def compose(out: str | Path, plan: Sequence[Segment], *, fps: float = 8.0, size: tuple[int, int] = (480, 270),
            audio: np.ndarray | None = None, audio_rate: int = 16000) -> list[Placed]:
    """Write the segments of ``plan`` one after the other to ``out`` (H.264 MP4); where each landed.

    The file is written once per path (an existing one is reused: the plan is the caller's to keep stable).
    ``audio``: an optional mono soundtrack for the whole video.
    """
    from clamr_frames.video.writer import write_video

    placed, t = [], 0.0
    for seg in plan:
        n = int(round(seg.duration * fps))
        placed.append(Placed(seg, t, t + n / fps))
        t += n / fps
    out = Path(out)
    if not out.exists():
        tmp = out.with_name(out.stem + ".partial" + out.suffix)
        frames = (f for seg in plan for f in clip_frames(seg.clip, seg.start, seg.duration, fps, size))
        write_video(tmp, frames, fps, audio=audio, audio_rate=audio_rate)
        tmp.replace(out)
    return placed


__all__ = ["CLIPS", "Placed", "Segment", "clip_frames", "compose"]
