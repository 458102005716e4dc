"""Code that used to exist twice and now exists once: the settings dataclasses' ``to_dict``/``from_dict``, the
one-line error text, the training wrappers' forward pass, token-budget batching."""

from __future__ import annotations

import json

import pytest

from clamr_frames._settings import Settings
from clamr_frames.encoders.clamr import ClamrSettings
from clamr_frames.encoders.default import DefaultSettings
from clamr_frames.encoders.languagebind_audio import AudioFeatureSettings
from clamr_frames.errors import InputError, first_line

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


def test_first_line():
    assert first_line(OSError("no such file\n  Traceback detail\n  more")) == "no such file"
    assert first_line(KeyError()) == "KeyError"
    assert first_line(ValueError("  \n")) == "ValueError"


def test_trainable_wrappers_share_one_forward_and_embed():
    from clamr_frames.train import models

    classes = [models._clamr_class(), models._default_class(), models._clip_class()]
    for cls in classes:
        assert cls.forward is models._TwoSided.forward, cls.__name__
        assert cls.embed is models._TwoSided.embed, cls.__name__


def test_token_budget_batches_cover_every_index_once():
    from clamr_frames.encoders.runtime import token_budget_batches

    lengths = [7, 3, 12, 12, 1, 5, 9, 2]
    for budget, fill in ((12, 0.0), (30, 0.0), (100, 0.5), (1, 0.0)):
        batches = token_budget_batches(lengths, budget, min_fill=fill)
        assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
        for b in batches:
            longest = max(lengths[i] for i in b)
            assert len(b) == 1 or len(b) * longest <= budget
            assert all(lengths[i] >= fill * longest for i in b)
