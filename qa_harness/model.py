"""The ``clamr_frames`` lmms-eval model: select k frames per question, then let an inner model answer from them.

For each request it finds the video (the task's ``doc_to_visual``, or the video item of the chat messages) and
the question + options (the document), selects ``k`` frames with the chosen scorer and policy (through the
on-disk index, so the questions of one video encode its frames once), and calls the inner model with exactly
those frames in temporal order and the prompt with subtitles per the subtitle policy
(:mod:`qa_harness.subtitles`). With ``selections=FILE`` the frames come from a selections file instead
(:mod:`qa_harness.selecting`) and no scorer is loaded. Only the picked frames are decoded, at the inner model's
size. Each answer's context (the scorer's ASR source, OCR, where the prompt's subtitle lines came from) goes into
lmms-eval's per-sample output (``clamr_context`` in the logged generation kwargs) and into ``log_selections``.

Model args (``--model_args k=v,...``): one declarative table, :data:`qa_harness.model_args.MODEL_ARGS` (name,
type, default, meaning, and the prefix families ``scorer_<key>``, ``asr_<key>``, ``inner_<key>``,
``policy_<key>``); ``qa_harness.model_args.markdown_table()`` renders it for the docs.
"""

from __future__ import annotations

import atexit
import logging
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from lmms_eval.api.instance import Instance
from lmms_eval.api.model import lmms

from clamr_frames.errors import InputError
from qa_harness.answerers import OCR_READER_NAMES, AnswerRequest, build_answerer
from qa_harness.docs import (
    SubtitleRef,
    find_subtitles,
    mcq_from_doc,
    text_from_messages,
    video_from_messages,
    video_from_visuals,
)
from qa_harness.selecting import FileSelections, LiveSelections, Picked
from qa_harness.subtitles import (
    apply_subtitles,
    check_format,
    check_policy,
    lines_for_policy,
    resolve_format,
    resolve_policy,
)

logger = logging.getLogger(__name__)



def _as_bool(v: Any, name: str = "value") -> bool:
    if isinstance(v, str):
        t = v.strip().lower()
        if t in ("1", "true", "yes", "on"):
            return True
        if t in ("0", "false", "no", "off"):
            return False
        raise InputError(f"clamr_frames: {name} must be true or false, got {v!r}")
    return bool(v)


def _asr_settings(args: Mapping[str, Any]) -> Any:
    """AsrSettings from ``asr_<field>`` model args (strings from the command line converted to the field's type)."""
    import dataclasses

    from clamr_frames.context.asr import AsrSettings

    fields = {f.name: f for f in dataclasses.fields(AsrSettings)}
    bad = sorted(set(args) - set(fields))
    if bad:
        raise InputError(f"clamr_frames: unknown speech recognition args {['asr_' + b for b in bad]} "
                         f"(known: {', '.join('asr_' + f for f in fields)})")
    kw: dict[str, Any] = {}
    defaults = AsrSettings()
    for name, value in args.items():
        default = getattr(defaults, name)
        try:
            if isinstance(default, bool):
                kw[name] = _as_bool(value, f"asr_{name}")
            elif isinstance(default, int):
                kw[name] = int(value)
            elif isinstance(default, float):
                kw[name] = float(value)
            else:
                kw[name] = None if value in ("", "none", "None") and default is None else value
        except ValueError:
            raise InputError(f"clamr_frames: asr_{name} must be of type {type(default).__name__}, got {value!r}") from None
    return AsrSettings(**kw)


class ClamrFrames(lmms):
    """lmms-eval model ``clamr_frames`` (simple request form); see the module doc for the model args."""

    is_simple = True

    def __init__(self, selector: Any = None, **model_args: Any) -> None:
        """``model_args``: see :mod:`qa_harness.model_args`; ``selector``: a ready
        :class:`~clamr_frames.FrameSelector` (Python callers and tests; not a command-line arg)."""
        super().__init__()
        from qa_harness.model_args import parse_model_args

        parsed = parse_model_args(model_args)
        v = parsed.values
        self.model_args = v
        inner_kwargs = dict(parsed.prefixed["inner"])
        self.policy_knobs = dict(parsed.prefixed["policy"])
        self.encoder_kwargs = dict(parsed.prefixed["scorer"])
        self.asr_settings = _asr_settings(parsed.prefixed["asr"])
        self.subtitles = check_policy(v["subtitles"])
        self.subtitle_format = check_format(v["subtitle_format"])
        self.scorer, self.policy, self.k = str(v["scorer"]), v["policy"], int(v["k"])
        self.fps, self.num_candidates = float(v["fps"]), v["num_candidates"]
        self.max_pixels, self.min_pixels = int(v["max_pixels"]), int(v["min_pixels"])
        self.index_dir, self.ocr, self.query, self.seed = v["index_dir"], v["ocr"], v["query"], int(v["seed"])
        from clamr_frames.context.asr import check_asr_mode

        self.asr = check_asr_mode(v["asr"])
        self.subtitle_dir = v["subtitle_dir"]
        self.log_path = Path(v["log_selections"]) if v["log_selections"] else None
        self.inner_name = str(v["inner"])
        pretrained, device, selector_device = v["pretrained"], v["device"], v["selector_device"]

        self._setup_distributed(device)
        dev = self._device_str
        self.selector_device = selector_device or dev
        self.subtitle_source = v["subtitle_source"]
        self.time_axis = v["time_axis"]
        self.selections_path = v["selections"]
        self._subs_cache: dict[SubtitleRef, Any] = {}
        self._transcripts: dict[str, Any] = {}
        self._live = LiveSelections(v, encoder_kwargs=self.encoder_kwargs, policy_knobs=self.policy_knobs,
                                    asr_settings=self.asr_settings, selector=selector, device=self.selector_device,
                                    progress=self.rank == 0)
        # selections=FILE: answer from exactly the file's frames; no scorer is ever constructed.
        self.source: Any = FileSelections(self.selections_path) if self.selections_path else self._live
        if self.selections_path:
            # k comes from the file (a frame budget computed for another k would be wrong)
            ks = self.source.ks
            if "k" not in parsed.given and ks:
                self.k = max(ks)
            elif ks and ks != {self.k}:
                raise InputError(f"clamr_frames: k={self.k}, but {self.selections_path} holds selections of k="
                                 f"{sorted(ks)} (drop k= to take the file's)")
        # max_video_tokens: the per-frame pixel cap that keeps k frames' video tokens within the budget.
        self.max_pixels, self.min_pixels = frame_pixels_for_budget(
            self.k, v["max_video_tokens"], self.max_pixels, self.min_pixels)
        if pretrained is not None:
            inner_kwargs.setdefault("pretrained", str(pretrained))
        if self.inner_name in ("qwen2_5_vl", "qwen2.5-vl", "qwen"):
            inner_kwargs.setdefault("max_pixels", self.max_pixels)
            inner_kwargs.setdefault("min_pixels", self.min_pixels)
            inner_kwargs.setdefault("time_axis", self.time_axis)
        if self.inner_name not in OCR_READER_NAMES and dev is not None:
            inner_kwargs.setdefault("device", dev)
        self.answerer = build_answerer(self.inner_name, **inner_kwargs)

    # -- setup ------------------------------------------------------------------------------------
    def _setup_distributed(self, device: str | None) -> None:
        # Under `accelerate launch` (or torchrun), lmms-eval shards requests by rank/world_size; each rank selects
        # and answers its share on its own device. Indexes are shared on disk: the store's per-index lock lets one
        # rank build a video's index while a rank that needs the same video waits and then loads it, so every
        # video is encoded once across ranks.
        world = int(os.environ.get("WORLD_SIZE", "1"))
        if world > 1:
            from accelerate import Accelerator

            self.accelerator = Accelerator()
            self._rank = self.accelerator.process_index
            self._world_size = self.accelerator.num_processes
            if self.accelerator.device.type == "cuda":
                device = f"cuda:{self.accelerator.local_process_index}"
            else:  # CPU processes (ACCELERATE_USE_CPU=1, gloo)
                device = str(self.accelerator.device)
            # a process group still alive at interpreter exit can abort the process ("terminate called without an
            # active exception") after the results are written
            atexit.register(_destroy_process_group)
        self._device_str = device

    @property
    def device(self) -> Any:
        """This rank's torch device (lmms-eval's evaluator places its cross-rank counts on it)."""
        import torch

        accelerator = getattr(self, "accelerator", None)
        return accelerator.device if accelerator is not None else torch.device(self._device_str or "cpu")

    @property
    def selector(self) -> Any:
        """The :class:`~clamr_frames.FrameSelector` of live selection (built on first use; never with
        ``selections=``)."""
        if self.selections_path:
            raise InputError("clamr_frames: answering from selections=FILE loads no scorer")
        return self._live.selector

    def _subtitles(self, ref: SubtitleRef | None) -> Any:
        if ref is None:
            return None
        cached = self._subs_cache.get(ref)
        if cached is None:
            from clamr_frames.context.subtitles import load_subtitles

            cached = load_subtitles(ref.path, offset=ref.offset)
            self._subs_cache[ref] = cached  # one object per file: the selector keys its in-memory index cache on it
        return cached

    # -- requests ---------------------------------------------------------------------------------
    def _doc(self, task: str, split: str, doc_id: int) -> Mapping[str, Any]:
        try:
            return self.task_dict[task][split][doc_id]
        except (KeyError, IndexError, TypeError) as e:
            raise InputError(f"clamr_frames: no document {doc_id} for task {task!r} split {split!r}") from e

    def _parse(self, request: Instance) -> tuple[str, dict[str, Any], Mapping[str, Any], str, int, str, str]:
        """(prompt, gen_kwargs, doc, video, doc_id, task, split) from a simple or a chat request."""
        args = request.args
        if len(args) == 6 and callable(args[1]) and isinstance(args[2], dict):  # chat: ctx, doc_to_messages, gk, ...
            ctx, doc_to_messages, gen_kwargs, doc_id, task, split = args
            doc = self._doc(task, split, doc_id)
            messages = doc_to_messages(doc)
            video = video_from_messages(messages)
            prompt = text_from_messages(messages) or ctx
        elif len(args) == 6:  # simple: ctx, gen_kwargs, doc_to_visual, doc_id, task, split
            ctx, gen_kwargs, doc_to_visual, doc_id, task, split = args
            doc = self._doc(task, split, doc_id)
            video = video_from_visuals(doc_to_visual(doc))
            prompt = ctx
        else:
            raise InputError(f"clamr_frames: unsupported request arguments ({len(args)} items)")
        return prompt, dict(gen_kwargs or {}), doc, video, doc_id, task, split

    def _transcript(self, video: str) -> Any:
        """Our speech-recognised transcript of ``video`` (cached beside the indexes), for the prompt's lines."""
        got = self._transcripts.get(video)
        if got is None:
            from clamr_frames.context.asr import TranscriptCache, cached_transcribe
            from clamr_frames.index.store import IndexStore

            store = IndexStore(Path(self.index_dir)) if self.index_dir is not None else IndexStore()
            got = cached_transcribe(video, self.asr_settings, cache=TranscriptCache(store.root / "asr"),
                                    progress=self.rank == 0)
            self._transcripts[video] = got
        return got

    def prompt_text_source(self, doc: Mapping[str, Any]) -> str:
        """Where the prompt's subtitle lines come from for ``doc``: ``subtitles`` (the benchmark's file) or
        ``transcript`` (our speech recognition; the ``subtitle_source`` arg, or a ``_w_transcript`` task's docs)."""
        if self.subtitle_source != "auto":
            return "transcript" if self.subtitle_source == "transcript" else "subtitles"
        return "transcript" if str((doc or {}).get("subtitle_source", "")) == "transcript" else "subtitles"

    def build_request(self, request: Instance) -> tuple[AnswerRequest, Picked]:
        """The frames for one lmms-eval request: (what the inner model gets, the :class:`Picked` frames)."""
        prompt, gen_kwargs, doc, video, doc_id, task, split = self._parse(request)
        item = mcq_from_doc(doc, prompt)
        subs = self._subtitles(find_subtitles(doc, video, self.subtitle_dir))
        picked = self.source.pick(video=video, item=item, subtitles=subs, doc=doc, task=str(task), doc_id=doc_id)
        effective = resolve_policy(self.subtitles, prompt)
        fmt = resolve_format(self.subtitle_format, prompt)
        text_source = self.prompt_text_source(doc)
        prompt_cues = subs
        if effective != "none" and text_source == "transcript":
            prompt_cues = self._transcript(video)
        # The notebook format shows one line per frame (repeats kept); lmms-eval's, each line once.
        lines = lines_for_policy(prompt_cues, picked.timestamps, effective, per_frame=fmt == "clamr-notebook",
                                 all_timestamps=picked.all_timestamps if effective == "all" else None)
        final_prompt = apply_subtitles(prompt, lines, effective, fmt)
        frames, ts = self._frames(video, picked)
        req = AnswerRequest(
            prompt=final_prompt,
            frames=frames,
            timestamps=ts,
            item=item,
            subtitle_lines=[line for line in lines or [] if line],
            frame_text=list(picked.ocr_text) if picked.ocr_text is not None else None,
            gen_kwargs=gen_kwargs,
            video=video,
            duration=picked.duration,
            doc=doc,
            doc_id=int(doc_id),
            task=str(task),
            split=str(split),
        )
        picked.extra["context"] = self.context(picked, effective, text_source if effective != "none" else "none")
        return req, picked

    def context(self, picked: Picked, prompt_policy: str, prompt_source: str) -> dict[str, Any]:
        """What text context a run used, for every output row: the scorer's ASR source and OCR, and what the
        answerer's prompt held (``prompt_subtitles``: ``subtitles`` / ``transcript`` / ``none``)."""
        return {"asr_source": picked.asr_source, "ocr": bool(picked.record.ocr if picked.record else self.ocr),
                "prompt_subtitles": prompt_source, "subtitle_policy": prompt_policy,
                "selections": str(self.selections_path) if self.selections_path else None}

    def _frames(self, video: str, picked: Picked) -> tuple[list[Any], list[float]]:
        """The picked frames that decode, as PIL images, and their timestamps (kept aligned: a frame that does
        not decode takes its time with it). Only the picked frames are decoded (the reader seeks between them),
        block by block, each turned into a PIL image at the inner model's size at once, so memory holds about
        k frames at that size, whatever the video's length."""
        from PIL import Image

        from clamr_frames.video import VideoReader

        backend = self._live.selector.settings.backend if self._live._selector is not None else "auto"
        with VideoReader(video, backend=backend) as reader:
            meta = reader.metadata
            max_side = decode_side(meta.width, meta.height, self.max_pixels)
            by_index: dict[int, Any] = {}
            for chunk in reader.iter_frames(picked.frame_indices, max_side=max_side):
                for i, f in zip(chunk.indices.tolist(), chunk.frames):
                    by_index[int(i)] = Image.fromarray(f)
        pairs = [(by_index.get(int(i)), float(t)) for i, t in zip(picked.frame_indices, picked.timestamps)]
        pairs = [(f, t) for f, t in pairs if f is not None]
        return [f for f, _ in pairs], [t for _, t in pairs]

    def _log(self, req: AnswerRequest, picked: Picked, answer: str) -> None:
        """Append the question's selections record (with its answer and context) to ``log_selections``."""
        if self.log_path is None or picked.record is None:
            return
        import copy

        from clamr_frames.selections import write_selections

        rec = copy.deepcopy(picked.record)
        rec.task, rec.doc_id = req.task, req.doc_id
        rec.answer = answer
        if req.item.answer is not None:
            rec.ground_truth = req.item.answer
            letter = _letter(answer, req.item.letters)
            rec.correct = letter is not None and letter == str(req.item.answer).strip().upper()
        rec.extra.update({"subtitle_lines": len(req.subtitle_lines), "target": req.item.answer,
                          "context": picked.extra.get("context"), "split": req.split})
        path = self.log_path if self.world_size == 1 else self.log_path.with_suffix(f".rank{self.rank}.jsonl")
        write_selections(path, [rec])

    # -- lmms API ---------------------------------------------------------------------------------
    def generate_until(self, requests: Sequence[Instance]) -> list[str]:
        from tqdm import tqdm

        out: list[str] = []
        for request in tqdm(requests, desc="clamr_frames", disable=self.rank != 0):
            req, picked = self.build_request(request)
            answer = self.answerer.generate([req])[0]
            self._log(req, picked, getattr(answer, "text", answer))
            # lmms-eval logs each request's generation kwargs with its sample (--log_samples): the context this
            # answer was made with goes there, so every per-sample row says which subtitles / ASR / OCR it used.
            _request_gen_kwargs(request)["clamr_context"] = picked.extra.get("context")
            out.append(answer)
        return out

    def loglikelihood(self, requests: Sequence[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError("clamr_frames answers generation tasks only (multiple-choice by generated letter)")

    def generate_until_multi_round(self, requests: Sequence[Instance]) -> list[str]:
        raise NotImplementedError("clamr_frames does not support multi-round generation")


def _request_gen_kwargs(request: Instance) -> dict[str, Any]:
    args = request.args
    gk = args[2] if len(args) == 6 and callable(args[1]) else args[1]
    return gk if isinstance(gk, dict) else {}


def _letter(answer: str, letters: Sequence[str]) -> str | None:
    """The option letter an answer gives (lmms-eval's robust extraction where it is installed)."""
    try:
        from lmms_eval.tasks._task_utils.mcq_extract import extract_mcq_answer

        got = extract_mcq_answer(str(answer), choices=list(letters) or None)
    except Exception:  # noqa: BLE001 - older lmms-eval: fall back to the first letter
        got = str(answer).strip()[:1]
    return str(got).strip().upper() or None if got else None


def decode_side(width: int, height: int, max_pixels: int) -> int:
    """Longer side to decode a ``width`` x ``height`` frame at so that it holds at least the inner model's
    ``max_pixels`` (Qwen resizes down to its 28-px grid from there; one 28-px cell of slack).

    >>> decode_side(1280, 720, 151200)
    547
    """
    w, h = max(int(width), 1), max(int(height), 1)
    aspect = max(w, h) / min(w, h)
    return math.ceil(math.sqrt(max_pixels * aspect)) + 28


def frame_pixels_for_budget(k: int, max_video_tokens: int | None, max_pixels: int, min_pixels: int) -> tuple[int, int]:
    """``(max_pixels, min_pixels)`` per frame keeping ``k`` frames within ``max_video_tokens`` Qwen2.5-VL video
    tokens (two frames share a temporal patch; one token per 28x28 pixels), as the official Qwen2.5-VL setting caps
    768 frames at 24,576 tokens. Without a budget the caps are returned as given.

    >>> frame_pixels_for_budget(768, 24576, 151200, 3136)
    (50176, 3136)
    """
    if not max_video_tokens:
        return max_pixels, min_pixels
    per_pair = int(max_video_tokens) // max(1, math.ceil(k / 2))
    if per_pair < 4:
        raise InputError(f"clamr_frames: max_video_tokens={max_video_tokens} leaves {per_pair} tokens per 2 of the "
                         f"{k} frames (Qwen2.5-VL needs at least 4)")
    cap = min(int(max_pixels), per_pair * 28 * 28)
    return cap, min(int(min_pixels), cap)


def _destroy_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class ClamrFramesChat(ClamrFrames):
    """The chat request form of ``clamr_frames`` (what lmms-eval picks unless ``--force_simple``)."""

    is_simple = False


__all__ = ["ClamrFrames", "ClamrFramesChat"]
