"""The ``clamr_frames`` lmms-eval model args: one declarative table, parsed here and rendered for the docs.

:data:`MODEL_ARGS` lists every named arg (name, type, default, help); :data:`PREFIXES` the prefix families
(``scorer_<key>``, ``asr_<key>``, ``inner_<key>``, ``policy_<key>``) whose keys go on to a component.
:func:`parse_model_args` turns what lmms-eval's ``--model_args k=v,...`` gives (strings, or values lmms-eval
already converted) into typed values; :func:`markdown_table` renders the table for the documentation, so the
docs and the code cannot drift apart.

>>> args = parse_model_args({"k": "8", "ocr": "true", "policy_min_gap": "4"})
>>> args.values["k"], args.values["ocr"], args.prefixed["policy"]
(8, True, {'min_gap': '4'})
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from clamr_frames.errors import InputError


@dataclass(frozen=True)
class ModelArg:
    """One named model arg.

    ``type``: ``str``, ``int``, ``float``, ``bool`` or ``choice`` (one of ``choices``); ``optional`` allows
    ``none``/empty as None. ``bool_aliases`` maps true / false to a choice (``asr=true`` means ``auto``).
    ``renamed_to``: a deprecated old name of that arg. ``default_doc``: what the docs say the default is, where
    it is decided later (``ocr``, ``policy``: by the scorer).
    """

    name: str
    type: str
    default: Any
    help: str
    choices: tuple[str, ...] = ()
    optional: bool = False
    minimum: float | None = None
    bool_aliases: tuple[str, str] | None = None
    renamed_to: str | None = None
    default_doc: str | None = None


@dataclass(frozen=True)
class Prefix:
    """A prefix family: ``<prefix>_<key>=value`` is passed on as ``key=value`` to ``target``."""

    prefix: str
    target: str
    help: str


MODEL_ARGS: tuple[ModelArg, ...] = (
    ModelArg("inner", "str", "ocr_reader",
             "answering model: `ocr_reader` (deterministic CPU answerer), `qwen2_5_vl` (Qwen2.5-VL through "
             "transformers), or `lmms:<name>` (an lmms-eval simple model class fed the frames as a list of PIL "
             "images, e.g. `lmms:llava_onevision`)"),
    ModelArg("pretrained", "str", None, "the inner model's hub id or local path (e.g. `Qwen/Qwen2.5-VL-7B-Instruct`)",
             optional=True),
    ModelArg("scorer", "str", "default",
             "`default`, `clamr`, `clip`, `languagebind-v`, `languagebind-va`, or a local CLaMR directory"),
    ModelArg("asr", "choice", "auto",
             "the scorer's ASR context: `auto` (the subtitle file when the task has one, else speech recognised "
             "from the audio track), `subtitles`, `whisper` (speech recognition even when there are subtitles), "
             "`none` (CLaMR \"V\"); `true` = `auto`, `false` = `none`. The answerer's prompt follows `subtitles`",
             choices=("auto", "subtitles", "whisper", "none"), bool_aliases=("auto", "none")),
    ModelArg("ocr", "bool", None,
             "on-screen text (OCR) as scorer context: on by default for the scorers that read it (`default`, "
             "`clamr`; needs the `ocr` extra, else a warning and none), off for the visual scorers; `false` skips "
             "it", optional=True, default_doc="the scorer's"),
    ModelArg("policy", "str", None,
             "`topk`, `nms`, `adaptive`, `aks`, `inverse-transform`, `bolt`, `hybrid`, `coverage`, `gated`, or "
             "`uniform` (the baseline); by default the scorer's own default policy (recorded with each selection)",
             optional=True, default_doc="the scorer's"),
    ModelArg("k", "int", 16, "frames per question (with `selections=`: the file's k when not given)", minimum=1),
    ModelArg("fps", "float", 1.0, "candidate frames per second", minimum=0.0),
    ModelArg("num_candidates", "int", None, "N evenly spaced candidate frames instead of `fps`", optional=True,
             minimum=1),
    ModelArg("query", "choice", "question+options", "what the scorer is queried with",
             choices=("question+options", "question")),
    ModelArg("seed", "int", 0, "seed of policies with randomness"),
    ModelArg("subtitles", "choice", "auto",
             "what the answerer sees: `auto` (the selected frames' lines when the task's prompt has a subtitle "
             "block, none otherwise), `none`, `selected`, or `all`",
             choices=("auto", "none", "selected", "all")),
    ModelArg("subtitle_format", "choice", "auto",
             "`auto` (the format of the task prompt's block, lmms-eval's when there is none), `lmms-eval` (each "
             "line once, one per row), or `clamr-notebook` (one line per frame shown, concatenated, `N/A` when "
             "empty)", choices=("auto", "lmms-eval", "clamr-notebook")),
    ModelArg("subtitle_source", "choice", "auto",
             "where the prompt's subtitle lines come from: `file` (the benchmark's subtitle file), `transcript` (our "
             "speech recognition of the audio track, `asr_<key>` settings, cached beside the indexes), or `auto` "
             "(`transcript` for the `_w_transcript` tasks, else `file`)", choices=("auto", "file", "transcript")),
    ModelArg("subtitle_dir", "str", None, "a folder of subtitle files `<video stem>.srt` (or .vtt, .json) to use "
             "when the document names none", optional=True),
    ModelArg("max_pixels", "int", 360 * 420,
             "pixel cap per frame for the inner model (360x420; the CLaMR notebook's is 107042)", minimum=1),
    ModelArg("min_pixels", "int", 28 * 28 * 4, "pixel floor per frame for the inner model (the notebook's: 100352)",
             minimum=1),
    ModelArg("max_video_tokens", "int", None,
             "a budget of Qwen2.5-VL video tokens for the k frames: lowers the per-frame pixel cap (and floor) so "
             "that ceil(k/2) temporal patches fit (`24576` is the paper's cap for its 768-frame row)", optional=True,
             minimum=1),
    ModelArg("time_axis", "choice", "real",
             "how Qwen2.5-VL is told when the frames were taken (frames handed over as one video): `real` (the "
             "average rate k / duration, so the time axis spans the video) or `notebook` (2 fps: 1 s per temporal "
             "patch, the CLaMR notebook's hand-over)", choices=("real", "notebook")),
    ModelArg("index_dir", "str", None, "where the indexes live (default: the clamr-frames user cache or "
             "`$CLAMR_FRAMES_CACHE`)", optional=True),
    ModelArg("cache_dir", "str", None, "deprecated old name of `index_dir`", optional=True, renamed_to="index_dir"),
    ModelArg("device", "str", None, "device of the inner model", optional=True),
    ModelArg("selector_device", "str", None, "device of the scorer (default: `device`)", optional=True),
    ModelArg("selections", "str", None,
             "answer from a selections file (`python -m qa_harness select-task`): exactly its frames, no scorer "
             "loaded; a missing question or another video (fingerprint) is an error naming it", optional=True),
    ModelArg("nf4", "bool", False,
             "CLaMR scorer on the 4-bit NF4 base the adapter was trained on (bitsandbytes, CUDA only; the LoRA "
             "stays unmerged)"),
    ModelArg("log_selections", "str", None,
             "a selections file (JSONL, `clamr_frames.selections`) to append each question's record to: picked "
             "frames, scores, scorer, policy, ASR source, OCR, answer", optional=True),
    ModelArg("batch_size", "str", 1, "set by lmms-eval (`--batch_size`); questions are answered one at a time",
             optional=True),
    ModelArg("max_batch_size", "int", None, "set by lmms-eval; unused", optional=True),
)

PREFIXES: tuple[Prefix, ...] = (
    Prefix("scorer", "the scorer's encoder",
           "`scorer_weights=/models/clamr`, `scorer_base_model=/models/Qwen2.5-VL-3B-Instruct`, "
           "`scorer_audio_weights=...`"),
    Prefix("asr", "speech recognition (`AsrSettings`)",
           "`asr_model=small`, `asr_device=cuda`, `asr_language=en`, `asr_beam_size=5`"),
    Prefix("inner", "the inner model", "`inner_attn_implementation=sdpa`, `inner_ocr=false`"),
    Prefix("policy", "the selection policy", "`policy_min_gap=4`, `policy_alpha=2.5`"),
)

_BY_NAME = {a.name: a for a in MODEL_ARGS}


@dataclass
class ParsedArgs:
    """Typed model args: ``values`` by name (every named arg, defaults filled in) and ``prefixed`` per family
    (``prefixed["scorer"]`` = the ``scorer_<key>`` args by key, values as given)."""

    values: dict[str, Any]
    prefixed: dict[str, dict[str, Any]] = field(default_factory=dict)
    given: frozenset[str] = frozenset()


def _bool(v: Any, name: str) -> bool:
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    t = str(v).strip().lower()
    if t in ("1", "true", "yes", "on"):
        return True
    if t in ("0", "false", "no", "off"):
        return False
    raise InputError(f"clamr_frames: {name} must be true or false, got {v!r}")


def convert(arg: ModelArg, value: Any) -> Any:
    """``value`` (a string from the command line, or already typed) as ``arg``'s type; InputError naming the arg."""
    name = arg.name
    if arg.optional and (value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "null"))):
        return None
    try:
        if arg.type == "bool":
            return _bool(value, name)
        if arg.type == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError
            out: Any = int(value)
        elif arg.type == "float":
            if isinstance(value, bool):
                raise ValueError
            out = float(value)
            if not math.isfinite(out):
                raise ValueError
        elif arg.type == "choice":
            if arg.bool_aliases is not None and (isinstance(value, bool) or str(value).strip().lower() in
                                                 ("true", "false", "1", "0", "yes", "no", "on", "off")):
                return arg.bool_aliases[0] if _bool(value, name) else arg.bool_aliases[1]
            out = str(value).strip().lower()
            if out not in arg.choices:
                raise InputError(f"clamr_frames: {name} must be one of {', '.join(arg.choices)}, got {value!r}")
            return out
        else:
            return value
    except (TypeError, ValueError) as e:
        if isinstance(e, InputError):
            raise
        raise InputError(f"clamr_frames: {name} must be {'an integer' if arg.type == 'int' else 'a number'}, "
                         f"got {value!r}") from None
    if arg.minimum is not None and (out < arg.minimum or (arg.minimum == 0.0 and arg.type == "float" and out <= 0)):
        what = "positive" if arg.minimum in (0, 1) else f">= {arg.minimum}"
        raise InputError(f"clamr_frames: {name} must be {what}, got {value!r}")
    return out


def parse_model_args(kwargs: Mapping[str, Any]) -> ParsedArgs:
    """Typed values for the named args (defaults filled in), prefix families split out; an unknown arg, a bad
    value, or a deprecated name beside its new one is an :class:`InputError` naming it."""
    values = {a.name: a.default for a in MODEL_ARGS if a.renamed_to is None}
    prefixed: dict[str, dict[str, Any]] = {p.prefix: {} for p in PREFIXES}
    unknown = []
    given = set()
    for key, value in kwargs.items():
        arg = _BY_NAME.get(key)
        if arg is not None:
            if arg.renamed_to is not None:
                if arg.renamed_to in kwargs:
                    raise InputError(f"clamr_frames: pass {arg.renamed_to} only ({key} is its deprecated old name)")
                warnings.warn(f"clamr_frames model arg {key} is deprecated: use {arg.renamed_to}", DeprecationWarning,
                              stacklevel=3)
                values[arg.renamed_to] = convert(_BY_NAME[arg.renamed_to], value)
                given.add(arg.renamed_to)
            else:
                values[key] = convert(arg, value)
                given.add(key)
            continue
        fam = next((p.prefix for p in PREFIXES if key.startswith(p.prefix + "_")), None)
        if fam is None:
            unknown.append(key)
        else:
            prefixed[fam][key[len(fam) + 1 :]] = value
    if unknown:
        raise InputError(
            f"clamr_frames: unknown model args {sorted(unknown)} (inner model args take the prefix inner_, scorer "
            "args scorer_, policy knobs policy_, speech recognition asr_; the named args are listed in "
            "qa_harness.model_args)"
        )
    return ParsedArgs(values=values, prefixed=prefixed, given=frozenset(given))


def _default_text(a: ModelArg) -> str:
    if a.renamed_to is not None:
        return "–"
    if a.default_doc is not None:
        return a.default_doc
    if a.default is None:
        return "none"
    if isinstance(a.default, bool):
        return "true" if a.default else "false"
    return f"`{a.default}`"


def markdown_table() -> str:
    """The model args as a Markdown table (name, type, default, meaning), then the prefix families."""
    rows = ["| arg | type | default | meaning |", "|---|---|---|---|"]
    for a in MODEL_ARGS:
        typ = " \\| ".join(f"`{c}`" for c in a.choices) if a.type == "choice" else a.type
        if a.optional and a.type != "choice":
            typ += " or none"
        text = a.help.replace("|", "\\|")
        if a.renamed_to is not None:
            text = f"deprecated: use `{a.renamed_to}` ({text})"
        rows.append(f"| `{a.name}` | {typ} | {_default_text(a)} | {text} |")
    rows.append("")
    rows.append("| prefix | passed to | examples |")
    rows.append("|---|---|---|")
    for p in PREFIXES:
        rows.append(f"| `{p.prefix}_<key>` | {p.target} | {p.help} |")
    return "\n".join(rows) + "\n"


__all__ = ["MODEL_ARGS", "PREFIXES", "ModelArg", "ParsedArgs", "Prefix", "convert", "markdown_table",
           "parse_model_args"]
