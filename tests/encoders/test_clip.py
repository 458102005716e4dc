"""ClipEncoder: a single-vector scorer through the Encoder protocol, on tiny random CLIP checkpoints written in
the real ``openai/clip-vit-*`` layout (nothing is downloaded)."""

from __future__ import annotations

import os
import pickle
import warnings

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np
import pytest
import torch

from clamr_frames.encoders.base import DocEmbeddings, Document, Encoder
from clamr_frames.encoders.clip import ClipEncoder
from testkit.tiny_clip import random_clip_model, write_tiny_clip
from clamr_frames.errors import InputError, ModelLoadError
from clamr_frames.scoring import maxsim
from clamr_frames.types import Modality


@pytest.fixture(scope="module")
def enc(tiny_clip_dir):
    return ClipEncoder.from_pretrained(tiny_clip_dir, device="cpu")


def _frames(n, seed=0, shape=(48, 64, 3)):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(n)]


def _docs(n, seed=0):
    return [Document(image=f, asr="ignored", ocr="ignored", timestamp=float(i)) for i, f in enumerate(_frames(n, seed))]


def test_protocol_one_token_per_query_and_document(enc):
    assert isinstance(enc, Encoder)
    assert enc.multi_vector is False and enc.uses_image and not enc.uses_ocr and not enc.uses_audio
    assert enc.dim == 16
    qs = enc.encode_queries(["what is on the board?", "a cat"])
    assert [tuple(q.shape) for q in qs] == [(1, 16), (1, 16)]
    assert all(q.dtype == torch.float16 for q in qs)
    out = enc.encode_documents(_docs(5))
    assert isinstance(out, DocEmbeddings) and out.num_docs == 5
    assert out.offsets.tolist() == [0, 1, 2, 3, 4, 5]
    assert out.modality_ids.tolist() == [Modality.VIDEO] * 5
    assert out.embeddings.shape == (5, 16) and out.embeddings.dtype == torch.float16
    torch.testing.assert_close(out.embeddings.float().norm(dim=-1), torch.ones(5), atol=2e-3, rtol=0)
    assert enc.query_tokens("anything") == ["<query>"]
    assert enc.encoder_id.startswith("clip:") and enc.config["dim"] == 16


def test_same_numbers_as_transformers_clip_pipeline(enc, tiny_clip_dir):
    """Frames and texts go through the checkpoint's own processor, tokenizer, towers and projections."""
    from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

    model = CLIPModel.from_pretrained(tiny_clip_dir).eval()
    proc = CLIPImageProcessor.from_pretrained(tiny_clip_dir)
    tok = CLIPTokenizer.from_pretrained(tiny_clip_dir)
    frames = _frames(3, seed=1)
    texts = ["the cat is on the sofa", "an"]
    with torch.no_grad():
        img = model.get_image_features(pixel_values=proc(images=frames, return_tensors="pt")["pixel_values"])
        txt = model.get_text_features(**tok(texts, padding=True, return_tensors="pt"))
    img = getattr(img, "pooler_output", img)
    txt = getattr(txt, "pooler_output", txt)
    torch.testing.assert_close(enc.encode_images(frames), torch.nn.functional.normalize(img, dim=-1), atol=1e-5, rtol=0)
    torch.testing.assert_close(enc.encode_texts(texts), torch.nn.functional.normalize(txt, dim=-1), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_deterministic_and_batch_invariant(tiny_clip_dir):
    a = ClipEncoder.from_pretrained(tiny_clip_dir, device="cpu", batch_size=2, output_dtype=torch.float32)
    b = ClipEncoder.from_pretrained(tiny_clip_dir, device="cpu", batch_size=32, output_dtype=torch.float32)
    docs = _docs(5, seed=2)
    ea, eb = a.encode_documents(docs), b.encode_documents(docs)
    torch.testing.assert_close(ea.embeddings, eb.embeddings, atol=1e-5, rtol=0)
    torch.testing.assert_close(a.encode_documents(docs).embeddings, ea.embeddings, atol=0, rtol=0)
    texts = ["short", "a somewhat longer question about the whiteboard", "the"]
    torch.testing.assert_close(a.encode_texts(texts), b.encode_texts(texts), atol=1e-5, rtol=0)
    # a text alone equals the same text in a padded batch
    torch.testing.assert_close(a.encode_texts(texts[:1]), b.encode_texts(texts)[:1], atol=1e-5, rtol=0)
    assert a.encoder_id == b.encoder_id  # batch size is a runtime knob, not part of the fingerprint


def test_maxsim_over_one_token_is_cosine_similarity(enc):
    docs = enc.encode_documents(_docs(6, seed=3))
    q = enc.encode_queries(["the board"])[0]
    scores, arg = maxsim(q, docs.embeddings, docs.offsets, modality_ids=docs.modality_ids, return_argmax=True)
    expected = docs.embeddings.float() @ q.float()[0]
    torch.testing.assert_close(scores, expected, atol=1e-6, rtol=0)
    assert arg.token_index.tolist() == [[i] for i in range(6)]


def test_long_queries_are_cut_to_the_text_tower(enc):
    head = "what is written on the board " * 10  # far more than the tiny tower's 32 positions
    a, b = enc.encode_texts([head + "in red", head + "something else entirely"])
    torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
    assert enc.max_text_tokens == 32


def test_document_without_frame_gets_no_token(enc):
    docs = _docs(3, seed=4)
    docs[1] = Document(image=None, timestamp=1.0)
    with pytest.warns(UserWarning, match="1 of 3 documents have no frame"):
        out = enc.encode_documents(docs)
    assert out.offsets.tolist() == [0, 1, 1, 2]
    scores = maxsim(enc.encode_queries(["x"])[0], out.embeddings, out.offsets)
    assert torch.isneginf(scores[1]) and torch.isfinite(scores[[0, 2]]).all()


def test_bad_inputs(enc, tmp_path):
    with pytest.raises(InputError, match="list of strings"):
        enc.encode_queries("a string")
    with pytest.raises(InputError, match=r"RGB frame \[H, W, 3\]"):
        enc.encode_documents([Document(image=np.zeros((8, 8), np.uint8))])
    with pytest.raises(InputError, match="uint8"):
        enc.encode_documents([Document(image=np.zeros((8, 8, 3), np.float32))])
    (tmp_path / "config.json").write_text('{"model_type": "bert"}')
    with pytest.raises(ModelLoadError, match="cannot load CLIP model"):
        ClipEncoder.from_pretrained(tmp_path)
    empty = enc.encode_documents([])
    assert empty.num_docs == 0 and empty.embeddings.shape == (0, 16)


def test_bin_checkpoint_loads_like_safetensors(tmp_path, enc):
    model = random_clip_model(seed=0)
    write_tiny_clip(tmp_path / "bin", fmt="bin", model=model)
    assert (tmp_path / "bin" / "pytorch_model.bin").exists() and not (tmp_path / "bin" / "model.safetensors").exists()
    from_bin = ClipEncoder.from_pretrained(tmp_path / "bin", device="cpu")
    frames = _frames(2, seed=5)
    torch.testing.assert_close(from_bin.encode_images(frames), enc.encode_images(frames), atol=1e-6, rtol=0)
    assert from_bin.encoder_id.split("@")[1] == enc.encoder_id.split("@")[1]  # same weights, same fingerprint
    other = ClipEncoder.from_pretrained(write_tiny_clip(tmp_path / "other", seed=1), device="cpu")
    assert other.encoder_id.split("@")[1] != enc.encoder_id.split("@")[1]


class _Payload:
    """A pickle that would create a directory if unpickled with code execution allowed."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


def test_pickled_code_in_bin_is_never_run(tmp_path):
    d = write_tiny_clip(tmp_path / "evil", fmt="bin")
    marker = tmp_path / "was-executed"
    state = torch.load(d / "pytorch_model.bin", weights_only=True)
    state["payload"] = _Payload(marker)
    with open(d / "pytorch_model.bin", "wb") as f:
        torch.save(state, f, pickle_module=pickle)
    with pytest.raises(ModelLoadError, match="Weights only load failed"):
        ClipEncoder.from_pretrained(d, device="cpu")
    assert not marker.exists()


def test_unreachable_hub_id_offline_points_at_a_local_path():
    with pytest.raises(ModelLoadError, match="local directory") as e:
        ClipEncoder.from_pretrained("clamr-frames-tests/no-such-clip", local_files_only=True)
    assert "huggingface-cli download clamr-frames-tests/no-such-clip" in str(e.value)


def test_checkpoint_without_preprocessor_config_uses_clip_defaults(tmp_path, enc):
    d = write_tiny_clip(tmp_path / "noproc", seed=0)
    (d / "preprocessor_config.json").unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        bare = ClipEncoder.from_pretrained(d, device="cpu")
    frames = _frames(2, seed=6)
    torch.testing.assert_close(bare.encode_images(frames), enc.encode_images(frames), atol=1e-5, rtol=0)
