"""Fixtures of the harness tests: lmms-eval offline with its own datasets cache, a generated synthetic task, and a
Video-MME-style document on a generated video with one subtitle line a second."""

from __future__ import annotations

import os

import pytest

from clamr_frames.context.subtitles import Cue, write_srt
from testkit.prompts import VMME_OPTIONS, VMME_SECONDS



def _vmme(text: str) -> str:
    return f'<font color="white" size=".72c">{text}</font>'


@pytest.fixture(scope="module")
def vmme_clip(tmp_path_factory):
    """A 60 s video and Video-MME-style subtitles: cue i on screen over [i + 0.2, i + 0.7) s, i = 0..59.

    Frames at whole seconds see no cue and frames at half seconds see one, so 32 uniform frames of the 120
    see at most 32 cues, while 768 (every native frame) see all 60.
    """
    from testkit.media import make_video

    d = tmp_path_factory.mktemp("table4")
    video = make_video(d / "fixvid.mp4", 2 * VMME_SECONDS, fps=2.0)
    srt = write_srt(d / "fixvid.srt", [Cue(i + 0.2, i + 0.7, _vmme(f"line {i:02d}.")) for i in range(VMME_SECONDS)])
    doc = {"videoID": "fixvid", "video_id": "001", "duration": "long", "domain": "Knowledge",
           "sub_category": "Humanity & History", "task_type": "Counting Problem", "question_id": "001-1",
           "question": "What does the speaker point at?", "options": VMME_OPTIONS, "answer": "B",
           "video_path": str(video), "subtitle_path": str(srt)}
    return {"dir": d, "video": video, "srt": srt, "doc": doc}


@pytest.fixture(scope="module")
def offline_env(tmp_path_factory):
    """lmms-eval and the HF libraries offline, with a datasets cache of their own (restored afterwards)."""
    saved = {k: os.environ.get(k) for k in ("HF_DATASETS_OFFLINE", "HF_HUB_OFFLINE", "HF_DATASETS_CACHE")}
    os.environ.update(HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1",
                      HF_DATASETS_CACHE=str(tmp_path_factory.mktemp("hf_datasets")))
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="module")
def synth_dir(tmp_path_factory):
    """The offline synthetic task (2 videos of 40 s), in a folder named like lmms-eval's own Video-MME cache layout
    ($HF_HOME/videomme)."""
    from qa_harness.make_synthetic import make_synthetic

    out = tmp_path_factory.mktemp("hf_home") / "videomme"
    make_synthetic(out, n_videos=2, duration=40.0, needles_per_kind=1, frame_num=8)
    return out
