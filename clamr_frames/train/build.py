"""Everything a training run is built from: the examples, the trainable model, the optimizer and its
learning-rate schedule, and the per-video context provider."""

from __future__ import annotations

import math
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from clamr_frames.errors import InputError
from clamr_frames.train.config import TrainingConfig

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.train.collate import ContextProvider
    from clamr_frames.train.data import Example


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
    from clamr_frames.train.models import ClamrTrainable, quiet_hf

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
    """AdamW (or a bitsandbytes 8-bit AdamW on CUDA) with weight decay on matrices only."""
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


class LrSchedule:
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
    from clamr_frames.train.builders import write_synthetic_dataset

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

