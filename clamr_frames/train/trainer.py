"""The training loop: ``train(config)`` on accelerate, from one CPU process to ``accelerate launch`` on many GPUs.

One optimizer step consumes ``grad_accum`` global batches. A global batch is ``batch_size x processes`` examples
from a permutation seeded by ``(seed, epoch)``; process ``r`` takes its slice (:mod:`~clamr_frames.train.batches`).
Every process builds its documents (positives + hard negatives), embeds queries and documents in one forward pass,
and computes the loss of its queries against the documents of all processes (:mod:`clamr_frames.train.losses`).
With the data-parallel gradient average this equals one process on the whole global batch.

A run is set up (:mod:`~clamr_frames.train.build`: examples, model, optimizer, schedule, contexts), resumed from
its latest checkpoint (:mod:`~clamr_frames.train.checkpoints`: weights, optimizer, scheduler, RNG states and
position, so a stopped and resumed run ends with the uninterrupted run's weights; a checkpoint of another
configuration is refused), trained epoch by epoch with held-out evaluation (:mod:`~clamr_frames.train.evaluation`),
and its final model written to ``output_dir/final`` in the encoder's own format. Every folder is written
crash-safely (staging folder, fsync, rename swap). Metrics: :mod:`~clamr_frames.train.metric_log`.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamr_frames._fs import atomic_write_bytes, recover_directory
from clamr_frames.errors import InputError
from clamr_frames.train.batches import epoch_plan, micro_batches, to_device, unwrap
from clamr_frames.train.build import LrSchedule, build_model, build_optimizer, load_examples, make_contexts
from clamr_frames.train.checkpoints import (
    CHECKPOINTS,
    STATE,
    find_checkpoint,
    load_checkpoint,
    prune_checkpoints,
    read_checkpoint_state,
    rng_state,
    save_checkpoint,
    save_final,
    set_rng_state,
)
from clamr_frames.train.config import TrainingConfig, config_fingerprint, load_config
from clamr_frames.train.evaluation import evaluate
from clamr_frames.train.metric_log import MetricLog

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.train.losses import LossOutput


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


def training_step(model: Any, loss_fn: Any, batch: dict[str, Any]) -> "LossOutput":
    """Forward one micro-batch (queries and documents together) and compute the loss; no backward here.

    ``model`` may be wrapped (``DistributedDataParallel``); the loss gathers documents across processes.
    """
    out = model(queries=batch["queries"], documents=batch["documents"])
    q, d = unwrap(model).embed(out)
    return loss_fn(q, d, batch["targets"], query_modality=batch.get("query_modality"),
                   query_video=batch.get("query_video"), query_spans=batch.get("query_spans"),
                   doc_video=batch.get("doc_video"), doc_time=batch.get("doc_time"))


@dataclass
class _Run:
    """One training run's parts and its position (set up by :func:`_setup`, advanced by the loop)."""

    cfg: TrainingConfig
    accelerator: Any
    output_dir: Path
    fingerprint: str
    hashed: dict[str, Any]
    train_ex: list[Any]
    eval_ex: list[Any]
    global_batch: int
    model: Any = None
    loss_fn: Any = None
    params: list[Any] = field(default_factory=list)
    optimizer: Any = None
    scheduler: Any = None
    score_floor: float | None = None
    total_steps: int = 0
    steps_per_epoch: int = 0
    n_epochs: int = 0
    contexts: Any = None
    builder: Any = None
    mlog: Any = None
    result: Any = None
    global_step: int = 0
    epoch: int = 0
    batch_pos: int = 0
    last_loss: float | None = None

    @property
    def device(self) -> Any:
        return self.accelerator.device

    @property
    def world(self) -> int:
        return self.accelerator.num_processes


# ---------------------------------------------------------------------------------------------- setup
def _setup(cfg: TrainingConfig, log_stdout: bool) -> _Run:
    """Accelerator, data (bad input fails before a model is loaded), model, loss, optimizer, schedule, log."""
    import torch
    from accelerate import Accelerator

    o = cfg.train
    # accelerate sets up CPU data parallelism (gloo) only when told the run is on the CPU
    multi_cpu = int(os.environ.get("WORLD_SIZE", "1")) > 1 and not torch.cuda.is_available()
    accelerator = Accelerator(cpu=o.cpu or multi_cpu, mixed_precision=o.mixed_precision)
    output_dir = Path(cfg.resolve(o.output_dir))
    if accelerator.is_main_process:
        output_dir.mkdir(parents=True, exist_ok=True)
    accelerator.wait_for_everyone()
    fingerprint, hashed = config_fingerprint(cfg)
    train_ex, eval_ex = _load_data(cfg, accelerator)
    global_batch = o.batch_size * accelerator.num_processes
    if len(train_ex) < global_batch:
        raise InputError(f"{len(train_ex)} training example(s) cannot fill one global batch of {global_batch} "
                         f"(train.batch_size {o.batch_size} x {accelerator.num_processes} process(es))")
    run = _Run(cfg, accelerator, output_dir, fingerprint, hashed, train_ex, eval_ex, global_batch)
    _setup_model(run)
    _setup_schedule(run)
    run.model, run.optimizer = accelerator.prepare(run.model, run.optimizer)

    from clamr_frames.train.collate import BatchBuilder

    run.contexts = make_contexts(cfg, train_ex + eval_ex)
    run.builder = BatchBuilder(train_ex, run.contexts, seed=o.seed, with_images=unwrap(run.model).uses_image,
                               hard_negatives=cfg.data.hard_negatives, negative_margin=cfg.data.negative_margin)
    run.mlog = MetricLog(output_dir, accelerator.is_main_process, log_stdout)
    run.result = TrainResult(output_dir=output_dir, final_dir=None, global_step=0, stopped=False)
    return run


def _load_data(cfg: TrainingConfig, accelerator: Any) -> tuple[list[Any], list[Any]]:
    """Examples, read by the main process first (its warnings are the ones shown), then by the others."""
    if accelerator.is_main_process:
        train_ex, eval_ex = load_examples(cfg)
    accelerator.wait_for_everyone()
    if not accelerator.is_main_process:
        with warnings.catch_warnings():  # the main process already warned about skipped lines
            warnings.simplefilter("ignore")
            train_ex, eval_ex = load_examples(cfg)
    return train_ex, eval_ex


def _setup_model(run: _Run) -> None:
    """The trainable model, the loss (with the scorer's score floor) and the parameters to optimise."""
    import torch

    from clamr_frames.train.losses import build_loss

    cfg, device = run.cfg, run.device
    torch.manual_seed(cfg.train.seed)  # LoRA init and the head: identical in every process and on resume
    run.model = build_model(cfg, device)
    run.model.train()
    lc = cfg.loss
    # The scorer's aggregation detail (CLaMR: the reference's zero padding floors matches at 0) holds in the loss,
    # in evaluation and at inference alike.
    run.score_floor = getattr(getattr(run.model, "encoder", None), "score_floor", None)
    run.loss_fn = build_loss(lc.kind, tau=lc.tau, learnable_tau=lc.learnable_tau, aggregation=lc.aggregation,
                             normalize=lc.normalize, gather=lc.gather, floor=run.score_floor).to(device)
    if run.model.pooling == "mean" and lc.aggregation == "modality_max":
        raise InputError("a single-vector model (pooling: mean) has no modalities: use loss.aggregation: token_max")
    run.params = ([p for p in run.model.parameters() if p.requires_grad]
                  + [p for p in run.loss_fn.parameters() if p.requires_grad])
    if not run.params:
        raise InputError("nothing to train: no parameter requires a gradient")


def _setup_schedule(run: _Run) -> None:
    """Optimizer, steps per epoch, total steps and the learning-rate schedule."""
    import torch

    o = run.cfg.train
    run.optimizer = build_optimizer(run.params, run.cfg, run.device)
    batches_per_epoch = len(run.train_ex) // run.global_batch
    run.steps_per_epoch = batches_per_epoch // o.grad_accum
    if run.steps_per_epoch < 1:
        raise InputError(f"an epoch has {batches_per_epoch} global batch(es), fewer than train.grad_accum={o.grad_accum}")
    run.total_steps = o.max_steps or o.epochs * run.steps_per_epoch
    run.n_epochs = math.ceil(run.total_steps / run.steps_per_epoch)
    run.scheduler = torch.optim.lr_scheduler.LambdaLR(
        run.optimizer, LrSchedule(run.total_steps, int(round(o.warmup_ratio * run.total_steps)), o.scheduler))


def _resume(run: _Run) -> Path | None:
    """Restore the configured checkpoint (``train.resume``: ``auto``, a path, or none); log the start."""
    cfg, o = run.cfg, run.cfg.train
    ckpt = None
    if o.resume == "auto":
        if run.accelerator.is_main_process and (run.output_dir / CHECKPOINTS).is_dir():
            find_checkpoint(run.output_dir)  # puts back a checkpoint a crash left renamed aside
        run.accelerator.wait_for_everyone()
        ckpt = find_checkpoint(run.output_dir)
    elif o.resume:
        ckpt = Path(cfg.resolve(o.resume))
        if run.accelerator.is_main_process:
            recover_directory(ckpt)
        run.accelerator.wait_for_everyone()
        if not (ckpt / STATE).is_file():
            raise InputError(f"{ckpt}: not a checkpoint (no {STATE})")
    if ckpt is None:
        run.mlog.log({"event": "start", "step": 0, "examples": len(run.train_ex), "eval_examples": len(run.eval_ex),
                      "processes": run.world, "total_steps": run.total_steps,
                      "trainable_params": sum(p.numel() for p in run.params), "device": str(run.device),
                      "score_floor": run.score_floor})
        return None
    state = read_checkpoint_state(ckpt, run.fingerprint, run.hashed)
    load_checkpoint(ckpt, model=run.model, loss_fn=run.loss_fn, optimizer=run.optimizer, scheduler=run.scheduler,
                    accelerator=run.accelerator)
    run.global_step, run.epoch, run.batch_pos = (int(state["global_step"]), int(state["epoch"]),
                                                 int(state["batch_in_epoch"]))
    if int(state.get("processes", run.world)) != run.world:
        warnings.warn(f"{ckpt} was written by {state.get('processes')} process(es), this run has {run.world}: "
                      "the global batches (and so the rest of the run) differ from an uninterrupted run",
                      stacklevel=3)
    run.result.evals = list(state.get("evals", []))
    run.mlog.log({"event": "resume", "step": run.global_step, "checkpoint": str(ckpt)})
    return ckpt


# ---------------------------------------------------------------------------------------------- evaluation, saving
def _run_eval(run: _Run, tag: str) -> None:
    cfg = run.cfg
    if not (cfg.eval.enabled and run.eval_ex):
        return
    acc = run.accelerator
    rng = rng_state()  # evaluation must not move the training run's random streams
    metrics = evaluate(run.model, run.eval_ex, run.contexts, ks=cfg.eval.ks, aggregation=cfg.eval.aggregation,
                       floor=run.score_floor, doc_batch=cfg.eval.doc_batch, max_queries=cfg.eval.max_queries,
                       device=run.device, rank=acc.process_index, world_size=run.world,
                       reduce=(lambda t: acc.reduce(t.to(run.device), "sum").cpu()) if run.world > 1 else None)
    set_rng_state(rng)
    rec = {"event": "eval", "tag": tag, "step": run.global_step, "epoch": run.epoch, **metrics}
    run.result.evals.append(rec)
    run.mlog.log(rec)


def _checkpoint(run: _Run) -> None:
    state = {"global_step": run.global_step, "epoch": run.epoch, "batch_in_epoch": run.batch_pos,
             "config_fingerprint": run.fingerprint, "config": run.hashed, "evals": run.result.evals,
             "processes": run.world}
    save_checkpoint(run.output_dir / CHECKPOINTS / f"step-{run.global_step:08d}", model=run.model,
                    loss_fn=run.loss_fn, optimizer=run.optimizer, scheduler=run.scheduler, state=state,
                    accelerator=run.accelerator)
    if run.accelerator.is_main_process:
        prune_checkpoints(run.output_dir, run.cfg.train.keep_checkpoints)


def _finish(run: _Run) -> TrainResult:
    """Last checkpoint, the final model (``output_dir/final``) and ``metrics.json``."""
    from clamr_frames.train.models import quiet_hf

    _checkpoint(run)
    final = run.output_dir / "final"
    if run.accelerator.is_main_process:
        base_model = run.cfg.resolve(run.cfg.model.base_model, hub_ok=True)
        with quiet_hf():
            save_final(final, lambda folder: unwrap(run.model).save_pretrained(folder, base_model=base_model))
        atomic_write_bytes(run.output_dir / "metrics.json", json.dumps(run.result.evals, indent=1).encode("utf-8"))
    run.accelerator.wait_for_everyone()
    run.result.final_dir = final
    run.result.global_step, run.result.last_loss = run.global_step, run.last_loss
    run.mlog.log({"event": "done", "step": run.global_step, "final": str(final)})
    return run.result


# ---------------------------------------------------------------------------------------------- steps
def _optimizer_step(run: _Run) -> float | None:
    """Clip, step the optimizer and the schedule, zero the gradients; the gradient norm when clipped."""
    o = run.cfg.train
    grad_norm = run.accelerator.clip_grad_norm_(run.params, o.max_grad_norm) if o.max_grad_norm else None
    run.optimizer.step()
    run.scheduler.step()
    run.optimizer.zero_grad(set_to_none=True)
    run.global_step += 1
    return grad_norm


def _log_step(run: _Run, loss: float, accuracy: float, tau: Any, grad_norm: Any, bar: Any) -> None:
    """Average the step's loss over processes and log it every ``log_every`` steps (and at the last)."""
    import torch

    if run.world > 1:
        stats = run.accelerator.reduce(torch.tensor([loss, accuracy], device=run.device), "mean").cpu()
        loss, accuracy = float(stats[0]), float(stats[1])
    run.last_loss = loss
    if run.global_step % run.cfg.train.log_every == 0 or run.global_step == run.total_steps:
        rec = {"event": "train", "step": run.global_step, "epoch": run.epoch, "loss": loss,
               "batch_accuracy": accuracy, "lr": run.scheduler.get_last_lr()[0], "tau": tau}
        if grad_norm is not None:
            rec["grad_norm"] = float(grad_norm)
        run.mlog.log(rec)
        bar.set_postfix(loss=f"{loss:.4f}")


def _stop_or_save(run: _Run) -> bool:
    """Checkpoint every ``save_every`` steps; True (after a checkpoint) when ``stop_after_steps`` is reached."""
    o = run.cfg.train
    stop = o.stop_after_steps is not None and run.global_step >= o.stop_after_steps
    if stop or (o.save_every and run.global_step % o.save_every == 0):
        _checkpoint(run)
    if stop:
        run.result.stopped = True
        run.result.global_step, run.result.last_loss = run.global_step, run.last_loss
        run.mlog.log({"event": "stop", "step": run.global_step})
    return stop


def _train_epoch(run: _Run, bar: Any) -> bool:
    """The rest of the current epoch from ``batch_pos``; True when ``stop_after_steps`` ended the run."""
    o, acc = run.cfg.train, run.accelerator
    plans = epoch_plan(len(run.train_ex), o.seed, run.epoch, run.global_batch)
    usable = run.steps_per_epoch * o.grad_accum
    rank = acc.process_index
    local = [p[rank * o.batch_size : (rank + 1) * o.batch_size] for p in plans[run.batch_pos:usable]]
    micro = micro_batches(unwrap(run.model), run.builder, local, run.epoch, run.cfg.data.num_workers)
    acc_loss, acc_acc, n_micro = 0.0, 0.0, 0
    for batch in micro:
        batch = to_device(batch, run.device)
        n_micro += 1
        last_micro = n_micro == o.grad_accum
        ctx = acc.no_sync(run.model) if (not last_micro and run.world > 1) else nullcontext()
        with ctx:
            res = training_step(run.model, run.loss_fn, batch)
            acc.backward(res.loss / o.grad_accum)
        acc_loss += float(res.loss.detach()) / o.grad_accum
        acc_acc += res.accuracy / o.grad_accum
        run.batch_pos += 1
        if not last_micro:
            continue
        grad_norm = _optimizer_step(run)
        n_micro = 0
        bar.update(1)
        _log_step(run, acc_loss, acc_acc, res.tau, grad_norm, bar)
        acc_loss, acc_acc = 0.0, 0.0
        if run.global_step >= run.total_steps:
            break
        if _stop_or_save(run):
            return True
    if run.batch_pos >= usable or run.global_step >= run.total_steps:
        if run.cfg.eval.every_epoch or run.global_step >= run.total_steps:
            _run_eval(run, f"epoch-{run.epoch}")
        run.epoch += 1
        run.batch_pos = 0
    return False


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
    from safetensors.torch import save_file  # noqa: F401  (fail early if missing)
    from tqdm.auto import tqdm

    cfg = load_config(config)
    run = _setup(cfg, log_stdout)
    o = cfg.train
    ckpt = _resume(run)
    if ckpt is None and cfg.eval.before_training:
        _run_eval(run, "before")
    if o.stop_after_steps is not None and 0 < run.global_step >= o.stop_after_steps \
            and run.global_step < run.total_steps:
        run.result.stopped, run.result.global_step = True, run.global_step  # already there: nothing to do
        run.mlog.close()
        return run.result

    bar = tqdm(total=run.total_steps, initial=run.global_step, desc="train", unit="step",
               disable=not (progress and run.accelerator.is_main_process))
    try:
        while run.global_step < run.total_steps and run.epoch < run.n_epochs:
            if _train_epoch(run, bar):
                return run.result
        return _finish(run)
    finally:
        bar.close()
        run.mlog.close()


__all__ = ["TrainResult", "evaluate", "train", "training_step"]
