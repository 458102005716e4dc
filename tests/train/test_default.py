"""The embedded default encoder (MiniLM) through the training wrapper: same inputs, learns, saves loadably."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")

from clamr_frames.encoders.base import Document  # noqa: E402
from clamr_frames.train.losses import build_loss  # noqa: E402
from clamr_frames.train.models import DefaultTrainable  # noqa: E402
from clamr_frames.types import Modality  # noqa: E402

from testkit.training import QUERIES, check_same_as_encoder, documents  # noqa: E402


@pytest.mark.slow
def test_default_wrapper_matches_the_encoder_learns_and_saves(tmp_path):
    from clamr_frames.encoders.default import DefaultEncoder

    enc = DefaultEncoder(device="cpu", output_dtype=torch.float32)
    docs = documents() + [Document(None, asr="", ocr="", timestamp=7.0), Document(None, asr="the of", ocr="")]
    torch.manual_seed(0)
    model = DefaultTrainable(enc, mode="lora", lora={"r": 4, "alpha": 8})
    check_same_as_encoder(model, enc, docs, QUERIES)
    model.eval()
    with torch.no_grad():
        _, d = model.embed(model(documents=model.prepare_documents(docs)))
    assert d.modality[6, 0] == int(Modality.OTHER) and float(d.emb[6, 0].abs().sum()) == 0  # empty document
    model.train()
    batch = {"queries": model.prepare_queries(QUERIES[:2]), "documents": model.prepare_documents(documents()[:3])}
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-3)
    loss_fn = build_loss("infonce", aggregation="token_max", tau=0.05)
    losses = []
    for _ in range(3):
        q, d = model.embed(model(**batch))
        out = loss_fn(q, d, torch.tensor([0, 1]))
        opt.zero_grad()
        out.loss.backward()
        opt.step()
        losses.append(float(out.loss.detach()))
    assert losses[-1] < losses[0]
    path = model.save_pretrained(tmp_path / "minilm")
    loaded = DefaultEncoder(path, device="cpu", output_dtype=torch.float32)
    check_same_as_encoder(model, loaded, documents()[:3], QUERIES[:2])


@pytest.mark.slow
def test_train_the_default_scorer_end_to_end(tmp_path):
    """``train`` on generated videos; the result loads into ``FrameSelector`` and selects frames."""
    from clamr_frames.selector import FrameSelector
    from clamr_frames.train import train
    from clamr_frames.train.data import read_jsonl

    cfg = {
        "model": {"kind": "default", "train": "lora", "lora": {"r": 4, "alpha": 8}},
        "data": {"synthetic": {"dir": str(tmp_path / "data"), "seed": 1, "train_videos": 2, "eval_videos": 1,
                               "duration": 40.0, "needles_per_kind": 1},
                 "source": "synthetic", "query_types": ["asr", "ocr"], "hard_negatives": 2},
        "loss": {"kind": "infonce", "tau": 0.05, "aggregation": "token_max"},
        "train": {"output_dir": str(tmp_path / "run"), "epochs": 1, "batch_size": 2, "lr": 1e-4},
        "eval": {"ks": [1, 5]},
    }
    res = train(cfg, progress=False, log_stdout=False)
    assert res.global_step == 2 and [e["tag"] for e in res.evals] == ["before", "epoch-0"]
    assert res.evals[-1]["queries"] == 2 and "hit@1/asr" in res.evals[-1] and "hit@1/video" not in res.evals[-1]

    held = read_jsonl(tmp_path / "data" / "eval" / "examples.jsonl", duration_fn=None)
    asr = next(e for e in held if e.query_type == "asr")
    sel = FrameSelector.from_pretrained("default", encoder_kwargs={"model_path": str(res.final_dir)},
                                        index_dir=tmp_path / "cache", progress=False, ocr=False)
    picked = sel.select(asr.video, asr.queries[0], k=3, subtitles=asr.subtitles)
    assert len(picked.timestamps) == 3 and list(picked.timestamps) == sorted(picked.timestamps)
