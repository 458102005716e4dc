"""Scorer names → encoders. One naming scheme for Python, the CLI and the lmms-eval model args."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamr_frames.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.encoders.base import Encoder

#: The released CLaMR adapter (MultiVENT 2.0++, Qwen2.5-VL-3B-Instruct base).
CLAMR_HUB_ID = "meetdavidwan/clamr"

SCORERS = ("default", "clamr", "languagebind-v", "languagebind-va", "clip")


def load_encoder(name: str, *, device: str | None = None, **kwargs: Any) -> "Encoder":
    """Build the encoder behind a scorer name, a hub id or a local path.

    ``default`` needs nothing from the network; ``clamr`` loads ``meetdavidwan/clamr`` on
    ``Qwen/Qwen2.5-VL-3B-Instruct`` (hub or local cache); ``clip`` / ``languagebind-v`` / ``languagebind-va``
    are the single-vector baselines (``model=`` / ``image=`` / ``audio=`` point them at local directories);
    any other string is treated as a local CLaMR directory or hub id.
    """
    if name == "default":
        from clamr_frames.encoders.default import DefaultEncoder

        return DefaultEncoder(device=device, **kwargs)
    if name == "clip":
        from clamr_frames.encoders.clip import DEFAULT_CLIP, ClipEncoder

        return ClipEncoder.from_pretrained(kwargs.pop("model", DEFAULT_CLIP), device=device, **kwargs)
    if name in ("languagebind-v", "languagebind-va"):
        from clamr_frames.encoders.languagebind import DEFAULT_AUDIO, LanguageBindEncoder

        audio = kwargs.pop("audio", DEFAULT_AUDIO) if name == "languagebind-va" else None
        return LanguageBindEncoder.from_pretrained(audio=audio, device=device, **kwargs)
    from clamr_frames.encoders.clamr import ClamrEncoder

    if name == "clamr":
        return ClamrEncoder.from_pretrained(CLAMR_HUB_ID, device=device, **kwargs)
    if Path(name).expanduser().exists() or "/" in name:
        return ClamrEncoder.from_pretrained(name, device=device, **kwargs)
    raise InputError(f"unknown scorer {name!r}: use one of {', '.join(SCORERS)}, a hub id, or a local model path")
