"""Trainable wrappers: same inputs and embeddings as the inference encoders, they learn, and they save loadably."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from clamr_frames.encoders.base import Document  # noqa: E402
from clamr_frames.encoders.clamr import ClamrEncoder  # noqa: E402
from clamr_frames.errors import InputError  # noqa: E402
from clamr_frames.scoring import unpack  # noqa: E402
from clamr_frames.train.losses import build_loss  # noqa: E402
from clamr_frames.train.models import ClamrTrainable, DefaultTrainable  # noqa: E402
from clamr_frames.types import Modality  # noqa: E402

from testkit.tiny_qwen import save_tiny_qwen  # noqa: E402

QUERIES = ["what did the harbour master say?", "exit 12 closed", "the red car crossing the bridge", "pasta sauce"]


def _frame(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (90, 160, 3), dtype=np.uint8)


def _docs() -> list[Document]:
    return [
        Document(_frame(1), asr="welcome back, the harbour master said falcon", ocr="", timestamp=1.0),
        Document(_frame(2), asr="", ocr="EXIT 12 CLOSED", timestamp=2.0),
        Document(_frame(3), asr="a car on the bridge at night", ocr="BRIDGE", timestamp=3.0),
        Document(_frame(4), asr="cooking pasta with tomato sauce", ocr="", timestamp=4.0),
        Document(_frame(5), asr="the quick brown fox", ocr="Price $4.99", timestamp=5.0),
        Document(None, asr="a text-only document about the lecture", ocr="", timestamp=6.0),
    ]


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return save_tiny_qwen(tmp_path_factory.mktemp("tiny") / "base", seed=0)


def _clamr(tiny_dir, **kw):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fresh head's "re-initialised" warning
        enc = ClamrEncoder.from_pretrained(None, base_model=tiny_dir, device="cpu", output_dtype=torch.float32,
                                           frame_size=56)
    lora = kw.pop("lora", {"r": 8, "alpha": 16, "dropout": 0.0, "init": "gaussian"})
    return enc, ClamrTrainable(enc, lora=lora, **kw)


def _fixed_batch(model):
    docs = _docs()
    batch = {"queries": model.prepare_queries(QUERIES), "documents": model.prepare_documents(docs)}
    return batch, torch.tensor([0, 1, 2, 3])


def _loss(model, loss_fn, batch, targets):
    q, d = model.embed(model(**batch))
    return loss_fn(q, d, targets, query_modality=torch.tensor([2, 3, 1, 2]))


def _check_same_as_encoder(model, enc, docs, queries):
    model.eval()
    with torch.no_grad():
        q, d = model.embed(model(queries=model.prepare_queries(queries), documents=model.prepare_documents(docs)))
    ref = enc.encode_documents(docs)
    for i, r in enumerate(unpack(ref.embeddings, ref.offsets)):
        n = int(d.mask[i].sum())
        assert n == r.shape[0]
        assert torch.allclose(d.emb[i, :n], r.float(), atol=1e-5)
        assert d.modality[i, :n].tolist() == ref.modality_ids[int(ref.offsets[i]) : int(ref.offsets[i + 1])].tolist()
        assert not d.mask[i, n:].any()
    for i, r in enumerate(enc.encode_queries(queries)):
        n = int(q.mask[i].sum())
        assert n == r.shape[0] and torch.allclose(q.emb[i, :n], r.float(), atol=1e-5)


def test_clamr_wrapper_sees_the_encoders_inputs(tiny_dir):
    enc, model = _clamr(tiny_dir)
    _check_same_as_encoder(model, enc, _docs(), QUERIES)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n or n.startswith("colqwen.custom_text_proj") for n in trainable)
    assert not any("visual" in n for n in trainable)  # LoRA on the language model only
    assert any("custom_text_proj" in n for n in trainable)


def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(tiny_dir, tmp_path):
    enc, model = _clamr(tiny_dir)
    model.train()
    batch, targets = _fixed_batch(model)
    loss_fn = build_loss("infonce", aggregation="token_max")  # tau 0.02, as CLaMR
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(8):
        out = _loss(model, loss_fn, batch, targets)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    assert losses[-1] < 0.2 * losses[0], losses

    # the adapter directory loads through the inference path and gives the trained embeddings
    path = model.save_pretrained(tmp_path / "adapter")
    assert {p.name for p in path.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors",
                                                 "clamr_head.safetensors", "clamr_train.json"}
    loaded = ClamrEncoder.from_pretrained(path, base_model=tiny_dir, device="cpu", output_dtype=torch.float32,
                                          frame_size=56)
    _check_same_as_encoder(model, loaded, _docs(), QUERIES)


def test_head_through_lora_and_modality_losses(tiny_dir, tmp_path):
    enc, model = _clamr(tiny_dir, head="lora")
    assert not model.colqwen.custom_text_proj.base_layer.weight.requires_grad
    model.train()
    batch, targets = _fixed_batch(model)
    loss_fn = build_loss("modality_negative", aggregation="modality_max")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    first = None
    for _ in range(5):
        out = _loss(model, loss_fn, batch, targets)
        first = float(out.loss.detach()) if first is None else first
        opt.zero_grad()
        out.loss.backward()
        opt.step()
    assert float(out.loss) < first
    path = model.save_pretrained(tmp_path / "adapter")
    loaded = ClamrEncoder.from_pretrained(path, base_model=tiny_dir, device="cpu", output_dtype=torch.float32,
                                          frame_size=56)
    _check_same_as_encoder(model, loaded, _docs()[:2], QUERIES[:2])


def test_gradient_checkpointing_gives_the_same_gradients(tiny_dir):
    grads = []
    for gc in (False, True):
        _, model = _clamr(tiny_dir, gradient_checkpointing=gc)
        model.train()
        batch, targets = _fixed_batch(model)
        _loss(model, build_loss("infonce"), batch, targets).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]:
        assert torch.allclose(grads[0][n], grads[1][n], atol=1e-6), n


def test_single_vector_baseline_trains_through_the_same_loss(tiny_dir):
    _, model = _clamr(tiny_dir, pooling="mean")
    model.train()
    batch, targets = _fixed_batch(model)
    q, d = model.embed(model(**batch))
    assert q.emb.shape[1] == 1 and d.emb.shape[1] == 1
    assert torch.allclose(q.emb.norm(dim=-1), torch.ones(4, 1), atol=1e-5)
    loss_fn = build_loss("infonce", aggregation="token_max")
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(6):
        out = _loss(model, loss_fn, batch, targets)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    assert losses[-1] < losses[0]


def test_bad_settings(tiny_dir):
    with pytest.raises(InputError, match="head"):
        _clamr(tiny_dir, head="half")
    with pytest.raises(InputError, match="matches no linear layer"):
        _clamr(tiny_dir, lora={"r": 4, "target_modules": r"nothing\.here"})
    with pytest.raises(InputError, match="needs LoRA"):
        _clamr(tiny_dir, lora=None)
