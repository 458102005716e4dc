"""The CLIP single-vector baseline through the training core: the encoder's inputs, the same losses and loop, and a
saved checkpoint that ``FrameSelector.from_pretrained("clip", ...)`` loads (tiny random CLIP, nothing downloaded)."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import pytest  # noqa: E402

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from clamr_frames.encoders.clip import ClipEncoder  # noqa: E402
from clamr_frames.errors import InputError  # noqa: E402
from clamr_frames.train.losses import build_loss  # noqa: E402
from clamr_frames.train.models import ClipTrainable  # noqa: E402
from clamr_frames.types import Modality  # noqa: E402

from testkit.training import QUERIES, check_same_as_encoder, documents  # noqa: E402


def _enc(path):
    return ClipEncoder.from_pretrained(path, device="cpu", output_dtype=torch.float32)


def _frames_docs():
    return [d for d in documents() if d.image is not None][:4]


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["full", "lora"])
def test_clip_wrapper_matches_the_encoder_learns_and_saves(tiny_clip_dir, tmp_path, mode):
    enc = _enc(tiny_clip_dir)
    torch.manual_seed(0)
    model = ClipTrainable(enc, mode=mode, lora={"r": 4, "alpha": 8})
    check_same_as_encoder(model, enc, _frames_docs(), QUERIES)
    trainable = [n for n, p in model.named_parameters() if p.requires_grad]
    assert trainable and "clip.logit_scale" not in trainable
    if mode == "lora":
        assert all(".lora_" in n for n in trainable)
    model.train()
    batch = {"queries": model.prepare_queries(QUERIES), "documents": model.prepare_documents(_frames_docs())}
    q, d = model.embed(model(**batch))
    assert q.emb.shape[1] == 1 and d.emb.shape[1] == 1 and d.modality.tolist() == [[int(Modality.VIDEO)]] * 4
    lr = 1e-3 if mode == "full" else 1e-2  # LoRA's low-rank updates take a larger step size
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    loss_fn = build_loss("infonce", aggregation="token_max", tau=0.05)
    losses = []
    for _ in range(6):
        q, d = model.embed(model(**batch))
        out = loss_fn(q, d, torch.arange(4))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    assert losses[-1] < 0.1 * losses[0], losses

    path = model.save_pretrained(tmp_path / "clip-trained")
    assert (path / "model.safetensors").is_file() and not list(path.glob("*.bin"))
    loaded = _enc(path)
    assert not any(".lora_" in k for k in loaded.model.state_dict())
    check_same_as_encoder(model, loaded, _frames_docs(), QUERIES)


def test_documents_need_frames(tiny_clip_dir):
    model = ClipTrainable(_enc(tiny_clip_dir))
    with pytest.raises(InputError, match="no frame"):
        model.prepare_documents(documents())  # the last one is text only
    with pytest.raises(InputError, match="mode"):
        ClipTrainable(_enc(tiny_clip_dir), mode="half")


@pytest.mark.slow
def test_train_clip_end_to_end_and_select(tiny_clip_dir, tmp_path):
    """``train`` with ``model.kind: clip`` on generated videos (visual questions); the result loads into
    ``FrameSelector`` as the ``clip`` scorer's weights."""
    from clamr_frames.selector import FrameSelector
    from clamr_frames.train import train
    from clamr_frames.train.data import read_jsonl

    cfg = {
        "model": {"kind": "clip", "path": str(tiny_clip_dir), "train": "full"},
        "data": {"synthetic": {"dir": str(tmp_path / "data"), "seed": 2, "train_videos": 2, "eval_videos": 1,
                               "duration": 30.0, "needles_per_kind": 1},
                 "source": "synthetic", "hard_negatives": 1, "fps": 0.5, "max_side": 64},
        "loss": {"kind": "infonce", "tau": 0.05, "aggregation": "modality_max"},
        "train": {"output_dir": str(tmp_path / "run"), "epochs": 1, "batch_size": 3, "lr": 1e-3},
        "eval": {"ks": [1, 3]},
    }
    res = train(cfg, progress=False, log_stdout=False)
    assert res.global_step == 2 and [e["tag"] for e in res.evals] == ["before", "epoch-0"]
    assert res.evals[-1]["queries"] == 3 and "hit@1/video" in res.evals[-1]

    held = read_jsonl(tmp_path / "data" / "eval" / "examples.jsonl", duration_fn=None)
    ex = next(e for e in held if e.query_type == "video")
    sel = FrameSelector.from_pretrained("clip", device="cpu", encoder_kwargs={"weights": str(res.final_dir)},
                                        index_dir=tmp_path / "cache", progress=False)
    picked = sel.select(ex.video, ex.queries[0], k=2)
    assert len(picked.timestamps) == 2 and list(picked.timestamps) == sorted(picked.timestamps)
