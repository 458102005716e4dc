"""Fixtures of the harness tests: a Video-MME-style document on a generated video with one subtitle line a second."""

from __future__ import annotations

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
