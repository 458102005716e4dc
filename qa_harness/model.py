"""The ``clamr_frames`` lmms-eval model: select k frames per question, then let an inner model answer from them.

For each request it finds the video (the task's ``doc_to_visual``, or the video item of the chat messages) and
the question + options (the document), selects ``k`` frames with the chosen scorer and policy (through the
on-disk index, so the questions of one video encode its frames once), and calls the inner model with exactly
those frames in temporal order and the prompt with subtitles per the subtitle policy
(:mod:`qa_harness.subtitles`).

Model args (``--model_args k=v,...``): one declarative table, :data:`qa_harness.model_args.MODEL_ARGS` (name,
type, default, meaning, and the prefix families ``scorer_<key>``, ``asr_<key>``, ``inner_<key>``,
``policy_<key>``); ``qa_harness.model_args.markdown_table()`` renders it for the docs.
"""

from __future__ import annotations

import atexit
import json
import logging
import math
import os
import warnings
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
        self.scorer, self.policy, self.k = str(v["scorer"]), str(v["policy"]), int(v["k"])
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
        self._selector = selector
        self._subs_cache: dict[SubtitleRef, Any] = {}
        if pretrained is not None:
            inner_kwargs.setdefault("pretrained", str(pretrained))
        if self.inner_name in ("qwen2_5_vl", "qwen2.5-vl", "qwen"):
            inner_kwargs.setdefault("max_pixels", self.max_pixels)
            inner_kwargs.setdefault("min_pixels", self.min_pixels)
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
        """The :class:`~clamr_frames.FrameSelector` (built on first use)."""
        if self._selector is None:
            from clamr_frames import FrameSelector
            from clamr_frames.index import IndexSettings

            settings = IndexSettings(fps=self.fps, num_frames=self.num_candidates)
            self._selector = FrameSelector.from_pretrained(
                self.scorer,
                device=self.selector_device,
                settings=settings,
                index_dir=self.index_dir,
                ocr=self.ocr,
                progress=self.rank == 0,
                encoder_kwargs=dict(self.encoder_kwargs),
                asr=self.asr,
                asr_settings=self.asr_settings,
            )
        return self._selector

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

    def build_request(self, request: Instance) -> tuple[AnswerRequest, Any]:
        """Select the frames for one lmms-eval request: (what the inner model gets, the Selection)."""
        prompt, gen_kwargs, doc, video, doc_id, task, split = self._parse(request)
        item = mcq_from_doc(doc, prompt)
        subs = self._subtitles(find_subtitles(doc, video, self.subtitle_dir))
        options = item.labelled_options() if self.query == "question+options" and item.options else None
        # The scorer reads the subtitles only when its ASR source may be them; asr=whisper transcribes instead.
        sel = self.selector.select(
            video, item.question, self.k, subtitles=subs if self.asr in ("auto", "subtitles") else None,
            options=options, policy=self.policy, seed=self.seed, asr=self.asr,
            **self.policy_knobs,
        )
        effective = resolve_policy(self.subtitles, prompt)
        fmt = resolve_format(self.subtitle_format, prompt)
        # The notebook format shows one line per frame (repeats kept); lmms-eval's, each line once.
        lines = lines_for_policy(subs, sel.timestamps, effective, per_frame=fmt == "clamr-notebook",
                                 all_timestamps=sel.all_timestamps)
        final_prompt = apply_subtitles(prompt, lines, effective, fmt)
        frames, ts = self._frames(video, sel)
        duration = getattr(sel, "duration", None)
        if duration is None:  # an index without the video's length: estimate it from the candidate grid
            grid = sel.all_timestamps
            step = float(grid[1] - grid[0]) if len(grid) > 1 else 1.0
            duration = float(grid[-1] + step) if len(grid) else None
        req = AnswerRequest(
            prompt=final_prompt,
            frames=frames,
            timestamps=ts,
            item=item,
            subtitle_lines=[line for line in lines or [] if line],
            frame_text=list(sel.ocr) if self.ocr else None,
            gen_kwargs=gen_kwargs,
            video=video,
            duration=duration,
            doc=doc,
            doc_id=int(doc_id),
            task=str(task),
            split=str(split),
        )
        return req, sel

    def _frames(self, video: str, sel: Any) -> tuple[list[Any], list[float]]:
        """The picked frames that decode, as PIL images, and their timestamps (kept aligned: a frame that does
        not decode takes its time with it)."""
        from PIL import Image

        from clamr_frames.video import VideoReader

        # Decode big enough for the inner model's pixel cap at aspect ratios up to 4:1 (it resizes anyway).
        max_side = 2 * math.ceil(math.sqrt(self.max_pixels))
        with VideoReader(video, backend=self.selector.settings.backend) as reader:
            got = reader.get_frames(sel.frame_indices, max_side=max_side)
        by_index = dict(zip((int(i) for i in got.indices), got.frames))
        pairs = [(by_index.get(int(i)), float(t)) for i, t in zip(sel.frame_indices, sel.timestamps)]
        pairs = [(f, t) for f, t in pairs if f is not None]
        return [Image.fromarray(f) for f, _ in pairs], [t for _, t in pairs]

    def _log(self, req: AnswerRequest, sel: Any, answer: str) -> None:
        if self.log_path is None:
            return
        rec = {
            "task": req.task,
            "doc_id": req.doc_id,
            "question_id": (req.doc or {}).get("question_id", (req.doc or {}).get("id")),
            "video": req.video,
            "scorer": self.scorer,
            "policy": self.policy,
            "k": self.k,
            "timestamps": [round(t, 3) for t in req.timestamps],
            "scores": [float(s) for s in sel.scores],
            "subtitle_lines": len(req.subtitle_lines),
            "answer": answer,
            "target": req.item.answer,
        }
        path = self.log_path if self.world_size == 1 else self.log_path.with_suffix(f".rank{self.rank}.jsonl")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")

    # -- lmms API ---------------------------------------------------------------------------------
    def generate_until(self, requests: Sequence[Instance]) -> list[str]:
        from tqdm import tqdm

        out: list[str] = []
        for request in tqdm(requests, desc="clamr_frames", disable=self.rank != 0):
            req, sel = self.build_request(request)
            answer = self.answerer.generate([req])[0]
            self._log(req, sel, answer)
            out.append(answer)
        return out

    def loglikelihood(self, requests: Sequence[Instance]) -> list[tuple[float, bool]]:
        raise NotImplementedError("clamr_frames answers generation tasks only (multiple-choice by generated letter)")

    def generate_until_multi_round(self, requests: Sequence[Instance]) -> list[str]:
        raise NotImplementedError("clamr_frames does not support multi-round generation")


def _destroy_process_group() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


class ClamrFramesChat(ClamrFrames):
    """The chat request form of ``clamr_frames`` (what lmms-eval picks unless ``--force_simple``)."""

    is_simple = False


__all__ = ["ClamrFrames", "ClamrFramesChat"]
