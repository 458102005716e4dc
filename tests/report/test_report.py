"""The self-contained report: its data, its HTML (inline, escaped, small), and `select --html`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from clamr_frames.report import page_data, render_page, thumb_uri, write_page
from clamr_frames.report.page import inside_share, modality_shares, shot_starts, video_href


def _data_of(html: str, element: str = "clamr-data") -> dict:
    m = re.search(rf'<script id="{element}" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert m, "no data element"
    return json.loads(m.group(1))


def _selection_dict(video: str, n: int = 3) -> dict:
    return {
        "video": video, "question": "What is on the </script><b>sign</b>?", "policy": "topk", "asr_source": "subtitles",
        "duration": 30.0,
        "frames": [{"candidate": i, "frame_index": 2 * i, "timestamp": float(i), "score": 0.5 + i} for i in range(n)],
        "explain": [{"asr": f"the sign says kestrel {i}", "ocr": "", "matched": {"asr": ["sign"]}} for i in range(n)],
    }


def test_page_is_self_contained_and_escapes_its_data(tmp_path: Path) -> None:
    video = tmp_path / "media" / "my talk.mp4"
    video.parent.mkdir()
    video.write_bytes(b"")
    frames = [np.full((90, 160, 3), 40 * i, dtype=np.uint8) for i in range(3)]
    data = page_data(_selection_dict(str(video)), all_timestamps=np.arange(30.0), all_scores=np.linspace(0, 1, 30),
                     page_dir=tmp_path / "out", frames=frames, cues=[{"start": 0, "end": 2, "text": "hi <there>"}],
                     shots=[0.0, 12.0], gt_windows=[(1.0, 2.0)], meta={"scorer": "default"})
    path = write_page(tmp_path / "out" / "r.html", data)
    html = path.read_text(encoding="utf-8")
    # no network: no external script, style, font or image
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html)
    assert "</script><b>" not in html  # the question cannot end the data element
    back = _data_of(html)
    assert back["question"] == "What is on the </script><b>sign</b>?"
    assert back["video"]["href"] == "../media/my%20talk.mp4"
    assert back["video"]["mime"] == "video/mp4"
    assert len(back["candidates"]["timestamps"]) == 30 and back["candidates"]["shots"] == [0.0, 12.0]
    assert [p["timestamp"] for p in back["picked"]] == [0.0, 1.0, 2.0]
    assert all(p["thumb"].startswith("data:image/jpeg;base64,") for p in back["picked"])
    assert back["transcript"] == [{"start": 0.0, "end": 2.0, "text": "hi <there>"}]
    assert back["meta"]["scorer"] == "default"


def test_thumbnails_are_small() -> None:
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 255, (720, 1280, 3), dtype=np.uint8)  # noise: the worst case for JPEG
    uri = thumb_uri(frame)
    assert uri is not None and len(uri) < 40_000
    assert thumb_uri(None) is None


def test_modality_shares_add_up_to_the_score() -> None:
    rng = np.random.default_rng(1)
    mods = rng.integers(1, 4, 50)
    tok = rng.integers(0, 50, (7, 5))
    sim = rng.random((7, 5))
    shares = modality_shares(tok, sim, mods)
    assert np.allclose(np.sum([shares[k] for k in shares], axis=0), sim.sum(axis=1), atol=1e-4)


def test_helpers() -> None:
    assert shot_starts([0, 0, 1, 1, 2], [0.0, 1.0, 2.0, 3.0, 4.0]) == [0.0, 2.0, 4.0]
    assert shot_starts(None, [0.0]) == []
    assert inside_share([1.0, 2.0], []) is None
    assert video_href("/a/b/c.mp4", "/a/x") == "../b/c.mp4"


def test_render_page_without_candidate_scores(tmp_path: Path) -> None:
    data = page_data(_selection_dict("v.webm", 2), all_timestamps=[], all_scores=None, page_dir=tmp_path)
    back = _data_of(render_page(data))
    assert back["candidates"]["scores"] == [] and back["video"]["mime"] == "video/webm"


@pytest.mark.slow
def test_select_html_writes_a_report(report_video: dict, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from clamr_frames.cli import main

    out = tmp_path / "rep" / "report.html"
    rc = main(["select", str(report_video["video"]), report_video["question"], "-k", "6", "--subtitles",
               str(report_video["srt"]), "--index-dir", str(report_video["index_dir"]), "--html", str(out), "--quiet",
               "--no-ocr", "--json"])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out)
    data = _data_of(out.read_text(encoding="utf-8"))
    assert [p["timestamp"] for p in data["picked"]] == [f["timestamp"] for f in printed["frames"]]
    assert len(data["candidates"]["timestamps"]) == printed["num_candidates"]
    assert data["transcript"], "the subtitle file is the transcript"
    assert set(data["candidates"].get("modalities", {})) >= {"asr"}
    needle = report_video["needle"]
    assert any(c["start"] <= needle["end"] and c["end"] >= needle["start"] for c in data["transcript"])
    href = data["video"]["href"]
    assert (out.parent / href.replace("%20", " ")).resolve() == report_video["video"].resolve()
    assert all(p["thumb"] for p in data["picked"])
    assert out.stat().st_size < 1_000_000


@pytest.mark.slow
def test_questions_html_writes_pages_and_an_index(report_video: dict, tmp_path: Path) -> None:
    from clamr_frames.cli import main

    qfile = tmp_path / "q.jsonl"
    qfile.write_text("".join(json.dumps({"question": q, "id": f"q/{i}", "k": 3}) + "\n"
                             for i, q in enumerate([report_video["question"], "What colour is the car?"])))
    out = tmp_path / "pages"
    rc = main(["select", str(report_video["video"]), "--questions", str(qfile), "--subtitles", str(report_video["srt"]),
               "--index-dir", str(report_video["index_dir"]), "--html", str(out), "--quiet", "--no-ocr"])
    assert rc == 0
    index = _data_of((out / "index.html").read_text(encoding="utf-8"), "clamr-index")
    assert [r["id"] for r in index["rows"]] == ["q/0", "q/1"]
    for r in index["rows"]:
        page = _data_of((out / r["href"]).read_text(encoding="utf-8"))
        assert page["question"] == r["question"] and len(page["picked"]) == 3


def test_assets_are_package_data() -> None:
    import tomllib

    from clamr_frames.report.html import asset

    root = Path(__file__).resolve().parents[2]
    data = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert "report/assets/*" in data["clamr_frames"]
    for name in sorted(p.name for p in (root / "clamr_frames" / "report" / "assets").iterdir()):
        assert asset(name).strip(), name
