"""CLaMR loading: backbone, processor, head and adapter from the Hub or a local folder, and saving back.

What can be loaded: the released LoRA adapter (``meetdavidwan/clamr``, transformers-4.51 key names, remapped and
checked key by key in :mod:`clamr_frames.encoders.clamr.adapter`) on its Qwen2.5-VL backbone, an adapter the
training core wrote (``clamr_train.json`` names its backbone and settings), a self-contained directory written
by :meth:`ClamrEncoder.save_pretrained <clamr_frames.encoders.clamr.ClamrEncoder.save_pretrained>`, or the bare
backbone with the reference's random head. 4-bit NF4 (bitsandbytes) on CUDA only; LoRA is merged into the
weights unless the backbone is 4-bit. Hub revisions are resolved and recorded in ``source``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamr_frames.encoders.base import TRAIN_META
from clamr_frames.encoders.clamr.head import REFERENCE_DTYPE
from clamr_frames.encoders.clamr.modeling import make_colqwen, set_head
from clamr_frames.encoders.hub import hub_record, resolve_checkpoint
from clamr_frames.encoders.runtime import resolve_device, resolve_dtype, resolve_offline
from clamr_frames.errors import InputError, ModelLoadError, first_line

if TYPE_CHECKING:  # pragma: no cover
    import torch

logger = logging.getLogger("clamr_frames.encoders.clamr")

DEFAULT_ADAPTER = "meetdavidwan/clamr"
DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"
#: Files written by :meth:`ClamrEncoder.save_pretrained` (and read back by ``from_pretrained``).
CLAMR_CONFIG = "clamr_config.json"
CLAMR_HEAD = "clamr_head.safetensors"
FORMAT = "clamr-frames/clamr-encoder"
FORMAT_VERSION = 1


@dataclass
class Loaded:
    """What :func:`load_clamr` built: the ``ColQwen25`` module (on ``device`` unless 4-bit), the processor,
    the settings saved with the checkpoint, and the ``source`` record (paths, revisions, adapter facts)."""

    model: Any
    processor: Any
    device: "torch.device"
    settings: dict[str, Any] = field(default_factory=dict)
    source: dict[str, Any] = field(default_factory=dict)


def build_scorer_module(vlm: Any, head_state: dict[str, "torch.Tensor"] | None = None, dim: int = 128,
                        head_init_dtype: str = REFERENCE_DTYPE, *, stacklevel: int = 2) -> Any:
    """``ColQwen25`` around ``vlm`` with its head set from ``head_state`` or drawn as the reference's (a warning
    says so, at ``stacklevel`` as :func:`warnings.warn` counts from here)."""
    model = make_colqwen(vlm, dim)
    set_head(model, head_state, vlm, head_init_dtype, stacklevel=stacklevel + 1)
    return model


def load_clamr(
    adapter_or_model: str | Path | None,
    base_model: str | Path | None,
    *,
    device: "str | torch.device | None",
    dtype: "torch.dtype | str | None",
    load_in_4bit: bool,
    trust_remote_code: bool,
    local_files_only: bool | None,
    merge_adapter: bool | None,
    head_init_dtype: str,
    revision: str | None,
    base_revision: str | None,
    progress: bool,
) -> Loaded:
    """The work of :meth:`ClamrEncoder.from_pretrained <clamr_frames.encoders.clamr.ClamrEncoder.from_pretrained>`
    (its docstring describes the arguments)."""
    dev = resolve_device(device)
    tdtype = resolve_dtype(dtype, dev, cuda_default="bfloat16")
    if load_in_4bit and dev.type != "cuda":
        raise ModelLoadError(
            f"load_in_4bit needs a CUDA device (bitsandbytes nf4), but the device is {dev}; "
            "drop load_in_4bit to run in float32 on the CPU"
        )
    offline = resolve_offline(local_files_only)
    source: dict[str, Any] = {"load_in_4bit": bool(load_in_4bit)}
    found = _find_parts(adapter_or_model, base_model, offline=offline, revision=revision, progress=progress,
                        source=source)
    backbone_dir = found.backbone_dir
    if backbone_dir is not None and base_revision is not None:
        raise InputError(f"{adapter_or_model}: a saved CLaMR model carries its backbone; base_revision does "
                         "not apply (revision= picks the model's own revision)")
    if backbone_dir is None:
        backbone_dir = resolve_checkpoint(found.backbone, offline=offline, example=_example("base"),
                                          weights=("*.safetensors",), revision=base_revision, progress=progress)
        source.update({f"base_{k}": v for k, v in hub_record(found.backbone, backbone_dir, base_revision).items()})
    head_state, adapter_dir, backbone = found.head_state, found.adapter_dir, found.backbone
    saved_settings = found.settings
    vlm = _load_backbone(backbone_dir, tdtype, dev, load_in_4bit, trust_remote_code)
    processor = _load_processor(backbone_dir, trust_remote_code)
    dim = int(head_state["weight"].shape[0]) if head_state is not None else 128
    model = build_scorer_module(vlm, head_state, dim, head_init_dtype, stacklevel=4)  # the from_pretrained caller
    model.custom_text_proj.to(device=dev, dtype=tdtype)
    if not load_in_4bit:
        model.to(dev)
    if adapter_dir is not None:
        report = _apply_adapter(model, adapter_dir, load_in_4bit, merge_adapter, source)
        logger.info("loaded LoRA adapter %s (%d tensors, r=%d, merged=%s) on %s",
                    adapter_or_model, report.n_tensors, report.r, report.merged, backbone)
    return Loaded(model, processor, dev, saved_settings, source)


@dataclass
class _Parts:
    """Where the pieces of a CLaMR checkpoint are (see :func:`_find_parts`)."""

    backbone: Any
    backbone_dir: Path | None = None  # set when the backbone is local already (a saved model)
    adapter_dir: Path | None = None
    head_state: dict[str, Any] | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def _find_parts(adapter_or_model: str | Path | None, base_model: str | Path | None, *, offline: bool,
                revision: str | None, progress: bool, source: dict[str, Any]) -> _Parts:
    """Resolve ``adapter_or_model`` (Hub or local) and tell a saved model from an adapter; record it in
    ``source``."""
    if adapter_or_model is None:
        backbone = base_model if base_model is not None else DEFAULT_BASE_MODEL
        source["base_model"] = str(backbone)
        return _Parts(backbone)
    src = resolve_checkpoint(adapter_or_model, offline=offline, example=_example("adapter"),
                             weights=("*.safetensors",), revision=revision, progress=progress)
    source.update(hub_record(adapter_or_model, src, revision))
    if (src / CLAMR_CONFIG).is_file():
        meta = _read_clamr_config(src)
        source.update(path=str(adapter_or_model), base_model=str(src))
        return _Parts(src, backbone_dir=src, head_state=_read_head(src), settings=meta.get("settings", {}))
    if (src / "adapter_config.json").is_file():
        trained = _read_json_object(src / TRAIN_META) if (src / TRAIN_META).is_file() else {}
        backbone = base_model if base_model is not None else _adapter_backbone(src, trained)
        head_state = _read_head(src) if (src / CLAMR_HEAD).is_file() else None
        source.update(adapter=str(adapter_or_model), base_model=str(backbone))
        return _Parts(backbone, adapter_dir=src, head_state=head_state, settings=dict(trained.get("settings") or {}))
    raise ModelLoadError(
        f"{adapter_or_model}: neither a LoRA adapter (adapter_config.json) nor a saved CLaMR model "
        f"({CLAMR_CONFIG}); for a bare Qwen2.5-VL backbone pass adapter_or_model=None, "
        "base_model=that directory"
    )


def _apply_adapter(model: Any, adapter_dir: Path, load_in_4bit: bool, merge_adapter: bool | None,
                   source: dict[str, Any]) -> Any:
    from clamr_frames.encoders.clamr.adapter import load_lora_adapter

    merge = (not load_in_4bit) if merge_adapter is None else bool(merge_adapter)
    if merge and load_in_4bit:
        raise ModelLoadError("merge_adapter=True cannot merge LoRA into a 4-bit backbone")
    report = load_lora_adapter(model, adapter_dir, merge=merge)
    source["adapter_tensors"] = report.n_tensors
    source["adapter_merged"] = report.merged
    return report


def save_clamr(model: Any, processor: Any, path: str | Path, meta: dict[str, Any]) -> Path:
    """Write a self-contained model directory: the backbone (``config.json`` + ``model.safetensors``, LoRA
    already merged), the processor files, ``clamr_head.safetensors`` (``custom_text_proj``) and
    ``clamr_config.json`` (format, version and ``meta``)."""
    from safetensors.torch import save_file

    if any(".lora_" in n for n, _ in model.named_parameters()):
        raise InputError("save_pretrained needs merged weights: load with merge_adapter=True (not 4-bit)")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    model.vlm.save_pretrained(path, safe_serialization=True)
    processor.save_pretrained(path)
    head = model.custom_text_proj
    save_file(
        {"weight": head.weight.detach().to("cpu").contiguous(),
         "bias": head.bias.detach().to("cpu").contiguous()},
        str(path / CLAMR_HEAD),
    )
    record = {"format": FORMAT, "format_version": FORMAT_VERSION, **meta}
    (path / CLAMR_CONFIG).write_text(json.dumps(record, indent=2), encoding="utf-8")
    return path


# ---------------------------------------------------------------------- readers
def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{path}: unreadable ({e})") from e
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return obj


def _adapter_backbone(src: Path, trained: dict[str, Any]) -> str:
    """The backbone an adapter names: the training core's record, else PEFT's ``base_model_name_or_path``."""
    named = trained.get("base_model") or _read_json_object(src / "adapter_config.json").get("base_model_name_or_path")
    return str(named) if named else DEFAULT_BASE_MODEL


def _example(role: str) -> str:
    """The call that takes a local copy of the adapter (``role="adapter"``) or of the backbone (``"base"``)."""
    if role == "adapter":
        return "ClamrEncoder.from_pretrained('DIR', base_model='/path/to/Qwen2.5-VL-3B-Instruct')"
    return "ClamrEncoder.from_pretrained('/path/to/clamr-adapter', base_model='DIR')"


def _load_backbone(directory: Path, dtype, dev, load_in_4bit: bool, trust_remote_code: bool):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    kwargs: dict[str, Any] = dict(
        dtype=dtype, local_files_only=True, trust_remote_code=trust_remote_code, attn_implementation="sdpa"
    )
    if dev.type == "cuda":
        kwargs["device_map"] = {"": dev.index if dev.index is not None else torch.cuda.current_device()}
    if load_in_4bit:
        kwargs["quantization_config"] = _nf4_config()
    try:
        vlm = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(directory), **kwargs)
    except (OSError, ValueError, RuntimeError) as e:
        reason = first_line(e).rstrip(".")
        raise ModelLoadError(f"cannot load the Qwen2.5-VL backbone {str(directory)!r}: {reason}.") from e
    return vlm.eval()


def _nf4_config() -> Any:
    """4-bit NF4 with double quantisation and bfloat16 compute (the reference's ``--quantize_4bit``)."""
    import torch

    try:
        import bitsandbytes  # noqa: F401
        from transformers import BitsAndBytesConfig
    except ImportError as e:
        raise ModelLoadError("load_in_4bit needs bitsandbytes (pip install bitsandbytes)") from e
    return BitsAndBytesConfig(
        load_in_4bit=True,
        bnb_4bit_quant_type="nf4",
        bnb_4bit_use_double_quant=True,
        bnb_4bit_compute_dtype=torch.bfloat16,
        bnb_4bit_quant_storage=torch.bfloat16,
    )


def _load_processor(directory: Path, trust_remote_code: bool):
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(str(directory), local_files_only=True,
                                                  trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot load the processor of {str(directory)!r}: {first_line(e)}") from e
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise ModelLoadError(f"{directory}: processor has no image processor / tokenizer (not Qwen2.5-VL?)")
    return processor


def _read_clamr_config(src: Path) -> dict[str, Any]:
    try:
        meta = json.loads((src / CLAMR_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{src / CLAMR_CONFIG}: unreadable ({e})") from e
    if meta.get("format") != FORMAT or int(meta.get("format_version", -1)) > FORMAT_VERSION:
        raise ModelLoadError(
            f"{src / CLAMR_CONFIG}: format {meta.get('format')!r} v{meta.get('format_version')} is not "
            f"{FORMAT} <= v{FORMAT_VERSION}"
        )
    return meta


def _read_head(src: Path) -> dict[str, "torch.Tensor"]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = src / CLAMR_HEAD
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as e:
        raise ModelLoadError(f"{path}: unreadable head weights ({e})") from e
    if set(state) != {"weight", "bias"} or state["weight"].ndim != 2 or state["bias"].shape != state["weight"].shape[:1]:
        raise ModelLoadError(f"{path}: expected tensors 'weight' [dim, hidden] and 'bias' [dim], got {sorted(state)}")
    return state


__all__ = ["CLAMR_CONFIG", "CLAMR_HEAD", "DEFAULT_ADAPTER", "DEFAULT_BASE_MODEL", "FORMAT", "FORMAT_VERSION",
           "Loaded", "TRAIN_META", "build_scorer_module", "load_clamr", "save_clamr"]
