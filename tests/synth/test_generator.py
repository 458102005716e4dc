"""The synthetic long-video generator: determinism, needle ground truth, files that decode."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from testkit.extras import require_extra
from hypothesis import given, settings
from hypothesis import strategies as st

from clamr_frames.errors import InputError
from clamr_frames.synth import (
    N_PHRASINGS,
    SyntheticScene,
    duration_class,
    generate_dataset,
    generate_video,
    render_sign,
    video_seed,
)
from clamr_frames.synth import vocab
from clamr_frames.synth.plan import all_key_words, content_words, make_questions, plan_needles

VIDEOMME_TASK_TYPES = {
    "Temporal Perception", "Spatial Perception", "Attribute Perception", "Action Recognition",
    "Object Recognition", "OCR Problems", "Counting Problem", "Temporal Reasoning", "Spatial Reasoning",
    "Action Reasoning", "Object Reasoning", "Information Synopsis",
}
QUESTION_KEYS = {
    "video_id", "videoID", "question_id", "duration", "domain", "sub_category", "task_type",
    "question", "options", "answer", "needle",
}


def _parse_srt(text: str) -> list[tuple[float, float, str]]:
    def sec(s: str) -> float:
        h, m, rest = s.split(":")
        s_, ms = rest.split(",")
        return int(h) * 3600 + int(m) * 60 + int(s_) + int(ms) / 1000

    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.strip().split("\n")
        a, b = lines[1].split(" --> ")
        cues.append((sec(a), sec(b), " ".join(lines[2:])))
    return cues


def _decode(path) -> tuple[list[float], list[np.ndarray]]:
    import av

    with av.open(str(path)) as c:
        pairs = [(float(f.time), f.to_ndarray(format="rgb24")) for f in c.decode(video=0)]
    return [t for t, _ in pairs], [f for _, f in pairs]


def _near(frame: np.ndarray, colour, tol: int = 50) -> int:
    """Pixels within ``tol`` of ``colour`` in every channel."""
    diff = np.abs(frame.astype(np.int16) - np.array(colour, dtype=np.int16))
    return int((diff.max(axis=-1) < tol).sum())


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    return generate_video(tmp_path_factory.mktemp("a"), seed=11, duration=150.0)


@pytest.fixture(scope="module")
def decoded(video):
    return _decode(video.video_path)


# -- determinism -----------------------------------------------------------------------------------


def test_same_seed_gives_identical_files_and_frames(video, decoded, tmp_path):
    again = generate_video(tmp_path, seed=11, duration=150.0)
    assert again.srt_path.read_bytes() == video.srt_path.read_bytes()
    assert again.questions_path.read_bytes() == video.questions_path.read_bytes()
    assert again.needles == video.needles
    times, frames = _decode(again.video_path)
    assert times == decoded[0]
    assert all(np.array_equal(a, b) for a, b in zip(frames, decoded[1]))


def test_different_seed_gives_different_video(video, decoded, tmp_path):
    other = generate_video(tmp_path, seed=12, duration=150.0)
    assert other.srt_path.read_text() != video.srt_path.read_text()
    assert other.questions_path.read_text() != video.questions_path.read_text()
    assert [n.start for n in other.needles] != [n.start for n in video.needles]
    _, frames = _decode(other.video_path)
    assert not np.array_equal(frames[0], decoded[1][0])


# -- needles ---------------------------------------------------------------------------------------


def test_needles_inside_video_sorted_and_disjoint(video):
    nds = video.needles
    assert sorted(n.kind for n in nds) == ["asr", "asr", "ocr", "ocr", "vision", "vision"]
    assert nds[0].start >= 5.0 and nds[-1].end <= video.duration - 5.0
    for a, b in zip(nds, nds[1:]):
        assert a.end < b.start
    for n in nds:
        assert 1.0 <= n.end - n.start <= 8.0


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    duration=st.floats(30.0, 4 * 3600.0),
    fps=st.sampled_from([0.5, 1.0, 2.0, 5.0]),
    per_kind=st.integers(1, 7),
)
def test_needle_plan_invariants(seed, duration, fps, per_kind):
    try:
        nds = plan_needles(seed, duration, fps, per_kind, ("ocr", "asr", "vision"))
    except InputError:
        assert duration < 3 * per_kind * 12  # only short videos with many needles are refused
        return
    assert len(nds) == 3 * per_kind
    margin = min(10.0, max(1.0, 0.05 * duration))
    assert nds[0].start >= margin - 1e-3 and nds[-1].end <= duration - margin + 1e-3
    assert all(a.end < b.start for a, b in zip(nds, nds[1:]))
    assert all(n.end - n.start >= max(1.0, 2 / fps) - 1e-3 for n in nds)
    # a needle spans at least two native frames, and one candidate at 1 fps when it is >= 1 s long
    assert len({n.key for n in nds if n.kind != "vision"}) == 2 * per_kind
    vis = [n for n in nds if n.kind == "vision"]
    assert len({n.detail("colour") for n in vis}) == len(vis) == len({n.detail("shape") for n in vis})


# -- subtitles -------------------------------------------------------------------------------------


def test_srt_has_needle_lines_and_clean_filler(video):
    cues = _parse_srt(video.srt_path.read_text(encoding="utf-8"))
    assert len(cues) > 150.0 / 8  # a line every few seconds
    asr = [n for n in video.needles if n.kind == "asr"]
    needle_cues = [c for c in cues if any(c[2] == n.text for n in asr)]
    assert [(c[0], c[1]) for c in needle_cues] == [(n.start, n.end) for n in asr]
    for n in asr:
        assert n.key in n.text
        during = [c for c in cues if c[0] < n.end and c[1] > n.start]
        assert [c[2] for c in during] == [n.text]  # nothing else is said during the needle
    keys = all_key_words()
    subject_words = set()
    for n in video.needles:
        subject_words |= content_words(" ".join(v for k, v in n.details if k in ("place", "speaker", "attribute")))
    for start, end, text in cues:
        assert 0 <= start < end <= video.duration
        if any(text == n.text for n in asr):
            continue
        words = content_words(text)
        assert not re.search(r"\d", text)
        assert not (words & keys), text
        assert not (words & subject_words), text
    assert all(a[0] >= b[0] for a, b in zip(cues[1:], cues))


def test_vocab_pools_are_disjoint():
    keys = all_key_words()
    filler = " ".join(
        " ".join(p)
        for p in (
            vocab.FILLER_PEOPLE, vocab.FILLER_CHORES, vocab.FILLER_TIMES, vocab.FILLER_WEATHER,
            vocab.FILLER_GROCERIES, vocab.FILLER_HOBBIES, vocab.FILLER_MEDIA, vocab.FILLER_THINGS,
            vocab.FILLER_TEMPLATES,
        )
    )
    assert not content_words(filler) & keys
    subjects = " ".join(vocab.OCR_PLACES) + " " + " ".join(vocab.ASR_SPEAKERS)
    subjects += " " + " ".join(a for a, _ in vocab.ASR_ATTRIBUTES)
    assert not content_words(subjects) & keys
    templates = " ".join(vocab.OCR_QUESTIONS + vocab.ASR_QUESTIONS + vocab.ASR_LINES)
    assert not content_words(templates) & keys
    assert not {c for c in vocab.VISION_COLOURS} & keys
    assert len(vocab.OCR_PLACES) >= 30 and len(vocab.ASR_SPEAKERS) >= 30
    for kind, n in N_PHRASINGS.items():
        assert n >= 4, kind


# -- questions -------------------------------------------------------------------------------------


def test_questions_schema_and_answers(video):
    qs = json.loads(video.questions_path.read_text(encoding="utf-8"))
    assert qs == video.questions
    assert len(qs) == len(video.needles)
    for i, (q, n) in enumerate(zip(qs, video.needles), 1):
        assert set(q) == QUESTION_KEYS
        assert q["videoID"] == q["video_id"] == video.video_id == "synth-11"
        assert q["question_id"] == f"synth-11-{i}"
        assert q["duration"] == "short" and q["task_type"] in VIDEOMME_TASK_TYPES
        assert len(q["options"]) == 4
        assert [o[:3] for o in q["options"]] == ["A. ", "B. ", "C. ", "D. "]
        answers = [o[3:] for o in q["options"]]
        assert len(set(a.lower() for a in answers)) == 4
        assert answers["ABCD".index(q["answer"])] == n.key
        assert q["needle"] == {"kind": n.kind, "start": n.start, "end": n.end, "key": n.key}
        if n.kind in ("ocr", "asr"):
            # the text retriever needs words the question shares with the needle
            assert len(content_words(q["question"]) & content_words(n.text)) >= 2, q["question"]
            if n.detail("key_type") == "number":
                assert all(a.isdigit() and len(a) == 3 for a in answers)
            else:
                pool = {w.lower() for w in vocab.KEY_POOLS[n.detail("key_type")]}
                assert {a.lower() for a in answers} <= pool
        else:
            asked = n.detail("asked")
            assert {a for a in answers} <= set(vocab.VISION_COLOURS if asked == "colour" else vocab.VISION_SHAPES)
            other = n.detail("shape" if asked == "colour" else "colour")
            assert other in q["question"]
    other_keys = {n.key for n in video.needles if n.kind != "vision"}
    for q, n in zip(qs, video.needles):
        if n.kind != "vision":  # no distractor is the answer of another needle
            assert not {o[3:] for o in q["options"]} & (other_keys - {n.key})


def test_phrasing_changes_only_question_text(tmp_path):
    kw = dict(seed=5, duration=60.0, needles_per_kind=1)
    a = generate_video(tmp_path / "a", phrasing=0, **kw)
    b = generate_video(tmp_path / "b", phrasing=2, **kw)
    c = generate_video(tmp_path / "c", phrasing=None, **kw)
    c2 = generate_video(tmp_path / "c2", phrasing=None, **kw)
    assert a.srt_path.read_bytes() == b.srt_path.read_bytes()
    assert a.needles == b.needles
    for qa, qb in zip(a.questions, b.questions):
        assert qa["question"] != qb["question"]
        assert (qa["options"], qa["answer"]) == (qb["options"], qb["answer"])
    assert c.questions_path.read_bytes() == c2.questions_path.read_bytes()
    d = generate_video(tmp_path / "d", phrasing=[3, 4], **kw)
    qd = {q["needle"]["kind"]: q["question"] for q in d.questions}
    n_ocr = next(n for n in d.needles if n.kind == "ocr")
    place = n_ocr.detail("place").lower()
    noun = vocab.KEY_NOUNS[n_ocr.detail("key_type")]
    assert qd["ocr"] in {vocab.OCR_QUESTIONS[i].format(place=place, noun=noun) for i in (3, 4)}


@pytest.mark.parametrize("phrasing", range(6))
def test_every_phrasing_names_the_needle_subject(phrasing):
    needles = plan_needles(21, 1200.0, 2.0, 7, ("ocr", "asr", "vision"))
    for q, n in zip(make_questions(21, "v", 1200.0, needles, phrasing), needles):
        words = content_words(q["question"])
        if n.kind == "ocr":
            assert content_words(n.detail("place")) <= words, q["question"]
        elif n.kind == "asr":
            assert content_words(n.detail("speaker") + " " + n.detail("attribute")) <= words, q["question"]
            assert content_words(n.detail("speaker") + " " + n.detail("attribute")) <= content_words(n.text)
        else:
            other = n.detail("shape" if n.detail("asked") == "colour" else "colour")
            assert other in words, q["question"]
        assert q["question"].endswith("?")


def test_duration_classes():
    assert [duration_class(s) for s in (30, 119, 240, 900, 1800, 3600, 7200)] == [
        "short", "short", "medium", "medium", "long", "long", "long",
    ]


# -- pixels ----------------------------------------------------------------------------------------


def test_decodes_to_expected_length(video, decoded):
    times, frames = decoded
    assert len(frames) == round(150.0 * 2)
    assert times[:3] == [0.0, 0.5, 1.0] and times[-1] == pytest.approx(149.5)
    assert frames[0].shape == (180, 320, 3)


@pytest.mark.slow
def test_vision_colour_only_during_its_span(video, decoded):
    times, frames = decoded
    for n in video.needles:
        if n.kind != "vision":
            continue
        colour = vocab.VISION_COLOURS[n.detail("colour")]
        inside = [f for t, f in zip(times, frames) if n.start + 0.1 < t < n.end - 0.1]
        outside = [f for t, f in zip(times, frames) if t < n.start - 0.1 or t > n.end + 0.1]
        assert inside
        assert min(_near(f, colour) for f in inside) > 400  # a 72 px shape covers over a thousand
        assert max(_near(f, colour) for f in outside) < 20


def test_sign_only_during_ocr_span(video, decoded):
    times, frames = decoded
    spans = [(n.start, n.end) for n in video.needles if n.kind == "ocr"]
    for t, f in zip(times, frames):
        white = _near(f, (255, 255, 255), tol=25)
        if any(a + 0.1 < t < b - 0.1 for a, b in spans):
            assert white > 1500
        elif not any(a - 0.1 <= t <= b + 0.1 for a, b in spans):
            assert white < 20


def test_render_frame_matches_stream_and_file(video, decoded):
    scene = video.scene()
    assert scene.n_frames == len(decoded[1])
    frames = scene.frames()
    for i in range(6):
        assert np.array_equal(next(frames), scene.render_frame(i / video.fps))
    for i in (0, 37, 150, 299):
        ref = scene.render_frame(i / video.fps).astype(np.int16)
        assert np.abs(ref - decoded[1][i]).mean() < 6.0  # only compression noise apart


def test_background_moves_and_scenes_change():
    scene = SyntheticScene(seed=2, duration=1800.0, needles_per_kind=0)
    starts = scene.scene_starts
    gaps = np.diff(starts)
    assert len(starts) >= 1800 / 90 and gaps.min() >= 20.0 and gaps.max() <= 90.0
    a, b = scene.render_frame(100.0), scene.render_frame(100.5)
    assert np.abs(a.astype(int) - b).mean() > 0.5  # consecutive candidates differ
    cut = starts[3]
    before, after = scene.render_frame(cut - 0.5), scene.render_frame(cut)
    assert np.abs(before.astype(int) - after).mean() > np.abs(a.astype(int) - b).mean()
    # muted palette: no saturated pixel anywhere in a needle-free video
    for t in np.linspace(0, 1799, 40):
        f = scene.render_frame(float(t)).astype(int)
        assert (f.max(-1) - f.min(-1)).max() < 140


def test_pan_moves_every_frame_and_carries_the_signs():
    still = SyntheticScene(seed=4, duration=120.0, kinds=("ocr",), needles_per_kind=2)
    pan = SyntheticScene(seed=4, duration=120.0, kinds=("ocr",), needles_per_kind=2, motion="pan")
    static = SyntheticScene(seed=4, duration=120.0, kinds=("ocr",), needles_per_kind=2, motion="static")
    assert pan.needles == still.needles == static.needles and pan.scene_starts == still.scene_starts
    # the camera moves between any two candidates a second apart (away from scene cuts)
    cuts = set(int(s) for s in pan.scene_starts)
    moved = []
    for t in range(1, 119):
        if t in cuts or t + 1 in cuts:
            continue
        a, b = pan.render_frame(float(t)), pan.render_frame(t + 1.0)
        moved.append(np.mean(np.abs(a.astype(int) - b).max(-1) > 12))
        assert pan.camera_offset(float(t)) != pan.camera_offset(t + 1.0) or moved[-1] > 0.01
    assert min(moved) > 0.01 and np.mean(moved) > 0.1
    # a sign keeps its pixels and moves against the camera
    nd = next(n for n in pan.needles if n.kind == "ocr")
    t0, t1 = nd.start + 0.2, min(nd.end - 0.01, nd.start + 2.2)
    sign = render_sign(nd.detail("place"), nd.key, pan.width, pan.height)
    require_extra("eval")  # OpenCV (an independent decoder) comes with the eval extra
    import cv2
    found = []
    for t in (t0, t1):
        f = pan.render_frame(t).astype(int)
        r = cv2.matchTemplate(f.astype(np.float32), sign.astype(np.float32), cv2.TM_SQDIFF)
        found.append((np.unravel_index(np.argmin(r), r.shape), r.min() / sign.size))
    assert all(err < 20 for _, err in found)  # only noise apart
    assert found[0][0] != found[1][0] or pan.camera_offset(t0) == pan.camera_offset(t1)
    # static: nothing moves but the noise
    a, b = static.render_frame(30.0), static.render_frame(31.0)
    if static.scene_index(30.0) == static.scene_index(31.0) and not any(n.start <= 31.0 and n.end > 30.0 for n in static.needles):
        assert np.abs(a.astype(int) - b).max() <= 2 * 3
    assert still.camera_offset(10.0) == static.camera_offset(10.0) == (0, 0)
    with pytest.raises(InputError, match="motion"):
        SyntheticScene(seed=0, duration=10.0, motion="zoom")


def test_generate_video_records_motion(tmp_path):
    v = generate_video(tmp_path, seed=6, duration=12.0, kinds=("ocr",), needles_per_kind=1, motion="pan")
    assert v.motion == "pan" and v.scene().motion == "pan"
    times, frames = _decode(v.video_path)
    ref = v.scene().render_frame(3.0).astype(int)
    assert np.abs(ref - frames[6]).mean() < 6.0


# -- long videos, datasets, options ----------------------------------------------------------------


def test_ten_minute_video(tmp_path):
    import av

    v = generate_video(tmp_path, seed=3, duration=600.0, needles_per_kind=3)
    with av.open(str(v.video_path)) as c:
        stream = c.streams.video[0]
        assert stream.frames == 1200
        assert float(c.duration / 1e6) == pytest.approx(600.0, abs=1.0)
    assert len(v.needles) == 9 and v.questions[0]["duration"] == "medium"


def test_long_plan():
    scene = SyntheticScene(seed=9, duration=3 * 3600.0, needles_per_kind=7)
    scene.render_frame(3 * 3600.0 - 1.0)
    assert scene.n_frames == 3 * 3600 * 2 and len(scene.needles) == 21


def test_dataset_layout_and_seeds(tmp_path):
    vids = generate_dataset(
        tmp_path, n_videos=2, seed=4, duration=(30.0, 40.0), needles_per_kind=1, fps=1.0, width=160, height=90
    )
    assert [v.video_id for v in vids] == ["synth-4-0000", "synth-4-0001"]
    assert [v.seed for v in vids] == [video_seed(4, 0), video_seed(4, 1)]
    assert video_seed(5, 0) not in {v.seed for v in vids}
    for v in vids:
        assert v.video_path.parent == tmp_path / "data" and v.video_path.exists()
        assert v.srt_path.parent == tmp_path / "subtitle"
        assert 30.0 <= v.duration <= 40.0
    combined = json.loads((tmp_path / "questions.json").read_text())
    assert combined == vids[0].questions + vids[1].questions


def test_audio_markup_and_other_containers(tmp_path):
    import av

    v = generate_video(tmp_path, seed=1, duration=20.0, needles_per_kind=1, audio=True, videomme_markup=True)
    with av.open(str(v.video_path)) as c:
        assert len(c.streams.audio) == 1 and len(c.streams.video) == 1
        assert c.duration / 1e6 == pytest.approx(20.0, abs=0.3)
    text = v.srt_path.read_text()
    assert text.count('<font color="white" size=".72c">') == len(_parse_srt(text))
    for container in ("avi", "mkv"):
        w = generate_video(tmp_path, seed=1, duration=6.0, kinds=("vision",), needles_per_kind=1, container=container)
        assert w.video_path.suffix == f".{container}"
        times, frames = _decode(w.video_path)
        assert len(frames) == 12


def test_short_and_bad_arguments(tmp_path):
    tiny = SyntheticScene(seed=0, duration=8.0, kinds=("asr",), needles_per_kind=1)
    assert len(tiny.needles) == 1 and tiny.n_frames == 16
    with pytest.raises(InputError, match="too short"):
        generate_video(tmp_path, duration=10.0, needles_per_kind=5)
    with pytest.raises(InputError, match="at most 7"):
        generate_video(tmp_path, duration=3600.0, needles_per_kind=8)
    with pytest.raises(InputError, match="even"):
        generate_video(tmp_path, width=321)
    with pytest.raises(InputError, match="kinds"):
        generate_video(tmp_path, kinds=("audio",))
    with pytest.raises(InputError, match="container"):
        generate_video(tmp_path, container="mov")
    with pytest.raises(InputError, match="seed"):
        generate_video(tmp_path, seed=-1)
    assert not any(tmp_path.iterdir())  # nothing written for a refused call
