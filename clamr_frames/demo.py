"""The README's main job: a real selection with the embedded default on a generated video, offline."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from clamr_frames.evaluation import hits_span, recall


def run_demo(
    out_dir: Path,
    *,
    minutes: float = 5.0,
    k: int = 8,
    seed: int = 0,
    policy: str | None = None,
    ocr: bool | None = None,
    speech: bool | None = None,
    use_subtitles: bool = False,
) -> int:
    """Generate a video with needles, select ``k`` frames per question, report hits.

    ``ocr=None`` reads the on-screen text when the ``ocr`` extra (RapidOCR) is installed (the selector's default
    for the embedded scorer); ``policy=None`` is the scorer's default policy.
    ``speech=None`` speaks the ASR needles and a narration into the audio track when espeak-ng is available
    (the ``synth`` extra); the selector then finds spoken needles from the audio alone (speech recognition,
    the ``asr`` extra), unless ``use_subtitles`` hands it the subtitle file instead.
    """
    from clamr_frames.context.asr import asr_available
    from clamr_frames.plot import plot_timeline
    from clamr_frames.select import select_frames
    from clamr_frames.selector import FrameSelector
    from clamr_frames.synth import generate_video

    if speech is None:
        speech = _speech_available()
    subtitles_for_selection = use_subtitles or not speech
    if not subtitles_for_selection and not asr_available():
        print("speech recognition is not installed (pip install 'clamr-frames[asr]'): using the subtitle file")
        subtitles_for_selection = True
    out_dir.mkdir(parents=True, exist_ok=True)
    spoken = " spoken" if speech else ""
    print(f"generating a {minutes:g}-minute video with{spoken} needles (seed {seed}) in {out_dir}/ ...")
    video = generate_video(out_dir, seed=seed, duration=60.0 * minutes, speech=speech)
    print(f"  video {video.video_path}  subtitles {video.srt_path}  questions {video.questions_path}")
    subtitles = video.srt_path if subtitles_for_selection else None
    selector = FrameSelector.from_pretrained("default", index_dir=out_dir / "cache", ocr=ocr)
    ocr, policy = selector.use_ocr, policy or selector.default_policy
    index = selector.index(video.video_path, subtitles=subtitles)
    print(f"indexed {index.num_candidates} candidate frames (1 fps) with {selector.encoder.encoder_id}")
    if subtitles is None:
        print(f"ASR context: speech recognised from the audio track ({index.asr_source}); the subtitle file is "
              "not used (--use-subtitles uses it)")
    else:
        print(f"ASR context: the subtitle file {subtitles}")
    print()
    hits: dict[str, list[bool]] = {}
    uniform_hits: dict[str, list[bool]] = {}
    first = None
    for q in video.questions:
        needle = q["needle"]
        sel = selector.select(video.video_path, q["question"], k=k, subtitles=subtitles, policy=policy)
        hit = hits_span(sel.timestamps, needle["start"], needle["end"])
        uni = select_frames(sel.all_scores, sel.all_timestamps, k, policy="uniform")
        uhit = hits_span(sel.all_timestamps[uni], needle["start"], needle["end"])
        hits.setdefault(needle["kind"], []).append(hit)
        uniform_hits.setdefault(needle["kind"], []).append(uhit)
        mark = "HIT " if hit else "miss"
        print(f"[{mark}] {needle['kind']:6s} needle at {needle['start']:7.1f}-{needle['end']:7.1f} s  Q: {q['question']}")
        picked = ", ".join(f"{t:.0f}" for t in sel.timestamps)
        print(f"        picked (s): {picked}")
        best = int(np.argmax(sel.scores))
        ctx = sel.asr[best] or sel.ocr[best]
        if ctx:
            print(f"        best frame {sel.timestamps[best]:.0f} s context: {ctx[:90]}")
        if first is None and hit:
            first = (sel, needle)
    print()
    print(f"frame recall@{k} ({policy}) vs uniform sampling at the same k:")
    for kind in hits:
        print(f"  {kind:6s}  clamr-frames {recall(hits[kind]):.2f}   uniform {recall(uniform_hits[kind]):.2f}   ({len(hits[kind])} questions)")
    if not selector.encoder.uses_image and "vision" in hits and policy not in ("gated", "coverage"):
        print("  (the embedded default reads subtitles/OCR only: for vision needles use --policy gated, which falls "
              "back on the video's shots and novelty, or a visual scorer such as --scorer clamr)")
    if not ocr and "ocr" in hits:
        print("  (OCR context is off: install the 'ocr' extra and run with --ocr to read the signs)")
    if first is not None:
        sel, needle = first
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            plot = plot_timeline(sel, out_dir / "timeline.png", spans=[(needle["start"], needle["end"])])
        print(f"\nscore timeline of one question: {plot}")
    return 0


def _speech_available() -> bool:
    """True when espeak-ng can be loaded (the ``synth`` extra, or the system library)."""
    from clamr_frames.synth.speech import Espeak, SpeechUnavailableError

    try:
        Espeak()
    except SpeechUnavailableError:
        return False
    return True
