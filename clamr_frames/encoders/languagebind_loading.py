"""LanguageBind checkpoints: their ``config.json``, the conversion of their state dicts (peft LoRA merged) to
transformers' CLIP classes, the audio tower with its non-square patch grid, and loading a checkpoint folder.

What the checkpoints hold is described in :mod:`clamr_frames.encoders.languagebind` ("Model", "State-dict
layout"); the encoder there uses what this module loads.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamr_frames.encoders.clip_common import (
    check_state_dict,
    load_state_dict,
    read_json,
    skip_weight_init,
)
from clamr_frames.encoders.languagebind_audio import AudioFeatureSettings
from clamr_frames.errors import InputError, ModelLoadError, first_line

if TYPE_CHECKING:  # pragma: no cover
    import torch

_TEXT_KEYS = (
    "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
    "max_position_embeddings", "hidden_act", "layer_norm_eps", "attention_dropout", "initializer_range",
    "initializer_factor", "bos_token_id", "eos_token_id", "pad_token_id", "projection_dim",
)  # fmt: skip
_VISION_KEYS = (
    "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads", "num_channels", "image_size",
    "patch_size", "hidden_act", "layer_norm_eps", "attention_dropout", "initializer_range", "initializer_factor",
    "projection_dim",
)  # fmt: skip
_LORA_KEY = re.compile(r"^(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$")


# ---------------------------------------------------------------------------------------------- checkpoints
@dataclass(frozen=True)
class LanguageBindConfig:
    """What this module needs from a LanguageBind ``config.json``.

    Attributes:
        model_type: e.g. ``LanguageBindImage``, ``LanguageBindAudio``.
        text / vision: the text / vision sub-configs (``*_config_dict`` entries override, as LanguageBind does).
        projection_dim: shared embedding size (768).
        logit_scale_init_value: CLIP's temperature init (loaded weights override it).
    """

    model_type: str
    text: dict[str, Any] = field(repr=False)
    vision: dict[str, Any] = field(repr=False)
    projection_dim: int = 512
    logit_scale_init_value: float = 2.6592

    @property
    def lora_r(self) -> int:
        return int(self.vision.get("lora_r", 0) or 0)

    @property
    def lora_alpha(self) -> float:
        return float(self.vision.get("lora_alpha", 16) or 16)

    @property
    def is_audio(self) -> bool:
        return bool(self.vision.get("num_mel_bins")) and bool(self.vision.get("target_length"))

    def audio_settings(self) -> AudioFeatureSettings:
        v = self.vision
        return AudioFeatureSettings(
            sample_rate=int(v.get("audio_sample_rate", 16000)),
            num_mel_bins=int(v["num_mel_bins"]),
            target_length=int(v["target_length"]),
            mean=float(v.get("audio_mean", -4.2677393)),
            std=float(v.get("audio_std", 4.5689974)),
        )

    def clip_config(self) -> Any:
        """A ``transformers.CLIPConfig`` with the architecture fields of both towers."""
        from transformers import CLIPConfig

        text = {k: self.text[k] for k in _TEXT_KEYS if k in self.text}
        vision = {k: self.vision[k] for k in _VISION_KEYS if k in self.vision}
        return CLIPConfig(
            text_config=text,
            vision_config=vision,
            projection_dim=self.projection_dim,
            logit_scale_init_value=self.logit_scale_init_value,
        )


def read_languagebind_config(directory: str | Path) -> LanguageBindConfig:
    """Parse ``directory/config.json`` of a LanguageBind (or plain CLIP) checkpoint.

    Raises:
        ModelLoadError: missing / unreadable file, no text or vision config, or a video checkpoint with
            temporal attention (not a per-frame encoder).
    """
    path = Path(directory) / "config.json"
    cfg = read_json(path)
    text = {**(cfg.get("text_config") or {}), **(cfg.get("text_config_dict") or {})}
    vision = {**(cfg.get("vision_config") or {}), **(cfg.get("vision_config_dict") or {})}
    if not text or not vision:
        raise ModelLoadError(f"{path}: no text_config / vision_config: not a LanguageBind (CLIP-style) checkpoint")
    if vision.get("add_time_attn"):
        raise ModelLoadError(
            f"{path}: a LanguageBind video checkpoint (temporal attention over {vision.get('num_frames')} frames); "
            "frames are scored one at a time: use LanguageBind/LanguageBind_Image"
        )
    return LanguageBindConfig(
        model_type=str(cfg.get("model_type", "")),
        text=text,
        vision=vision,
        projection_dim=int(cfg.get("projection_dim", 512)),
        logit_scale_init_value=float(cfg.get("logit_scale_init_value", 2.6592)),
    )


def convert_state_dict(
    state: dict[str, "torch.Tensor"],
    *,
    lora_alpha: float = 16.0,
    lora_r: int | None = None,
    where: str = "checkpoint",
) -> dict[str, "torch.Tensor"]:
    """LanguageBind keys → ``transformers`` CLIP keys, with any peft LoRA merged into its base weight.

    Drops ``*.position_ids`` buffers, strips peft's ``base_model.model.`` wrapper and ``base_layer.``, and
    replaces ``W`` by ``W + (lora_alpha / r) * B @ A`` (computed in float32) for every ``lora_A`` / ``lora_B``
    pair.

    Raises:
        ModelLoadError: an unpaired or mis-shaped LoRA tensor, several adapters on one module, another adapter
            kind (DoRA, embedding LoRA), or ``r`` disagreeing with ``lora_r`` from the config.

    Example:
        >>> import torch
        >>> q = "vision_model.encoder.base_model.model.layers.0.self_attn.q_proj"     # peft-wrapped, rank 1
        >>> sd = {q + ".weight": torch.zeros(2, 2),
        ...       q + ".lora_A.default.weight": torch.ones(1, 2),
        ...       q + ".lora_B.default.weight": torch.ones(2, 1),
        ...       "vision_model.embeddings.position_ids": torch.arange(3)}
        >>> convert_state_dict(sd, lora_alpha=2.0)
        {'vision_model.encoder.layers.0.self_attn.q_proj.weight': tensor([[2., 2.],
                [2., 2.]])}
    """
    import torch

    out: dict[str, Any] = {}
    lora: dict[str, dict[tuple[str, str], Any]] = {}
    for key, tensor in state.items():
        k = key.replace(".base_model.model.", ".")
        if k.startswith("base_model.model."):
            k = k[len("base_model.model.") :]
        if k.endswith("position_ids"):
            continue
        m = _LORA_KEY.match(k)
        if m:
            lora.setdefault(m["module"], {})[(m["ab"], m["adapter"] or "")] = tensor
            continue
        if "lora_" in k:
            raise ModelLoadError(f"{where}: unsupported adapter tensor {key!r} (only plain LoRA on linear layers)")
        out[k.replace(".base_layer.", ".")] = tensor
    for module, parts in sorted(lora.items()):
        adapters = {name for _, name in parts}
        if len(adapters) != 1 or {ab for ab, _ in parts} != {"A", "B"}:
            raise ModelLoadError(f"{where}: LoRA of {module} needs exactly one lora_A/lora_B pair, got {sorted(parts)}")
        (name,) = adapters
        a, b = parts[("A", name)].float(), parts[("B", name)].float()
        base_key = module + ".weight"
        base = out.get(base_key)
        r = int(a.shape[0])
        fits = base is not None and a.dim() == 2 and b.dim() == 2 and b.shape[1] == r
        if not fits or tuple(base.shape) != (b.shape[0], a.shape[1]):
            shape = None if base is None else tuple(base.shape)
            raise ModelLoadError(
                f"{where}: LoRA of {module} does not fit its base weight (A {tuple(a.shape)}, B {tuple(b.shape)}, "
                f"weight {shape})"
            )
        if lora_r and r != lora_r:
            raise ModelLoadError(f"{where}: LoRA rank {r} of {module} differs from lora_r={lora_r} in the config")
        with torch.no_grad():
            out[base_key] = (base.float() + (float(lora_alpha) / r) * (b @ a)).to(base.dtype)
    return out


def _audio_tower_classes() -> tuple[Any, Any]:
    """Build the module classes lazily, so importing this file does not import torch."""
    import torch
    from torch import nn

    class AudioPatchEmbeddings(nn.Module):
        """CLIP's vision embeddings (class token + patches + learned positions) over a ``rows × cols`` grid.

        Parameter names match ``CLIPVisionEmbeddings`` so LanguageBind's weights load as they are; patches
        are flattened row-major (mel rows, time columns), as LanguageBind resized its position table.
        """

        def __init__(self, hidden: int, patch: int, channels: int, grid: tuple[int, int]):
            super().__init__()
            self.patch_size = patch
            self.grid = grid
            self.class_embedding = nn.Parameter(torch.zeros(hidden))
            self.patch_embedding = nn.Conv2d(channels, hidden, kernel_size=patch, stride=patch, bias=False)
            n = grid[0] * grid[1] + 1
            self.position_embedding = nn.Embedding(n, hidden)
            self.register_buffer("position_ids", torch.arange(n).unsqueeze(0), persistent=False)

        def forward(self, pixel_values: "torch.Tensor", interpolate_pos_encoding: bool | None = False) -> Any:
            b, _, h, w = pixel_values.shape
            if (h // self.patch_size, w // self.patch_size) != self.grid:
                raise InputError(
                    f"audio input {h}x{w} does not give the {self.grid[0]}x{self.grid[1]} patch grid of the checkpoint"
                )
            weight = self.patch_embedding.weight
            patches = self.patch_embedding(pixel_values.to(weight.dtype)).flatten(2).transpose(1, 2)
            cls = self.class_embedding.to(patches.dtype).expand(b, 1, -1)
            return torch.cat([cls, patches], dim=1) + self.position_embedding(self.position_ids)

    class AudioTower(nn.Module):
        """LanguageBind's audio encoder: ``vision_model`` (a CLIP ViT over fbank crops) + ``visual_projection``."""

        def __init__(self, vision_config: Any, projection_dim: int, grid: tuple[int, int]):
            from transformers import CLIPVisionModel

            super().__init__()
            cfg = vision_config.__class__.from_dict(vision_config.to_dict())
            cfg.image_size = cfg.patch_size  # the stock square embeddings are replaced just below
            self.vision_model = CLIPVisionModel(cfg)
            self.vision_model.embeddings = AudioPatchEmbeddings(cfg.hidden_size, cfg.patch_size, cfg.num_channels, grid)
            self.visual_projection = nn.Linear(cfg.hidden_size, projection_dim, bias=False)

        def forward(self, inputs: "torch.Tensor") -> "torch.Tensor":
            """``[B, 3, mel_bins, frames]`` → ``[B, projection_dim]`` (not normalised)."""
            pooled = self.vision_model(pixel_values=inputs).pooler_output
            return self.visual_projection(pooled)

    return AudioPatchEmbeddings, AudioTower


_CLASSES: tuple[Any, Any] | None = None


def make_audio_tower(cfg: LanguageBindConfig) -> Any:
    """An ``AudioTower`` (weights uninitialised) for an audio checkpoint's config."""
    global _CLASSES
    if _CLASSES is None:
        _CLASSES = _audio_tower_classes()
    settings = cfg.audio_settings()
    clip_cfg = cfg.clip_config()
    patch = int(clip_cfg.vision_config.patch_size)
    grid = (settings.num_mel_bins // patch, settings.target_length // patch)
    if min(grid) < 1:
        size = f"{settings.num_mel_bins}x{settings.target_length}"
        raise ModelLoadError(f"audio input {size} is smaller than one {patch}px patch")
    return _CLASSES[1](clip_cfg.vision_config, int(cfg.projection_dim), grid)


def _converted_weights(directory: Path, cfg: LanguageBindConfig) -> dict[str, "torch.Tensor"]:
    raw = load_state_dict(directory)
    return convert_state_dict(raw, lora_alpha=cfg.lora_alpha, lora_r=cfg.lora_r, where=str(directory))


def load_image_checkpoint(directory: str | Path) -> tuple[Any, Any, LanguageBindConfig]:
    """``(CLIPModel, CLIPTokenizer, config)`` of a LanguageBind image checkpoint directory (CPU, float32)."""
    from transformers import CLIPModel, CLIPTokenizer

    directory = Path(directory)
    cfg = read_languagebind_config(directory)
    if cfg.is_audio:
        raise ModelLoadError(f"{directory}: an audio checkpoint (num_mel_bins in its config); pass it as audio=")
    with skip_weight_init():
        model = CLIPModel(cfg.clip_config())
    check_state_dict(model, _converted_weights(directory, cfg), str(directory))
    try:
        tokenizer = CLIPTokenizer.from_pretrained(str(directory), local_files_only=True)
    except Exception as e:
        reason = f"{type(e).__name__}: {first_line(e)}"
        raise ModelLoadError(f"{directory}: cannot load the CLIP tokenizer ({reason})") from e
    return model.eval(), tokenizer, cfg


def load_audio_checkpoint(directory: str | Path) -> tuple[Any, AudioFeatureSettings, "torch.Tensor | None"]:
    """``(AudioTower, feature settings, text_projection weight or None)`` of a LanguageBind audio checkpoint.

    Only the audio tower is kept; the text tower is LanguageBind's shared one (taken from the image checkpoint).
    """
    directory = Path(directory)
    cfg = read_languagebind_config(directory)
    if not cfg.is_audio:
        raise ModelLoadError(f"{directory}: not an audio checkpoint (no num_mel_bins / target_length in vision_config)")
    settings = cfg.audio_settings()
    with skip_weight_init():
        tower = make_audio_tower(cfg)
    state = _converted_weights(directory, cfg)
    text_projection = state.get("text_projection.weight")
    tower_state = {k: v for k, v in state.items() if k.startswith("vision_model.") or k == "visual_projection.weight"}
    check_state_dict(tower, tower_state, str(directory))
    return tower.eval(), settings, text_projection
