"""Training configuration files: shipped configs by name, values coerced by the dataclasses' annotations, and
errors that name the file and the key."""

from __future__ import annotations

import pytest

from clamr_frames.errors import InputError
from clamr_frames.train.config import CONFIG_DIR, load_config, shipped_configs


def test_shipped_config_loads_by_name():
    names = shipped_configs()
    assert names == sorted(p.stem for p in CONFIG_DIR.glob("*.yaml")) and "default_synthetic" in names
    by_name = load_config("default_synthetic")
    assert by_name == load_config("default_synthetic.yaml") == load_config(CONFIG_DIR / "default_synthetic.yaml")
    with pytest.raises(InputError, match=r"nope: training config not found \(shipped configs: .*default_synthetic"):
        load_config("nope")


def _write(tmp_path, text: str, data: str = "{train: x.jsonl}"):
    p = tmp_path / "train.yaml"
    p.write_text(f"model: {{kind: default}}\ndata: {data}\n" + text, encoding="utf-8")
    return p


def test_values_are_coerced_by_the_annotations(tmp_path):
    # PyYAML (YAML 1.1) reads 1e-1 and 5e-5 without a dot as strings; quoted numbers are strings too
    cfg = load_config(_write(tmp_path, 'train: {warmup_ratio: 1e-1, lr: 5e-5, batch_size: 8.0, epochs: "2", '
                                       'max_grad_norm: "1", cpu: "yes", stop_after_steps: 1e2, output_dir: 2026}\n'
                                       'loss: {tau: "2e-2", learnable_tau: "false"}\n'
                                       'eval: {ks: [1, "5", 10.0]}\n',
                             data='{train: x.jsonl, fps: "0.5", num_frames: null}'))
    t = cfg.train
    assert (t.warmup_ratio, t.lr, t.batch_size, t.epochs, t.max_grad_norm, t.cpu) == (0.1, 5e-5, 8, 2, 1.0, True)
    assert type(t.warmup_ratio) is float and type(t.batch_size) is int and type(t.max_grad_norm) is float
    assert t.stop_after_steps == 100 and type(t.stop_after_steps) is int and t.output_dir == "2026"
    assert cfg.loss.tau == 0.02 and cfg.loss.learnable_tau is False
    assert cfg.eval.ks == [1, 5, 10] and all(type(k) is int for k in cfg.eval.ks)
    assert cfg.data.fps == 0.5 and cfg.data.num_frames is None
    lora = load_config({"model": {"kind": "default", "train": "lora", "lora": {"r": "8", "alpha": "16",
                                                                             "dropout": "1e-1"}},
                        "data": {"train": "x.jsonl"}}).model.lora
    assert lora == {"r": 8, "alpha": 16.0, "dropout": 0.1}


@pytest.mark.parametrize(("text", "message"), [
    ("train: {warmup_ratio: abc}\n", r"train\.warmup_ratio: expected a number, got 'abc'"),
    ("train: {batch_size: 2.5}\n", r"train\.batch_size: expected an integer, got 2\.5"),
    ("train: {max_steps: [3]}\n", r"train\.max_steps: expected an integer or null, got \[3\]"),
    ("train: {cpu: maybe}\n", r"train\.cpu: expected true or false, got 'maybe'"),
    ("train: {lr: .nan}\n", r"train\.lr: expected a number, got nan"),
    ("eval: {ks: 5}\n", r"eval\.ks: expected a list of integers, got 5"),
    ("eval: {ks: [1, two]}\n", r"eval\.ks: expected a list of integers, got \[1, 'two'\]"),
    ("model: {kind: default, settings: [1]}\n", r"model\.settings: expected a mapping, got \[1\]"),
    ("model: {kind: default, lora: {r: eight}}\n", r"model\.lora\.r: expected an integer, got 'eight'"),
    ("train: {optimizer: sgd}\n", r"train\.optimizer must be one of"),
])
def test_bad_value_names_the_file_and_the_key(tmp_path, text, message):
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=rf"^{path}: {message}"):
        load_config(path)

