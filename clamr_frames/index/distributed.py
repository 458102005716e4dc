"""Index a corpus of videos on a Ray cluster with Ray Data (the optional ``distributed`` extra).

One streaming pipeline over the corpus::

    jobs ──► context tasks        CPU, one task per video: probe, decode candidates, subtitle / ASR context, OCR
                                  (the builder's own stages: plan_index, part_documents); a video with a verified
                                  index is skipped here, parts already on disk are not redone
         ──► encoder actor pool   one actor per GPU (CPU actors on a cluster without GPUs), the model loaded once
                                  per actor; each part (chunk of candidates) is written to the store atomically
         ──► driver               when every part of a video is on disk, a finalize task merges and verifies them
                                  (the builder's finish_index): the store's existing format, readable by
                                  FrameSelector, lmms-eval runs and a later `clamr-frames index`

Nothing else coordinates the workers: the index store (a directory every node mounts) holds the results, and
its per-index lock serialises finalizing with any other builder of the same index. Re-running the same corpus
resumes: verified indexes are skipped and a partly built one continues from its finished parts.

Failures: a task or actor that dies (killed, out of memory, a crashing decoder) is retried by Ray ``retries``
times (a dead actor is restarted); an exception inside a stage (a transient I/O error, say) is retried in place
as often. A video that keeps failing — or that is bad input (a corrupt file, unreadable subtitles) — is reported
with its reason in the :class:`~clamr_frames.index.corpus.CorpusReport`, and the rest of the corpus goes on.

Ray is imported only when a pipeline runs: the base install does not have it.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import pickle
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from clamr_frames.errors import ClamrFramesError, InputError
from clamr_frames.index.corpus import CorpusReport, VideoJob, is_uri, jobs_from_paths, local_copy, unique_jobs

#: Test hook: a path; the first encoder actor to reach the second part of a video creates it and exits at once
#: (``os._exit``), as a killed worker would. Read on the driver and handed to the actors.
KILL_ONCE_ENV = "CLAMR_FRAMES_TEST_KILL_ENCODER_ONCE"

_INSTALL_HINT = "install the 'distributed' extra: pip install 'clamr-frames[distributed]'"


class RayUnavailableError(ClamrFramesError, ImportError):
    """Ray (``ray[data]``) is not installed."""


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as e:
        raise RayUnavailableError(f"indexing on Ray needs ray[data] ({e}); {_INSTALL_HINT}") from None
    return ray


@dataclass(frozen=True)
class EncoderIdentity:
    """What the CPU stages need to know of the encoder (learnt by loading it once, on a worker): the parts of the
    index key, and which inputs it reads."""

    encoder_id: str
    config: dict[str, Any]
    uses_image: bool
    uses_audio: bool = False
    source: dict[str, Any] = field(default_factory=dict)  # where the weights came from, for the manifest
    uses_ocr: bool = False  # the OCR default follows it (clamr_frames.index.plan.resolve_ocr)

    @classmethod
    def of(cls, encoder: Any) -> "EncoderIdentity":
        from clamr_frames.index.builder import _scalars

        return cls(encoder.encoder_id, json.loads(json.dumps(encoder.config, default=str)), bool(encoder.uses_image),
                   bool(getattr(encoder, "uses_audio", False)), _scalars(getattr(encoder, "source", None)),
                   bool(getattr(encoder, "uses_ocr", False)))


def _load_encoder(scorer: str, encoder_kwargs: dict[str, Any], device: str | None) -> Any:
    """The encoder, loaded in a worker: no progress bars (they would interleave in the driver's output)."""
    from transformers.utils import logging as hf_logging

    from clamr_frames.encoders.registry import load_encoder

    hf_logging.disable_progress_bar()
    return load_encoder(scorer, device=device, **{"progress": False, **encoder_kwargs})


def _load_identity(scorer: str, encoder_kwargs: dict[str, Any], device: str | None) -> EncoderIdentity:
    return EncoderIdentity.of(_load_encoder(scorer, encoder_kwargs, device))


# -- stage 1: context (Ray tasks) ------------------------------------------------------------------------
def _row(job: int, kind: str, **payload: Any) -> dict[str, Any]:
    # One fixed schema for every row (the stages pass different things): the payload travels pickled, as Ray
    # itself moves objects between its workers.
    return {"job": job, "kind": kind, "payload": pickle.dumps(payload, protocol=pickle.HIGHEST_PROTOCOL)}


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    return pickle.loads(row["payload"])


def _reason(e: BaseException) -> str:
    return str(e) if isinstance(e, ClamrFramesError) else f"{type(e).__name__}: {e}"


def context_stage(
    row: dict[str, Any],
    *,
    identity: EncoderIdentity,
    store_root: str,
    settings: dict[str, Any],
    ocr: bool,
    filesystem: Any,
    retries: int,
    asr: str = "subtitles",
    asr_settings: Any = None,
) -> Iterator[dict[str, Any]]:
    """One video → a ``skipped`` row (verified index found), or a ``plan`` row and one ``chunk`` row per part
    still to encode, or a ``failed`` row. Bad input fails at once; other exceptions are retried ``retries`` times
    (parts already handed on are not produced again). The context plan
    (:func:`clamr_frames.index.plan.plan_context`) decides the video's context; speech recognition (``asr``) runs
    here, on this task's CPU (one core unless ``asr_settings.cpu_threads`` says otherwise), through the transcript
    cache under ``<store>/asr``."""
    from clamr_frames.index.builder import IndexSettings, load_verified, part_documents, plan_index
    from clamr_frames.index.plan import plan_context
    from clamr_frames.index.store import IndexStore
    from clamr_frames.video import VideoReader

    jid = int(row["job"])
    job = VideoJob(**json.loads(row["spec"]))
    store = IndexStore(Path(store_root))
    sent: set[int] = set()
    planned = False
    for attempt in range(retries + 1):
        t0 = time.perf_counter()
        try:
            s = job.settings(IndexSettings(**settings))
            with local_copy(job.video, filesystem) as video, local_copy(job.subtitles, filesystem) as subs, \
                    VideoReader(video, backend=s.backend) as reader:
                context_plan = plan_context(video, subs, asr=asr, asr_settings=asr_settings, ocr=job.ocr(ocr),
                                            store_root=store.root, stream=False, cores=1, progress=False)
                plan = plan_index(reader, identity, subtitles=context_plan.subtitles, ocr_id=context_plan.ocr_id,
                                  settings=s, store=store, source=job.video)
                with store.lock(plan.directory):
                    index = load_verified(store, plan)
                    if index is None:
                        store.write_manifest(plan.directory, plan.manifest)
                if index is not None:
                    yield _row(jid, "skipped", index=str(index.path), candidates=index.num_candidates,
                               busy=time.perf_counter() - t0)
                    return
                on_disk = {p for p, (a, b) in enumerate(plan.ranges) if store.read_part(plan.directory, p, b - a)}
                if not planned:
                    yield _row(jid, "plan", plan=plan, settings=dataclasses.asdict(s), on_disk=sorted(on_disk),
                               busy=time.perf_counter() - t0)
                    planned = True
                t0 = time.perf_counter()
                for part, docs, ocr_text in part_documents(reader, plan, identity.uses_image, context_plan.ocr, s,
                                                           skip=on_disk | sent):
                    chunk = _row(jid, "chunk", directory=str(plan.directory), part=part, docs=docs, ocr=ocr_text,
                                 video=job.video, local=filesystem is None and not is_uri(job.video),
                                 busy=time.perf_counter() - t0)
                    del docs
                    yield chunk
                    sent.add(part)
                    t0 = time.perf_counter()
            return
        except ClamrFramesError as e:
            yield _row(jid, "failed", stage="context", reason=_reason(e))
            return
        except Exception as e:  # a transient error (I/O, ...): try the video again, then report it
            if attempt == retries:
                yield _row(jid, "failed", stage="context",
                           reason=f"{_reason(e)} (context stage, {retries + 1} attempts)")
                return


# -- stage 2: encode (Ray actors) ------------------------------------------------------------------------
class EncodeStage:
    """The encoder actor: loads the model once, then encodes and stores one part per row."""

    def __init__(
        self,
        scorer: str,
        encoder_kwargs: dict[str, Any],
        device: str | None,
        threads: int | None,
        identity: EncoderIdentity,
        store_root: str,
        filesystem: Any,
        retries: int,
        kill_once: str | None = None,
    ) -> None:
        from clamr_frames.index.store import IndexStore

        if threads:
            import torch

            torch.set_num_threads(threads)
        self.encoder = _load_encoder(scorer, encoder_kwargs, device)
        got = EncoderIdentity.of(self.encoder)
        if (got.encoder_id, got.config) != (identity.encoder_id, identity.config):
            # e.g. another copy of the weights on this node: its embeddings would not match the index key
            raise ClamrFramesError(f"the encoder on this node is {got.encoder_id} {got.config}, "
                                   f"the corpus is indexed with {identity.encoder_id} {identity.config}")
        self.store = IndexStore(Path(store_root))
        self.filesystem = filesystem
        self.retries = retries
        self.kill_once = kill_once
        self._copies = contextlib.ExitStack()
        self._copy: tuple[str, str] | None = None

    def _video_path(self, chunk: dict[str, Any]) -> str:
        """A local path of the chunk's video (encoders with an audio channel read its soundtrack); a remote
        video is copied once per actor and kept while its parts come in."""
        if chunk["local"] or not getattr(self.encoder, "uses_audio", False):
            return chunk["video"]
        if self._copy is None or self._copy[0] != chunk["video"]:
            self._copies.close()
            self._copy = (chunk["video"], self._copies.enter_context(local_copy(chunk["video"], self.filesystem)))
        return self._copy[1]

    def __call__(self, row: dict[str, Any]) -> dict[str, Any]:
        if row["kind"] != "chunk":
            return row
        from clamr_frames.index.builder import encode_part

        c = _payload(row)
        part, docs = c["part"], c["docs"]
        if self.kill_once and part >= 1 and _first_claim(self.kill_once):
            os._exit(1)  # the test hook: die in the middle of a video, like a killed worker
        t0 = time.perf_counter()
        for attempt in range(self.retries + 1):
            try:
                emb = encode_part(self.encoder, docs, self._video_path(c))
                self.store.write_part(Path(c["directory"]), part, emb, c["ocr"])
                break
            except ClamrFramesError as e:
                return _row(row["job"], "failed", stage="encode", reason=_reason(e))
            except Exception as e:  # transient (a full disk that recovers, CUDA OOM under a shared GPU, ...)
                if attempt == self.retries:
                    return _row(row["job"], "failed", stage="encode",
                                reason=f"{_reason(e)} (encoding part {part}, {self.retries + 1} attempts)")
        return _row(row["job"], "part", part=part, frames=len(docs), busy=time.perf_counter() - t0,
                    context_busy=c["busy"])


def _first_claim(path: str) -> bool:
    """True once across all processes: whoever creates ``path`` first."""
    try:
        os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        return True
    except FileExistsError:
        return False


# -- stage 3: finalize (Ray tasks) -----------------------------------------------------------------------
def finalize_stage(store_root: str, plan: Any, settings: dict[str, Any]) -> dict[str, Any]:
    """Merge a video's parts into its index and verify it (under the index's lock; a no-op if already done)."""
    from clamr_frames.index.builder import IndexSettings, finish_index, load_verified
    from clamr_frames.index.store import IndexStore

    t0 = time.perf_counter()
    store = IndexStore(Path(store_root))
    with store.lock(plan.directory):
        index = load_verified(store, plan)
        if index is None:
            index = finish_index(store, plan, IndexSettings(**settings))
    return {"index": str(index.path), "candidates": index.num_candidates, "busy": time.perf_counter() - t0}


# -- driver ------------------------------------------------------------------------------------------------
@dataclass
class _Video:
    job: VideoJob
    plan: Any = None
    settings: dict[str, Any] | None = None
    todo: set[int] = field(default_factory=set)
    done: set[int] = field(default_factory=set)
    frames: int = 0
    status: str | None = None  # "indexed" | "skipped" | "failed"
    entry: dict[str, Any] = field(default_factory=dict)
    finalizing: Any = None


class _Tracker:
    """The driver's view of the corpus: which parts of which video are on disk, finalize tasks, the report."""

    def __init__(self, ray: Any, jobs: Sequence[VideoJob], store_root: str, retries: int, progress: bool) -> None:
        from tqdm.auto import tqdm

        self.ray = ray
        self.videos = [_Video(j) for j in jobs]
        self.store_root = store_root
        self.retries = retries
        self.busy = {"context": 0.0, "encode": 0.0, "finalize": 0.0}
        self.first_part: float | None = None  # perf_counter() when the first encoded part came back
        self.finalize = ray.remote(finalize_stage).options(num_cpus=0, max_retries=retries)
        self.bar = tqdm(total=len(self.videos), desc="indexing corpus", unit="video", disable=not progress)

    def on_row(self, row: dict[str, Any]) -> None:
        """Take one row that left the pipeline (see :func:`context_stage` and :class:`EncodeStage`)."""
        v = self.videos[int(row["job"])]
        p = _payload(row)
        kind = row["kind"]
        if kind == "plan":
            self.busy["context"] += p["busy"]
            v.plan, v.settings = p["plan"], p["settings"]
            v.todo = set(range(len(v.plan.ranges))) - set(p["on_disk"])
        elif kind == "part":
            self.first_part = self.first_part or time.perf_counter()
            self.busy["context"] += p["context_busy"]
            self.busy["encode"] += p["busy"]
            if p["part"] not in v.done:  # a retried task can deliver a part twice
                v.done.add(p["part"])
                v.frames += p["frames"]
        elif kind == "skipped":
            self.busy["context"] += p.pop("busy")
            self._settle(v, "skipped", **p)
        elif kind == "failed":
            self._settle(v, "failed", reason=p["reason"], stage=p["stage"])
        if v.status is None and v.plan is not None and v.finalizing is None and v.todo <= v.done:
            v.finalizing = self.finalize.remote(self.store_root, v.plan, v.settings)
        self.collect(wait=False)

    def collect(self, wait: bool) -> None:
        """Settle the videos whose finalize task has ended (all of them with ``wait``)."""
        pending = {v.finalizing: v for v in self.videos if v.status is None and v.finalizing is not None}
        if not pending:
            return
        ready, _ = self.ray.wait(list(pending), num_returns=len(pending), timeout=None if wait else 0)
        for ref in ready:
            v = pending[ref]
            try:
                got = self.ray.get(ref)
            except Exception as e:  # RayTaskError wraps the stage's exception
                self._settle(v, "failed", reason=_reason(getattr(e, "cause", None) or e), stage="finalize")
                continue
            self.busy["finalize"] += got.pop("busy")
            self._settle(v, "indexed", **got, frames_encoded=v.frames)

    def settle_lost(self) -> None:
        """Report the videos that never came back: a block dropped after its last retry."""
        attempts = self.retries + 1
        for v in self.videos:
            if v.status is not None:
                continue
            if v.plan is None:
                why = f"its context task (decode / OCR) died on each of {attempts} attempts"
            else:
                lost = sorted(v.todo - v.done)
                why = f"part(s) {lost} of {len(v.plan.ranges)}: the encoder worker died on each of {attempts} attempts"
            self._settle(v, "failed", reason=f"{why}; see the Ray worker logs (/tmp/ray/session_latest/logs)",
                         stage="context" if v.plan is None else "encode")

    def _settle(self, v: _Video, status: str, **entry: Any) -> None:
        if v.status is None:
            v.status, v.entry = status, {"video": v.job.name, **entry}
            self.bar.update(1)
            self.bar.set_postfix(frames=sum(x.frames for x in self.videos),
                                 failed=sum(x.status == "failed" for x in self.videos))

    def report(self, t0: float, setup: dict[str, Any]) -> CorpusReport:
        """The corpus report of a run that started at ``t0`` (``perf_counter``)."""
        self.bar.close()
        end = time.perf_counter()
        report = CorpusReport(wall_s=end - t0, startup_s=(self.first_part or end) - t0, setup=setup)
        for v in self.videos:
            getattr(report, str(v.status)).append(v.entry)
        for stage, busy in self.busy.items():
            report.add_stage(stage, report.frames_encoded, busy)
        return report


@contextlib.contextmanager
def _data_context(ray: Any, **overrides: Any) -> Iterator[None]:
    """Ray Data settings for one run, and its chatter kept out of the user's output."""
    logger = logging.getLogger("ray.data")
    level = logger.level
    with warnings.catch_warnings():
        # deprecations inside Ray Data (making and copying its context), and of the retry knobs this module passes
        # as extra remote args (deprecated in Ray 2.60; pyproject keeps ray below 2.64, which drops them)
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"ray\.")
        warnings.filterwarnings("ignore", message=".*ray_remote_args.* is deprecated", category=DeprecationWarning)
        ctx = ray.data.DataContext.get_current()
        saved = {k: getattr(ctx, k) for k in overrides}
        # Ray Data logs every block it drops with a traceback; the corpus report says which video failed and why.
        logger.setLevel(logging.CRITICAL)
        for k, v in overrides.items():
            setattr(ctx, k, v)
        try:
            yield
        finally:
            for k, v in saved.items():
                setattr(ctx, k, v)
            logger.setLevel(level)


def connect(address: str | None = None, **init_kwargs: Any) -> bool:
    """Connect to the Ray cluster at ``address``, or start a local one when None; reuse a running session.

    Returns:
        True when this call started Ray (the caller shuts it down).
    """
    ray = _import_ray()
    if ray.is_initialized():
        return False
    init_kwargs.setdefault("include_dashboard", False)
    init_kwargs.setdefault("logging_level", logging.WARNING)
    try:
        ray.init(address=address or "local", **init_kwargs)
    except ConnectionError as e:
        raise InputError(f"cannot reach the Ray cluster at {address!r}: {e}") from None
    return True


def _resources(ray: Any, device: str | None, workers: int | None, cpus_per_worker: float,
               gpus_per_worker: float) -> tuple[int, dict[str, float], int | None]:
    """(encoder actors, each actor's resources, its torch threads) for this cluster."""
    total = ray.cluster_resources()
    gpus = float(total.get("GPU", 0)) if (device is None or str(device).startswith("cuda")) else 0.0
    cpus = float(total.get("CPU", 1))
    if gpus >= gpus_per_worker > 0:
        n = workers or max(1, int(gpus // gpus_per_worker))
        return n, {"num_gpus": gpus_per_worker, "num_cpus": min(cpus_per_worker, 1.0)}, None
    n = workers or max(1, int(cpus // 2))
    # CPU only: leave at least one CPU to the context tasks, or the pipeline would starve them
    per = max(0.05, min(cpus_per_worker, (cpus - 1) / n)) if cpus > 1 else cpus / (n + 1)
    return n, {"num_cpus": per}, max(1, int(round(per)))


def _pipeline(ray: Any, videos: Sequence[_Video], *, identity: EncoderIdentity, store_root: str, settings: Any,
              ocr: bool, asr: str, asr_settings: Any, filesystem: Any, retries: int, actors: int,
              actor_res: dict[str, float], encoder: dict[str, Any]) -> Any:
    """The Ray Data dataset: one row per video → context tasks → encoder actor pool."""
    ds = ray.data.from_items(
        [{"job": i, "spec": json.dumps(v.job.to_json())} for i, v in enumerate(videos)],
        override_num_blocks=max(1, len(videos)),
    )
    # the retry knobs go as extra remote args: Ray Data has no named parameter for them (see _data_context)
    ds = ds.flat_map(
        context_stage,
        fn_kwargs={"identity": identity, "store_root": store_root, "settings": dataclasses.asdict(settings),
                   "ocr": ocr, "filesystem": filesystem, "retries": retries, "asr": asr,
                   "asr_settings": asr_settings},
        num_cpus=1, max_retries=retries,
    )
    return ds.map(
        EncodeStage,
        fn_constructor_kwargs={**encoder, "identity": identity, "store_root": store_root,
                               "filesystem": filesystem, "retries": retries,
                               "kill_once": os.environ.get(KILL_ONCE_ENV) or None},
        compute=ray.data.ActorPoolStrategy(size=actors),
        max_task_retries=retries, max_restarts=-1, **actor_res,
    )


def index_corpus(
    jobs: Sequence[VideoJob | str | Path],
    *,
    scorer: str = "default",
    encoder_kwargs: dict[str, Any] | None = None,
    device: str | None = None,
    settings: Any = None,
    ocr: bool | None = None,
    asr: str = "subtitles",
    asr_settings: Any = None,
    cache_dir: str | Path | None = None,
    address: str | None = None,
    workers: int | None = None,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 1.0,
    retries: int = 2,
    filesystem: Any = None,
    progress: bool = True,
) -> CorpusReport:
    """Index every video of ``jobs`` on Ray (see the module docstring) and report what happened.

    Args:
        jobs: :class:`~clamr_frames.index.corpus.VideoJob` s (e.g. from
            :func:`~clamr_frames.index.corpus.read_manifest`) or video paths / URIs.
        scorer / encoder_kwargs / device: the encoder, as :func:`~clamr_frames.encoders.registry.load_encoder`
            takes them (each actor loads it; the weights must be reachable from every node).
        settings: :class:`~clamr_frames.index.IndexSettings` of the corpus (a job's options override them).
        ocr: OCR context for every video (a job's ``ocr`` option overrides it); None: on where the scorer reads OCR
            text (:func:`clamr_frames.index.plan.resolve_ocr`, decided here, on the driver).
        asr / asr_settings: where the ASR context comes from (the context plan,
            :func:`clamr_frames.index.plan.plan_context`): the
            default ``subtitles`` reads the jobs' subtitle files; ``auto`` also transcribes the speech of videos
            without one, in the context tasks (Whisper on one CPU each unless ``asr_settings.cpu_threads`` says
            otherwise), cached under ``<cache_dir>/asr``.
        cache_dir: the index store; every node must see it at this path (default: the user cache directory).
        address: the Ray cluster (``"auto"``, ``"ray://head:10001"``, ...); None starts a local cluster. A Ray
            session already initialised in this process is used as it is.
        workers: encoder actors (default: one per GPU of the cluster; without GPUs, half its CPUs).
        cpus_per_worker / gpus_per_worker: resources of one encoder actor.
        retries: how often a failed task (or a dead actor's task) is tried again before the video is reported.
        filesystem: a ``pyarrow.fs.FileSystem`` or fsspec filesystem the video and subtitle paths live in.
        progress: a progress bar over the videos.

    Raises:
        RayUnavailableError: Ray is not installed.
        IndexCacheError: the store directory cannot be created.
        ModelLoadError / InputError: the encoder cannot be loaded, bad arguments.
    """
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.index.plan import resolve_ocr
    from clamr_frames.index.store import IndexStore

    ray = _import_ray()
    if retries < 0:
        raise InputError(f"retries must be >= 0, got {retries}")
    if workers is not None and workers < 1:
        raise InputError(f"workers must be >= 1, got {workers}")
    from clamr_frames.context.asr import AsrSettings, check_asr_mode

    settings = settings or IndexSettings()
    asr = check_asr_mode(asr)
    asr_settings = asr_settings or AsrSettings()
    encoder_kwargs = dict(encoder_kwargs or {})
    jobs = unique_jobs([j if isinstance(j, VideoJob) else jobs_from_paths([j])[0] for j in jobs])
    if not jobs:
        raise InputError("no videos to index")
    if filesystem is None:  # workers do not share the driver's working directory
        jobs = [dataclasses.replace(j, video=_absolute(j.video), subtitles=_absolute(j.subtitles)) for j in jobs]
    store = IndexStore(Path(cache_dir)) if cache_dir is not None else IndexStore()
    store.make_directory(store.root)  # an unusable store fails here, not in every task
    store_root = str(store.root.resolve())
    started = connect(address)
    try:
        actors, actor_res, threads = _resources(ray, device, workers, cpus_per_worker, gpus_per_worker)
        t0 = time.perf_counter()
        identity = _remote_identity(ray, scorer, encoder_kwargs, device, actor_res, retries)
        ocr = resolve_ocr(ocr, identity.uses_ocr)
        tracker = _Tracker(ray, jobs, store_root, retries, progress)
        # The dataset copies the data context when it is created. One block per row, so that a dead worker loses
        # (and Ray retries) one part, not every part batched with it; a block that fails every retry is dropped
        # instead of stopping the corpus: the tracker reports its video.
        with _data_context(ray, target_max_block_size=1, max_errored_blocks=-1, enable_progress_bars=False):
            ds = _pipeline(ray, tracker.videos, identity=identity, store_root=store_root, settings=settings,
                           ocr=ocr, asr=asr, asr_settings=asr_settings, filesystem=filesystem, retries=retries,
                           actors=actors, actor_res=actor_res,
                           encoder={"scorer": scorer, "encoder_kwargs": encoder_kwargs, "device": device,
                                    "threads": threads})
            try:
                for row in ds.iter_rows():
                    tracker.on_row(row)
            except Exception as e:  # e.g. an actor whose encoder cannot load on its node: say why, in one line
                cause = getattr(e, "cause", None)
                if isinstance(cause, ClamrFramesError):
                    raise cause from None
                raise
        tracker.collect(wait=True)
        tracker.settle_lost()
        cluster = {k: float(v) for k, v in ray.cluster_resources().items() if k in ("CPU", "GPU", "memory")}
        return tracker.report(t0, {
            "runner": "ray", "scorer": scorer, "encoder_id": identity.encoder_id, "workers": actors,
            "worker_resources": actor_res, "cluster": cluster, "settings": dataclasses.asdict(settings),
            "ocr": ocr, "asr": asr, "store": store_root, "retries": retries,
        })
    finally:
        if started:
            ray.shutdown()


def _absolute(path: str | None) -> str | None:
    return path if path is None or is_uri(path) else str(Path(path).expanduser().resolve())


def _remote_identity(ray: Any, scorer: str, encoder_kwargs: dict[str, Any], device: str | None,
                     res: dict[str, float], retries: int) -> EncoderIdentity:
    """Load the encoder once on a worker shaped like the actors, for its id and config (the index key)."""
    task = ray.remote(_load_identity).options(max_retries=retries, **res)
    try:
        return ray.get(task.remote(scorer, encoder_kwargs, device))
    except ray.exceptions.RayTaskError as e:
        cause = getattr(e, "cause", None)
        if isinstance(cause, ClamrFramesError):
            raise cause from None
        raise


__all__ = [
    "KILL_ONCE_ENV",
    "EncodeStage",
    "EncoderIdentity",
    "RayUnavailableError",
    "connect",
    "context_stage",
    "finalize_stage",
    "index_corpus",
]
