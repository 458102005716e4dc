"""Micro-batches of an epoch: the seeded global-batch plan, each process's slice, and its model inputs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.train.collate import BatchBuilder


def epoch_plan(n_examples: int, seed: int, epoch: int, global_batch: int) -> list[np.ndarray]:
    """Global batches of one epoch: a seeded permutation cut into ``global_batch``-sized pieces (rest dropped).

    >>> [b.tolist() for b in epoch_plan(5, 0, 0, 2)] == [b.tolist() for b in epoch_plan(5, 0, 0, 2)]
    True
    >>> len(epoch_plan(5, 0, 0, 2)), len(epoch_plan(5, 0, 0, 6))
    (2, 0)
    """
    perm = np.random.default_rng([int(seed), int(epoch), 7]).permutation(n_examples)
    n = n_examples // global_batch
    return [perm[i * global_batch : (i + 1) * global_batch] for i in range(n)]


def prepare_batch(model: Any, builder: "BatchBuilder", indices: Sequence[int], epoch: int) -> dict[str, Any]:
    """Examples → model inputs and loss metadata (CPU tensors), through the model's own preparation code."""
    from clamr_frames.train.collate import tensorize_meta

    raw = builder.build(indices, epoch)
    batch = {"queries": model.prepare_queries(raw.queries), "documents": model.prepare_documents(raw.documents)}
    batch.update(tensorize_meta(raw))
    return batch


def to_device(obj: Any, device: "torch.device") -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    return obj


def unwrap(model: Any) -> Any:
    return getattr(model, "module", model)


class _PlanDataset:
    """Micro-batches of one epoch as a map-style dataset (so DataLoader workers can prepare them)."""

    def __init__(self, model: Any, builder: "BatchBuilder", plans: list[np.ndarray], epoch: int):
        self.model, self.builder, self.plans, self.epoch = model, builder, plans, epoch

    def __len__(self) -> int:
        return len(self.plans)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return prepare_batch(self.model, self.builder, self.plans[i], self.epoch)


def micro_batches(model: Any, builder: "BatchBuilder", plans: list[np.ndarray], epoch: int,
                   num_workers: int) -> Iterator[dict[str, Any]]:
    if num_workers <= 0:
        for p in plans:
            yield prepare_batch(model, builder, p, epoch)
        return
    from torch.utils.data import DataLoader

    loader = DataLoader(_PlanDataset(model, builder, plans, epoch), batch_size=None, shuffle=False,
                        num_workers=num_workers)
    yield from loader


