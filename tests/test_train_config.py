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
