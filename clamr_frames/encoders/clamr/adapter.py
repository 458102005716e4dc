"""Load a CLaMR LoRA adapter trained under transformers 4.51 into the installed (transformers 5) layout.

The released ``meetdavidwan/clamr`` adapter was saved from ``ColQwen2_5(Qwen2_5_VLForConditionalGeneration)``
under transformers 4.51, where the language model lived at ``model.*`` and the vision tower at ``visual.*``.
Transformers 5 nests both under ``model``: ``model.language_model.*`` and ``model.visual.*``. The scorer module
here (``ColQwen25``, built by :func:`~clamr_frames.encoders.clamr.modeling.make_colqwen`) has children ``model`` (``Qwen2_5_VLModel``), ``lm_head``
and ``custom_text_proj``, i.e. the reference's attribute names in the new layout, so only those two prefixes move.

Two things must be remapped, and both are checked rather than trusted:

* the weight keys (``base_model.model.model.layers.3.mlp.up_proj.lora_A.weight`` →
  ``model.language_model.layers.3.mlp.up_proj.lora_A.weight``);
* the ``target_modules`` regex. It was written against 4.51 names: ``.*(model).*(…_proj).*`` hit only the LM there,
  but under the new names it would also hit the ViT's MLP (``model.visual.blocks.0.mlp.up_proj``). So every module
  is matched by its *4.51 name*, and the resulting explicit list is what peft receives.

Adapters whose keys already use the new names (saved from this library's trainer, say) are recognised by their
keys and matched on the names as they are.

Any adapter key that finds no module, any adapted module the config does not target, and any targeted module without
weights raises :class:`~clamr_frames.errors.ModelLoadError` with the offending keys: a silently skipped LoRA
matrix would give plausible-looking but wrong scores.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from clamr_frames.errors import ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: Prefix peft puts in front of every key of a saved adapter (``PeftModel.base_model.model``).
PEFT_PREFIX = "base_model.model."
ADAPTER_CONFIG = "adapter_config.json"
ADAPTER_WEIGHTS = "adapter_model.safetensors"

_LM_NEW = "model.language_model"
_VIS_NEW = "model.visual"


def to_installed_name(name: str) -> str:
    """Translate a transformers-4.51 ColQwen2.5 module/parameter path to the installed layout.

    Idempotent: names already in the new layout are returned unchanged.

    >>> to_installed_name("model.layers.3.self_attn.q_proj.lora_A.weight")
    'model.language_model.layers.3.self_attn.q_proj.lora_A.weight'
    >>> to_installed_name("visual.blocks.0.mlp.up_proj")
    'model.visual.blocks.0.mlp.up_proj'
    >>> to_installed_name("custom_text_proj.lora_B.weight")
    'custom_text_proj.lora_B.weight'
    >>> to_installed_name("model.language_model.norm.weight")
    'model.language_model.norm.weight'
    """
    if name in (_LM_NEW, _VIS_NEW) or name.startswith((_LM_NEW + ".", _VIS_NEW + ".")):
        return name
    if name == "model":
        return _LM_NEW
    if name.startswith("model."):
        return _LM_NEW + name[len("model"):]
    if name == "visual" or name.startswith("visual."):
        return "model." + name
    return name


def to_legacy_name(name: str) -> str | None:
    """Inverse of :func:`to_installed_name`; ``None`` for modules that had no 4.51 counterpart.

    >>> to_legacy_name("model.language_model.layers.0.mlp.down_proj")
    'model.layers.0.mlp.down_proj'
    >>> to_legacy_name("model.visual.blocks.1.attn.qkv")
    'visual.blocks.1.attn.qkv'
    >>> to_legacy_name("model") is None
    True
    """
    if name == _LM_NEW:
        return "model"
    if name.startswith(_LM_NEW + "."):
        return "model" + name[len(_LM_NEW):]
    if name == _VIS_NEW or name.startswith(_VIS_NEW + "."):
        return name[len("model."):]
    if name == "model":
        return None
    return name


def remap_adapter_state_dict(state_dict: dict[str, Any]) -> dict[str, Any]:
    """Strip peft's ``base_model.model.`` prefix and move keys to the installed layout.

    >>> sorted(remap_adapter_state_dict({"base_model.model.model.layers.0.mlp.up_proj.lora_A.weight": 1,
    ...                                  "base_model.model.custom_text_proj.lora_B.weight": 2}))
    ['custom_text_proj.lora_B.weight', 'model.language_model.layers.0.mlp.up_proj.lora_A.weight']
    """
    out = {}
    for key, value in state_dict.items():
        bare = key[len(PEFT_PREFIX):] if key.startswith(PEFT_PREFIX) else key
        new = to_installed_name(bare)
        if new in out:
            raise ModelLoadError(f"adapter keys collide after remapping: {key!r} -> {new!r}")
        out[new] = value
    return out


def _adaptable(module: "torch.nn.Module") -> bool:
    from torch import nn

    # bitsandbytes' Linear4bit/Linear8bitLt subclass nn.Linear, so 4-bit backbones are covered too.
    return isinstance(module, (nn.Linear, nn.Embedding, nn.Conv1d, nn.Conv2d, nn.Conv3d))


def adapter_layout(keys: Iterable[str]) -> str:
    """``"installed"`` if the keys already use transformers-5 names, else ``"legacy"`` (4.51, the release).

    >>> adapter_layout(["base_model.model.model.layers.0.mlp.up_proj.lora_A.weight"])
    'legacy'
    >>> adapter_layout(["base_model.model.model.language_model.layers.0.mlp.up_proj.lora_A.weight"])
    'installed'
    """
    layouts = set()
    for key in keys:
        bare = key[len(PEFT_PREFIX):] if key.startswith(PEFT_PREFIX) else key
        if bare.startswith((_LM_NEW + ".", _VIS_NEW + ".")):
            layouts.add("installed")
        elif bare.startswith(("model.", "visual.")):
            layouts.add("legacy")
    if len(layouts) > 1:
        raise ModelLoadError("adapter mixes transformers-4.51 and transformers-5 module names")
    return layouts.pop() if layouts else "legacy"


def resolve_target_modules(
    model: "torch.nn.Module", target_modules: str | list[str] | None, layout: str = "legacy"
) -> list[str]:
    """Names (installed layout) of the modules an adapter config targets.

    ``target_modules`` is peft's field: a regex (full match) or a list of names / name suffixes. It is matched
    against the names the adapter was trained with: the 4.51 names for ``layout="legacy"`` (the release: its
    regex must not reach the ViT, which only the new names would let it), the module names as they are for
    ``layout="installed"``.
    """
    if target_modules is None:
        return []
    found = []
    for name, module in model.named_modules():
        if not name or not _adaptable(module):
            continue
        key = to_legacy_name(name) if layout == "legacy" else name
        if key is None:
            continue
        if isinstance(target_modules, str):
            hit = re.fullmatch(target_modules, key) is not None
        else:
            hit = any(key == t or key.endswith("." + t) for t in target_modules)
        if hit:
            found.append(name)
    return found


def _module_of(key: str) -> str | None:
    """``a.b.lora_A.weight`` → ``a.b``; None for keys that are not LoRA tensors."""
    marker = ".lora_"
    i = key.find(marker)
    return key[:i] if i > 0 else None


def _short_list(keys: list[str], limit: int = 20) -> str:
    shown = ", ".join(sorted(keys)[:limit])
    return shown + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")


@dataclass
class AdapterReport:
    """What :func:`load_lora_adapter` did (kept on the encoder for logs and the fingerprint)."""

    path: str
    n_tensors: int
    target_modules: list[str] = field(default_factory=list)
    merged: bool = False
    r: int = 0
    lora_alpha: float = 0.0


def read_adapter(adapter_dir: str | Path) -> tuple[dict[str, Any], dict[str, "torch.Tensor"]]:
    """Read ``adapter_config.json`` and ``adapter_model.safetensors`` (safetensors only, never pickle)."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    adapter_dir = Path(adapter_dir)
    cfg_path, w_path = adapter_dir / ADAPTER_CONFIG, adapter_dir / ADAPTER_WEIGHTS
    if not cfg_path.is_file():
        raise ModelLoadError(f"{adapter_dir}: no {ADAPTER_CONFIG}")
    if not w_path.is_file():
        hint = " (only .bin found: convert it to safetensors)" if (adapter_dir / "adapter_model.bin").exists() else ""
        raise ModelLoadError(f"{adapter_dir}: no {ADAPTER_WEIGHTS}{hint}")
    try:
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{cfg_path}: unreadable adapter config ({e})") from e
    try:
        weights = load_file(str(w_path))
    except (OSError, SafetensorError) as e:
        raise ModelLoadError(f"{w_path}: unreadable adapter weights ({e})") from e
    return cfg, weights


def load_lora_adapter(model: "torch.nn.Module", adapter_dir: str | Path, *, merge: bool = True) -> AdapterReport:
    """Inject the LoRA adapter in ``adapter_dir`` into ``model`` (in place) and load its weights.

    ``model`` must have the ``ColQwen25`` layout (:func:`~clamr_frames.encoders.clamr.modeling.make_colqwen`).
    With ``merge`` the LoRA deltas are folded into the base weights and the peft wrappers removed (plain modules,
    no inference overhead); without it (4-bit backbones) the wrappers stay.

    Raises:
        ModelLoadError: unreadable files, a non-LoRA adapter, unsupported peft options, or any key that does not
            match a module exactly (the message lists them).
    """
    cfg_dict, raw = read_adapter(adapter_dir)
    _check_options(cfg_dict, adapter_dir)
    layout = adapter_layout(raw)
    weights = remap_adapter_state_dict(raw)
    adapted = _check_modules(model, cfg_dict, raw, weights, layout, adapter_dir)
    _inject(model, cfg_dict, adapted, adapter_dir)
    _copy_weights(model, weights, adapter_dir)
    if merge:
        _merge_and_unload(model)
    return AdapterReport(
        path=str(adapter_dir),
        n_tensors=len(weights),
        target_modules=sorted(adapted),
        merged=merge,
        r=int(cfg_dict.get("r", 0)),
        lora_alpha=float(cfg_dict.get("lora_alpha", 0)),
    )


def _check_options(cfg_dict: dict[str, Any], adapter_dir: str | Path) -> None:
    """Refuse adapters this loader cannot apply exactly (not LoRA, DoRA, per-layer patterns, ...)."""
    if str(cfg_dict.get("peft_type", "LORA")).upper() != "LORA":
        raise ModelLoadError(f"{adapter_dir}: peft_type {cfg_dict.get('peft_type')!r} is not LORA")
    for opt in ("rank_pattern", "alpha_pattern", "layers_to_transform", "exclude_modules", "modules_to_save",
                "target_parameters", "trainable_token_indices"):
        if cfg_dict.get(opt):
            raise ModelLoadError(f"{adapter_dir}: adapter option {opt}={cfg_dict[opt]!r} is not supported here")
    if cfg_dict.get("use_dora"):
        raise ModelLoadError(f"{adapter_dir}: DoRA adapters are not supported here")


def _check_modules(model: "torch.nn.Module", cfg_dict: dict[str, Any], raw: dict[str, Any],
                   weights: dict[str, Any], layout: str, adapter_dir: str | Path) -> set[str]:
    """The modules the adapter's weights adapt, checked against the model and against ``target_modules``
    (matched on the names the adapter was trained with: ``layout``)."""
    original = {to_installed_name(k[len(PEFT_PREFIX):] if k.startswith(PEFT_PREFIX) else k): k for k in raw}

    def named(keys: list[str]) -> str:
        return _short_list([f"{original[k]} (as {k})" if original[k] != k else k for k in keys])

    module_names = {n for n, _ in model.named_modules()}
    not_lora = [k for k in weights if _module_of(k) is None]
    if not_lora:
        raise ModelLoadError(f"{adapter_dir}: {len(not_lora)} adapter key(s) are not LoRA tensors: {named(not_lora)}")
    absent = [k for k in weights if _module_of(k) not in module_names]
    if absent:
        raise ModelLoadError(
            f"{adapter_dir}: {len(absent)} adapter key(s) match no module of the installed Qwen2.5-VL layout "
            f"even after remapping transformers-4.51 names: {named(absent)}"
        )
    adapted = {_module_of(k) for k in weights}
    targeted = set(resolve_target_modules(model, cfg_dict.get("target_modules"), layout))
    untargeted = sorted(adapted - targeted)
    if untargeted:
        keys = [k for k in weights if _module_of(k) in untargeted]
        raise ModelLoadError(
            f"{adapter_dir}: adapter has weights for modules its target_modules "
            f"({cfg_dict.get('target_modules')!r}, matched on {layout} names) does not select: {named(keys)}"
        )
    missing = sorted(targeted - adapted)
    if missing:
        raise ModelLoadError(
            f"{adapter_dir}: target_modules selects modules with no weights in the adapter "
            f"(layout mismatch?): {_short_list(missing)}"
        )
    return adapted


def _inject(model: "torch.nn.Module", cfg_dict: dict[str, Any], adapted: set[str], adapter_dir: str | Path) -> None:
    """Add peft LoRA layers to exactly the ``adapted`` modules, with the adapter's r / alpha / dropout."""
    from peft import LoraConfig, inject_adapter_in_model

    known = set(LoraConfig.__dataclass_fields__)
    lora_kwargs = {k: v for k, v in cfg_dict.items() if k in known}
    lora_kwargs.update(target_modules=sorted(adapted), inference_mode=True, task_type=None)
    for k in ("base_model_name_or_path", "revision", "auto_mapping", "peft_type", "modules_to_save"):
        lora_kwargs.pop(k, None)
    try:
        lora_config = LoraConfig(**lora_kwargs)
        inject_adapter_in_model(lora_config, model, adapter_name="default")
    except (TypeError, ValueError) as e:
        raise ModelLoadError(f"{adapter_dir}: cannot build the LoRA layers ({e})") from e


def _copy_weights(model: "torch.nn.Module", weights: dict[str, Any], adapter_dir: str | Path) -> None:
    """Copy the adapter's tensors into the injected LoRA parameters, one to one."""
    import torch

    # peft stores tensors without the adapter name ("lora_A.weight"); the live parameters carry it
    # ("lora_A.default.weight"). Map by removing that one path component, so nothing is matched by guesswork.
    live = {}
    for name, _tensor in model.state_dict().items():
        if ".lora_" in name:
            live[name.replace(".default", "", 1)] = name
    unmatched = [k for k in weights if k not in live]
    unloaded = [v for k, v in live.items() if k not in weights]
    if unmatched or unloaded:
        raise ModelLoadError(
            f"{adapter_dir}: adapter tensors and injected LoRA parameters disagree; "
            f"unmatched adapter keys: {_short_list(unmatched) or 'none'}; "
            f"parameters left without weights: {_short_list(unloaded) or 'none'}"
        )
    params = dict(model.named_parameters())
    with torch.no_grad():
        for key, tensor in weights.items():
            target = params[live[key]]
            if tuple(target.shape) != tuple(tensor.shape):
                raise ModelLoadError(
                    f"{adapter_dir}: {key} has shape {tuple(tensor.shape)}, the model expects {tuple(target.shape)} "
                    "(adapter trained for another base model?)"
                )
            target.copy_(tensor.to(target.dtype))


def _merge_and_unload(model: "torch.nn.Module") -> None:
    """Fold every LoRA layer into its base layer and put the base layer back in the parent."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    tuners = [(n, m) for n, m in model.named_modules() if isinstance(m, BaseTunerLayer)]
    for name, module in tuners:
        module.merge(safe_merge=True)
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name) if parent_name else model
        setattr(parent, child, module.get_base_layer())
    if hasattr(model, "peft_config"):
        del model.peft_config
