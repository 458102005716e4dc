"""Corpus job lists (paths, CSV / JSONL manifests, remote URIs), the local corpus runner and `clamr-frames index`
without Ray: bad rows are errors naming file and line, a bad video is reported and the others are indexed."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clamr_frames.context.subtitles import Cue, write_srt
from clamr_frames.errors import InputError
from clamr_frames.index import IndexSettings, IndexStore, build_index
from clamr_frames.index.corpus import (
    VideoJob,
    index_locally,
    is_uri,
    jobs_from_paths,
    local_copy,
    read_manifest,
    unique_jobs,
)
from clamr_frames.video.writer import write_video


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    d = tmp_path_factory.mktemp("corpus")
    video = write_video(d / "talk.mp4", (np.full((32, 48, 3), 20 + i, np.uint8) for i in range(10)), fps=1.0)
    srt = write_srt(d / "talk.srt", [Cue(0.0, 4.0, "welcome to the river"), Cue(5.0, 9.0, "the bridge")])
    return d, str(video), str(srt)


@pytest.fixture(scope="module")
def encoder(default_encoder):
    return default_encoder


def test_manifests_csv_and_jsonl_resolve_paths_and_options(tmp_path):
    (tmp_path / "m.csv").write_text(
        'video,subtitles,options,id\n'
        'a.mp4,a.srt,"{""fps"": 2.0, ""ocr"": true}",first\n'
        '/abs/b.mp4,,,\n'
        's3://bucket/c.mp4,s3://bucket/c.srt,,\n'
    )
    jobs = read_manifest(tmp_path / "m.csv")
    assert jobs[0] == VideoJob(str(tmp_path / "a.mp4"), str(tmp_path / "a.srt"), {"fps": 2.0, "ocr": True},
                               name="first", where=f"{tmp_path / 'm.csv'}:2")
    assert (jobs[1].video, jobs[1].subtitles, jobs[1].options, jobs[1].name) == ("/abs/b.mp4", None, {}, "/abs/b.mp4")
    assert jobs[2].video == "s3://bucket/c.mp4"
    assert jobs[0].settings(IndexSettings(chunk_size=8)) == IndexSettings(fps=2.0, chunk_size=8)
    assert jobs[0].ocr(False) and not jobs[1].ocr(False) and jobs[1].ocr(True)

    (tmp_path / "m.jsonl").write_text(
        json.dumps({"video": "x/a.mp4", "options": {"num_frames": 8}}) + "\n\n" + json.dumps({"video": "b.mp4"}) + "\n"
    )
    jobs = read_manifest(str(tmp_path / "m.jsonl"))
    assert [j.video for j in jobs] == [str(tmp_path / "x/a.mp4"), str(tmp_path / "b.mp4")]
    assert jobs[0].options == {"num_frames": 8} and jobs[1].where.endswith("m.jsonl:3")
    # a manifest given as a URI: its rows resolve inside the same filesystem
    remote = read_manifest(f"file://{tmp_path / 'm.jsonl'}")
    assert remote[0].video == f"file://{tmp_path / 'x/a.mp4'}"


@pytest.mark.parametrize(
    "name, text, message",
    [
        ("m.csv", "video,fps\na.mp4,1\n", "unknown column 'fps'"),
        ("m.csv", "video,options\na.mp4,{not json}\n", "m.csv:2: options is not valid JSON"),
        ("m.csv", 'video,options\na.mp4,"{""fsp"": 2}"\n', "m.csv:2: unknown option 'fsp'"),
        ("m.csv", 'video,options\na.mp4,"{""fps"": -1}"\n', "m.csv:2: fps must be > 0"),
        ("m.csv", 'video,options\na.mp4,"{""ocr"": ""yes""}"\n', "m.csv:2: option 'ocr' must be true or false"),
        ("m.csv", "video,subtitles\n,a.srt\n", "m.csv:2: no 'video'"),
        ("m.csv", "video\n", "lists no videos"),
        ("m.jsonl", '{"video": "a.mp4"}\n{"video": "b.mp4",\n', "m.jsonl:2: the line is not valid JSON"),
        ("m.jsonl", '["a.mp4"]\n', "m.jsonl:1: the line must be a JSON object, got list"),
        ("m.jsonl", '{"video": "a.mp4", "subtitle": "a.srt"}\n', "m.jsonl:1: unknown key 'subtitle'"),
        ("m.txt", "a.mp4\n", "must be .csv or .jsonl"),
    ],
)
def test_bad_manifests_name_file_line_and_problem(tmp_path, name, text, message):
    (tmp_path / name).write_text(text)
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
        read_manifest(tmp_path / name)


def test_missing_manifest_and_mismatched_arguments(tmp_path):
    with pytest.raises(InputError, match="nope.csv: cannot read the manifest"):
        read_manifest(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="1 subtitle files for 2 videos"):
        jobs_from_paths(["a.mp4", "b.mp4"], ["a.srt"])
    a, b = jobs_from_paths(["a.mp4", "a.mp4"])
    assert unique_jobs([a, b, VideoJob("a.mp4", options={"fps": 2.0})]) == [a, VideoJob("a.mp4", options={"fps": 2.0})]


def test_uris_are_copied_locally_and_removed(clip, tmp_path):
    d, video, _ = clip
    assert is_uri("s3://b/k.mp4") and is_uri("file:///x.mp4") and not is_uri("/x/a.mp4") and not is_uri("C://x")
    with local_copy(video) as same:
        assert same == video  # a local file is used in place
    with local_copy(f"file://{video}") as copy:
        assert copy != video and copy.endswith("talk.mp4")
        assert open(copy, "rb").read() == open(video, "rb").read()
    assert not __import__("os").path.exists(copy)
    with pytest.raises(InputError, match="missing.mp4: cannot read"), local_copy(f"file://{d}/missing.mp4"):
        pass


@pytest.mark.slow
def test_local_corpus_reports_a_bad_video_and_indexes_the_rest(clip, encoder, tmp_path):
    d, video, srt = clip
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 100)
    settings = IndexSettings(chunk_size=4)
    store = IndexStore(tmp_path / "cache")
    jobs = jobs_from_paths([str(bad), video], [None, srt])
    report = index_locally(jobs, encoder, settings=settings, store=store, ocr=False, progress=False)
    assert [f["video"] for f in report.failed] == [str(bad)] and "broken.mp4" in report.failed[0]["reason"]
    assert [e["video"] for e in report.indexed] == [video] and report.indexed[0]["frames_encoded"] == 10
    ref = build_index(video, encoder, subtitles=srt, settings=settings, store=IndexStore(tmp_path / "ref"))
    assert report.indexed[0]["index"].endswith(ref.path.name)  # the same index (same key) as build_index
    again = index_locally(jobs, encoder, settings=settings, store=store, ocr=False, progress=False)
    assert [e["video"] for e in again.skipped] == [video] and again.frames_encoded == 0
    out = json.loads(again.write(tmp_path / "r" / "report.json").read_text())
    assert out["videos"] == 2 and out["failed"][0]["video"] == str(bad) and out["frames_encoded"] == 0


@pytest.mark.slow
def test_cli_index_manifest_without_ray(clip, tmp_path, capsys):
    from clamr_frames.cli import main

    d, video, srt = clip
    (tmp_path / "m.jsonl").write_text(
        json.dumps({"video": video, "subtitles": srt}) + "\n" + json.dumps({"video": "gone.mp4", "id": "gone"}) + "\n"
    )
    rc = main(["index", "--manifest", str(tmp_path / "m.jsonl"), "--index-dir", str(tmp_path / "c"), "--quiet",
               "--no-ocr", "--report", str(tmp_path / "report.json")])
    out, err = capsys.readouterr()
    assert rc == 2  # a video failed: bad input
    assert "gone: failed:" in err and "gone.mp4" in err
    assert f"{video}: 10 candidates (10 frames encoded)" in out
    assert json.loads((tmp_path / "report.json").read_text())["failed"][0]["video"] == "gone"
    assert main(["index", video, "--manifest", str(tmp_path / "m.jsonl")]) == 2
    assert "one of the two" in capsys.readouterr().err
    assert main(["index", video, "--workers", "2"]) == 2
    assert "--workers needs --ray" in capsys.readouterr().err


def test_ray_is_optional(clip, tmp_path, monkeypatch, capsys):
    """The base install has no Ray: importing the pipeline does not import it, and --ray says what to install."""
    import subprocess
    import sys

    code = "import sys, clamr_frames.cli, clamr_frames.index.distributed; print('ray' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"
    from clamr_frames.cli import main

    monkeypatch.setitem(sys.modules, "ray", None)  # import now fails as if not installed
    assert main(["index", clip[1], "--ray", "--index-dir", str(tmp_path), "--quiet"]) == 2
    assert "pip install 'clamr-frames[distributed]'" in capsys.readouterr().err
