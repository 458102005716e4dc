"""Fixtures of the report tests: one short synthetic video (VP9 WebM, which every Chromium build plays) with its
subtitles, indexed once per session by the embedded default scorer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

QUESTION_KIND = "ocr"


@pytest.fixture(scope="session")
def report_video(tmp_path_factory: pytest.TempPathFactory) -> dict:
    from clamr_frames.synth import generate_video

    folder = tmp_path_factory.mktemp("report_videos")
    v = generate_video(folder / "videos", seed=3, duration=90.0, fps=2.0, width=160, height=90, container="webm",
                       needles_per_kind=1)
    q = next(q for q in v.questions if q["needle"]["kind"] == "asr")
    return {"video": Path(v.video_path), "srt": Path(v.srt_path), "folder": Path(v.video_path).parent,
            "question": q["question"], "needle": q["needle"], "index_dir": folder / "index"}


@pytest.fixture(scope="session")
def report_selector(report_video: dict):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from clamr_frames.selector import FrameSelector

    return FrameSelector.from_pretrained("default", index_dir=report_video["index_dir"], progress=False)
