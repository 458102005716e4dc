"""Training checkpoints: write, find, check and restore them, crash-safe.

A checkpoint (``output_dir/checkpoints/step-N``) holds the trainable weights (``trainable.safetensors``), the
optimizer and scheduler state (``torch.save``, read back with ``weights_only=True``), each process's RNG state
(safetensors), and ``state.json`` (step, epoch, position in the epoch, the config fingerprint).

Every directory this module writes (checkpoints and the final model) is filled in a uniquely named staging
directory, fsync'ed, and swapped into place by renames (:func:`clamr_frames._fs.publish_directory`): a process
killed at any instant leaves the old complete directory or the new complete one, and
:func:`find_checkpoint` puts back an old copy a kill left renamed aside.
"""

from __future__ import annotations

import json
import re
import shutil
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from clamr_frames._fs import atomic_directory, publish_directory, recover_directory, staging_directory
from clamr_frames.errors import InputError
from clamr_frames.train.batches import unwrap
from clamr_frames.train.config import diff_configs

if TYPE_CHECKING:  # pragma: no cover
    import torch

CHECKPOINTS = "checkpoints"
STATE = "state.json"
TRAINABLE = "trainable.safetensors"
OPTIMIZER = "optimizer.pt"
SCHEDULER = "scheduler.pt"
_STEP_DIR = re.compile(r"step-\d+")


# ---------------------------------------------------------------------------------------------- state
def _trainable_params(model: Any, loss_fn: Any) -> dict[str, Any]:
    params = {}
    for prefix, mod in (("model.", unwrap(model)), ("loss.", loss_fn)):
        for name, p in mod.named_parameters():
            if p.requires_grad:
                params[prefix + name] = p
    return params


def _trainable_state(model: Any, loss_fn: Any) -> dict[str, "torch.Tensor"]:
    return {k: p.detach().to("cpu").contiguous() for k, p in _trainable_params(model, loss_fn).items()}


def _load_trainable_state(model: Any, loss_fn: Any, state: dict[str, "torch.Tensor"], where: Path) -> None:
    import torch

    params = _trainable_params(model, loss_fn)
    missing, unexpected = sorted(set(params) - set(state)), sorted(set(state) - set(params))
    if missing or unexpected:
        raise InputError(f"{where}: checkpoint weights do not match the model "
                         f"(missing {missing[:5]}, unexpected {unexpected[:5]})")
    with torch.no_grad():
        for k, p in params.items():
            if tuple(p.shape) != tuple(state[k].shape):
                raise InputError(f"{where}: {k} has shape {tuple(state[k].shape)}, the model {tuple(p.shape)}")
            p.copy_(state[k].to(p.dtype))


def rng_state() -> dict[str, "torch.Tensor"]:
    """torch's CPU (and, once initialised, CUDA) generator states."""
    import torch

    out = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["cuda"] = torch.cuda.get_rng_state()
    return out


def set_rng_state(state: dict[str, "torch.Tensor"]) -> None:
    """Restore what :func:`rng_state` returned."""
    import torch

    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


# ---------------------------------------------------------------------------------------------- writing
def save_checkpoint(directory: Path, *, model: Any, loss_fn: Any, optimizer: Any, scheduler: Any,
                    state: dict[str, Any], accelerator: Any) -> Path:
    """Write a checkpoint crash-safely (staging directory, fsync, swap); every process adds its RNG state."""
    import torch
    from safetensors.torch import save_file

    staging = [staging_directory(directory) if accelerator.is_main_process else None]
    if accelerator.num_processes > 1:
        from accelerate.utils import broadcast_object_list

        broadcast_object_list(staging)  # every process writes its RNG state into the main process's folder
    tmp = Path(staging[0])
    try:
        accelerator.wait_for_everyone()
        save_file(rng_state(), str(tmp / f"rng-{accelerator.process_index}.safetensors"))
        accelerator.wait_for_everyone()
        if accelerator.is_main_process:
            save_file(_trainable_state(model, loss_fn), str(tmp / TRAINABLE))
            torch.save(optimizer.state_dict(), tmp / OPTIMIZER)
            torch.save(scheduler.state_dict(), tmp / SCHEDULER)
            (tmp / STATE).write_text(json.dumps(state, indent=1), encoding="utf-8")
            publish_directory(tmp, directory)
    except BaseException:
        if accelerator.is_main_process:
            shutil.rmtree(tmp, ignore_errors=True)
        raise
    accelerator.wait_for_everyone()
    return directory


def save_final(directory: Path, write: Callable[[Path], Any]) -> Path:
    """Write the final model through ``write(folder)`` into a staging folder that then replaces ``directory``."""
    with atomic_directory(directory) as tmp:
        write(tmp)
    return directory


def prune_checkpoints(output_dir: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` complete checkpoints."""
    root = output_dir / CHECKPOINTS
    done = sorted(_complete(root), key=_step_of)
    for p in done[:-keep]:
        shutil.rmtree(p, ignore_errors=True)


# ---------------------------------------------------------------------------------------------- reading
def find_checkpoint(output_dir: Path) -> Path | None:
    """The latest complete checkpoint under ``output_dir/checkpoints`` (None when there is none), after putting
    back any checkpoint a crash left renamed aside and removing unfinished staging folders."""
    root = output_dir / CHECKPOINTS
    if not root.is_dir():
        return None
    recover_checkpoints(root)
    return max(_complete(root), key=_step_of, default=None)


def recover_checkpoints(root: Path) -> None:
    """Undo an interrupted checkpoint swap under ``root`` (see :func:`clamr_frames._fs.recover_directory`)."""
    names = {m.group(1) for p in root.iterdir() if (m := re.match(r"\.(step-\d+)\.", p.name))}
    for name in sorted(names):
        recover_directory(root / name)


def _step_of(path: Path) -> int:
    return int(path.name.split("-")[1])


def _complete(root: Path) -> list[Path]:
    """Finished checkpoints: ``step-<n>`` folders with a state file (staging folders are hidden, dot-named)."""
    return [p for p in root.iterdir() if p.is_dir() and _STEP_DIR.fullmatch(p.name) and (p / STATE).is_file()]


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
    """Restore weights, optimizer, scheduler and this process's RNG state from ``ckpt``."""
    import torch
    from safetensors.torch import load_file

    _load_trainable_state(model, loss_fn, load_file(str(ckpt / TRAINABLE)), ckpt)
    optimizer.load_state_dict(torch.load(ckpt / OPTIMIZER, map_location="cpu", weights_only=True))
    scheduler.load_state_dict(torch.load(ckpt / SCHEDULER, map_location="cpu", weights_only=True))
    rng = ckpt / f"rng-{accelerator.process_index}.safetensors"
    if rng.is_file():
        set_rng_state(load_file(str(rng)))
    else:
        warnings.warn(f"{ckpt}: no RNG state for process {accelerator.process_index} (another process count?); "
                      "dropout draws will differ from the uninterrupted run", stacklevel=2)
