"""Write synthetic long videos with needle events, their subtitles and Video-MME-style questions.

One call writes three files named after the video id: the video (H.264 .mp4 by default), an .srt
with everyday filler lines plus the ASR needles, and a JSON list of multiple-choice questions in
Video-MME's schema, each with the ground-truth ``needle`` span. Everything follows from the seed:
the same arguments give byte-identical .srt and .json files and identical frames.

With ``speech=True`` the ASR needles and a background narration of filler lines are spoken into the
audio track (espeak-ng, :mod:`clamr_frames.synth.speech`); the .srt then holds exactly what is said
and when, and ``subtitles=False`` leaves it out, so the needles can only be found by listening.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.errors import InputError
from clamr_frames.synth.plan import Needle, check_seed, make_questions, plan_subtitles
from clamr_frames.synth.render import SyntheticScene

_CONTAINERS = ("mp4", "mkv", "avi", "webm")
_LAYOUTS = ("flat", "videomme")
_AUDIO_RATE = 8000  # a tone needs no more; AAC encoding time grows with the rate


@dataclass(frozen=True)
class SyntheticVideo:
    """The files and ground truth of one generated video.

    ``duration`` is the written length, ``round(duration * fps) / fps`` of the requested one.
    ``questions`` is the content of ``questions_path``. ``srt_path`` is None when no subtitle file was
    written (``subtitles=False``); ``spoken`` says whether the audio track speaks the ASR needles.
    """

    video_path: Path
    srt_path: Path | None
    questions_path: Path
    duration: float
    fps: float
    width: int
    height: int
    seed: int
    needles: tuple[Needle, ...]
    questions: list[dict] = field(default_factory=list)
    motion: str = "shapes"
    spoken: bool = False
    scene_seconds: tuple[float, float] = (20.0, 90.0)

    @property
    def video_id(self) -> str:
        """The ``videoID`` of the questions (the files' stem)."""
        return self.video_path.stem

    def scene(self) -> SyntheticScene:
        """A renderer of this video's frames (uncompressed), e.g. to check a timestamp."""
        return SyntheticScene(
            seed=self.seed, duration=self.duration, fps=self.fps, width=self.width,
            height=self.height, needles=self.needles, motion=self.motion, scene_seconds=self.scene_seconds,
        )


def _paths(out_dir: Path, video_id: str, container: str, layout: str) -> tuple[Path, Path, Path]:
    if layout == "flat":
        return (
            out_dir / f"{video_id}.{container}",
            out_dir / f"{video_id}.srt",
            out_dir / f"{video_id}.json",
        )
    # Video-MME's own layout, as lmms-eval's videomme task reads it from $HF_HOME/videomme
    return (
        out_dir / "data" / f"{video_id}.{container}",
        out_dir / "subtitle" / f"{video_id}.srt",
        out_dir / "questions" / f"{video_id}.json",
    )


def generate_video(
    out_dir: str | Path,
    *,
    phrasing: int | Sequence[int] | None = 0,
    audio: bool = False,
    video_id: str | None = None,
    container: str = "mp4",
    layout: str = "flat",
    videomme_markup: bool = False,
    speech: bool = False,
    narration: bool = True,
    subtitles: bool = True,
    **scene_args: Any,
) -> SyntheticVideo:
    """Generate one synthetic video with needles, its .srt and its questions JSON.

    Args:
        out_dir: folder of the files (created if needed).
        phrasing: question template: an int (modulo the templates of each kind), a sequence of
            ints to draw from per question, or ``None`` for any. The video, the subtitles and the
            options do not depend on it, so held-out phrasings ask about the same needles.
        audio: add a quiet tone track (AAC in .mp4) whose pitch changes with the scenes.
        video_id: stem of the three files and the questions' ``videoID``; default ``synth-<seed>``.
        container: ``"mp4"`` (H.264), ``"mkv"`` (H.264), ``"avi"`` (MPEG-4 Part 2) or ``"webm"`` (VP9).
        layout: ``"flat"`` (all in ``out_dir``) or ``"videomme"`` (``data/``, ``subtitle/``,
            ``questions/`` as in Video-MME's download, for lmms-eval's videomme task).
        videomme_markup: wrap subtitle lines in Video-MME's ``<font ...>`` tag (lmms-eval's
            videomme prompt only reads text inside it).
        speech: speak the ASR needles (each from its start; its span becomes the spoken length)
            and, with ``narration``, filler lines between them into the audio track (espeak-ng
            ``en-GB`` voices at 130–140 words per minute; needs the ``synth`` extra or the system
            espeak-ng). The subtitles are then the spoken lines with their spoken times.
        narration: with ``speech``, the background talk between needles (off: needles only).
        subtitles: write the .srt (False: no subtitle file; ``srt_path`` is None).
        **scene_args: the picture and the needles, :class:`~clamr_frames.synth.render.SyntheticScene`'s
            keyword arguments and defaults (``seed``, ``duration``, ``fps``, ``width``, ``height``,
            ``needles_per_kind``, ``kinds``, ``motion``, ``scene_seconds``); everything (scenes, needles,
            subtitles, options) follows from ``seed``.

    Returns:
        The paths, the ground-truth needles and the questions.

    Raises:
        InputError: a bad argument, or a video too short for its needles.
        SpeechUnavailableError: ``speech=True`` and no espeak-ng library can be loaded.
    """
    scene = SyntheticScene(**scene_args)  # checks its arguments first, as before the container and layout
    if container not in _CONTAINERS:
        raise InputError(f"container must be one of {_CONTAINERS}, got {container!r}")
    if layout not in _LAYOUTS:
        raise InputError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
    from clamr_frames.video.writer import write_video

    seed, fps = scene.seed, scene.fps
    video_id = video_id or f"synth-{seed}"
    needles = scene.needles
    track = None
    if speech:
        from clamr_frames.synth.speech import speak_video

        track, retimed = speak_video(seed, needles, scene.duration, narrate=narration)
        needles = tuple(retimed)
        cues = track.cues()
    else:
        cues = plan_subtitles(seed, scene.duration, needles)
    if videomme_markup:
        cues = [Cue(c.start, c.end, f'<font color="white" size=".72c">{c.text}</font>') for c in cues]
    questions = make_questions(seed, video_id, scene.duration, needles, phrasing)

    video_path, srt_path, questions_path = _paths(Path(out_dir), video_id, container, layout)
    for p in (video_path, srt_path, questions_path):
        p.parent.mkdir(parents=True, exist_ok=True)
    if subtitles:
        write_srt(srt_path, cues)
    else:
        srt_path.unlink(missing_ok=True)  # a stale file from an earlier run would be read as this video's
    questions_path.write_text(json.dumps(questions, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    if track is not None:
        tone = scene.audio(track.rate) if audio else None
        write_video(video_path, scene.frames(), fps, audio=track.blocks(background=tone), audio_rate=track.rate)
    else:
        write_video(video_path, scene.frames(), fps, audio=scene.audio(_AUDIO_RATE) if audio else None,
                    audio_rate=_AUDIO_RATE)
    return SyntheticVideo(
        video_path=video_path,
        srt_path=srt_path if subtitles else None,
        questions_path=questions_path,
        duration=scene.duration,
        fps=fps,
        width=scene.width,
        height=scene.height,
        seed=seed,
        needles=needles,
        questions=questions,
        motion=scene.motion,
        spoken=track is not None,
        scene_seconds=scene.scene_seconds,
    )


def video_seed(seed: int, index: int) -> int:
    """Seed of the ``index``-th video of a dataset built with ``seed`` (well mixed, non-negative).

    Datasets with different seeds share no video, unlike ``seed + index``.
    """
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1)[0])


def generate_dataset(
    out_dir: str | Path,
    *,
    n_videos: int,
    seed: int = 0,
    duration: float | tuple[float, float] = 600.0,
    layout: str = "videomme",
    **kw,
) -> list[SyntheticVideo]:
    """Generate ``n_videos`` videos and a combined ``questions.json`` in ``out_dir``.

    Args:
        n_videos: number of videos; video ``i`` gets seed ``video_seed(seed, i)`` and id
            ``synth-<seed>-<i:04d>``.
        duration: seconds per video, or ``(low, high)`` for lengths drawn uniformly per video.
        layout: ``"videomme"`` (default) or ``"flat"``, as in :func:`generate_video`.
        **kw: any other :func:`generate_video` argument (``fps``, ``needles_per_kind``,
            ``phrasing``, ...).
    """
    if n_videos < 0:
        raise InputError(f"n_videos must be >= 0, got {n_videos}")
    check_seed(seed)
    out_dir = Path(out_dir)
    rng = np.random.default_rng([int(seed), 99])
    videos = []
    for i in range(n_videos):
        if isinstance(duration, (tuple, list)):
            lo, hi = duration
            d = float(np.round(rng.uniform(lo, hi), 1))
        else:
            d = float(duration)
        videos.append(
            generate_video(
                out_dir, seed=video_seed(seed, i), duration=d, video_id=f"synth-{seed}-{i:04d}",
                layout=layout, **kw,
            )
        )
    out_dir.mkdir(parents=True, exist_ok=True)
    combined = [q for v in videos for q in v.questions]
    (out_dir / "questions.json").write_text(json.dumps(combined, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return videos
