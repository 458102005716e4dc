"""Inner answering models: what the ``clamr_frames`` lmms-eval model hands the selected frames to.

Every inner model gets :class:`AnswerRequest` objects (the selected frames in temporal order, their timestamps,
the final prompt with subtitles per the subtitle policy, the parsed question/options) and returns one string per
request. Three kinds:

``ocr_reader`` (:class:`OcrReaderAnswerer`)
    deterministic, CPU only, no weights: reads the text of what it was shown (the subtitle lines in the prompt and
    the on-screen text of the selected frames) and picks the option found there. It makes accuracy on the
    synthetic task measure the *selection*, without a VLM.
``qwen2_5_vl`` (:class:`QwenVLAnswerer`)
    Qwen2.5-VL through transformers (the CLaMR paper's answerer: ``Qwen/Qwen2.5-VL-7B-Instruct``); the frames go
    in as one video (or as separate images) with a per-frame pixel cap.
``lmms:<model>`` (:class:`LmmsEvalAnswerer`)
    any lmms-eval *simple* model class that accepts a list of PIL frames from ``doc_to_visual`` (e.g.
    ``lmms:llava_onevision``, ``lmms:qwen2_5_vl``); it is called through its own ``generate_until``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from clamr_frames.errors import InputError, ModelLoadError
from qa_harness.docs import McqItem

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image

logger = logging.getLogger(__name__)


@dataclass
class AnswerRequest:
    """One question for an inner model.

    Attributes:
        prompt: the full text prompt (task prompt with subtitles per the subtitle policy).
        frames: the selected frames as PIL images, in temporal order.
        timestamps: seconds of each frame.
        item: the parsed question and options.
        subtitle_lines: the subtitle lines included in ``prompt`` (empty when none).
        frame_text: on-screen (OCR) text of each frame when the selector computed it, else None.
        gen_kwargs: the task's generation kwargs (``max_new_tokens``, ``until``, ...).
        video: the video path.
        duration: length of the video in seconds (estimated from the candidate grid), or None.
        doc: the benchmark document, doc_id, task and split (for delegating to lmms-eval models).
    """

    prompt: str
    frames: list[Image.Image]
    timestamps: list[float]
    item: McqItem
    subtitle_lines: list[str] = field(default_factory=list)
    frame_text: list[str] | None = None
    gen_kwargs: dict[str, Any] = field(default_factory=dict)
    video: str = ""
    duration: float | None = None
    doc: Mapping[str, Any] | None = None
    doc_id: int = 0
    task: str = ""
    split: str = ""


class Answerer(Protocol):
    """Anything that answers :class:`AnswerRequest` objects with one string each."""

    def generate(self, requests: Sequence[AnswerRequest]) -> list[str]: ...


# ------------------------------------------------------------------------------------------------
# deterministic text answerer

#: Names of the deterministic CPU answerer (``ocr_reader`` is the documented one).
OCR_READER_NAMES = ("ocr_reader", "text-match")

_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    "a an the is are was were be been being of to in on at by for with and or what which who whom whose when where "
    "why how did does do this that these those it its as from into about over after before during video shown "
    "appears say said says".split()
)


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _contains_phrase(hay: list[str], needle: list[str]) -> bool:
    n = len(needle)
    if n == 0 or n > len(hay):
        return False
    return any(hay[i : i + n] == needle for i in range(len(hay) - n + 1))


def fallback_letter(item: McqItem) -> str:
    """The answer given without evidence: a fixed pseudo-random letter per question (stable across runs).

    Not always "A": benchmarks balance answer letters only roughly, and a constant guess would score whatever
    share of answers that letter has instead of chance.
    """
    letters = item.letters or ["A"]
    h = hashlib.sha256((item.question + "\x00" + "\x00".join(item.options)).encode()).digest()
    return letters[h[0] % len(letters)]


def match_option(item: McqItem, evidence: Sequence[str]) -> tuple[str | None, float]:
    """The option best supported by ``evidence`` (texts the model was shown) and its support, or (None, 0).

    An option is supported by an evidence text that contains the option's words as a phrase (case and
    punctuation ignored; 0.9 instead of 1 when only its letters match with spaces ignored, as OCR splits and
    glues words), plus the share of the question's content words in that text (the best such text). Ties
    between options go to the first.

    >>> item = McqItem("What city is on the sign?", ["Lima", "Cairo"], ["A", "B"])
    >>> match_option(item, ["MARKET STALL: CAIRO", "the bus left"])
    ('B', 1.0)
    >>> match_option(item, ["MARKET STALL: CAI RO"])
    ('B', 0.9)
    >>> match_option(item, ["nothing here"])
    (None, 0.0)
    """
    q_words = {w for w in _words(item.question) if w not in _STOP}
    ev_words = [_words(e) for e in evidence if e]
    ev_compact = ["".join(h) for h in ev_words]
    best_letter, best = None, 0.0
    for letter, text in zip(item.letters, item.options):
        needle = _words(text)
        compact = "".join(needle)
        support = 0.0
        for hay, hay_compact in zip(ev_words, ev_compact):
            if _contains_phrase(hay, needle):
                found = 1.0
            elif len(compact) >= 4 and compact in hay_compact:
                # OCR splits or glues words ("MAR LIN" for MARLIN): a match ignoring spaces counts a bit less.
                found = 0.9
            else:
                continue
            overlap = len(q_words & set(hay)) / len(q_words) if q_words else 0.0
            support = max(support, found + overlap)
        if support > best:
            best_letter, best = letter, support
    return best_letter, best


class OcrReaderAnswerer:
    """Deterministic CPU answerer: picks the option that the shown subtitle lines or on-screen text contain.

    It sees what a VLM would see: the subtitle lines in the prompt (per the subtitle policy) and the selected
    frames. The frames' text comes from the selector's OCR context when it ran OCR (``frame_text``), else from
    running OCR on the frames here (``ocr=True``, needs the ``ocr`` extra). With no supporting text it answers
    :func:`fallback_letter`, so it scores chance on questions its evidence cannot answer (e.g. purely visual ones).

    Args:
        ocr: read text from the frames when the request has no ``frame_text`` (``"auto"``: if rapidocr is
            installed; ``True``: required; ``False``: never).
    """

    name = "ocr_reader"

    def __init__(self, ocr: bool | str = "auto") -> None:
        # Model args arrive as strings from lmms-eval's --model_args ("inner_ocr=false").
        value = ocr.strip().lower() if isinstance(ocr, str) else ocr
        if value in ("auto",):
            self.ocr: bool | str = "auto"
        elif value in (True, "true", "1", "yes", "on"):
            self.ocr = True
        elif value in (False, "false", "0", "no", "off"):
            self.ocr = False
        else:
            raise InputError(f"ocr_reader: ocr must be auto, true or false, got {ocr!r}")
        self._engine: Any = None

    def _read_frames(self, frames: Sequence[Any]) -> list[str]:
        if self.ocr is False or not frames:
            return []
        if self._engine is None:
            from clamr_frames.context.ocr import OcrEngine, OcrUnavailableError

            try:
                self._engine = OcrEngine()
            except OcrUnavailableError:
                if self.ocr is True:
                    raise
                logger.warning("ocr_reader answerer: rapidocr not installed, reading subtitles only")
                self.ocr = False
                return []
        import numpy as np

        return [self._engine.read(np.asarray(f.convert("RGB"))) for f in frames]

    def evidence(self, req: AnswerRequest) -> list[str]:
        """The texts this answerer reads for one request (subtitle lines, then each frame's text)."""
        frame_text = req.frame_text if req.frame_text is not None else self._read_frames(req.frames)
        return [*req.subtitle_lines, *frame_text]

    def answer(self, req: AnswerRequest) -> str:
        """The letter for one request."""
        letter, _ = match_option(req.item, self.evidence(req))
        return letter or fallback_letter(req.item)

    def generate(self, requests: Sequence[AnswerRequest]) -> list[str]:
        return [self.answer(r) for r in requests]


# ------------------------------------------------------------------------------------------------
# Qwen2.5-VL through transformers


#: The CLaMR notebook's per-frame pixel range for Qwen2.5-VL (``qwen_videomme_baseline.ipynb``, both its 768-frame
#: and its 100-frame runs): ``min_pixels`` = VIDEO_MIN_PIXELS = 128·28·28, ``max_pixels`` = max(min(768·28·28,
#: total_pixels / 768 frames · 2), int(1.05 · min_pixels)) with total_pixels = 65536·28·28·0.8, i.e. about 107k
#: pixels per frame, as if 768 frames shared the budget. Pass them as ``max_pixels`` / ``min_pixels``.
NOTEBOOK_MIN_PIXELS = 128 * 28 * 28
NOTEBOOK_MAX_PIXELS = int(max(min(768 * 28 * 28, 65536 * 28 * 28 * 0.8 / 768 * 2), int(NOTEBOOK_MIN_PIXELS * 1.05)))


#: How the frames' times reach Qwen2.5-VL (see :func:`video_fps`).
TIME_AXES = ("real", "notebook")
#: The rate the CLaMR notebook's hand-over implies: qwen_vl_utils' default 2 fps, i.e. 1 s per 2-frame patch.
NOTEBOOK_FPS = 2.0


def video_fps(time_axis: str, real_rate: float) -> float:
    """The ``fps`` Qwen2.5-VL is given for the frames: the real average rate, or the notebook's 2 fps.

    Qwen2.5-VL's temporal position ids advance by ``second_per_grid_t = temporal_patch_size / fps`` per patch:

    >>> 2 / video_fps("real", 100 / 3600.0)   # 100 frames of an hour: 72 s per patch
    72.0
    >>> 2 / video_fps("notebook", 100 / 3600.0)  # the notebook: 1 s per patch
    1.0
    """
    if time_axis not in TIME_AXES:
        raise InputError(f"time_axis must be one of {TIME_AXES}, got {time_axis!r}")
    return NOTEBOOK_FPS if time_axis == "notebook" else float(real_rate)


class QwenVLAnswerer:
    """Qwen2.5-VL (transformers) answering from the selected frames.

    Args:
        pretrained: hub id or local directory (``Qwen/Qwen2.5-VL-7B-Instruct`` is the paper's answerer).
        device: torch device (default: CUDA if available, else CPU).
        dtype: ``bfloat16`` (default on CUDA), ``float16`` or ``float32`` (default on CPU).
        max_pixels / min_pixels: pixel range of each frame after Qwen's resize (multiples of 28x28).
        frames_as: ``"video"`` (one video item, frames in order; its time axis uses the average sampling rate
            k / duration, as Qwen2.5-VL's rotary time ids assume evenly spaced frames) or ``"images"`` (one image
            item per frame, each preceded by its timestamp); the same hand-over as
            ``Selection.to_qwen_messages`` (:mod:`clamr_frames.messages`).
        time_axis: with ``frames_as="video"``: ``"real"`` (the rate k / duration, so Qwen's time ids span the
            video) or ``"notebook"`` (2 fps, i.e. 1 s per temporal patch of two frames, as the CLaMR notebook handed
            its frames over).
        attn_implementation: e.g. ``sdpa`` or ``flash_attention_2``.
        system_prompt: the system turn.
        local_files_only: never contact the hub (default: follows ``HF_HUB_OFFLINE``).
    """

    name = "qwen2_5_vl"

    def __init__(
        self,
        pretrained: str = "Qwen/Qwen2.5-VL-7B-Instruct",
        *,
        device: str | None = None,
        dtype: str | None = None,
        max_pixels: int = 360 * 420,
        min_pixels: int = 28 * 28 * 4,
        frames_as: str = "video",
        time_axis: str = "real",
        attn_implementation: str | None = None,
        system_prompt: str = "You are a helpful assistant.",
        local_files_only: bool | None = None,
    ) -> None:
        import torch

        from clamr_frames.messages import FRAMES_AS

        if frames_as not in FRAMES_AS:
            raise InputError(f"frames_as must be one of {FRAMES_AS}, got {frames_as!r}")
        if not (isinstance(max_pixels, int) and max_pixels >= min_pixels > 0):
            raise InputError(f"need 0 < min_pixels <= max_pixels, got {min_pixels}, {max_pixels}")
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        dtype = dtype or ("bfloat16" if self.device.type == "cuda" else "float32")
        if dtype not in ("bfloat16", "float16", "float32"):
            raise InputError(f"dtype must be bfloat16, float16 or float32, got {dtype!r}")
        self.max_pixels, self.min_pixels = int(max_pixels), int(min_pixels)
        if time_axis not in TIME_AXES:
            raise InputError(f"time_axis must be one of {TIME_AXES}, got {time_axis!r}")
        self.frames_as = frames_as
        self.time_axis = time_axis
        self.system_prompt = system_prompt
        self.pretrained = str(pretrained)
        try:
            from transformers import AutoProcessor, Qwen2_5_VLForConditionalGeneration

            kw: dict[str, Any] = {"dtype": getattr(torch, dtype), "trust_remote_code": False}
            if attn_implementation:
                kw["attn_implementation"] = attn_implementation
            if local_files_only is not None:
                kw["local_files_only"] = local_files_only
            self.model = Qwen2_5_VLForConditionalGeneration.from_pretrained(self.pretrained, **kw).to(self.device).eval()
            pkw = {k: v for k, v in kw.items() if k in ("trust_remote_code", "local_files_only")}
            self.processor = AutoProcessor.from_pretrained(self.pretrained, **pkw)
        except (OSError, ValueError) as e:
            raise ModelLoadError(f"cannot load Qwen2.5-VL from {self.pretrained!r}: {e}") from e

    def _messages(self, req: AnswerRequest, frames: list[Any]) -> list[dict[str, Any]]:
        from clamr_frames.messages import frame_content

        content = frame_content(frames, req.timestamps, frames_as=self.frames_as, duration=req.duration)
        content.append({"type": "text", "text": req.prompt})
        msgs: list[dict[str, Any]] = []
        if self.system_prompt:
            msgs.append({"role": "system", "content": [{"type": "text", "text": self.system_prompt}]})
        msgs.append({"role": "user", "content": content})
        return msgs

    def _inputs(self, req: AnswerRequest) -> Any:
        from transformers.video_utils import VideoMetadata

        if not req.frames:
            raise InputError(f"{req.video}: no frame could be decoded for the question")
        frames = [f.convert("RGB") for f in req.frames]
        messages = self._messages(req, frames)
        text = self.processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        size = {"shortest_edge": self.min_pixels, "longest_edge": self.max_pixels}
        if self.frames_as == "images":
            return self.processor(text=[text], images=frames, images_kwargs={"size": size}, return_tensors="pt")
        k = len(frames)
        fps = video_fps(self.time_axis, messages[-1]["content"][0]["sample_fps"])
        meta = VideoMetadata(total_num_frames=k, fps=fps, frames_indices=list(range(k)), duration=k / fps)
        return self.processor(
            text=[text],
            videos=[frames],
            video_metadata=[meta],
            videos_kwargs={"size": size, "do_sample_frames": False},
            return_tensors="pt",
        )

    def generate(self, requests: Sequence[AnswerRequest]) -> list[str]:
        import torch

        out = []
        for req in requests:
            inputs = self._inputs(req).to(self.device)
            gk = req.gen_kwargs or {}
            max_new = int(gk.get("max_new_tokens", 16))
            temperature = float(gk.get("temperature", 0) or 0)
            kw: dict[str, Any] = {"max_new_tokens": max_new, "do_sample": temperature > 0}
            if temperature > 0:
                kw["temperature"] = temperature
            with torch.inference_mode():
                ids = self.model.generate(**inputs, **kw)
            new = ids[:, inputs["input_ids"].shape[1] :]
            text = self.processor.batch_decode(new, skip_special_tokens=True)[0]
            for stop in gk.get("until") or []:
                if stop and stop in text:
                    text = text.split(stop)[0]
            out.append(text.strip())
        return out


# ------------------------------------------------------------------------------------------------
# lmms-eval's own model classes


class LmmsEvalAnswerer:
    """Delegate to an lmms-eval *simple* model class, handing it the selected frames as a list of PIL images.

    The frames reach the model through the request's ``doc_to_visual`` (a function returning them), exactly as
    an image-list task would hand them over, so any simple model that accepts a list of images works
    (``qwen2_5_vl`` turns them into image items, ``llava_onevision`` into a multi-image input). Models that only
    take a video path (they would re-sample the file themselves) defeat the purpose and are not supported.

    Args:
        model: an lmms-eval model name (``llava_onevision``, ``qwen2_5_vl``, ...).
        **model_args: passed to the model class (``pretrained=...``, ``device=...``, ...).
    """

    name = "lmms"

    def __init__(self, model: str, **model_args: Any) -> None:
        try:
            from lmms_eval.models import get_model
        except ImportError as e:  # pragma: no cover - the harness already needs lmms-eval here
            raise ModelLoadError(f"inner model lmms:{model} needs lmms-eval (the 'eval' extra): {e}") from e
        cls = get_model(model, force_simple=True)
        if not getattr(cls, "is_simple", True):
            raise ModelLoadError(f"lmms-eval model {model!r} has no simple class to delegate to")
        self.model_name = model
        self.lm = cls(**model_args)

    def generate(self, requests: Sequence[AnswerRequest]) -> list[str]:
        from lmms_eval.api.instance import Instance

        out = []
        for req in requests:
            frames = list(req.frames)
            task, split = req.task or "clamr_frames", req.split or "test"
            # The inner model looks the document up by (task, split, doc_id) before calling doc_to_visual.
            self.lm.task_dict = {task: {split: {req.doc_id: dict(req.doc or {})}}}
            inst = Instance(
                request_type="generate_until",
                arguments=(req.prompt, dict(req.gen_kwargs), lambda _doc, fr=frames: fr, req.doc_id, task, split),
                idx=0,
                metadata={"task": task, "doc_id": req.doc_id, "repeats": 1},
            )
            res = self.lm.generate_until([inst])[0]
            out.append(getattr(res, "text", res))
        return out


def build_answerer(inner: str, **kwargs: Any) -> Answerer:
    """The inner model named ``inner``: ``ocr_reader`` (alias ``text-match``), ``qwen2_5_vl`` or ``lmms:<name>``.

    ``kwargs`` go to its constructor (``pretrained``, ``device``, ``max_pixels``, ...); keys an answerer does
    not take are an error, except that ``ocr_reader`` ignores model-loading keys.
    """
    name = str(inner).strip()
    if name in OCR_READER_NAMES:
        kw = {k: v for k, v in kwargs.items() if k == "ocr"}
        return OcrReaderAnswerer(**kw)
    if name in ("qwen2_5_vl", "qwen2.5-vl", "qwen"):
        return QwenVLAnswerer(**kwargs)
    if name.startswith("lmms:"):
        kwargs.pop("ocr", None)
        return LmmsEvalAnswerer(name.split(":", 1)[1], **kwargs)
    raise InputError(f"unknown inner model {inner!r}: use ocr_reader, qwen2_5_vl or lmms:<lmms-eval model name>")


__all__ = [
    "NOTEBOOK_FPS",
    "NOTEBOOK_MAX_PIXELS",
    "NOTEBOOK_MIN_PIXELS",
    "OCR_READER_NAMES",
    "TIME_AXES",
    "AnswerRequest",
    "Answerer",
    "LmmsEvalAnswerer",
    "OcrReaderAnswerer",
    "QwenVLAnswerer",
    "build_answerer",
    "fallback_letter",
    "match_option",
    "video_fps",
]
