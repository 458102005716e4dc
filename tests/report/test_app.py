"""`clamr-frames serve`: the app's API (through Starlette's test client), its path checks and its bind address."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from testkit.extras import require_extra

require_extra("ui")
from starlette.testclient import TestClient

from clamr_frames.report.app import create_app
from clamr_frames.report.paths import PathRefused, resolve_inside


@pytest.fixture(scope="module")
def served(report_video: dict, report_selector, tmp_path_factory: pytest.TempPathFactory):
    """The video's folder, with a secret file beside the folder and a symlink pointing at it from inside."""
    folder = report_video["folder"]
    secret = folder.parent / "secret.mp4"
    secret.write_bytes(b"not for the app")
    link = folder / "escape.mp4"
    if not link.exists():
        os.symlink(secret, link)
    app = create_app(folder, lambda scorer: report_selector, scorers=["default"], policies=["topk", "uniform"])
    yield TestClient(app), folder, secret
    link.unlink()


def test_safe_path_refuses_escapes(tmp_path: Path) -> None:
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "a.mp4").write_bytes(b"")
    (tmp_path / "out.mp4").write_bytes(b"")
    os.symlink(tmp_path / "out.mp4", tmp_path / "in" / "link.mp4")
    root = tmp_path / "in"
    assert resolve_inside(root, "a.mp4") == (root / "a.mp4").resolve()
    for bad in ["../out.mp4", "a/../../out.mp4", str(tmp_path / "out.mp4"), "/etc/passwd", "link.mp4", "C:\\x.mp4",
                "..\\out.mp4", "", "a\x00.mp4"]:
        with pytest.raises(PathRefused):
            resolve_inside(root, bad)


@pytest.mark.slow
def test_media_and_select_refuse_paths_outside_the_folder(served) -> None:
    client, _folder, secret = served
    for bad in ["escape.mp4", str(secret), "../secret.mp4", "sub/../../secret.mp4"]:
        r = client.post("/api/select", json={"video": bad, "question": "What is it?", "k": 2})
        assert r.status_code == 403, (bad, r.text)
        assert client.post("/api/index", json={"video": bad}).status_code == 403
    assert client.get("/media/escape.mp4").status_code == 403
    assert client.get("/media/%2Fetc%2Fpasswd").status_code == 403
    assert client.get("/media/..%2Fsecret.mp4").status_code == 403
    listed = [v["path"] for v in client.get("/api/videos").json()]
    assert "escape.mp4" not in listed


@pytest.mark.slow
def test_select_answers_as_the_selector_does(served, report_video: dict, report_selector) -> None:
    client, _folder, _ = served
    name = report_video["video"].name
    r = client.post("/api/select", json={"video": name, "question": report_video["question"], "k": 5,
                                         "policy": "topk", "scorer": "default"})
    assert r.status_code == 200, r.text
    data = r.json()
    want = report_selector.select(report_video["video"], report_video["question"], k=5, subtitles=report_video["srt"],
                                  policy="topk")
    assert [p["timestamp"] for p in data["picked"]] == [float(t) for t in want.timestamps]
    assert data["video"]["href"] == f"/media/{name}"
    assert data["transcript"]
    again = client.post("/api/select", json={"video": name, "question": "What colour is the car?", "k": 5}).json()
    assert again["meta"]["seconds"] < 3.0, "an indexed video answers from its cached index"
    media = client.get(f"/media/{name}", headers={"Range": "bytes=0-9"})
    assert media.status_code == 206 and len(media.content) == 10
    assert client.post("/api/select", json={"video": name, "question": " ", "k": 5}).status_code == 400
    assert client.post("/api/select", json={"video": name, "question": "x", "scorer": "nope"}).status_code == 400


@pytest.mark.slow
def test_index_job_reports_its_state(served, report_video: dict) -> None:
    client, _, _ = served
    name = report_video["video"].name
    assert client.post("/api/index", json={"video": name}).status_code == 200
    for _ in range(600):
        state = next(v for v in client.get("/api/videos").json() if v["path"] == name)
        if state["state"] != "indexing":
            break
        time.sleep(0.1)
    assert state["state"] == "indexed", state
    assert state["candidates"] == 90


def test_serve_binds_localhost_by_default_and_warns_otherwise(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture) -> None:
    import clamr_frames.report.app as app_mod
    from clamr_frames.cli import build_parser, main

    assert build_parser().parse_args(["serve"]).host == "127.0.0.1"
    calls = []
    monkeypatch.setattr(app_mod, "serve", lambda folder, make, **kw: calls.append(kw))
    assert main(["serve", str(tmp_path)]) == 0
    assert calls[-1]["host"] == "127.0.0.1" and "warning" not in capsys.readouterr().err
    assert main(["serve", str(tmp_path), "--host", "0.0.0.0"]) == 0
    assert calls[-1]["host"] == "0.0.0.0" and "warning: serving on 0.0.0.0" in capsys.readouterr().err
