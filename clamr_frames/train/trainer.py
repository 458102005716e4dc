"""The training loop: ``train(config)`` on accelerate, from one CPU process to ``accelerate launch`` on many GPUs.

One optimizer step consumes ``grad_accum`` global batches. A global batch is ``batch_size x processes`` examples
from a permutation seeded by ``(seed, epoch)``; process ``r`` takes its slice. Every process builds its documents
(positives + hard negatives), embeds queries and documents in one forward pass, and computes the loss of its
queries against the documents of all processes (:mod:`clamr_frames.train.losses`). With the data-parallel gradient
average this equals one process on the whole global batch.

Checkpoints (``output_dir/checkpoints/step-N``): the trainable weights (``trainable.safetensors``), the optimizer
and scheduler state (``torch.save``, read back with ``weights_only=True``), each process's RNG state
(safetensors), and ``state.json`` (step, epoch, position in the epoch, the config fingerprint). Resuming restores
all of it, so a stopped and resumed run ends with the uninterrupted run's weights; a checkpoint of another
configuration is refused. The final model goes to ``output_dir/final`` in the encoder's own format.

Metrics go to ``output_dir/log.jsonl`` (one JSON object per line), to the ``clamr_frames.train`` logger (and, with
``log_stdout``, to stdout), to TensorBoard when it is installed, and to a tqdm bar.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import shutil
import sys
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np

from clamr_frames.errors import InputError
from clamr_frames.train.config import TrainingConfig, config_fingerprint, diff_configs, load_config

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.train.collate import BatchBuilder, ContextProvider
    from clamr_frames.train.data import Example
    from clamr_frames.train.losses import LossOutput

logger = logging.getLogger("clamr_frames.train")

CHECKPOINTS = "checkpoints"
STATE = "state.json"
TRAINABLE = "trainable.safetensors"
OPTIMIZER = "optimizer.pt"
SCHEDULER = "scheduler.pt"


@dataclass
class TrainResult:
    """What :func:`train` did.

    Attributes:
        output_dir: the run's folder.
        final_dir: the saved model (None when the run stopped early).
        global_step: optimizer steps done.
        stopped: True when ``stop_after_steps`` ended the run before its end.
        evals: every evaluation, in order (``{"step", "epoch", "hit@k", "recall@k", ...}``).
        last_loss: mean training loss of the last logged step.
    """

    output_dir: Path
    final_dir: Path | None
    global_step: int
    stopped: bool
    evals: list[dict[str, Any]] = field(default_factory=list)
    last_loss: float | None = None


# ---------------------------------------------------------------------------------------------- building
def build_model(cfg: TrainingConfig, device: "torch.device") -> Any:
    """The trainable wrapper of the configured encoder (weights on ``device``)."""
    import torch

    m = cfg.model
    if m.kind == "default":
        from clamr_frames.encoders.default import DefaultEncoder
        from clamr_frames.train.models import DefaultTrainable

        enc = DefaultEncoder(cfg.resolve(m.path, hub_ok=True), device=device, settings=dict(m.settings),
                             output_dtype=torch.float32)  # loads quietly
        return DefaultTrainable(enc, mode=m.train, lora=m.lora, pooling=m.pooling,
                                gradient_checkpointing=m.gradient_checkpointing)
    if m.kind == "clip":
        from clamr_frames.encoders.clip import DEFAULT_CLIP, ClipEncoder
        from clamr_frames.train.models import ClipTrainable, quiet_hf

        with quiet_hf():
            enc = ClipEncoder.from_pretrained(cfg.resolve(m.path or DEFAULT_CLIP, hub_ok=True), device=device,
                                              dtype=m.dtype or "float32", output_dtype=torch.float32)
        return ClipTrainable(enc, mode=m.train, lora=m.lora, pooling=m.pooling,
                             gradient_checkpointing=m.gradient_checkpointing)
    from clamr_frames.encoders.clamr import ClamrEncoder
    from clamr_frames.train.models import ClamrTrainable

    from clamr_frames.train.models import quiet_hf

    with warnings.catch_warnings(), quiet_hf():
        # a fresh head is expected when training from the bare backbone
        if m.adapter is None:
            warnings.filterwarnings("ignore", message="no custom_text_proj weights")
        enc = ClamrEncoder.from_pretrained(
            cfg.resolve(m.adapter, hub_ok=True), base_model=cfg.resolve(m.base_model, hub_ok=True), device=device, dtype=m.dtype,
            load_in_4bit=m.load_in_4bit, merge_adapter=False if m.adapter is not None else None,
            output_dtype=torch.float32, **m.settings,
        )
    return ClamrTrainable(enc, lora=m.lora if m.adapter is None else None, head=m.head, pooling=m.pooling,
                          gradient_checkpointing=m.gradient_checkpointing)


def build_optimizer(params: list[Any], cfg: TrainingConfig, device: "torch.device") -> Any:
    import torch

    o = cfg.train
    decay = [p for p in params if p.dim() >= 2]
    no_decay = [p for p in params if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": o.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    groups = [g for g in groups if g["params"]]
    if o.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=o.lr)
    if device.type != "cuda":
        raise InputError(f"train.optimizer={o.optimizer!r} needs CUDA (bitsandbytes 8-bit optimizers); "
                         "use optimizer: adamw on the CPU")
    import bitsandbytes as bnb

    cls = bnb.optim.PagedAdamW8bit if o.optimizer == "paged_adamw_8bit" else bnb.optim.AdamW8bit
    return cls(groups, lr=o.lr)


class _Schedule:
    """Learning-rate factor per step: linear warm-up, then linear / cosine decay or constant (picklable)."""

    def __init__(self, total: int, warmup: int, kind: str):
        self.total, self.warmup, self.kind = int(total), int(warmup), kind

    def __call__(self, step: int) -> float:
        if step < self.warmup:
            return (step + 1) / (self.warmup + 1)
        if self.kind == "constant":
            return 1.0
        progress = (step - self.warmup) / max(1, self.total - self.warmup)
        if self.kind == "cosine":
            return max(0.0, 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress))))
        return max(0.0, 1.0 - progress)


def load_examples(cfg: TrainingConfig) -> tuple[list["Example"], list["Example"]]:
    """Training and held-out examples from the configured JSONL files or synthetic generator."""
    from clamr_frames.train.data import read_jsonl

    d = cfg.data
    train_path, eval_path = cfg.resolve(d.train), cfg.resolve(d.eval)
    if d.synthetic is not None:
        train_path, eval_path = _synthetic_paths(cfg)
    train_ex = read_jsonl(train_path, on_error=d.on_error)
    eval_ex = read_jsonl(eval_path, on_error=d.on_error) if eval_path else []
    if d.query_types is not None:
        train_ex = [e for e in train_ex if e.query_type in d.query_types]
        eval_ex = [e for e in eval_ex if e.query_type in d.query_types]
        if not train_ex:
            raise InputError(f"no training example has a query type in data.query_types={d.query_types}")
    return train_ex, eval_ex


_SYNTH_KEYS = {"dir", "seed", "train_videos", "eval_videos", "duration", "train_phrasings", "eval_phrasings",
               "fps", "needles_per_kind", "oracle_ocr", "kinds"}


def _synthetic_paths(cfg: TrainingConfig) -> tuple[str, str | None]:
    from clamr_frames.train.data import write_synthetic_dataset

    s = dict(cfg.data.synthetic or {})
    unknown = sorted(set(s) - _SYNTH_KEYS)
    if unknown:
        raise InputError(f"data.synthetic: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_SYNTH_KEYS))}")
    root = Path(cfg.resolve(s.get("dir", "synthetic_data")))
    seed = int(s.get("seed", 0))
    kw: dict[str, Any] = {"duration": s.get("duration", 300.0), "oracle_ocr": bool(s.get("oracle_ocr", True))}
    for k in ("fps", "needles_per_kind"):
        if k in s:
            kw[k] = s[k]
    if "kinds" in s:
        kw["kinds"] = tuple(s["kinds"])
    train = write_synthetic_dataset(root / "train", n_videos=int(s.get("train_videos", 8)), seed=seed,
                                    phrasing=_phrasing(s.get("train_phrasings", [0, 1])), **kw)
    n_eval = int(s.get("eval_videos", 4))
    ev = None
    if n_eval:
        # other seeds (video_seed mixes the dataset seed, so no video is shared) and held-out phrasings
        ev = write_synthetic_dataset(root / "eval", n_videos=n_eval, seed=seed + 1_000_003,
                                     phrasing=_phrasing(s.get("eval_phrasings", [2, 3])), **kw)
    return str(train), (str(ev) if ev else None)


def _phrasing(v: Any) -> Any:
    return list(v) if isinstance(v, (list, tuple)) else v


def make_contexts(cfg: TrainingConfig, examples: Sequence["Example"]) -> "ContextProvider":
    """The per-video candidate/context provider with the configured frame source."""
    from clamr_frames.train.collate import ContextProvider, SyntheticSource

    settings = cfg.data.index_settings()
    if cfg.data.source == "synthetic":
        source = SyntheticSource(settings)
        n = sum(source.register(ex) for ex in examples)
        if n == 0:
            warnings.warn("data.source: synthetic, but no example carries synthetic scene metadata; "
                          "decoding the video files instead", stacklevel=2)
        return ContextProvider(settings, source)
    return ContextProvider(settings)


# ---------------------------------------------------------------------------------------------- batches
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


def _to_device(obj: Any, device: "torch.device") -> Any:
    import torch

    if isinstance(obj, torch.Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    return obj


def training_step(model: Any, loss_fn: Any, batch: dict[str, Any]) -> "LossOutput":
    """Forward one micro-batch (queries and documents together) and compute the loss; no backward here.

    ``model`` may be wrapped (``DistributedDataParallel``); the loss gathers documents across processes.
    """
    out = model(queries=batch["queries"], documents=batch["documents"])
    q, d = _unwrap(model).embed(out)
    return loss_fn(q, d, batch["targets"], query_modality=batch.get("query_modality"),
                   query_video=batch.get("query_video"), query_spans=batch.get("query_spans"),
                   doc_video=batch.get("doc_video"), doc_time=batch.get("doc_time"))


def _unwrap(model: Any) -> Any:
    return getattr(model, "module", model)


class _PlanDataset:
    """Micro-batches of one epoch as a map-style dataset (so DataLoader workers can prepare them)."""

    def __init__(self, model: Any, builder: "BatchBuilder", plans: list[np.ndarray], epoch: int):
        self.model, self.builder, self.plans, self.epoch = model, builder, plans, epoch

    def __len__(self) -> int:
        return len(self.plans)

    def __getitem__(self, i: int) -> dict[str, Any]:
        return prepare_batch(self.model, self.builder, self.plans[i], self.epoch)


def _micro_batches(model: Any, builder: "BatchBuilder", plans: list[np.ndarray], epoch: int,
                   num_workers: int) -> Iterator[dict[str, Any]]:
    if num_workers <= 0:
        for p in plans:
            yield prepare_batch(model, builder, p, epoch)
        return
    from torch.utils.data import DataLoader

    loader = DataLoader(_PlanDataset(model, builder, plans, epoch), batch_size=None, shuffle=False,
                        num_workers=num_workers)
    yield from loader


# ---------------------------------------------------------------------------------------------- evaluation
def evaluate(
    model: Any,
    examples: Sequence["Example"],
    contexts: "ContextProvider",
    *,
    ks: Sequence[int] = (1, 5, 10),
    aggregation: str = "token_max",
    floor: float | None = None,
    doc_batch: int = 64,
    max_queries: int | None = None,
    device: "torch.device | str" = "cpu",
    rank: int = 0,
    world_size: int = 1,
    reduce: Any = None,
) -> dict[str, float]:
    """Frame retrieval on held-out examples: every query against every candidate frame of its video.

    For each query, the candidates of its video are ranked as the ``topk`` selection policy ranks them (by
    score, ties to the earlier frame); the evidence frames are the candidates inside the query's spans. ``floor``
    is the scorer's ``score_floor`` (see :func:`~clamr_frames.scoring.score_matrix`), as ``FrameSelector`` uses it.

    Returns:
        ``hit@k``: share of queries with at least one evidence frame in the top ``k`` (frame recall@k in the
        retrieval sense, one relevant item per query); ``recall@k``: mean share of a query's evidence frames in
        its top ``k``; ``mrr``; the same ``hit@k`` per query type (``hit@k/asr``, ...); ``queries``.
    """
    import torch

    from clamr_frames.scoring import score_matrix
    from clamr_frames.train.collate import positive_candidates
    from clamr_frames.train.losses import Embedded

    items = [(ex, q) for ex in examples for q in ex.queries]
    if max_queries is not None:
        items = items[: int(max_queries)]
    groups: dict[Any, list[tuple[Any, str]]] = {}
    for ex, q in items:
        key = (str(ex.video), str(ex.subtitles), str(ex.ocr) if isinstance(ex.ocr, Path) else ex.ocr)
        groups.setdefault(key, []).append((ex, q))
    keys = list(groups)[rank::world_size]
    types = ("video", "asr", "ocr")
    ks = sorted({int(k) for k in ks})
    # sums: queries, mrr, hit@k..., recall@k..., then per type: count, hit@k...
    n_base = 2 + 2 * len(ks)
    sums = torch.zeros(n_base + len(types) * (1 + len(ks)), dtype=torch.float64)
    inner = _unwrap(model)
    was_training = inner.training
    inner.eval()
    try:
        with torch.no_grad():
            for key in keys:
                its = groups[key]
                ex0 = its[0][0]
                ctx = contexts.context(ex0)
                n = len(ctx)
                qb = _to_device(inner.prepare_queries([q for _, q in its]), device)
                q_emb, _ = inner.embed(inner(queries=qb))
                cols = []
                for s in range(0, n, doc_batch):
                    docs = contexts.documents(ex0, list(range(s, min(n, s + doc_batch))), inner.uses_image)
                    db = _to_device(inner.prepare_documents(docs), device)
                    _, d = inner.embed(inner(documents=db))
                    cols.append(score_matrix(q_emb.emb, q_emb.mask, d.emb, d.mask, aggregation=aggregation,
                                             d_modality=d.modality, floor=floor).float().cpu())
                scores = torch.cat(cols, 1)  # [Q, n]
                for row, (ex, _) in enumerate(its):
                    pos = torch.as_tensor(positive_candidates(ctx.timestamps, ex.positives))
                    # the order the selector's ``topk`` policy uses: by score, ties to the earlier frame
                    order = np.argsort(-scores[row].numpy(), kind="stable")
                    position = np.empty(n, dtype=np.int64)
                    position[order] = np.arange(n)
                    ranks = torch.as_tensor(position[pos.numpy()])
                    best = int(ranks.min())
                    vals = [1.0, 1.0 / (best + 1)]
                    vals += [float(best < k) for k in ks]
                    vals += [float((ranks < k).float().mean()) for k in ks]
                    sums[:n_base] += torch.tensor(vals, dtype=torch.float64)
                    t = types.index(ex.query_type)
                    off = n_base + t * (1 + len(ks))
                    sums[off] += 1
                    sums[off + 1 : off + 1 + len(ks)] += torch.tensor([float(best < k) for k in ks],
                                                                      dtype=torch.float64)
    finally:
        inner.train(was_training)
    if reduce is not None:
        sums = reduce(sums)
    total = max(float(sums[0]), 1.0)
    out: dict[str, float] = {"queries": float(sums[0]), "mrr": float(sums[1]) / total}
    for i, k in enumerate(ks):
        out[f"hit@{k}"] = float(sums[2 + i]) / total
        out[f"recall@{k}"] = float(sums[2 + len(ks) + i]) / total
    for t, name in enumerate(types):
        off = n_base + t * (1 + len(ks))
        cnt = float(sums[off])
        if cnt:
            for i, k in enumerate(ks):
                out[f"hit@{k}/{name}"] = float(sums[off + 1 + i]) / cnt
    return out


# ---------------------------------------------------------------------------------------------- checkpoints
def _trainable_state(model: Any, loss_fn: Any) -> dict[str, "torch.Tensor"]:
    state = {}
    for prefix, mod in (("model.", _unwrap(model)), ("loss.", loss_fn)):
        for name, p in mod.named_parameters():
            if p.requires_grad:
                state[prefix + name] = p.detach().to("cpu").contiguous()
    return state


def _load_trainable_state(model: Any, loss_fn: Any, state: dict[str, "torch.Tensor"], where: Path) -> None:
    import torch

    params = {}
    for prefix, mod in (("model.", _unwrap(model)), ("loss.", loss_fn)):
        for name, p in mod.named_parameters():
            if p.requires_grad:
                params[prefix + name] = p
    missing, unexpected = sorted(set(params) - set(state)), sorted(set(state) - set(params))
    if missing or unexpected:
        raise InputError(f"{where}: checkpoint weights do not match the model "
                         f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    with torch.no_grad():
        for k, p in params.items():
            if tuple(p.shape) != tuple(state[k].shape):
                raise InputError(f"{where}: {k} has shape {tuple(state[k].shape)}, the model {tuple(p.shape)}")
            p.copy_(state[k].to(p.dtype))


def _rng_state() -> dict[str, "torch.Tensor"]:
    import torch

    out = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state()
    return out


def _set_rng_state(state: dict[str, "torch.Tensor"]) -> None:
    import torch

    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


def save_checkpoint(directory: Path, *, model: Any, loss_fn: Any, optimizer: Any, scheduler: Any,
                    state: dict[str, Any], accelerator: Any) -> Path:
    """Write a checkpoint atomically (temp folder + rename); every process adds its RNG state."""
    import torch
    from safetensors.torch import save_file

    tmp = directory.with_name(directory.name + ".tmp")
    if accelerator.is_main_process:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
    accelerator.wait_for_everyone()
    save_file(_rng_state(), str(tmp / f"rng-{accelerator.process_index}.safetensors"))
    accelerator.wait_for_everyone()
    if accelerator.is_main_process:
        save_file(_trainable_state(model, loss_fn), str(tmp / TRAINABLE))
        torch.save(optimizer.state_dict(), tmp / OPTIMIZER)
        torch.save(scheduler.state_dict(), tmp / SCHEDULER)
        (tmp / STATE).write_text(json.dumps(state, indent=1), encoding="utf-8")
        shutil.rmtree(directory, ignore_errors=True)
        tmp.rename(directory)
    accelerator.wait_for_everyone()
    return directory


def find_checkpoint(output_dir: Path) -> Path | None:
    """The latest complete checkpoint under ``output_dir/checkpoints`` (None when there is none)."""
    root = output_dir / CHECKPOINTS
    if not root.is_dir():
        return None
    return max(_complete(root), key=lambda p: int(p.name.split("-")[1]), default=None)


def _complete(root: Path) -> list[Path]:
    """Finished checkpoints (``step-<n>`` with a state file; a ``.tmp`` folder is an interrupted write)."""
    return [p for p in root.iterdir() if p.is_dir() and re.fullmatch(r"step-\d+", p.name) and (p / STATE).is_file()]


def read_checkpoint_state(ckpt: Path, fingerprint: str, hashed: dict[str, Any]) -> dict[str, Any]:
    """``state.json`` of a checkpoint; refuses one written under another configuration."""
    try:
        state = json.loads((ckpt / STATE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InputError(f"{ckpt}: unreadable checkpoint state ({e})") from None
    if state.get("config_fingerprint") != fingerprint:
        changed = diff_configs(state.get("config", {}), hashed)
        raise InputError(
            f"{ckpt}: the checkpoint was written by another training configuration "
            f"(differs in: {', '.join(changed) or 'unknown'}); refusing to resume. Use another "
            "train.output_dir, or set train.resume: null to start over."
        )
    return state


def load_checkpoint(ckpt: Path, *, model: Any, loss_fn: Any, optimizer: Any, scheduler: Any,
                    accelerator: Any) -> None:
    import torch
    from safetensors.torch import load_file

    _load_trainable_state(model, loss_fn, load_file(str(ckpt / TRAINABLE)), ckpt)
    optimizer.load_state_dict(torch.load(ckpt / OPTIMIZER, map_location="cpu", weights_only=True))
    scheduler.load_state_dict(torch.load(ckpt / SCHEDULER, map_location="cpu", weights_only=True))
    rng = ckpt / f"rng-{accelerator.process_index}.safetensors"
    if rng.is_file():
        _set_rng_state(load_file(str(rng)))
    else:
        warnings.warn(f"{ckpt}: no RNG state for process {accelerator.process_index} (another process count?); "
                      "dropout draws will differ from the uninterrupted run", stacklevel=2)


def _prune(output_dir: Path, keep: int) -> None:
    root = output_dir / CHECKPOINTS
    done = sorted(_complete(root), key=lambda p: int(p.name.split("-")[1]))
    for p in done[:-keep]:
        shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- logging
class _MetricLog:
    def __init__(self, output_dir: Path, enabled: bool, stdout: bool):
        self.enabled = enabled
        self.path = output_dir / "log.jsonl"
        self.tb = None
        self.handler = None
        if not enabled:
            return
        if stdout and not any(getattr(h, "_clamr_train", False) for h in logger.handlers):
            self.handler = _TqdmHandler()
            self.handler._clamr_train = True  # type: ignore[attr-defined]
            logger.addHandler(self.handler)
            self._old_propagate = logger.propagate
            logger.propagate = False  # printed here already: not a second time by a root handler
            if logger.level == logging.NOTSET or logger.level > logging.INFO:
                self._old_level = logger.level
                logger.setLevel(logging.INFO)
        try:
            from torch.utils.tensorboard import SummaryWriter

            self.tb = SummaryWriter(str(output_dir / "tensorboard"))
        except Exception:  # tensorboard is optional
            self.tb = None

    def log(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        record = {"time": round(time.time(), 3), **record}
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        step = record.get("step", 0)
        shown = " ".join(f"{k}={_fmt(v)}" for k, v in record.items() if k not in ("time",))
        logger.info(shown)
        if self.tb is not None:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("step", "time"):
                    self.tb.add_scalar(f"{record.get('event', 'train')}/{k}", v, step)

    def close(self) -> None:
        if self.tb is not None:
            self.tb.close()
        if self.handler is not None:
            logger.removeHandler(self.handler)
            logger.propagate = self._old_propagate
            if hasattr(self, "_old_level"):
                logger.setLevel(self._old_level)


def _fmt(v: Any) -> str:
    return f"{v:.4g}" if isinstance(v, float) else str(v)


class _TqdmHandler(logging.Handler):
    """Writes log lines to stdout without breaking a tqdm bar."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm.auto import tqdm

            tqdm.write(self.format(record), file=sys.stdout)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


# ---------------------------------------------------------------------------------------------- the loop
def train(config: str | Path | dict[str, Any] | TrainingConfig, *, progress: bool = True,
          log_stdout: bool = True) -> TrainResult:
    """Train a frame retriever as configured (see :mod:`clamr_frames.train.config`); the CLI's ``train``.

    Runs in one process, or in every process of ``accelerate launch`` / ``torchrun``.

    Args:
        config: a YAML/JSON path, a dict, or a :class:`~clamr_frames.train.config.TrainingConfig`.
        progress: show a tqdm bar (main process only).
        log_stdout: also print metric lines to stdout (through the ``clamr_frames.train`` logger).

    Returns:
        A :class:`TrainResult`.

    Raises:
        InputError: a bad configuration, bad data (with file and line), or a checkpoint of another config.
    """
    import torch
    from accelerate import Accelerator
    from safetensors.torch import save_file  # noqa: F401  (fail early if missing)
    from tqdm.auto import tqdm

    from clamr_frames.train.collate import BatchBuilder
    from clamr_frames.train.losses import build_loss
    from clamr_frames.train.models import quiet_hf

    cfg = load_config(config)
    o = cfg.train
    # accelerate sets up CPU data parallelism (gloo) only when told the run is on the CPU
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    accelerator = Accelerator(cpu=o.cpu or multi_cpu, mixed_precision=o.mixed_precision)
    device = accelerator.device
    world, rank = accelerator.num_processes, accelerator.process_index
    output_dir = Path(cfg.resolve(o.output_dir))
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    fingerprint, hashed = config_fingerprint(cfg)

    # data first: bad input fails before a model is loaded
    if accelerator.is_main_process:
        train_ex, eval_ex = load_examples(cfg)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        with warnings.catch_warnings():  # the main process already warned about skipped lines
            warnings.simplefilter("ignore")
            train_ex, eval_ex = load_examples(cfg)
    global_batch = o.batch_size * world
    if len(train_ex) < global_batch:
        raise InputError(f"{len(train_ex)} training example(s) cannot fill one global batch of {global_batch} "
                         f"(train.batch_size {o.batch_size} x {world} process(es))")

    torch.manual_seed(o.seed)  # LoRA init and the head: identical in every process and on resume
    model = build_model(cfg, device)
    model.train()
    lc = cfg.loss
    # The scorer's aggregation detail (CLaMR: the reference's zero padding floors matches at 0) holds in the loss,
    # in evaluation and at inference alike.
    score_floor = getattr(getattr(model, "encoder", None), "score_floor", None)
    loss_fn = build_loss(lc.kind, tau=lc.tau, learnable_tau=lc.learnable_tau, aggregation=lc.aggregation,
                         normalize=lc.normalize, gather=lc.gather, floor=score_floor).to(device)
    if model.pooling == "mean" and lc.aggregation == "modality_max":
        raise InputError("a single-vector model (pooling: mean) has no modalities: use loss.aggregation: token_max")
    params = [p for p in model.parameters() if p.requires_grad] + [p for p in loss_fn.parameters() if p.requires_grad]
    if not params:
        raise InputError("nothing to train: no parameter requires a gradient")
    optimizer = build_optimizer(params, cfg, device)
    batches_per_epoch = len(train_ex) // global_batch
    steps_per_epoch = batches_per_epoch // o.grad_accum
    if steps_per_epoch < 1:
        raise InputError(f"an epoch has {batches_per_epoch} global batch(es), fewer than train.grad_accum={o.grad_accum}")
    total_steps = o.max_steps or o.epochs * steps_per_epoch
    n_epochs = math.ceil(total_steps / steps_per_epoch)
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, _Schedule(total_steps, int(round(o.warmup_ratio * total_steps)), o.scheduler))
    model, optimizer = accelerator.prepare(model, optimizer)

    contexts = make_contexts(cfg, train_ex + eval_ex)
    builder = BatchBuilder(train_ex, contexts, seed=o.seed, with_images=_unwrap(model).uses_image,
                           hard_negatives=cfg.data.hard_negatives, negative_margin=cfg.data.negative_margin)
    mlog = _MetricLog(output_dir, accelerator.is_main_process, log_stdout)

    global_step, epoch, batch_pos = 0, 0, 0
    ckpt = None
    if o.resume == "auto":
        ckpt = find_checkpoint(output_dir)
    elif o.resume:
        ckpt = Path(cfg.resolve(o.resume))
        if not (ckpt / STATE).is_file():
            raise InputError(f"{ckpt}: not a checkpoint (no {STATE})")
    result = TrainResult(output_dir=output_dir, final_dir=None, global_step=0, stopped=False)
    if ckpt is not None:
        state = read_checkpoint_state(ckpt, fingerprint, hashed)
        load_checkpoint(ckpt, model=model, loss_fn=loss_fn, optimizer=optimizer, scheduler=scheduler,
                        accelerator=accelerator)
        global_step, epoch, batch_pos = int(state["global_step"]), int(state["epoch"]), int(state["batch_in_epoch"])
        if int(state.get("processes", world)) != world:
            warnings.warn(f"{ckpt} was written by {state.get('processes')} process(es), this run has {world}: "
                          "the global batches (and so the rest of the run) differ from an uninterrupted run",
                          stacklevel=2)
        result.evals = list(state.get("evals", []))
        mlog.log({"event": "resume", "step": global_step, "checkpoint": str(ckpt)})
    else:
        mlog.log({"event": "start", "step": 0, "examples": len(train_ex), "eval_examples": len(eval_ex),
                  "processes": world, "total_steps": total_steps, "trainable_params": sum(p.numel() for p in params),
                  "device": str(device), "score_floor": score_floor})

    def run_eval(tag: str) -> None:
        if not (cfg.eval.enabled and eval_ex):
            return
        rng = _rng_state()  # evaluation must not move the training run's random streams
        metrics = evaluate(model, eval_ex, contexts, ks=cfg.eval.ks, aggregation=cfg.eval.aggregation,
                           floor=score_floor, doc_batch=cfg.eval.doc_batch, max_queries=cfg.eval.max_queries, device=device,
                           rank=rank, world_size=world,
                           reduce=(lambda t: accelerator.reduce(t.to(device), "sum").cpu()) if world > 1 else None)
        _set_rng_state(rng)
        rec = {"event": "eval", "tag": tag, "step": global_step, "epoch": epoch, **metrics}
        result.evals.append(rec)
        mlog.log(rec)

    def checkpoint() -> None:
        state = {"global_step": global_step, "epoch": epoch, "batch_in_epoch": batch_pos,
                 "config_fingerprint": fingerprint, "config": hashed, "evals": result.evals,
                 "processes": world}
        save_checkpoint(output_dir / CHECKPOINTS / f"step-{global_step:08d}", model=model, loss_fn=loss_fn,
                        optimizer=optimizer, scheduler=scheduler, state=state, accelerator=accelerator)
        if accelerator.is_main_process:
            _prune(output_dir, o.keep_checkpoints)

    if ckpt is None and cfg.eval.before_training:
        run_eval("before")
    if o.stop_after_steps is not None and 0 < global_step >= o.stop_after_steps and global_step < total_steps:
        result.stopped, result.global_step = True, global_step  # already there: nothing to do
        mlog.close()
        return result

    bar = tqdm(total=total_steps, initial=global_step, desc="train", unit="step",
               disable=not (progress and accelerator.is_main_process))
    last_loss = None
    try:
        while global_step < total_steps and epoch < n_epochs:
            plans = epoch_plan(len(train_ex), o.seed, epoch, global_batch)
            usable = steps_per_epoch * o.grad_accum
            local = [p[rank * o.batch_size : (rank + 1) * o.batch_size] for p in plans[batch_pos:usable]]
            micro = _micro_batches(_unwrap(model), builder, local, epoch, cfg.data.num_workers)
            acc_loss, acc_acc, n_micro = 0.0, 0.0, 0
            for batch in micro:
                batch = _to_device(batch, device)
                n_micro += 1
                last_micro = n_micro == o.grad_accum
                ctx = accelerator.no_sync(model) if (not last_micro and world > 1) else _nullcontext()
                with ctx:
                    res = training_step(model, loss_fn, batch)
                    accelerator.backward(res.loss / o.grad_accum)
                acc_loss += float(res.loss.detach()) / o.grad_accum
                acc_acc += res.accuracy / o.grad_accum
                batch_pos += 1
                if not last_micro:
                    continue
                if o.max_grad_norm:
                    grad_norm = accelerator.clip_grad_norm_(params, o.max_grad_norm)
                else:
                    grad_norm = None
                optimizer.step()
                scheduler.step()
                optimizer.zero_grad(set_to_none=True)
                global_step += 1
                n_micro = 0
                bar.update(1)
                if world > 1:
                    stats = accelerator.reduce(torch.tensor([acc_loss, acc_acc], device=device), "mean").cpu()
                    acc_loss, acc_acc = float(stats[0]), float(stats[1])
                last_loss = acc_loss
                if global_step % o.log_every == 0 or global_step == total_steps:
                    rec = {"event": "train", "step": global_step, "epoch": epoch, "loss": acc_loss,
                           "batch_accuracy": acc_acc, "lr": scheduler.get_last_lr()[0], "tau": res.tau}
                    if grad_norm is not None:
                        rec["grad_norm"] = float(grad_norm)
                    mlog.log(rec)
                    bar.set_postfix(loss=f"{acc_loss:.4f}")
                acc_loss, acc_acc = 0.0, 0.0
                if global_step >= total_steps:
                    break
                stop = o.stop_after_steps is not None and global_step >= o.stop_after_steps
                if stop or (o.save_every and global_step % o.save_every == 0):
                    checkpoint()
                if stop:
                    result.stopped = True
                    result.global_step, result.last_loss = global_step, last_loss
                    mlog.log({"event": "stop", "step": global_step})
                    return result
            if batch_pos >= usable or global_step >= total_steps:
                if cfg.eval.every_epoch or global_step >= total_steps:
                    run_eval(f"epoch-{epoch}")
                epoch += 1
                batch_pos = 0
        checkpoint()
        final = output_dir / "final"
        if accelerator.is_main_process:
            shutil.rmtree(final, ignore_errors=True)
            with quiet_hf():
                _unwrap(model).save_pretrained(final, base_model=cfg.resolve(cfg.model.base_model, hub_ok=True))
            (output_dir / "metrics.json").write_text(json.dumps(result.evals, indent=1), encoding="utf-8")
        accelerator.wait_for_everyone()
        result.final_dir = final
        result.global_step, result.last_loss = global_step, last_loss
        mlog.log({"event": "done", "step": global_step, "final": str(final)})
        return result
    finally:
        bar.close()
        mlog.close()


class _nullcontext:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *a: Any) -> None:
        return None
