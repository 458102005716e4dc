"""The settings dataclasses share one ``to_dict``/``from_dict`` (clamr_frames._settings): JSON round trip, unknown
keys refused by name, validation kept by each dataclass."""

from __future__ import annotations

import json

import pytest

from clamr_frames._settings import Settings
from clamr_frames.encoders.clamr import ClamrSettings
from clamr_frames.encoders.default import DefaultSettings
from clamr_frames.encoders.languagebind_audio import AudioFeatureSettings
from clamr_frames.errors import InputError

SETTINGS = [
    (ClamrSettings, "CLaMR", {"frame_size": 252, "text_order": ("asr",)}),
    (DefaultSettings, "default-encoder", {"context_mode": "joint", "max_length": 128}),
    (AudioFeatureSettings, "LanguageBind audio", {"num_mel_bins": 64}),
]


@pytest.mark.parametrize("cls,label,changed", SETTINGS, ids=[c.__name__ for c, _, _ in SETTINGS])
def test_settings_round_trip_through_json_and_refuse_unknown_keys(cls, label, changed):
    assert issubclass(cls, Settings) and cls.from_dict.__func__ is Settings.from_dict.__func__
    s = cls(**changed)
    d = json.loads(json.dumps(s.to_dict()))  # tuples come back as lists; __post_init__ restores them
    assert cls.from_dict(d) == s and "label" not in d
    with pytest.raises(InputError, match=rf"unknown {label} setting\(s\): bogus, zz \(known: .*{list(changed)[0]}"):
        cls.from_dict({**d, "zz": 1, "bogus": 2})
    with pytest.raises(InputError):  # validation stays the dataclass's own
        cls.from_dict({**d, **{k: -1 for k in ("frame_size", "max_length", "sample_rate") if k in d}})
