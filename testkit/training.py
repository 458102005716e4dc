"""A fixed set of training queries and documents, and the check that a trainable wrapper embeds exactly as the
inference encoder it wraps (shared by the tests of every trainable model)."""

from __future__ import annotations

import numpy as np

QUERIES = ["what did the harbour master say?", "exit 12 closed", "the red car crossing the bridge", "pasta sauce"]


def frame(seed: int) -> np.ndarray:
    """A random 90x160 RGB frame."""
    return np.random.default_rng(seed).integers(0, 256, (90, 160, 3), dtype=np.uint8)


def documents() -> list:
    """Six documents: QUERIES[i]'s positive is document i; the last one is text only."""
    from clamr_frames.encoders.base import Document

    return [
        Document(frame(1), asr="welcome back, the harbour master said falcon", ocr="", timestamp=1.0),
        Document(frame(2), asr="", ocr="EXIT 12 CLOSED", timestamp=2.0),
        Document(frame(3), asr="a car on the bridge at night", ocr="BRIDGE", timestamp=3.0),
        Document(frame(4), asr="cooking pasta with tomato sauce", ocr="", timestamp=4.0),
        Document(frame(5), asr="the quick brown fox", ocr="Price $4.99", timestamp=5.0),
        Document(None, asr="a text-only document about the lecture", ocr="", timestamp=6.0),
    ]


def check_same_as_encoder(model, enc, docs, queries) -> None:
    """Assert that ``model`` (a trainable wrapper, in eval mode) gives ``enc``'s document and query embeddings:
    same token counts, same values (atol 1e-5), same modality ids, padding masked."""
    import torch

    from clamr_frames.scoring import unpack

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


# -- two-process training (tests/train/test_distributed.py) -----------------------------------------------------
# The worker runs in processes that torch.multiprocessing spawns: it must live in an importable module (a test
# file is not one: a dependency installs its own top-level ``tests`` package).
# rank 0 has queries 0, 1 and documents 0, 1 (their positives) + 4 (a negative); rank 1 queries 2, 3 and
# documents 2, 3 + 5. One process gets everything in the gathered order.
RANK_QUERIES = [[0, 1], [2, 3]]
RANK_DOCS = [[0, 1, 4], [2, 3, 5]]


def ddp_setup(tiny_dir, query_ids, doc_ids):
    """A CLaMR trainable on the tiny Qwen, its loss, and the batch of the given queries and documents."""
    import warnings

    import torch

    from clamr_frames.encoders.clamr import ClamrEncoder
    from clamr_frames.train.losses import build_loss
    from clamr_frames.train.models import ClamrTrainable

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = ClamrEncoder.from_pretrained(None, base_model=tiny_dir, device="cpu", output_dtype=torch.float32,
                                           frame_size=56)
    model = ClamrTrainable(enc, lora={"r": 4, "alpha": 8, "dropout": 0.0, "init": "gaussian"})
    model.train()
    docs = documents()
    batch = {
        "queries": model.prepare_queries([QUERIES[i] for i in query_ids]),
        "documents": model.prepare_documents([docs[i] for i in doc_ids]),
        "query_modality": torch.tensor([2, 3, 1, 2])[query_ids],
    }
    return model, build_loss("infonce", aggregation="modality_max", tau=0.05), batch


def ddp_worker(rank: int, world: int, port: int, tiny_dir: str, out: str) -> None:
    """One rank: a training step on its share under DDP (gloo); saves its gradients, loss and scores."""
    import os

    import torch
    import torch.distributed as dist
    from safetensors.torch import save_file

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    from accelerate import Accelerator

    from clamr_frames.train.batches import unwrap
    from clamr_frames.train.trainer import training_step

    acc = Accelerator(cpu=True)
    assert acc.num_processes == world and dist.is_initialized()
    model, loss_fn, batch = ddp_setup(tiny_dir, RANK_QUERIES[rank], RANK_DOCS[rank])
    batch["targets"] = torch.tensor([0, 1])
    model = acc.prepare(model)
    res = training_step(model, loss_fn, batch)
    acc.backward(res.loss)
    grads = {n: p.grad.detach().clone() for n, p in unwrap(model).named_parameters() if p.requires_grad}
    save_file({**grads, "__loss__": res.loss.detach().reshape(1), "__scores__": res.scores.contiguous()},
              os.path.join(out, f"rank{rank}.safetensors"))
    acc.wait_for_everyone()
    dist.destroy_process_group()
