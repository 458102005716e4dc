"""Two gloo processes (accelerate, DDP on the CPU) compute the loss and gradients of one process on the gathered
batch: every query's negatives are the documents of both processes (differentiable all-gather)."""

from __future__ import annotations

import socket

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("peft")
pytest.importorskip("accelerate")

import torch.multiprocessing as mp  # noqa: E402
from safetensors.torch import load_file  # noqa: E402

from testkit.training import ddp_setup, ddp_worker  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_processes_equal_one_process_on_the_gathered_batch(tmp_path, tiny_qwen_dir):
    tiny_dir = tiny_qwen_dir
    mp.spawn(ddp_worker, args=(2, _free_port(), str(tiny_dir), str(tmp_path)), nprocs=2, join=True)
    ranks = [load_file(str(tmp_path / f"rank{r}.safetensors")) for r in range(2)]

    from clamr_frames.train.trainer import training_step

    model, loss_fn, batch = ddp_setup(tiny_dir, [0, 1, 2, 3], [0, 1, 4, 2, 3, 5])
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
        # float32 sums in another order across two processes: compare against the gradient's own scale (a wrong
        # gather or a missing all-reduce is off by the order of the gradient itself, not 1e-4 of it)
        err, scale = float((ranks[0][n] - g).abs().max()), float(g.abs().max())
        assert err <= 1e-4 * scale + 1e-8, (n, err, scale)
    assert any(float(g.abs().sum()) > 0 for g in grads.values())
