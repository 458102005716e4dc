"""What users expect from the command line: ``python -m clamr_frames``, many questions in one ``select`` call
(on one video or across videos; one JSON line each, the model loaded once), ``index --json``, bad question rows
named by file:line, ``--index-dir`` (``--cache-dir`` / ``cache_dir=`` kept as deprecated aliases)."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import numpy as np
import pytest

from testkit.extras import require_extra

from clamr_frames.cli import main
from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.video.writer import write_video


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("batch")
    out = []
    for v in range(2):
        frames = (np.full((48, 64, 3), (i * 7 + 60 * v) % 255, np.uint8) for i in range(24))
        video = write_video(d / f"v{v}.mp4", frames, fps=2.0)  # 12 s → 12 candidates at 1 fps
        words = ("the password is falcon", "my cousin paints fences") if v == 0 else ("the boat leaves at noon", "")
        srt = write_srt(d / f"v{v}.srt", [Cue(1.0, 3.0, "hello there"), Cue(8.0, 10.0, words[0]),
                                          Cue(4.0, 6.0, words[1] or "nothing")])
        out.append((video, srt))
    return d, out


@pytest.fixture
def loads(monkeypatch):
    """How many times a scorer is loaded."""
    from clamr_frames.encoders import registry

    calls = []
    real = registry.load_encoder

    def spy(*a, **k):
        calls.append(a)
        return real(*a, **k)

    monkeypatch.setattr(registry, "load_encoder", spy)
    return calls


def _write(path, rows):
    path.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return path


def _lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines()]


@pytest.mark.slow
def test_python_m_clamr_frames():
    r = subprocess.run([sys.executable, "-m", "clamr_frames", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("clamr-frames ")
    r = subprocess.run([sys.executable, "-m", "clamr_frames", "select", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "--questions" in r.stdout and "--index-dir" in r.stdout


@pytest.mark.slow
def test_questions_on_one_video_equal_single_calls(videos, tmp_path, capsys, loads, monkeypatch):
    from clamr_frames import FrameSelector
    from clamr_frames.encoders.default import DefaultEncoder

    encodes = []
    real_encode = DefaultEncoder.encode_queries
    monkeypatch.setattr(DefaultEncoder, "encode_queries",
                        lambda self, qs: encodes.append(len(qs)) or real_encode(self, qs))

    d, [(video, srt), _] = videos
    q = _write(tmp_path / "q.jsonl", [
        {"question": "What is the password?", "id": "a"},
        "",
        {"question": "Who paints fences?", "options": ["A. my cousin", "B. the baker"], "k": 2},
    ])
    common = ["--subtitles", str(srt), "-k", "3", "--index-dir", str(tmp_path / "idx"), "--quiet", "--no-ocr"]
    assert main(["select", str(video), "--questions", str(q), *common]) == 0
    first, second = _lines(capsys.readouterr().out)
    assert len(loads) == 1 and encodes == [2]  # one model, one query-encoder pass for every question
    assert (first["line"], first["id"], first["k"], second["line"], second["k"]) == (1, "a", 3, 3, 2)
    assert "id" not in second and first["question"] == "What is the password?"
    # the same frames as one question at a time through the Python API
    sel = FrameSelector.from_pretrained("default", index_dir=tmp_path / "idx", progress=False, ocr=False)
    want = sel.select(video, "Who paints fences?", 2, subtitles=srt, options=["A. my cousin", "B. the baker"])
    assert [f["timestamp"] for f in second["frames"]] == pytest.approx(want.timestamps.tolist())
    assert [f["score"] for f in second["frames"]] == pytest.approx(want.scores.tolist())
    want = sel.select(video, "What is the password?", 3, subtitles=srt)
    assert [f["timestamp"] for f in first["frames"]] == pytest.approx(want.timestamps.tolist())


@pytest.mark.slow
def test_questions_across_videos(videos, tmp_path, capsys, loads):
    d, [(v0, s0), (v1, s1)] = videos
    q = _write(d / "across.jsonl", [  # paths relative to the file's folder
        {"video": v0.name, "subtitles": s0.name, "question": "What is the password?", "k": 2},
        {"video": v1.name, "subtitles": s1.name, "question": "When does the boat leave?", "k": 2},
        {"video": str(v0), "question": "What is shown?", "k": 1},  # absolute, no subtitles
    ])
    assert main(["select", "--questions", str(q), "--index-dir", str(tmp_path / "idx"), "--quiet", "--no-ocr"]) == 0
    recs = _lines(capsys.readouterr().out)
    assert [r["video"] for r in recs] == [str(v0), str(v1), str(v0)] and len(loads) == 1
    assert 8.0 <= recs[0]["frames"][0]["timestamp"] <= 10.0 or 8.0 <= recs[0]["frames"][1]["timestamp"] <= 10.0
    assert any(8.0 <= f["timestamp"] <= 10.0 for f in recs[1]["frames"])


def test_malformed_rows_stop_before_any_work_naming_every_line(videos, tmp_path, capsys, loads):
    d, [(video, _), _] = videos
    q = _write(tmp_path / "bad.jsonl", [
        {"question": "fine"},
        {"question": "   "},
        {"question": "x", "k": 0},
        "not json",
        {"qestion": "typo"},
        {"question": "y", "options": "A. one"},
    ])
    assert main(["select", str(video), "--questions", str(q), "--index-dir", str(tmp_path / "idx")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and loads == []  # nothing ran, no model loaded
    assert f"{q}:2: question is empty" in err and f"{q}:3: k must be a positive integer, got 0" in err
    assert f"{q}:4: the line is not valid JSON" in err and f"{q}:5: unknown key 'qestion'" in err
    assert f"{q}:6: options must be a list" in err and f"{q}:1:" not in err
    assert "5 bad line(s)" in err and "Traceback" not in err
    # rows without a video need the VIDEO argument
    assert main(["select", "--questions", str(_write(tmp_path / "nov.jsonl", [{"question": "q"}]))]) == 2
    assert "nov.jsonl:1: no 'video'" in capsys.readouterr().err


def test_a_row_that_fails_on_its_video_fails_alone(videos, tmp_path, capsys):
    d, [(video, srt), _] = videos
    q = _write(tmp_path / "q.jsonl", [
        {"question": "What is the password?", "k": 2},
        {"question": "more frames than the video has", "k": 50},
        {"question": "a missing video", "video": "nowhere.mp4"},
        {"question": "Who paints fences?", "k": 1},
    ])
    rc = main(["select", str(video), "--subtitles", str(srt), "--questions", str(q), "--index-dir",
               str(tmp_path / "idx"), "--quiet", "--no-ocr"])
    out, err = capsys.readouterr()
    recs = _lines(out)
    assert rc == 2 and [r["line"] for r in recs] == [1, 2, 3, 4]
    assert "frames" in recs[0] and "frames" in recs[3] and len(recs[3]["frames"]) == 1
    assert recs[1]["error"] == f"{q}:2: k=50 is more than the 12 candidate frames of {video} " \
                               "(lower k, or sample more candidates with --fps / --num-frames)"
    assert recs[2]["error"].startswith(f"{q}:3: ") and "nowhere.mp4" in recs[2]["error"]
    assert "2 of 4 questions failed" in err and "Traceback" not in err


def test_questions_flag_conflicts(videos, tmp_path, capsys):
    d, [(video, _), _] = videos
    q = _write(tmp_path / "q.jsonl", [{"question": "q"}])
    for extra in (["QUESTION"], ["--plot", "x.png"], ["--options", "A"]):
        args = ["select", str(video), *extra[:1], "--questions", str(q), *extra[1:]] if extra == ["QUESTION"] \
            else ["select", str(video), "--questions", str(q), *extra]
        assert main(args) == 2
    assert main(["select", str(video)]) == 2
    assert "give VIDEO and QUESTION, or --questions" in capsys.readouterr().err


def test_index_json_one_line_per_video(videos, tmp_path, capsys):
    d, [(v0, s0), (v1, _)] = videos
    idx = str(tmp_path / "idx")
    assert main(["index", str(v0), "--index-dir", idx, "--quiet", "--no-ocr"]) == 0
    capsys.readouterr()
    missing = tmp_path / "missing.mp4"
    rc = main(["index", str(v1), str(v0), str(missing), "--json", "--index-dir", idx, "--quiet", "--no-ocr"])
    out, err = capsys.readouterr()
    recs = _lines(out)
    assert rc == 2 and [r["video"] for r in recs] == [str(v1), str(v0), str(missing)]
    assert [r["status"] for r in recs] == ["indexed", "skipped", "failed"]
    assert recs[0]["candidates"] == 12 and recs[0]["frames_encoded"] == 12 and recs[1]["candidates"] == 12
    assert "missing.mp4" in recs[2]["reason"] and "1 failed" in err


def test_cache_dir_is_a_deprecated_alias(videos, tmp_path, capsys):
    from clamr_frames import FrameSelector
    from clamr_frames.encoders.default import DefaultEncoder
    from clamr_frames.errors import InputError

    d, [(video, _), _] = videos
    assert main(["index", str(video), "--cache-dir", str(tmp_path / "old"), "--quiet", "--no-ocr"]) == 0
    assert "--cache-dir is deprecated, use --index-dir" in capsys.readouterr().err
    assert list((tmp_path / "old").iterdir())
    enc = DefaultEncoder(device="cpu")
    with pytest.warns(DeprecationWarning, match="index_dir"):
        sel = FrameSelector(enc, cache_dir=tmp_path / "old", progress=False, ocr=False)
    assert sel.store.root == tmp_path / "old"
    with pytest.raises(InputError, match="index_dir only"):
        FrameSelector(enc, cache_dir=tmp_path, index_dir=tmp_path)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert FrameSelector(enc, index_dir=tmp_path / "new", progress=False, ocr=False).store.root == tmp_path / "new"


def test_harness_cache_dir_is_a_deprecated_alias(tmp_path):
    require_extra("eval")
    from qa_harness.model import ClamrFrames

    with pytest.warns(DeprecationWarning, match="use index_dir"):
        m = ClamrFrames(cache_dir=str(tmp_path))
    assert m.index_dir == str(tmp_path)


def test_selector_keeps_a_bounded_number_of_indexes_in_memory(videos, tmp_path, monkeypatch):
    """Questions across many videos do not pile every index up in memory: the least recently used goes (and
    reloads from disk when asked again)."""
    from clamr_frames import selector as selmod

    d, [(v0, s0), (v1, _)] = videos
    monkeypatch.setattr(selmod, "_INDEXES_IN_MEMORY", 2)
    sel = selmod.FrameSelector.from_pretrained("default", index_dir=tmp_path / "idx", progress=False, ocr=False)
    a, b = sel.index(v0), sel.index(v1)
    assert sel.index(v0) is a  # a hit: now the most recently used
    c = sel.index(v0, s0)
    assert list(sel._indexes.values()) == [a, c]  # b, the least recently used, went
    again = sel.index(v1)
    assert again is not b and again.path == b.path and len(sel._indexes) == 2
