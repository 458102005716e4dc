"""``train(config)`` end to end on a tiny random Qwen2.5-VL: checkpoints, exact resume, refusals, logs, loading."""

from __future__ import annotations

import json
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

from safetensors.torch import load_file  # noqa: E402

from clamr_frames.encoders.clamr import ClamrEncoder  # noqa: E402
from clamr_frames.errors import InputError  # noqa: E402
from clamr_frames.train import train  # noqa: E402
from clamr_frames.train.config import load_config  # noqa: E402
from clamr_frames.train.data import DataError  # noqa: E402



@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("synthetic")


def _config(tiny_qwen_dir, data_dir, out, **train_kw):
    return {
        "model": {"kind": "clamr", "base_model": str(tiny_qwen_dir), "settings": {"frame_size": 56},
                  "lora": {"r": 4, "alpha": 8, "dropout": 0.1, "init": "gaussian"}},
        "data": {"synthetic": {"dir": str(data_dir), "seed": 0, "train_videos": 2, "eval_videos": 1,
                               "duration": 40.0, "needles_per_kind": 1},
                 "source": "synthetic", "hard_negatives": 1, "max_side": 112, "fps": 0.5},
        "loss": {"kind": "infonce", "aggregation": "modality_max"},
        "train": {"output_dir": str(out), "epochs": 2, "batch_size": 2, "lr": 1e-3, "warmup_ratio": 0.2,
                  "seed": 3, **train_kw},
        "eval": {"ks": [1, 5], "before_training": True},
    }


def _weights(run_dir):
    final = run_dir / "final"
    return {**load_file(str(final / "adapter_model.safetensors")),
            **{"head." + k: v for k, v in load_file(str(final / "clamr_head.safetensors")).items()}}


@pytest.mark.slow  # a training run (not measured file by file: marked for what it runs)
def test_stop_and_resume_reproduces_the_uninterrupted_run(tiny_qwen_dir, data_dir, tmp_path):
    full = train(_config(tiny_qwen_dir, data_dir, tmp_path / "full"), progress=False, log_stdout=False)
    assert not full.stopped and full.global_step == 6  # 6 examples / 2 per batch x 2 epochs
    assert [e["tag"] for e in full.evals] == ["before", "epoch-0", "epoch-1"]
    assert {"hit@1", "hit@5", "recall@5", "mrr", "queries"} <= set(full.evals[0])
    assert full.evals[0]["queries"] == 3

    part = train(_config(tiny_qwen_dir, data_dir, tmp_path / "split", stop_after_steps=2), progress=False,
                 log_stdout=False)
    assert part.stopped and part.global_step == 2 and part.final_dir is None
    rest = train(_config(tiny_qwen_dir, data_dir, tmp_path / "split"), progress=False, log_stdout=False)
    assert rest.global_step == 6 and not rest.stopped

    a, b = _weights(tmp_path / "full"), _weights(tmp_path / "split")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    assert [e["hit@1"] for e in rest.evals] == [e["hit@1"] for e in full.evals]

    # the log: a start, train steps with the loss, evals, a resume, done
    events = [json.loads(line) for line in (tmp_path / "split" / "log.jsonl").read_text().splitlines()]
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and "stop" in kinds and "resume" in kinds and kinds[-1] == "done"
    assert events[0]["score_floor"] == 0.0  # CLaMR trains with the reference's zero-padding floor
    steps = [e for e in events if e["event"] == "train"]
    assert [e["step"] for e in steps] == [1, 2, 3, 4, 5, 6] and all(e["loss"] > 0 for e in steps)

    # what was saved loads through the inference path
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # the trained head is in the adapter dir: no "re-initialised" warning
        enc = ClamrEncoder.from_pretrained(tmp_path / "full" / "final", base_model=tiny_qwen_dir, device="cpu",
                                           frame_size=56)
    assert enc.encode_queries(["what is written on the sign?"])[0].shape[1] == 128

    # ... and through FrameSelector (a local adapter directory as the scorer), which selects frames
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.selector import FrameSelector
    from clamr_frames.train.data import read_jsonl

    held = read_jsonl(data_dir / "eval" / "examples.jsonl", duration_fn=None)[0]
    sel = FrameSelector.from_pretrained(str(tmp_path / "full" / "final"), device="cpu",
                                        encoder_kwargs={"base_model": str(tiny_qwen_dir), "frame_size": 56},
                                        settings=IndexSettings(fps=0.5, max_side=112), index_dir=tmp_path / "cache",
                                        progress=False, ocr=False)
    q = "what is written on the sign?"
    assert torch.allclose(sel.encoder.encode_queries([q])[0].float(), enc.encode_queries([q])[0].float(), atol=1e-5)
    picked = sel.select(held.video, held.queries[0], k=2, subtitles=held.subtitles)
    assert len(picked.timestamps) == 2


@pytest.mark.slow  # a training run (not measured file by file: marked for what it runs)
def test_resume_from_another_config_is_refused(tiny_qwen_dir, data_dir, tmp_path):
    cfg = _config(tiny_qwen_dir, data_dir, tmp_path / "run", stop_after_steps=1)
    cfg["eval"]["enabled"] = False
    train(cfg, progress=False, log_stdout=False)
    with pytest.raises(InputError, match=r"another training configuration \(differs in: train.lr\)"):
        train(_config(tiny_qwen_dir, data_dir, tmp_path / "run", lr=5e-4), progress=False, log_stdout=False)
    # run-time knobs are not part of the configuration: a longer stop point resumes fine
    cfg = _config(tiny_qwen_dir, data_dir, tmp_path / "run", stop_after_steps=2, log_every=2)
    cfg["eval"] = {"enabled": False}
    res = train(cfg, progress=False, log_stdout=False)
    assert res.stopped and res.global_step == 2


def test_bad_data_stops_before_the_model_loads(tiny_qwen_dir, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"video": "missing.mp4", "query": "q", "positives": [[1, 2]]}) + "\n")
    cfg = _config(tiny_qwen_dir, tmp_path, tmp_path / "out")
    cfg["data"] = {"train": str(bad)}
    with pytest.raises(DataError, match=r"bad.jsonl:1: video not found"):
        train(cfg, progress=False, log_stdout=False)


def test_config_errors(tmp_path):
    with pytest.raises(InputError, match="unknown key"):
        load_config({"model": {"kind": "default", "lr": 1}, "data": {"train": "x.jsonl"}})
    with pytest.raises(InputError, match="unknown config section"):
        load_config({"model": {}, "data": {"train": "x"}, "optimizer": {}})
    with pytest.raises(InputError, match="model.kind"):
        load_config({"model": {"kind": "bert"}, "data": {"train": "x"}})
    with pytest.raises(InputError, match="load_in_4bit"):
        load_config({"model": {"kind": "default", "load_in_4bit": True}, "data": {"train": "x"}})
    with pytest.raises(InputError, match="not found"):
        load_config(tmp_path / "none.yaml")
    y = tmp_path / "c.yaml"
    y.write_text(f"base_dir: {tmp_path}\nmodel: {{kind: default}}\ndata: {{train: d/train.jsonl}}\n")
    cfg = load_config(y)
    assert cfg.resolve(cfg.data.train) == str((tmp_path / "d" / "train.jsonl").resolve())
    assert cfg.resolve("Qwen/Qwen2.5-VL-3B-Instruct", hub_ok=True) == "Qwen/Qwen2.5-VL-3B-Instruct"
    assert cfg.loss.tau == 0.02 and cfg.loss.aggregation == "modality_max"


def test_example_configs_are_valid():
    from pathlib import Path

    import clamr_frames.train as T

    configs = sorted((Path(T.__file__).parent / "configs").glob("*.yaml"))
    assert configs
    for c in configs:
        load_config(c)
