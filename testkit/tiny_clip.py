"""Tiny random checkpoints in the real CLIP and LanguageBind layouts, for tests and benchmarks (not shipped).

Nothing here downloads anything. The weights are random, so scores are meaningless; what is real is the file
layout (``config.json`` fields, state-dict key names, tokenizer files), which is what the loaders are tested on.

Example::

    from clamr_frames.encoders.clip import ClipEncoder
    from testkit.tiny_clip import write_tiny_clip
    enc = ClipEncoder.from_pretrained(write_tiny_clip("/tmp/tiny-clip"))
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: A few BPE merges so that common words become single tokens (the rest falls back to bytes).
_MERGES = [("t", "h"), ("th", "e</w>"), ("a", "n"), ("o", "n</w>"), ("i", "s</w>")]
#: Tower sizes of the tiny models (hidden 32, 2 layers, 2 heads).
TINY = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 2}


def _bytes_to_unicode() -> dict[int, str]:
    """Byte-level BPE's reversible map of the 256 bytes to printable characters."""
    keep = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    chars = keep[:]
    extra = 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return dict(zip(keep, (chr(c) for c in chars)))


def tiny_vocab() -> tuple[dict[str, int], list[tuple[str, str]]]:
    """CLIP-style byte-level vocabulary (bytes, bytes + ``</w>``, a few merges, then BOS and EOS last, as in CLIP)."""
    vocab: dict[str, int] = {}
    chars = list(_bytes_to_unicode().values())
    for c in chars:
        vocab[c] = len(vocab)
    for c in chars:
        vocab[c + "</w>"] = len(vocab)
    for a, b in _MERGES:
        vocab[a + b] = len(vocab)
    vocab["<|startoftext|>"] = len(vocab)
    vocab["<|endoftext|>"] = len(vocab)
    return vocab, list(_MERGES)


def tiny_clip_tokenizer() -> Any:
    """A ``CLIPTokenizer`` over :func:`tiny_vocab` (519 tokens; EOS has the largest id, as in CLIP)."""
    from transformers import CLIPTokenizer

    vocab, merges = tiny_vocab()
    return CLIPTokenizer(vocab=vocab, merges=merges)


def save_tokenizer_files(directory: Path, tokenizer_class: str = "CLIPTokenizer") -> None:
    """Write the tokenizer as CLIP / LanguageBind repositories ship it: tokenizer.json, vocab.json, merges.txt,
    special_tokens_map.json and a tokenizer_config.json naming ``tokenizer_class``."""
    vocab, merges = tiny_vocab()
    tiny_clip_tokenizer().save_pretrained(str(directory))
    (directory / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False), encoding="utf-8")
    merges_text = "#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges)
    (directory / "merges.txt").write_text(merges_text, encoding="utf-8")
    eos = "<|endoftext|>"
    special = {"bos_token": "<|startoftext|>", "eos_token": eos, "pad_token": eos, "unk_token": eos}
    (directory / "special_tokens_map.json").write_text(json.dumps(special), encoding="utf-8")
    cfg_path = directory / "tokenizer_config.json"
    cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
    cfg["tokenizer_class"] = tokenizer_class
    cfg["model_max_length"] = 77
    cfg_path.write_text(json.dumps(cfg, indent=2), encoding="utf-8")


def tiny_clip_config(
    *, image_size: int = 32, patch_size: int = 8, projection_dim: int = 16, max_positions: int = 32
) -> Any:
    """A ``CLIPConfig`` with tiny towers whose text vocabulary fits :func:`tiny_vocab`."""
    from transformers import CLIPConfig

    vocab, _ = tiny_vocab()
    text = {
        **TINY,
        "vocab_size": len(vocab),
        "max_position_embeddings": max_positions,
        "bos_token_id": vocab["<|startoftext|>"],
        "eos_token_id": vocab["<|endoftext|>"],
        "pad_token_id": vocab["<|endoftext|>"],
    }
    vision = {**TINY, "image_size": image_size, "patch_size": patch_size}
    return CLIPConfig(text_config=text, vision_config=vision, projection_dim=projection_dim)


def random_clip_model(config: Any = None, seed: int = 0) -> Any:
    """A ``CLIPModel`` with seeded random weights (the global RNG is restored afterwards)."""
    import torch
    from transformers import CLIPModel

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return CLIPModel(config or tiny_clip_config()).eval()


def write_weights(directory: Path, state: dict[str, "torch.Tensor"], fmt: str = "safetensors") -> Path:
    """``model.safetensors`` or ``pytorch_model.bin`` (``torch.save``) holding ``state``."""
    import torch

    if fmt == "safetensors":
        from safetensors.torch import save_file

        path = directory / "model.safetensors"
        save_file({k: v.detach().contiguous() for k, v in state.items()}, str(path), metadata={"format": "pt"})
    elif fmt == "bin":
        path = directory / "pytorch_model.bin"
        torch.save({k: v.detach().clone() for k, v in state.items()}, str(path))
    else:
        raise ValueError(f"fmt must be 'safetensors' or 'bin', got {fmt!r}")
    return path


def write_tiny_clip(directory: str | Path, *, seed: int = 0, fmt: str = "safetensors", model: Any = None) -> Path:
    """A CLIP checkpoint directory as ``openai/clip-vit-*`` lays it out (config, weights, tokenizer,
    ``preprocessor_config.json``), with a tiny random model (or ``model``)."""
    from transformers import CLIPImageProcessor

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    model = model if model is not None else random_clip_model(seed=seed)
    model.config.save_pretrained(str(directory))
    write_weights(directory, model.state_dict(), fmt)
    save_tokenizer_files(directory)
    side = int(model.config.vision_config.image_size)
    processor = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    processor.save_pretrained(str(directory))
    return directory


# ---------------------------------------------------------------------------------------------- LanguageBind
def languagebind_config(
    kind: str = "image",
    *,
    lora_r: int = 0,
    lora_alpha: int = 16,
    num_mel_bins: int = 16,
    target_length: int = 48,
    image_size: int = 32,
    patch_size: int = 8,
    projection_dim: int = 16,
) -> dict[str, Any]:
    """``config.json`` of a LanguageBind checkpoint with the released fields (``model_type``
    ``LanguageBindImage`` / ``LanguageBindAudio``, LanguageBind's extra ``vision_config`` fields, the text
    config's ``bos_token_id`` 0 / ``eos_token_id`` 2 inherited from the laion CLIP config) at tiny sizes."""
    vocab, _ = tiny_vocab()
    audio = kind == "audio"
    text = {
        **TINY,
        "model_type": "clip_text_model",
        "add_time_attn": False,
        "vocab_size": len(vocab),
        "max_position_embeddings": 32,
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
        "projection_dim": projection_dim,
        "bos_token_id": 0,
        "eos_token_id": 2,
        "pad_token_id": 1,
    }
    vision = {
        **TINY,
        "model_type": "clip_vision_model",
        "hidden_act": "gelu",
        "layer_norm_eps": 1e-5,
        "image_size": image_size,
        "patch_size": patch_size,
        "num_channels": 3,
        "projection_dim": projection_dim,
        "add_time_attn": False,
        "num_frames": 1,
        "force_patch_dropout": 0.0,
        "lora_r": lora_r,
        "lora_alpha": lora_alpha,
        "lora_dropout": 0.0,
        "num_mel_bins": num_mel_bins if audio else 0,
        "target_length": target_length if audio else 0,
        "video_decode_backend": "decord",
        "audio_sample_rate": 16000,
        "audio_mean": -4.2677393,
        "audio_std": 4.5689974,
    }
    return {
        "_commit_hash": None,
        "architectures": ["CLIPModel"],
        "initializer_factor": 1.0,
        "logit_scale_init_value": 2.6592,
        "model_type": "LanguageBindAudio" if audio else "LanguageBindImage",
        "projection_dim": projection_dim,
        "text_config": text,
        "vision_config": vision,
        "torch_dtype": "float32",
        "transformers_version": "4.30.2",
    }


def languagebind_state_dict(config: dict[str, Any], *, seed: int = 0, text_seed: int = 0) -> dict[str, "torch.Tensor"]:
    """Random weights under LanguageBind's key names for ``config`` (no LoRA), including the persistent
    ``position_ids`` buffers transformers 4.30 saved; an audio config gets its ``rows × cols + 1`` position table.

    The text tower (and ``text_projection``) comes from ``text_seed``, so checkpoints written with the same
    ``text_seed`` share it, as the released LanguageBind checkpoints share their frozen text tower."""
    import torch
    from transformers import CLIPConfig

    ids = ("bos_token_id", "eos_token_id", "pad_token_id")
    text_keys = (*TINY, "vocab_size", "max_position_embeddings", "hidden_act", *ids)
    text = {k: v for k, v in config["text_config"].items() if k in text_keys}
    vcfg = config["vision_config"]
    vision = {k: vcfg[k] for k in (*TINY, "image_size", "patch_size", "hidden_act")}
    clip_cfg = CLIPConfig(text_config=text, vision_config=vision, projection_dim=config["projection_dim"])
    state = {k: v.clone() for k, v in random_clip_model(clip_cfg, seed=seed).state_dict().items()}
    text_state = random_clip_model(clip_cfg, seed=text_seed).state_dict()
    for k, v in text_state.items():
        if k.startswith("text_model.") or k == "text_projection.weight":
            state[k] = v.clone()
    gen = torch.Generator().manual_seed(seed + 1)
    hidden = vcfg["hidden_size"]
    if vcfg.get("num_mel_bins"):
        p = vcfg["patch_size"]
        n = (vcfg["num_mel_bins"] // p) * (vcfg["target_length"] // p) + 1
        state["vision_model.embeddings.position_embedding.weight"] = torch.randn(n, hidden, generator=gen) * 0.02
    n_pos = state["vision_model.embeddings.position_embedding.weight"].shape[0]
    state["vision_model.embeddings.position_ids"] = torch.arange(n_pos).unsqueeze(0)
    text_positions = config["text_config"]["max_position_embeddings"]
    state["text_model.embeddings.position_ids"] = torch.arange(text_positions).unsqueeze(0)
    return state


def write_tiny_languagebind(
    directory: str | Path,
    kind: str = "image",
    *,
    seed: int = 0,
    text_seed: int = 0,
    fmt: str = "bin",
    config: dict[str, Any] | None = None,
    state: dict[str, "torch.Tensor"] | None = None,
) -> Path:
    """A LanguageBind checkpoint directory as the released ones are laid out: ``config.json``,
    ``pytorch_model.bin`` (``fmt="bin"``, as released) or ``model.safetensors``, and tokenizer files whose
    ``tokenizer_config.json`` names ``LanguageBindImageTokenizer`` / ``LanguageBindAudioTokenizer``."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    config = config or languagebind_config(kind)
    (directory / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
    if state is None:
        state = languagebind_state_dict(config, seed=seed, text_seed=text_seed)
    write_weights(directory, state, fmt)
    save_tokenizer_files(directory, "LanguageBindAudioTokenizer" if kind == "audio" else "LanguageBindImageTokenizer")
    return directory


__all__ = [
    "TINY",
    "languagebind_config",
    "languagebind_state_dict",
    "random_clip_model",
    "save_tokenizer_files",
    "tiny_clip_config",
    "tiny_clip_tokenizer",
    "tiny_vocab",
    "write_tiny_clip",
    "write_tiny_languagebind",
    "write_weights",
]
