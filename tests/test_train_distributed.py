"""Two gloo processes (accelerate, DDP on the CPU) compute the loss and gradients of one process on the gathered
batch: every query's negatives are the documents of both processes (differentiable all-gather)."""

from __future__ import annotations

import os
import socket
import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

import torch.distributed as dist  # noqa: E402
import torch.multiprocessing as mp  # noqa: E402
from safetensors.torch import load_file, save_file  # noqa: E402

from testkit.tiny_qwen import save_tiny_qwen  # noqa: E402

# rank 0 has queries 0, 1 and documents 0, 1 (their positives) + 4 (a negative); rank 1 queries 2, 3 and
# documents 2, 3 + 5. One process gets everything in the gathered order.
RANK_QUERIES = [[0, 1], [2, 3]]
RANK_DOCS = [[0, 1, 4], [2, 3, 5]]


def _setup(tiny_dir, query_ids, doc_ids):
    from clamr_frames.encoders.clamr import ClamrEncoder
    from clamr_frames.train.losses import build_loss
    from clamr_frames.train.models import ClamrTrainable
    from test_train_models import QUERIES, _docs

    torch.manual_seed(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        enc = ClamrEncoder.from_pretrained(None, base_model=tiny_dir, device="cpu", output_dtype=torch.float32,
                                           frame_size=56)
    model = ClamrTrainable(enc, lora={"r": 4, "alpha": 8, "dropout": 0.0, "init": "gaussian"})
    model.train()
    docs = _docs()
    batch = {
        "queries": model.prepare_queries([QUERIES[i] for i in query_ids]),
        "documents": model.prepare_documents([docs[i] for i in doc_ids]),
        "query_modality": torch.tensor([2, 3, 1, 2])[query_ids],
    }
    return model, build_loss("infonce", aggregation="modality_max", tau=0.05), batch


def _worker(rank: int, world: int, port: int, tiny_dir: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    from accelerate import Accelerator

    from clamr_frames.train.batches import unwrap
    from clamr_frames.train.trainer import training_step

    acc = Accelerator(cpu=True)
    assert acc.num_processes == world and dist.is_initialized()
    model, loss_fn, batch = _setup(tiny_dir, RANK_QUERIES[rank], RANK_DOCS[rank])
    batch["targets"] = torch.tensor([0, 1])
    model = acc.prepare(model)
    res = training_step(model, loss_fn, batch)
    acc.backward(res.loss)
    grads = {n: p.grad.detach().clone() for n, p in unwrap(model).named_parameters() if p.requires_grad}
    save_file({**grads, "__loss__": res.loss.detach().reshape(1), "__scores__": res.scores.contiguous()},
              os.path.join(out, f"rank{rank}.safetensors"))
    acc.wait_for_everyone()
    dist.destroy_process_group()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_equal_one_process_on_the_gathered_batch(tmp_path):
    tiny_dir = save_tiny_qwen(tmp_path / "base", seed=0)
    mp.spawn(_worker, args=(2, _free_port(), str(tiny_dir), str(tmp_path)), nprocs=2, join=True)
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]

    from clamr_frames.train.trainer import training_step

    model, loss_fn, batch = _setup(tiny_dir, [0, 1, 2, 3], [0, 1, 4, 2, 3, 5])
    batch["targets"] = torch.tensor([0, 1, 3, 4])
    res = training_step(model, loss_fn, batch)
    res.loss.backward()

    # every query saw the same 6 documents in both set-ups
    assert torch.allclose(torch.cat([ranks[0]["__scores__"], ranks[1]["__scores__"]]), res.scores, atol=1e-5)
    # the mean of the per-process losses (what DDP's gradient average optimises) is the global loss
    mean_loss = (ranks[0]["__loss__"] + ranks[1]["__loss__"]) / 2
    assert float(mean_loss) == pytest.approx(float(res.loss.detach()), rel=1e-5)
    grads = {n: p.grad for n, p in model.named_parameters() if p.requires_grad}
    assert set(grads) == set(ranks[0]) - {"__loss__", "__scores__"}
    for n, g in grads.items():
        assert torch.equal(ranks[0][n], ranks[1][n]), n  # DDP averaged them
        assert torch.allclose(ranks[0][n], g, rtol=1e-4, atol=1e-6), (n, float((ranks[0][n] - g).abs().max()))
    assert any(float(g.abs().sum()) > 0 for g in grads.values())
