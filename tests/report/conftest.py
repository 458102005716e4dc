"""Fixtures of the report tests: one short synthetic video (VP9 WebM, which every Chromium build plays) with its
subtitles, indexed once per session by the embedded default scorer."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


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

    # OCR is not what these tests look at (the CLI runs in them say --no-ocr too, so they share the index)
    return FrameSelector.from_pretrained("default", index_dir=report_video["index_dir"], progress=False, ocr=False)


@pytest.fixture(scope="session")
def selections_file(report_video: dict, report_selector, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from clamr_frames._fs import video_fingerprint
    from clamr_frames.selections import SelectionRecord, write_selections

    video = report_video["video"]
    fp = video_fingerprint(video)
    needle = report_video["needle"]
    records = []
    for i, (q, answer) in enumerate([(report_video["question"], "A"), ("What colour is the car?", "C")]):
        sel = report_selector.select(video, q, k=4, subtitles=report_video["srt"])
        records.append(SelectionRecord.from_selection(
            sel, video_fingerprint=fp, scorer="default", scorer_revision=None, policy_knobs={}, query=q, ocr=False,
            fps=1.0, num_candidates=None, task="synthetic", question_id=f"s-{i}", options=["A. x", "B. y"],
            answer=answer, ground_truth="A", correct=answer == "A", gt_window=[needle["start"], needle["end"]]))
    path = tmp_path_factory.mktemp("sel") / "run.jsonl"
    write_selections(path, records, append=False)
    return path
