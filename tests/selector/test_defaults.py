"""What a selection gets without being told: OCR where the scorer reads OCR text (``--no-ocr`` / ``ocr=False``
skip it), and the scorer's own default policy (an explicit policy overrides it; the selection records which ran)."""

from __future__ import annotations

import warnings

import pytest

from clamr_frames.cli import build_parser
from clamr_frames.context.ocr import OcrUnavailableError
from clamr_frames.index import plan as plan_mod
from clamr_frames.index.plan import resolve_ocr


@pytest.fixture
def no_ocr_extra(monkeypatch):
    """The ``ocr`` extra as if not installed, with the once-per-process warning not yet given."""
    monkeypatch.setattr(plan_mod, "ocr_available", lambda: False)
    monkeypatch.setattr(plan_mod, "_warned_no_ocr", False)


def test_resolve_ocr_defaults_to_what_the_scorer_reads(monkeypatch):
    monkeypatch.setattr(plan_mod, "ocr_available", lambda: True)
    assert resolve_ocr(None, reads_ocr=True) is True
    assert resolve_ocr(None, reads_ocr=False) is False  # a visual scorer never reads it
    assert resolve_ocr(False, reads_ocr=True) is False
    assert resolve_ocr(True, reads_ocr=False) is True  # asked for: the index stores the text


def test_a_missing_extra_warns_once_by_default_and_fails_when_asked_for(no_ocr_extra):
    with pytest.warns(UserWarning, match=r"pip install 'clamr-frames\[ocr\]'.*--no-ocr"):
        assert resolve_ocr(None, reads_ocr=True) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per process, not once per video
        assert resolve_ocr(None, reads_ocr=True) is False
        assert resolve_ocr(False, reads_ocr=True) is False  # said no: nothing to warn about
    with pytest.raises(OcrUnavailableError, match="'ocr' extra"):
        resolve_ocr(True, reads_ocr=True)


def test_the_selector_reads_ocr_by_default_where_the_scorer_does(default_encoder, tiny_clip_dir, tmp_path,
                                                                   monkeypatch):
    from clamr_frames import FrameSelector
    from clamr_frames.encoders.clip import ClipEncoder

    monkeypatch.setattr(plan_mod, "ocr_available", lambda: True)
    assert FrameSelector(default_encoder, index_dir=tmp_path, progress=False).use_ocr is True
    assert FrameSelector(default_encoder, index_dir=tmp_path, progress=False, ocr=False).use_ocr is False
    clip = ClipEncoder.from_pretrained(tiny_clip_dir, device="cpu")
    assert FrameSelector(clip, index_dir=tmp_path, progress=False).use_ocr is False
    assert FrameSelector(clip, index_dir=tmp_path, progress=False, ocr=True).use_ocr is True


def test_the_selector_without_the_extra_indexes_without_ocr(default_encoder, tmp_path, no_ocr_extra):
    from clamr_frames import FrameSelector

    with pytest.warns(UserWarning, match="indexing without OCR"):
        assert FrameSelector(default_encoder, index_dir=tmp_path, progress=False).use_ocr is False
    with pytest.raises(OcrUnavailableError):
        FrameSelector(default_encoder, index_dir=tmp_path, progress=False, ocr=True)


def test_the_local_corpus_runner_resolves_the_default(default_encoder, tmp_path, monkeypatch):
    from clamr_frames.index import IndexStore
    from clamr_frames.index.corpus import index_locally

    monkeypatch.setattr(plan_mod, "ocr_available", lambda: True)
    for ocr, want in ((None, True), (False, False)):
        report = index_locally([], default_encoder, store=IndexStore(tmp_path), ocr=ocr, progress=False)
        assert report.setup["ocr"] is want


@pytest.mark.parametrize("command", ["select", "index", "serve", "demo"])
def test_every_indexing_command_has_ocr_and_no_ocr(command):
    parse = build_parser().parse_args
    pos = [] if command in ("serve", "demo") else ["v.mp4"]
    assert parse([command, *pos]).ocr is None  # the default: decided by the scorer
    assert parse([command, *pos, "--no-ocr"]).ocr is False
    assert parse([command, *pos, "--ocr"]).ocr is True


def test_policy_flags_default_to_the_scorer():
    parse = build_parser().parse_args
    assert parse(["select", "v.mp4", "q"]).policy is None and parse(["demo"]).policy is None
    assert parse(["select", "v.mp4", "q", "--policy", "nms"]).policy == "nms"


def test_every_scorer_declares_a_registered_default_policy():
    from clamr_frames.encoders.registry import SCORERS, default_policy, scorer_class, scorer_table
    from clamr_frames.select import POLICIES

    for name in SCORERS:
        cls = scorer_class(name)
        assert "default_policy" in vars(cls), f"{name}: {cls.__name__} declares no default_policy"
        assert default_policy(cls) in POLICIES
    rows = scorer_table().splitlines()[2:]
    assert all(row.endswith(f"| `{default_policy(scorer_class(n))}` |") for n, row in zip(SCORERS, rows))


class _Prefers:
    """The default encoder, declaring another default policy (as a scorer class does with one line)."""

    default_policy = "uniform"

    def __init__(self, inner):
        self.inner = inner

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_the_scorers_default_policy_is_used_and_an_explicit_one_overrides_it(default_encoder, subtitled_clip,
                                                                            tmp_path, capsys):
    from clamr_frames import FrameSelector
    from clamr_frames.select import select_frames

    video, srt = subtitled_clip
    question = "What password did the harbour master say?"
    plain = FrameSelector(default_encoder, index_dir=tmp_path, progress=False, ocr=False)
    assert plain.default_policy == default_encoder.default_policy
    assert plain.select(video, question, k=4, subtitles=srt).policy == default_encoder.default_policy

    selector = FrameSelector(_Prefers(default_encoder), index_dir=tmp_path, progress=False, ocr=False)
    sel = selector.select(video, question, k=4, subtitles=srt)
    assert sel.policy == "uniform" and sel.to_dict()["policy"] == "uniform"
    want = select_frames(sel.all_scores, sel.all_timestamps, 4, policy="uniform")
    assert sel.indices.tolist() == [int(i) for i in want]
    top = selector.select(video, question, k=4, subtitles=srt, policy="topk")
    assert top.policy == "topk" and top.indices.tolist() != sel.indices.tolist()


def test_select_prints_the_policy_it_used(subtitled_clip, tmp_path, capsys):
    from clamr_frames.cli import main
    from clamr_frames.encoders.default import DefaultEncoder

    video, srt = subtitled_clip
    assert main(["select", str(video), "what is the password?", "-k", "2", "--subtitles", str(srt), "--no-ocr",
                 "--index-dir", str(tmp_path), "--quiet"]) == 0
    assert f"(policy {DefaultEncoder.default_policy}, without OCR) for: what is the password?" in capsys.readouterr().out
