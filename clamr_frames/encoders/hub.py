"""Where a scorer's weights come from: a local directory, or a snapshot of a Hugging Face Hub repository.

One resolver serves every scorer that loads from the Hub (CLaMR adapter and backbone, CLIP, LanguageBind), so
they agree on what is fetched (configs, tokenizer files and weights, never code), on ``revision`` (a branch, tag
or commit, recorded with the commit it resolved to), on the download progress display, and on the message that
tells an offline user how to use a local copy.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

from clamr_frames.errors import ModelLoadError, first_line

#: ``owner/name``: what can be a Hub repository id (anything else must be a local directory).
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
#: Text files a checkpoint needs besides its weights: configs, tokenizer and processor files, chat templates.
CONFIG_FILES = ("*.json", "*.txt", "*.jinja")
#: Weights in order of preference: safetensors, else PyTorch pickles (read later with ``weights_only=True``).
WEIGHT_FILES = ("*.safetensors", "pytorch_model*.bin")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")


def offline_hint(ref: str, example: str) -> str:
    """How to use ``ref`` without the Hub; ``example`` shows the call that takes the local directory."""
    return (
        f"To use it offline, download it where the Hub is reachable (`huggingface-cli download {ref} "
        f"--local-dir DIR`) and pass that local directory instead of the hub id: {example}."
    )


@contextlib.contextmanager
def hub_progress(enabled: bool) -> Iterator[None]:
    """Inside the block, the Hub client's download bars are shown (``enabled``) or hidden; restored after.

    ``HF_HUB_DISABLE_PROGRESS_BARS``, when the user set it, decides instead (the Hub client gives it priority).
    """
    import importlib

    from huggingface_hub.utils import are_progress_bars_disabled, disable_progress_bars, enable_progress_bars

    # the module, not the tqdm class huggingface_hub.utils exports under the same name
    if importlib.import_module("huggingface_hub.utils.tqdm").HF_HUB_DISABLE_PROGRESS_BARS is not None:
        yield
        return
    was_disabled = are_progress_bars_disabled()
    if enabled:
        enable_progress_bars()
    else:
        disable_progress_bars()
    try:
        yield
    finally:
        if was_disabled:
            disable_progress_bars()
        else:
            enable_progress_bars()


def resolve_checkpoint(
    ref: str | Path,
    *,
    offline: bool,
    example: str,
    weights: Sequence[str] = WEIGHT_FILES,
    revision: str | None = None,
    progress: bool = True,
) -> Path:
    """Local directory holding the checkpoint ``ref``: itself when it is a directory, else a Hub snapshot.

    From the Hub only :data:`CONFIG_FILES` and weights are fetched, no code: the first pattern of ``weights`` the
    repository has files for (the released LanguageBind checkpoints ship only ``pytorch_model.bin``, so the
    default falls back to it; CLaMR passes ``("*.safetensors",)``).

    Args:
        ref: a local directory or a Hub id (``owner/name``).
        offline: use only the local Hub cache (``HF_HUB_OFFLINE`` / ``local_files_only``).
        example: the call that takes a local directory, shown in the offline hint.
        weights: weight-file patterns, most preferred first.
        revision: a branch, tag or commit of the Hub repository (None: its default branch). A local directory
            has no revision: passing one is an error rather than silently ignored.
        progress: show the Hub client's download progress.

    Raises:
        ModelLoadError: a file where a directory was expected, neither a directory nor a Hub id, not reachable
            on the Hub (offline and not cached, no such repository or revision), or a snapshot without weights.
    """
    p = Path(ref).expanduser()
    if p.exists():
        if not p.is_dir():
            raise ModelLoadError(f"{p}: expected a checkpoint directory, got a file")
        if revision is not None:
            raise ModelLoadError(f"{p}: revision={revision!r} applies to Hub ids, not to a local directory")
        return p
    ref = str(ref)
    if not HUB_ID.match(ref):
        raise ModelLoadError(f"{ref}: no such directory (and not a Hugging Face hub id)")
    at = f" at revision {revision!r}" if revision is not None else ""
    local: Path | None = None
    try:
        from huggingface_hub import snapshot_download

        with hub_progress(progress):
            for pattern in weights:
                local = Path(snapshot_download(ref, revision=revision, local_files_only=offline,
                                               allow_patterns=[*CONFIG_FILES, pattern]))
                if any(local.glob(pattern)):
                    return local
    except Exception as e:  # the hub client raises many unrelated types; all mean "not available"
        raise ModelLoadError(
            f"cannot get {ref!r}{at} from the Hugging Face Hub ({type(e).__name__}: {first_line(e)}). "
            + offline_hint(ref, example)
        ) from e
    raise ModelLoadError(f"{ref}{at}: the Hub snapshot has no weights ({' or '.join(weights)})")


def snapshot_commit(directory: str | Path) -> str | None:
    """The commit a Hub-cache snapshot directory holds (``.../snapshots/<40 hex>``), None for any other folder."""
    p = Path(directory)
    return p.name if p.parent.name == "snapshots" and _COMMIT.match(p.name) else None


def hub_record(ref: str | Path, directory: Path, revision: str | None) -> dict[str, str]:
    """What an encoder's ``source`` records about where ``ref`` came from: the revision asked for and the commit
    it resolved to (both absent for a local directory)."""
    out: dict[str, str] = {}
    if revision is not None:
        out["revision"] = revision
    commit = snapshot_commit(directory)
    if commit is not None and not Path(ref).expanduser().exists():
        out["commit"] = commit
    return out


__all__ = [
    "CONFIG_FILES",
    "HUB_ID",
    "WEIGHT_FILES",
    "hub_progress",
    "hub_record",
    "offline_hint",
    "resolve_checkpoint",
    "snapshot_commit",
]
