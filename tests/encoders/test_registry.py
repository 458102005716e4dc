"""The scorer registry (clamr_frames.encoders.registry): declarative, defined once, extensible with
register_scorer, and a local folder loads by what it records (a trained run's kind, a CLaMR adapter or model)."""

from __future__ import annotations

import json

import pytest

from clamr_frames.encoders import registry
from clamr_frames.encoders.registry import SCORERS, ScorerSpec, load_encoder, register_scorer, scorer_for_folder
from clamr_frames.errors import InputError, ModelLoadError


@pytest.fixture
def scratch_registry(monkeypatch):
    """Registrations a test makes disappear after it."""
    monkeypatch.setattr(registry, "SCORERS", dict(SCORERS))
    return registry.SCORERS


def test_one_declarative_registry_every_user_reads(capsys):
    import clamr_frames.selector as selector
    from clamr_frames.cli import build_parser

    assert selector.SCORERS is registry.SCORERS  # defined once, re-exported
    assert list(SCORERS) == ["default", "clamr", "languagebind-v", "languagebind-va", "clip"]
    for name, spec in SCORERS.items():
        assert isinstance(spec, ScorerSpec) and spec.summary, name
        assert callable(registry._resolve(spec.target)), name  # every target imports and is callable
    with pytest.raises(SystemExit):
        build_parser().parse_args(["select", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert " | ".join(SCORERS) in help_text  # the CLI's --scorer help lists the registry


def test_register_scorer_adds_a_loadable_name(scratch_registry):
    spec = register_scorer("minilm", "clamr_frames.encoders.default:DefaultEncoder", weights="model_path", hub=False,
                           summary="the default scorer under another name")
    assert scratch_registry["minilm"] is spec
    enc = load_encoder("minilm", device="cpu")
    assert type(enc).__name__ == "DefaultEncoder"
    with pytest.raises(InputError, match="never the Hub"):  # hub=False: a revision is refused, as for default
        load_encoder("minilm", revision="v1")
    with pytest.raises(InputError, match="exists already"):
        register_scorer("minilm", spec)
    register_scorer("minilm", spec, overwrite=True)


@pytest.mark.parametrize(
    "name, target, match",
    [
        ("", "a.b:C", "empty"),
        ("org/model", "a.b:C", "hub id"),
        ("Big", "a.b:C", "lower case"),
        ("ok", "not a target", "module:Class"),
    ],
)
def test_register_scorer_refuses_bad_names_and_targets(scratch_registry, name, target, match):
    with pytest.raises(InputError, match=match):
        register_scorer(name, target)


def test_a_target_that_does_not_import_fails_at_load_naming_it(scratch_registry):
    register_scorer("ghost", "clamr_frames.encoders.no_such_module:Ghost")
    with pytest.raises(ModelLoadError, match="clamr_frames.encoders.no_such_module:Ghost"):
        load_encoder("ghost")


def test_audio_weights_only_for_a_scorer_with_audio():
    with pytest.raises(InputError, match="scorer 'clip' has no audio encoder.*languagebind-va"):
        load_encoder("clip", audio_weights="/x")


# -- local folders ----------------------------------------------------------------------------------
def _record(folder, **meta):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "clamr_train.json").write_text(json.dumps(meta), encoding="utf-8")
    return folder


@pytest.mark.parametrize("kind", ["default", "clip", "clamr"])
def test_a_training_record_names_the_scorer(tmp_path, kind):
    assert scorer_for_folder(_record(tmp_path / kind, kind=kind)) == kind


@pytest.mark.parametrize("marker", ["adapter_config.json", "clamr_config.json"])
def test_a_clamr_adapter_or_saved_model_without_a_record_is_clamr(tmp_path, marker):
    (tmp_path / marker).write_text("{}", encoding="utf-8")
    assert scorer_for_folder(tmp_path) == "clamr"


def test_folders_that_hold_no_scorer_say_what_was_expected(tmp_path):
    with pytest.raises(InputError) as e:
        load_encoder(str(tmp_path))
    msg = str(e.value)
    assert str(tmp_path) in msg and "clamr_train.json" in msg and "adapter_config.json" in msg
    assert "clamr_config.json" in msg and "default" in msg
    with pytest.raises(InputError, match=r"records scorer kind 'bert'.*expected one of default, clamr"):
        load_encoder(str(_record(tmp_path / "odd", kind="bert")))
    bad = tmp_path / "broken"
    bad.mkdir()
    (bad / "clamr_train.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(InputError, match="broken/clamr_train.json: unreadable training record"):
        load_encoder(str(bad))
    a_file = tmp_path / "weights.safetensors"
    a_file.write_bytes(b"")
    with pytest.raises(InputError, match="weights.safetensors: not a folder"):
        load_encoder(str(a_file))
    with pytest.raises(InputError, match="itself a model path"):
        load_encoder(str(tmp_path), weights="/elsewhere")
    with pytest.raises(InputError, match="unknown scorer 'nope'"):
        load_encoder("nope")


def test_a_clip_run_folder_loads_as_clip(tmp_path):
    pytest.importorskip("transformers")
    from clamr_frames.encoders.clip import ClipEncoder
    from testkit.tiny_clip import write_tiny_clip

    folder = write_tiny_clip(tmp_path / "clip-run", seed=0)
    _record(folder, kind="clip", source="tiny")  # what ClipTrainable.save_pretrained writes beside the weights
    enc = load_encoder(str(folder), device="cpu", progress=False)
    assert isinstance(enc, ClipEncoder)


@pytest.mark.slow
def test_a_default_run_folder_the_trainer_wrote_loads_and_selects(tmp_path):
    """`--scorer runs/.../final` of a default run: the folder the training core wrote (clamr_train.json kind
    default) loads as the default scorer with those weights; it used to fail with a CLaMR-only message."""
    torch = pytest.importorskip("torch")
    pytest.importorskip("peft")
    from clamr_frames.cli import main
    from clamr_frames.encoders.default import DefaultEncoder
    from clamr_frames.selector import FrameSelector
    from clamr_frames.synth import generate_video
    from clamr_frames.train.models import DefaultTrainable

    base = DefaultEncoder(device="cpu")
    torch.manual_seed(0)
    model = DefaultTrainable(base, mode="lora", lora={"r": 4, "alpha": 8})
    for p in model.parameters():  # weights that differ from the packaged model's, so loading them shows
        if p.requires_grad:
            torch.nn.init.normal_(p, std=0.05)
    final = model.save_pretrained(tmp_path / "runs" / "default_synthetic" / "final")
    assert json.loads((final / "clamr_train.json").read_text())["kind"] == "default"

    enc = load_encoder(str(final), device="cpu")
    want = DefaultEncoder(final, device="cpu")
    assert isinstance(enc, DefaultEncoder)
    queries = ["what is written on the sign", "the red ball"]
    torch.testing.assert_close(enc.encode_queries(queries)[0], want.encode_queries(queries)[0])
    assert not torch.equal(enc.encode_queries(queries)[0], base.encode_queries(queries)[0])

    video = generate_video(tmp_path / "video", seed=3, duration=30.0, kinds=("asr",), needles_per_kind=1)
    question = video.questions[0]["question"]
    sel = FrameSelector.from_pretrained(str(final), device="cpu", index_dir=tmp_path / "idx", progress=False,
                                        ocr=False)
    picked = sel.select(video.video_path, question, k=3, subtitles=video.srt_path)
    assert len(picked.indices) == 3
    rc = main(["select", str(video.video_path), question, "-k", "3", "--scorer", str(final), "--subtitles",
               str(video.srt_path), "--index-dir", str(tmp_path / "idx-cli"), "--quiet", "--device", "cpu", "--json",
               "--no-ocr"])
    assert rc == 0
