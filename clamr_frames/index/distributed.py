"""Index many videos across processes: data-parallel over videos, one shared cache directory.

Every worker (a process started by ``torchrun``, ``accelerate launch``, or :func:`index_parallel`) gets the same
video list and its rank. It visits its own shard first (``videos[rank::world]``), then — work stealing, so one
slow video does not hold the others back — the rest of the list. Before encoding a video it takes a *claim*: a
non-blocking OS file lock under ``<cache>/claims/`` keyed by the video's content fingerprint, encoder and
settings. A video claimed by another worker is skipped; when its claim is free the index is either complete
(then it is only loaded, nothing is encoded) or not yet started or interrupted (then this worker builds or
resumes it). On top of that, the store's own per-index lock serialises builders of one index. So no two workers
encode the same video, a crashed worker's claims vanish with its process, and re-running the same command
resumes: finished indexes are reused, interrupted ones continue from their last finished part.

No process group is needed (no gloo/NCCL): workers coordinate only through the cache directory, which must be
shared by all of them (one machine, or a shared filesystem with working ``flock``).

Launch, for example::

    clamr-frames index a.mp4 b.mp4 c.mp4 d.mp4 --processes 2
    torchrun --nproc-per-node 4 -m clamr_frames.cli index videos/*.mp4 --cache-dir /shared/cache
    accelerate launch --num_processes 8 -m clamr_frames.cli index videos/*.mp4 --cache-dir /shared/cache
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from clamr_frames.errors import ClamrFramesError, InputError

#: Environment variables a launcher sets (torchrun and accelerate set RANK / WORLD_SIZE).
_RANK_VARS = ("RANK", "PMI_RANK", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID")
_WORLD_VARS = ("WORLD_SIZE", "PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "SLURM_NTASKS")


@dataclass
class VideoResult:
    """What one worker did with one video.

    Attributes:
        video: the path as given.
        status: ``"built"`` (this worker encoded frames), ``"cached"`` (complete index found, nothing encoded),
            ``"claimed"`` (another worker held it; skipped) or ``"failed"``.
        rank: the worker.
        frames_encoded: documents this worker encoded for it.
        candidates: candidate frames of the index (0 unless built or cached).
        seconds: wall time spent on it.
        error: the error message when failed.
        index_path: directory of the index.
    """

    video: str
    status: str
    rank: int
    frames_encoded: int = 0
    candidates: int = 0
    seconds: float = 0.0
    error: str = ""
    index_path: str = ""


def launcher_rank_world() -> tuple[int, int]:
    """``(rank, world_size)`` from the launcher's environment; ``(0, 1)`` when not launched in parallel.

    Raises:
        InputError: inconsistent values (rank outside ``[0, world)``).
    """
    def first(names: Sequence[str]) -> int | None:
        for n in names:
            v = os.environ.get(n)
            if v not in (None, ""):
                try:
                    return int(v)
                except ValueError:
                    raise InputError(f"${n}={v!r} is not an integer") from None
        return None

    rank, world = first(_RANK_VARS), first(_WORLD_VARS)
    if world is None or world <= 1:
        return 0, 1
    rank = rank or 0
    if not 0 <= rank < world:
        raise InputError(f"rank {rank} is outside world size {world}")
    return rank, world


def visit_order(n: int, rank: int, world: int, steal: bool = True) -> list[int]:
    """Indices of ``n`` videos in the order worker ``rank`` of ``world`` visits them.

    Its own shard (``rank, rank + world, ...``) first; then, with ``steal``, the other workers' shards, starting
    from the next rank (so idle workers spread over different shards).

    Example:
        >>> visit_order(7, 1, 3)
        [1, 4, 2, 5, 0, 3, 6]
        >>> visit_order(7, 1, 3, steal=False)
        [1, 4]
    """
    if world < 1 or not 0 <= rank < world:
        raise InputError(f"rank {rank} is outside world size {world}")
    order = list(range(rank, n, world))
    if steal:
        for r in range(1, world):
            order += list(range((rank + r) % world, n, world))
    return order


def claim_path(root: Path, video: str | Path, encoder: Any, settings: Any, subtitles: Any = None) -> Path:
    """The claim file of one (video content, encoder, settings, subtitles) under ``root/claims``."""
    from clamr_frames.index.store import video_fingerprint

    key = json.dumps(
        {
            "video": video_fingerprint(video),
            "encoder": getattr(encoder, "encoder_id", str(encoder)),
            "config": getattr(encoder, "config", None),
            "settings": asdict(settings),
            "subtitles": str(Path(subtitles).resolve()) if isinstance(subtitles, (str, Path)) else None,
        },
        sort_keys=True,
        default=str,
    )
    return Path(root) / "claims" / (hashlib.sha256(key.encode()).hexdigest()[:32] + ".lock")


class _Counting:
    """Proxy of an encoder that counts the documents it encodes."""

    def __init__(self, inner: Any):
        self._inner = inner
        self.count = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def encode_documents(self, docs):
        self.count += len(docs)
        return self._inner.encode_documents(docs)

    def encode_video_documents(self, docs, path):
        self.count += len(docs)
        return self._inner.encode_video_documents(docs, path)


def index_videos(
    videos: Sequence[str | Path],
    encoder: Any,
    *,
    subtitles: Sequence[Any] | None = None,
    settings: Any = None,
    store: Any = None,
    ocr: bool = False,
    rank: int | None = None,
    world: int | None = None,
    steal: bool = True,
    progress: bool = False,
) -> list[VideoResult]:
    """Index this worker's share of ``videos`` (see the module docstring); returns what it did with each.

    Args:
        videos: every video of the job (the same list, in the same order, on every worker).
        encoder: an :class:`~clamr_frames.encoders.base.Encoder`.
        subtitles: one entry per video (path / None), or None.
        settings: :class:`~clamr_frames.index.IndexSettings` (sampling, compression, ...).
        store: :class:`~clamr_frames.index.IndexStore` shared by all workers.
        ocr: add OCR context (the 'ocr' extra).
        rank / world: this worker and the number of workers (default: from the launcher's environment).
        steal: after its own shard, take unclaimed videos of other shards.
        progress: tqdm bars while encoding.

    A video that fails (unreadable file, ...) is reported as ``"failed"`` and the worker goes on.
    """
    from filelock import FileLock, Timeout

    from clamr_frames.index.builder import IndexSettings, build_index
    from clamr_frames.index.store import IndexStore

    settings = settings or IndexSettings()
    store = store or IndexStore()
    if rank is None or world is None:
        rank, world = launcher_rank_world()
    subs = list(subtitles) if subtitles is not None else [None] * len(videos)
    if len(subs) != len(videos):
        raise InputError(f"{len(subs)} subtitle entries for {len(videos)} videos")
    counting = _Counting(encoder)
    results: list[VideoResult] = []
    for i in visit_order(len(videos), rank, world, steal):
        video, sub = str(videos[i]), subs[i]
        t0 = time.perf_counter()
        try:
            path = claim_path(store.root, video, encoder, settings, sub)
        except OSError as e:
            results.append(VideoResult(video, "failed", rank, error=f"{video}: {e.strerror or e}"))
            continue
        store.make_directory(path.parent)
        claim = FileLock(str(path), timeout=0)
        try:
            claim.acquire()
        except Timeout:
            results.append(VideoResult(video, "claimed", rank))
            continue
        try:
            before = counting.count
            ocr_fn, ocr_id = (None, None)
            if ocr:
                from clamr_frames.context.ocr import make_ocr_pass

                ocr_fn, ocr_id = make_ocr_pass()
            idx = build_index(video, counting, subtitles=sub, ocr=ocr_fn, ocr_id=ocr_id, settings=settings,
                              store=store, progress=progress)
            n = counting.count - before
            results.append(VideoResult(video, "built" if n else "cached", rank, n, idx.num_candidates,
                                       time.perf_counter() - t0, index_path=str(idx.path)))
            del idx
        except ClamrFramesError as e:
            results.append(VideoResult(video, "failed", rank, counting.count - before, 0,
                                       time.perf_counter() - t0, error=str(e)))
        finally:
            claim.release()
    return results


def _worker(rank: int, world: int, job: dict[str, Any], queue: Any) -> None:
    """Entry point of one spawned process (see :func:`index_parallel`)."""
    try:
        import torch

        torch.set_num_threads(job["threads"])
        from clamr_frames.encoders.registry import load_encoder
        from clamr_frames.index.builder import IndexSettings
        from clamr_frames.index.store import IndexStore

        encoder = load_encoder(job["scorer"], device=job["device"], **job["encoder_kwargs"])
        res = index_videos(
            job["videos"], encoder, subtitles=job["subtitles"], settings=IndexSettings(**job["settings"]),
            store=IndexStore(Path(job["cache_dir"])), ocr=job["ocr"], rank=rank, world=world,
            steal=job["steal"], progress=False,
        )
        queue.put((rank, [asdict(r) for r in res], None))
    except BaseException as e:  # reported to the parent, which raises
        queue.put((rank, [], f"{type(e).__name__}: {e}"))


def index_parallel(
    videos: Sequence[str | Path],
    *,
    processes: int,
    scorer: str = "default",
    encoder_kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    subtitles: Sequence[Any] | None = None,
    settings: Any = None,
    cache_dir: str | Path | None = None,
    ocr: bool = False,
    steal: bool = True,
    threads: int | None = None,
) -> list[VideoResult]:
    """Index ``videos`` with ``processes`` local worker processes (spawned), each loading its own encoder.

    Args:
        scorer / encoder_kwargs / device: what :func:`clamr_frames.encoders.registry.load_encoder` takes.
        threads: torch threads per worker (default: the CPU cores divided among the workers).
        others: as :func:`index_videos`.

    Returns:
        Every worker's results, concatenated.

    Raises:
        ClamrFramesError: a worker failed to start (e.g. its encoder could not be loaded).
    """
    import multiprocessing as mp

    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.index.store import IndexStore, default_cache_dir

    if processes < 1:
        raise InputError(f"processes must be >= 1, got {processes}")
    settings = settings or IndexSettings()
    root = Path(cache_dir if cache_dir is not None else default_cache_dir())
    IndexStore(root).make_directory(root)  # an unusable cache directory fails here, not in every spawned worker
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    job = {
        "videos": [str(v) for v in videos],
        "subtitles": [None if s is None else str(s) for s in subtitles] if subtitles is not None else None,
        "scorer": scorer,
        "encoder_kwargs": encoder_kwargs or {},
        "device": device,
        "settings": asdict(settings),
        "cache_dir": str(root),
        "ocr": ocr,
        "steal": steal,
        "threads": threads or max(1, cores // processes),
    }
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_worker, args=(r, processes, job, queue), daemon=False) for r in range(processes)]
    for p in procs:
        p.start()
    import queue as queue_mod

    out: list[VideoResult] = []
    errors = []
    pending = set(range(processes))
    while pending:
        try:
            rank, res, err = queue.get(timeout=1.0)
        except queue_mod.Empty:
            for r in list(pending):  # a worker that died without reporting (killed, crashed)
                if procs[r].exitcode not in (None, 0):
                    errors.append(f"worker {r} exited with code {procs[r].exitcode}")
                    pending.discard(r)
            continue
        pending.discard(rank)
        out += [VideoResult(**r) for r in res]
        if err:
            errors.append(f"worker {rank}: {err}")
    for p in procs:
        p.join()
    if errors:
        raise ClamrFramesError("; ".join(errors))
    return out


__all__ = ["VideoResult", "claim_path", "index_parallel", "index_videos", "launcher_rank_world", "visit_order"]
