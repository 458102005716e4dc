"""The declarative model-args table: parsing, errors, the docs rendering, and that the model takes its args from it."""

import inspect

import pytest

from testkit.extras import require_extra

from clamr_frames.errors import InputError
from qa_harness.model_args import MODEL_ARGS, PREFIXES, markdown_table, parse_model_args


def test_defaults_types_and_prefixes():
    p = parse_model_args({"k": "8", "fps": "0.5", "ocr": "1", "asr": "false", "num_candidates": "none",
                          "scorer_weights": "/m", "inner_attn_implementation": "sdpa", "asr_model": "small"})
    v = p.values
    assert (v["k"], v["fps"], v["ocr"], v["asr"], v["num_candidates"]) == (8, 0.5, True, "none", None)
    assert v["subtitles"] == "auto"
    # decided by the scorer when not given: its default policy, OCR where it reads OCR text
    assert parse_model_args({}).values["policy"] is None and parse_model_args({}).values["ocr"] is None
    assert parse_model_args({"policy": "gated", "ocr": "false"}).values["policy"] == "gated"
    assert parse_model_args({"ocr": "false"}).values["ocr"] is False
    md = markdown_table()
    assert "| `ocr` | bool or none | the scorer's |" in md and "| `policy` | str or none | the scorer's |" in md
    assert p.prefixed == {"scorer": {"weights": "/m"}, "asr": {"model": "small"},
                          "inner": {"attn_implementation": "sdpa"}, "policy": {}}


@pytest.mark.parametrize("kw, msg", [({"k": "0"}, "k must be positive"), ({"k": "x"}, "k must be an integer"),
                                     ({"fps": "0"}, "fps must be positive"), ({"bogus": 1}, "unknown model args"),
                                     ({"query": "options"}, "query must be one of"),
                                     ({"cache_dir": "a", "index_dir": "b"}, "pass index_dir only")])
def test_bad_values(kw, msg):
    with pytest.raises(InputError, match=msg):
        parse_model_args(kw)


def test_deprecated_name_maps():
    with pytest.warns(DeprecationWarning):
        assert parse_model_args({"cache_dir": "/x"}).values["index_dir"] == "/x"


def test_markdown_table_lists_every_arg():
    md = markdown_table()
    for a in MODEL_ARGS:
        assert f"| `{a.name}` |" in md
    for p in PREFIXES:
        assert f"`{p.prefix}_<key>`" in md


def test_model_parses_from_the_table():
    require_extra("eval")
    from qa_harness import model

    sig = inspect.signature(model.ClamrFrames.__init__)
    assert [p for p in sig.parameters if p not in ("self", "selector", "model_args")] == []
    assert "qa_harness.model_args" in model.__doc__
