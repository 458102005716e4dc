"""``clamr-frames train CONFIG.yaml``: runs, prints metrics, resumes; bad configs and data give one line, exit 2."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("accelerate")
yaml = pytest.importorskip("yaml")

from clamr_frames.cli import main  # noqa: E402
from clamr_frames.synth import generate_video  # noqa: E402


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("videos")
    return [generate_video(d, seed=s, duration=40.0, needles_per_kind=1, video_id=f"v{s}") for s in (1, 2)]


def _rows(videos):
    """One ASR example per video (the needle's subtitle line), as a user's JSONL would have it."""
    rows = []
    for v in videos:
        needle = next(n for n in v.needles if n.kind == "asr")
        q = next(q for q, n in zip(v.questions, v.needles) if n is needle)
        rows.append({"video": str(v.video_path), "query": q["question"], "query_type": "asr",
                     "positives": [[needle.start, needle.end]], "subtitles": str(v.srt_path),
                     "duration": float(v.duration)})
    return rows


def _write_config(tmp_path, train_jsonl, **train_kw):
    cfg = {
        "model": {"kind": "default", "train": "lora", "lora": {"r": 4, "alpha": 8}},
        "data": {"train": str(train_jsonl), "eval": str(train_jsonl), "hard_negatives": 1, "on_error": "skip"},
        "loss": {"kind": "infonce", "tau": 0.05, "aggregation": "token_max"},
        "train": {"output_dir": str(tmp_path / "run"), "epochs": 2, "batch_size": 2, "lr": 1e-4, **train_kw},
        "eval": {"ks": [1, 3]},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
    return path


def _jsonl(path, rows):
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.mark.slow  # a training run (not measured file by file: marked for what it runs)
def test_train_runs_logs_and_skips_a_bad_line(videos, tmp_path, capsys):
    bad = {**_rows(videos)[0], "positives": [[35.0, 70.0]]}  # past the 40 s video
    data = _jsonl(tmp_path / "train.jsonl", _rows(videos) + [bad])
    cfg = _write_config(tmp_path, data)
    with pytest.warns(UserWarning, match=r"skipping .*train.jsonl:3: .*outside the video"):  # with its line
        assert main(["train", str(cfg), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "trained 2 steps" in out and "held-out (2 queries): hit@1 " in out and "->" in out
    events = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [e["event"] for e in events if e["event"] in ("start", "done")] == ["start", "done"]
    assert [e["step"] for e in events if e["event"] == "train"] == [1, 2]
    final = tmp_path / "run" / "final"
    assert (final / "model.safetensors").is_file() and not list(final.glob("*.bin"))

    # metric lines on stdout unless --quiet
    (tmp_path / "b").mkdir()
    cfg2 = _write_config(tmp_path / "b", data)
    with pytest.warns(UserWarning, match="train.jsonl:3"):
        assert main(["train", str(cfg2)]) == 0
    out = capsys.readouterr().out
    assert "event=train step=1" in out and "event=eval tag=before" in out


@pytest.mark.slow  # a training run (not measured file by file: marked for what it runs)
def test_stop_then_the_same_command_resumes(videos, tmp_path, capsys):
    data = _jsonl(tmp_path / "train.jsonl", _rows(videos))
    assert main(["train", str(_write_config(tmp_path, data, stop_after_steps=1)), "--quiet"]) == 0
    assert "stopped after step 1" in capsys.readouterr().out
    assert main(["train", str(_write_config(tmp_path, data)), "--quiet"]) == 0
    assert "trained 2 steps" in capsys.readouterr().out
    events = [json.loads(line)["event"] for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert "stop" in events and "resume" in events and events[-1] == "done"


@pytest.mark.slow  # a training run (not measured file by file: marked for what it runs)
@pytest.mark.parametrize("what", ["missing", "unknown key", "bad data", "other config"])
def test_errors_are_one_line_and_exit_2(videos, tmp_path, capsys, what):
    data = _jsonl(tmp_path / "train.jsonl", _rows(videos))
    if what == "missing":
        cfg, expect = tmp_path / "nope.yaml", "training config not found"
    elif what == "unknown key":
        cfg = _write_config(tmp_path, data)
        text = cfg.read_text().replace("  lr: 0.0001", "  learning_rate: 0.0001")
        cfg.write_text(text)
        expect = "unknown key(s) learning_rate"
    elif what == "bad data":
        _jsonl(data, [json.dumps(_rows(videos)[0]), {**_rows(videos)[1], "positives": []}])
        cfg = _write_config(tmp_path, data)
        cfg.write_text(cfg.read_text().replace("on_error: skip", "on_error: raise"))
        expect = "train.jsonl:2: no positives"
    else:
        assert main(["train", str(_write_config(tmp_path, data, stop_after_steps=1)), "--quiet"]) == 0
        capsys.readouterr()
        cfg, expect = _write_config(tmp_path, data, lr=3e-4), "differs in: train.lr"
    assert main(["train", str(cfg), "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("clamr-frames train: error: ") and expect in err[0], err
