"""Trainable wrappers: same inputs and embeddings as the inference encoders, they learn, and they save loadably."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from clamr_frames.encoders.clamr import ClamrEncoder  # noqa: E402
from clamr_frames.errors import InputError  # noqa: E402
from clamr_frames.train.losses import build_loss  # noqa: E402
from clamr_frames.train.models import ClamrTrainable  # noqa: E402

from testkit.training import QUERIES, check_same_as_encoder, documents  # noqa: E402

def _clamr(tiny_qwen_dir, **kw):
    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the fresh head's "re-initialised" warning
        enc = ClamrEncoder.from_pretrained(None, base_model=tiny_qwen_dir, device="cpu", output_dtype=torch.float32,
                                           frame_size=56)
    lora = kw.pop("lora", {"r": 8, "alpha": 16, "dropout": 0.0, "init": "gaussian"})
    return enc, ClamrTrainable(enc, lora=lora, **kw)


def _fixed_batch(model):
    docs = documents()
    batch = {"queries": model.prepare_queries(QUERIES), "documents": model.prepare_documents(docs)}
    return batch, torch.tensor([0, 1, 2, 3])


def _loss(model, loss_fn, batch, targets):
    q, d = model.embed(model(**batch))
    return loss_fn(q, d, targets, query_modality=torch.tensor([2, 3, 1, 2]))


def _train_steps(model, loss_fn, batch, targets, steps):
    """``steps`` AdamW steps (lr 3e-3) on one fixed batch; the loss of each step."""
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=3e-3)
    losses = []
    for _ in range(steps):
        out = _loss(model, loss_fn, batch, targets)
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    return losses


@pytest.mark.slow
def test_clamr_wrapper_sees_the_encoders_inputs(tiny_qwen_dir):
    enc, model = _clamr(tiny_qwen_dir)
    check_same_as_encoder(model, enc, documents(), QUERIES)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(".lora_" in n or n.startswith("colqwen.custom_text_proj") for n in trainable)
    assert not any("visual" in n for n in trainable)  # LoRA on the language model only
    assert any("custom_text_proj" in n for n in trainable)


@pytest.mark.slow
def test_a_few_steps_reduce_the_loss_on_a_fixed_batch(tiny_qwen_dir, tmp_path):
    enc, model = _clamr(tiny_qwen_dir)
    model.train()
    batch, targets = _fixed_batch(model)
    loss_fn = build_loss("infonce", aggregation="token_max")  # tau 0.02, as CLaMR
    losses = _train_steps(model, loss_fn, batch, targets, 8)
    assert losses[-1] < 0.2 * losses[0], losses

    # the adapter directory loads through the inference path and gives the trained embeddings
    path = model.save_pretrained(tmp_path / "adapter")
    assert {p.name for p in path.iterdir()} >= {"adapter_config.json", "adapter_model.safetensors",
                                                 "clamr_head.safetensors", "clamr_train.json"}
    loaded = ClamrEncoder.from_pretrained(path, base_model=tiny_qwen_dir, device="cpu", output_dtype=torch.float32,
                                          frame_size=56)
    check_same_as_encoder(model, loaded, documents(), QUERIES)


@pytest.mark.slow
def test_head_through_lora_and_modality_losses(tiny_qwen_dir, tmp_path):
    enc, model = _clamr(tiny_qwen_dir, head="lora")
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
    loaded = ClamrEncoder.from_pretrained(path, base_model=tiny_qwen_dir, device="cpu", output_dtype=torch.float32,
                                          frame_size=56)
    check_same_as_encoder(model, loaded, documents()[:2], QUERIES[:2])


@pytest.mark.slow
def test_gradient_checkpointing_gives_the_same_gradients(tiny_qwen_dir):
    grads = []
    for gc in (False, True):
        _, model = _clamr(tiny_qwen_dir, gradient_checkpointing=gc)
        model.train()
        batch, targets = _fixed_batch(model)
        _loss(model, build_loss("infonce"), batch, targets).loss.backward()
        grads.append({n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad})
    assert grads[0].keys() == grads[1].keys()
    for n in grads[0]:
        assert torch.allclose(grads[0][n], grads[1][n], atol=1e-6), n


@pytest.mark.slow
def test_single_vector_baseline_trains_through_the_same_loss(tiny_qwen_dir):
    _, model = _clamr(tiny_qwen_dir, pooling="mean")
    model.train()
    batch, targets = _fixed_batch(model)
    q, d = model.embed(model(**batch))
    assert q.emb.shape[1] == 1 and d.emb.shape[1] == 1
    assert torch.allclose(q.emb.norm(dim=-1), torch.ones(4, 1), atol=1e-5)
    loss_fn = build_loss("infonce", aggregation="token_max")
    losses = _train_steps(model, loss_fn, batch, targets, 6)
    assert losses[-1] < losses[0]


def test_bad_settings(tiny_qwen_dir):
    with pytest.raises(InputError, match="head"):
        _clamr(tiny_qwen_dir, head="half")
    with pytest.raises(InputError, match="matches no linear layer"):
        _clamr(tiny_qwen_dir, lora={"r": 4, "target_modules": r"nothing\.here"})
    with pytest.raises(InputError, match="needs LoRA"):
        _clamr(tiny_qwen_dir, lora=None)


def test_trainable_wrappers_share_one_forward_and_embed():
    from clamr_frames.train.models import ClamrTrainable, ClipTrainable, DefaultTrainable
    from clamr_frames.train.models.common import _TwoSided

    for cls in [ClamrTrainable, DefaultTrainable, ClipTrainable]:
        assert cls.forward is _TwoSided.forward, cls.__name__
        assert cls.embed is _TwoSided.embed, cls.__name__
