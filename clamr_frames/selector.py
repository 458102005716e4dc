"""The public façade: ``FrameSelector.from_pretrained(...).select(video, question, k)`` → :class:`Selection`."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from clamr_frames.encoders.registry import SCORERS, default_policy
from clamr_frames.errors import InputError
from clamr_frames.index.builder import IndexSettings, build_index, subtitles_digest
from clamr_frames.index.store import IndexStore, VideoIndex
from clamr_frames.types import MODALITY_NAMES, Modality

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.context.asr import AsrSettings
    from clamr_frames.context.shots import VisualPrior
    from clamr_frames.encoders.base import Encoder
    from clamr_frames.index.pipeline import PipelineStats
    from clamr_frames.scoring import MaxSimArgmax

#: Indexes a selector keeps in memory (least recently used dropped first; they reload from disk).
_INDEXES_IN_MEMORY = 4


@dataclass
class TokenMatch:
    """Which document token won one query token for a picked frame."""

    query_token: str
    modality: str
    similarity: float


@dataclass
class Selection:
    """The frames picked for one question, in temporal order.

    Attributes:
        video: path of the video.
        question: the question as given.
        indices: candidate indices of the picked frames (into ``all_timestamps``), ascending; a frame appears
            more than once where the policy repeats it (``bolt``), and so do its timestamp, score and frame.
        timestamps: seconds of the picked frames.
        scores: score of each picked frame.
        all_scores: score of every candidate (for plots and other policies).
        all_timestamps: timestamp of every candidate.
        frame_indices: native frame index of each picked frame.
        asr / ocr: the context each picked frame was scored with.
        policy: the selection policy used.
        duration: length of the video in seconds (None when unknown).
        asr_source: where the ASR context came from (``subtitles``, ``whisper:<model>`` or ``none``).
        prior: the video's visual prior (shots and novelty per candidate), when the index has one.
    """

    video: str
    question: str
    indices: np.ndarray
    timestamps: np.ndarray
    scores: np.ndarray
    all_scores: np.ndarray
    all_timestamps: np.ndarray
    frame_indices: np.ndarray
    asr: list[str]
    ocr: list[str]
    policy: str
    asr_source: str = "none"
    matches: list[list[TokenMatch]] = field(default_factory=list, repr=False)
    duration: float | None = None
    prior: "VisualPrior | None" = field(default=None, repr=False)
    _frames: "list[np.ndarray | None] | None" = field(default=None, repr=False)
    _max_side: int | None = field(default=None, repr=False)
    _backend: str = field(default="auto", repr=False)

    @property
    def frames(self) -> "list[np.ndarray | None]":
        """Picked frames as uint8 RGB arrays (decoded on first access; None where a frame did not decode)."""
        if self._frames is None:
            from clamr_frames.video import VideoReader

            with VideoReader(self.video, backend=self._backend) as reader:
                got = reader.get_frames(self.frame_indices, max_side=self._max_side)
            by_index = dict(zip((int(i) for i in got.indices), got.frames))
            self._frames = [by_index.get(int(i)) for i in self.frame_indices]
        return self._frames

    def pil_images(self) -> list[Any]:
        """Picked frames as PIL images (skipping frames that did not decode)."""
        return self._to_pil([f for f in self.frames if f is not None])

    @staticmethod
    def _to_pil(frames: "list[np.ndarray]") -> list[Any]:
        from PIL import Image

        return [Image.fromarray(f) for f in frames]

    def explain(self) -> list[dict[str, Any]]:
        """Per picked frame: its time, score, context, and which query tokens matched which modality."""
        out = []
        for j, i in enumerate(self.indices):
            m = self.matches[j] if j < len(self.matches) else []
            by_mod: dict[str, list[str]] = {}
            for tm in m:
                by_mod.setdefault(tm.modality, []).append(tm.query_token)
            out.append(
                {
                    "timestamp": float(self.timestamps[j]),
                    "score": float(self.scores[j]),
                    "asr": self.asr[j],
                    "ocr": self.ocr[j],
                    "matched": by_mod,
                    "top_modality": max(by_mod, key=lambda k: len(by_mod[k])) if by_mod else None,
                    "token_matches": [tm.__dict__ for tm in m],
                }
            )
        return out

    def to_qwen_messages(
        self,
        question: str | None = None,
        *,
        subtitles: str | None = None,
        frames_as: str = "video",
        **vision_kwargs: Any,
    ) -> list[dict[str, Any]]:
        """A qwen_vl_utils-style chat message: the picked frames with their real times, then the question.

        The frames are not evenly spaced, so the message says when they were taken (see
        :mod:`clamr_frames.messages`):

        - ``frames_as="video"`` (default): one video item of the frames with ``sample_fps = k / duration``, the
          average rate over the whole video, which qwen_vl_utils hands the processor (as ``fps``, or in the video
          metadata for transformers >= 4.57), so Qwen2.5-VL's time-aligned position ids span the real length, not k
          frames at 2 fps. Half the visual
          tokens of ``"images"``. Choose it for questions about what happens, and with policies that spread
          frames out (``uniform``, ``nms``, ``inverse-transform``, ``hybrid``, ``gated``).
        - ``frames_as="images"``: each frame as an image item preceded by its timestamp text
          (``<754.0 seconds>``): exact times, twice the visual tokens. Choose it when the answer depends on when
          or in what order things happen, or when the picks cluster (``topk`` on a peaked question).

        Use::

            msgs = sel.to_qwen_messages(frames_as="video", max_pixels=360 * 420)
            text = processor.apply_chat_template(msgs, tokenize=False, add_generation_prompt=True)
            images, videos, kw = process_vision_info(msgs, return_video_kwargs=True, return_video_metadata=True)
            if videos:  # transformers >= 4.57 reads the rate from the metadata
                videos, metadata = map(list, zip(*videos))
                kw["video_metadata"] = metadata
            inputs = processor(text=[text], images=images, videos=videos, return_tensors="pt", **kw)

        Args:
            question: the text after the frames (default: the question the frames were picked for).
            subtitles: subtitle text to put between the frames and the question.
            frames_as: ``"video"`` or ``"images"``.
            **vision_kwargs: added to each image / video item (qwen_vl_utils' ``max_pixels``, ``min_pixels``).

        Frames that did not decode are left out, with their times.
        """
        from clamr_frames.messages import frame_content

        pairs = [(f, t) for f, t in zip(self.frames, self.timestamps) if f is not None]
        images = self._to_pil([f for f, _ in pairs])
        content = frame_content(images, [float(t) for _, t in pairs], frames_as=frames_as, duration=self.duration,
                                **vision_kwargs)
        if subtitles:
            content.append({"type": "text", "text": f"Subtitles: {subtitles}"})
        content.append({"type": "text", "text": question if question is not None else self.question})
        return [{"role": "user", "content": content}]

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary (no pixels)."""
        return {
            "video": self.video,
            "question": self.question,
            "policy": self.policy,
            "asr_source": self.asr_source,
            "k": int(len(self.indices)),
            "duration": self.duration,
            "frames": [
                {"candidate": int(c), "frame_index": int(f), "timestamp": float(t), "score": float(s)}
                for c, f, t, s in zip(self.indices, self.frame_indices, self.timestamps, self.scores)
            ],
            "num_candidates": int(len(self.all_scores)),
            "explain": self.explain(),
        }

    def to_html(self, path: str | Path, *, cues: Any = None, spans: Any = (), options: list[str] | None = None,
                modality_scores: dict[str, Any] | None = None, meta: dict[str, Any] | None = None) -> Path:
        """Write a self-contained HTML report of this selection (:mod:`clamr_frames.report`): the video linked by
        its path relative to the page, every candidate's score over time with the picks and shots marked, the
        picked frames as small thumbnails with their context and matched query words, the transcript ``cues``
        (subtitle or recognised cues: objects or dicts with start, end, text). ``spans``: ground-truth time
        spans to shade; ``modality_scores``: per modality, each candidate's part of its score."""
        from clamr_frames.report import write_page
        from clamr_frames.report.live import selection_page

        path = Path(path)
        data = selection_page(self, path.parent, cues=cues, spans=spans, options=options,
                              modality_scores=modality_scores, meta=meta)
        return write_page(path, data)


class FrameSelector:
    """Query-aware frame selection over a cached per-video index.

    Example::

        selector = FrameSelector.from_pretrained("default")
        sel = selector.select("talk.mp4", "What does the speaker write on the board?", k=16, subtitles="talk.srt")
        sel.timestamps, sel.frames, sel.explain()

    ASR context (``asr=``): ``"auto"`` (default) reads the subtitle file when one is given, else recognises the
    speech of the video's audio track (:mod:`clamr_frames.context.asr`, Whisper tiny.en offline by default;
    ``asr_settings`` picks another model), else goes without; ``"subtitles"``, ``"whisper"`` and ``"none"``
    force one source. Transcripts are cached under ``<index_dir>/asr`` by video content and settings.

    OCR context (``ocr=``): None (default) reads the text in the frames where the scorer reads OCR text (the
    embedded default and CLaMR; not the visual CLIP / LanguageBind scorers) and the ``ocr`` extra is installed
    (:func:`clamr_frames.index.plan.resolve_ocr`; without it, one warning); ``False`` skips it; ``True`` asks
    for it (an :class:`~clamr_frames.context.ocr.OcrUnavailableError` now when the extra is missing).
    ``use_ocr`` says what was decided.

    Policy: :meth:`select` without ``policy`` uses the scorer's own (:attr:`default_policy`).
    """

    def __init__(
        self,
        encoder: "Encoder",
        *,
        settings: IndexSettings | None = None,
        index_dir: str | Path | None = None,
        ocr: bool | None = None,
        aggregation: str = "token_max",
        normalize: bool = False,
        progress: bool = True,
        compression: str | None = None,
        asr: str | bool = "auto",
        asr_settings: "AsrSettings | None" = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        """See the class docstring.

        ``index_dir``: where the per-video indexes live (default ``$CLAMR_FRAMES_CACHE`` or the user cache
        directory); ``cache_dir`` is its deprecated old name (a DeprecationWarning; giving both is an error).
        ``compression`` (None, ``"int8"``, ``"binary"``, ``"pool"``, ``"pool+int8"``, ...; see
        :mod:`clamr_frames.index.codecs`) overrides ``settings.compression``. ``asr`` / ``asr_settings``: where
        the ASR context comes from and how speech is recognised; ``ocr``: whether the frames' text is read (see
        the class docstring)."""
        from clamr_frames.context.asr import AsrSettings, check_asr_mode
        from clamr_frames.index.plan import OcrEngines, resolve_ocr

        if cache_dir is not None:
            if index_dir is not None:
                raise InputError("pass index_dir only (cache_dir is its deprecated old name)")
            warnings.warn("FrameSelector(cache_dir=...) is deprecated: the index directory is now index_dir= "
                          "(cache_dir read like transformers' download cache)", DeprecationWarning, stacklevel=2)
            index_dir = cache_dir
        if aggregation not in ("token_max", "modality_max"):
            raise InputError(f"aggregation must be 'token_max' or 'modality_max', got {aggregation!r}")
        self.encoder = encoder
        self.settings = settings or IndexSettings()
        if compression is not None:
            import dataclasses

            self.settings = dataclasses.replace(self.settings, compression=compression)
        self.store = IndexStore(Path(index_dir)) if index_dir is not None else IndexStore()
        self.use_ocr = resolve_ocr(ocr, bool(getattr(encoder, "uses_ocr", False)))
        self._ocr_engines = OcrEngines()  # built once, shared by every video this selector indexes
        self.aggregation = aggregation
        self.normalize = normalize
        self.progress = progress
        self.asr = check_asr_mode(asr)
        self.asr_settings = asr_settings or AsrSettings()
        self._indexes: dict[tuple[Any, Any, str], VideoIndex] = {}
        self._prepared: dict[str, "torch.Tensor"] = {}  # query -> embedding, from prepare_queries

    @classmethod
    def from_pretrained(
        cls, name_or_path: str | Path = "default", *, device: str | None = None, revision: str | None = None,
        **kwargs: Any,
    ) -> "FrameSelector":
        """Build a selector from a scorer name, a hub id or a local path.

        Args:
            name_or_path: a scorer name (:data:`~clamr_frames.encoders.registry.SCORERS`: ``"default"``, offline
                MiniLM late interaction over ASR/OCR context; ``"clamr"``, the released ``meetdavidwan/clamr``
                adapter; ...), a hub id, or a local scorer folder (recognised by what it records: a trained
                ``default`` / ``clip`` / ``clamr`` run, a CLaMR adapter or saved model; see
                :func:`~clamr_frames.encoders.registry.scorer_for_folder`).
            device: torch device for neural encoders (default: CUDA if available, else CPU).
            revision: Hub branch, tag or commit of the scorer's weights (``encoder_kwargs`` takes
                ``base_revision`` for CLaMR's backbone, ``audio_revision`` for LanguageBind's audio tower);
                recorded, with the commit it resolved to, in every index manifest (``encoder_source``).
            **kwargs: passed to :class:`FrameSelector` (settings, index_dir, ocr (default: on where the scorer
                reads OCR text), aggregation, progress, ...);
                ``encoder_kwargs`` to the encoder. ``progress=False`` also hides Hub download bars.
        """
        from clamr_frames.encoders.registry import load_encoder

        encoder_kwargs = dict(kwargs.pop("encoder_kwargs", {}) or {})
        if revision is not None:
            encoder_kwargs["revision"] = revision
        encoder_kwargs.setdefault("progress", kwargs.get("progress", True))
        return cls(load_encoder(str(name_or_path), device=device, **encoder_kwargs), **kwargs)

    @property
    def default_policy(self) -> str:
        """The policy :meth:`select` uses when given none: the scorer's own
        (:func:`clamr_frames.encoders.registry.default_policy`)."""
        return default_policy(self.encoder)

    # ------------------------------------------------------------------------------------------
    def asr_cue_source(self, video: str | Path, subtitles: Any = None, asr: str | bool | None = None) -> Any:
        """The cue source the index of ``video`` reads its ASR context from, waiting for speech recognition: the
        subtitles, a speech-recognition ``Transcript``, or None (the context plan,
        :func:`clamr_frames.index.plan.plan_context`, with this selector's mode, settings and cache)."""
        from clamr_frames.index.plan import plan_context

        return plan_context(video, subtitles, asr=self.asr if asr is None else asr, asr_settings=self.asr_settings,
                            store_root=self.store.root, stream=False, progress=self.progress).subtitles

    def asr_context(self, video: str | Path, subtitles: Any = None, asr: str | bool | None = None) -> Any:
        """Deprecated name of :meth:`asr_cue_source`."""
        warnings.warn("FrameSelector.asr_context is deprecated: use FrameSelector.asr_cue_source",
                      DeprecationWarning, stacklevel=2)
        return self.asr_cue_source(video, subtitles, asr)

    def index(
        self,
        video: str | Path,
        subtitles: Any = None,
        *,
        asr: str | bool | None = None,
        stats: "PipelineStats | None" = None,
        prior: bool = False,
    ) -> VideoIndex:
        """Build or load the index of ``video`` (encodes each candidate once; later questions reuse it).

        ``asr`` overrides the selector's ASR mode for this video (see the class docstring). ``stats`` (a
        :class:`~clamr_frames.index.pipeline.PipelineStats`) is filled with each stage's work when the index is
        built. ``prior``: make sure the index has its visual prior (``index.prior``; what ``coverage`` and
        ``gated`` use): an index whose build decoded no frames (a text-only scorer without OCR) gets it now, by
        one decoding pass that is stored with the index (unless ``IndexSettings(visual_prior=False)``).
        """
        idx = self._index(video, subtitles, asr=asr, stats=stats)
        if prior and idx.prior is None and self.settings.visual_prior:
            from clamr_frames.index.prior import ensure_prior

            with self.store.lock(idx.path):
                ensure_prior(idx, self.store, video, self.settings, progress=self.progress)
        return idx

    def _index(self, video: str | Path, subtitles: Any, *, asr: str | bool | None,
               stats: "PipelineStats | None") -> VideoIndex:
        from clamr_frames.context.asr import check_asr_mode
        from clamr_frames.index.plan import plan_context

        mode = check_asr_mode(self.asr if asr is None else asr)
        key = (_file_key(video), _subs_key(subtitles), mode)
        cached = self._indexes.pop(key, None)
        if cached is not None and (cached.path / "index.safetensors").exists():
            self._indexes[key] = cached  # most recently used last
            return cached
        # the context plan: ASR source (a soundtrack still to transcribe is recognised while the frames are decoded
        # and read), OCR pass on this selector's engines, the cores shared between them
        plan = plan_context(video, subtitles, asr=mode, asr_settings=self.asr_settings, ocr=self.use_ocr,
                            store_root=self.store.root, ocr_engines=self._ocr_engines, progress=self.progress)
        idx = build_index(video, self.encoder, **plan.build_kwargs(self.encoder.uses_image), settings=self.settings,
                          store=self.store, progress=self.progress, stats=stats)
        self._indexes[key] = idx
        while len(self._indexes) > _INDEXES_IN_MEMORY:  # questions across many videos: bounded memory
            del self._indexes[next(iter(self._indexes))]
        return idx

    def prepare_queries(self, queries: list[str]) -> None:
        """Encode ``queries`` (as :meth:`select` builds them: :func:`~clamr_frames.encoders.query.build_query`)
        in one encoder call, for the :meth:`select` calls that follow: many questions cost one batched forward
        pass instead of one each. Replaces what an earlier call prepared."""
        self._prepared = dict(zip(queries, self.encoder.encode_queries(list(queries))))

    def score(self, index: VideoIndex, query: str) -> tuple["torch.Tensor", "MaxSimArgmax"]:
        """Score every candidate of ``index`` against ``query``: ([n] scores, which token won each query token)."""
        from clamr_frames.scoring import score_frames

        q = self._prepared.get(query)
        if q is None:
            q = self.encoder.encode_queries([query])[0]
        # The scorer's own aggregation details: CLaMR floors each query token's best match at 0, as the reference's
        # zero padding did (ClamrEncoder.score_floor); LanguageBind V+A fuses its two modalities (score_fusion).
        return score_frames(q, index.embeddings, aggregation=self.aggregation, normalize=self.normalize,
                            floor=getattr(self.encoder, "score_floor", None),
                            fusion=getattr(self.encoder, "score_fusion", None))

    def select(
        self,
        video: str | Path,
        question: str,
        k: int = 16,
        *,
        subtitles: Any = None,
        options: list[str] | None = None,
        policy: str | None = None,
        seed: int = 0,
        asr: str | bool | None = None,
        **policy_knobs: Any,
    ) -> Selection:
        """Pick ``k`` frames of ``video`` for ``question``; frames come back in temporal order.

        Args:
            video: path of the video.
            question: the question (must not be empty).
            k: number of frames; more than the candidates returns all of them (with a warning).
            subtitles: subtitle path / object / cues for the ASR context, or None.
            options: multiple-choice options; when given the scorer is queried with
                :func:`~clamr_frames.encoders.query.build_query` ``(question, options)``, the format training
                uses (``examples_from_qa(options_key=...)``), which also gives CLaMR its options token cap.
            policy: ``topk``, ``nms``, ``adaptive``, ``inverse-transform``, ``hybrid``, ``uniform`` (...); None:
                the scorer's default (:attr:`default_policy`). The selection records the policy used.
            seed: for policies with randomness.
            asr: where the ASR context comes from for this video (``auto``, ``subtitles``, ``whisper``, ``none``;
                default: the selector's ``asr``).
            **policy_knobs: passed to the policy (e.g. ``min_gap`` for ``nms``). Policies that take the
                visual prior (``coverage``, ``gated``) get the index's as ``prior`` unless given one.
        """
        from clamr_frames.select import select_frames, takes_prior

        if not isinstance(question, str) or not question.strip():
            raise InputError("question is empty: give the question the frames should answer")
        if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k <= 0:
            raise InputError(f"k must be a positive integer, got {k!r}")
        if policy is None:
            policy = self.default_policy
        index = self.index(video, subtitles, asr=asr, prior=takes_prior(policy))
        n = index.num_candidates
        if k > n:
            warnings.warn(f"{video}: k={k} is more than the {n} candidate frames; returning all {n}", stacklevel=2)
        from clamr_frames.encoders.query import build_query

        query = build_query(question, options)
        scores_t, argmax = self.score(index, query)
        scores = scores_t.detach().float().cpu().numpy()
        if index.prior is not None and takes_prior(policy):
            policy_knobs.setdefault("prior", index.prior)
        picked = select_frames(scores, index.timestamps, min(int(k), n), policy=policy, seed=seed, **policy_knobs)
        picked = np.asarray(picked, dtype=np.int64)
        return Selection(
            video=str(video),
            question=question,
            indices=picked,
            timestamps=index.timestamps[picked],
            scores=scores[picked],
            all_scores=scores,
            all_timestamps=index.timestamps,
            frame_indices=index.frame_indices[picked],
            asr=[index.asr[i] for i in picked],
            ocr=[index.ocr[i] for i in picked],
            policy=policy,
            asr_source=index.asr_source,
            matches=self._matches(query, index, argmax, picked),
            duration=_duration(index),
            prior=index.prior,
            _max_side=self.settings.max_side,
            _backend=self.settings.backend,
        )

    def _matches(self, query: str, index: VideoIndex, argmax: "MaxSimArgmax", picked: np.ndarray) -> list[list[TokenMatch]]:
        # Encoders that can name their query tokens (``query_tokens``) make the explanation readable.
        tokens_fn = getattr(self.encoder, "query_tokens", None)
        tokens = tokens_fn(query) if callable(tokens_fn) else None
        token_idx, sims = argmax.token_index, argmax.similarity
        mods = index.embeddings.modality_ids
        out = []
        for i in picked:
            row = token_idx[int(i)]
            ms = []
            for qpos, t in enumerate(row.tolist()):
                if t < 0:
                    continue
                name = tokens[qpos] if tokens is not None and qpos < len(tokens) else f"#{qpos}"
                mod = MODALITY_NAMES.get(int(mods[t]), "other")
                sim = float(sims[int(i), qpos]) if sims is not None else float("nan")
                ms.append(TokenMatch(name, mod, sim))
            out.append(ms)
        return out


def _duration(index: VideoIndex) -> float | None:
    """The video's length as its index recorded it (None for an index without it)."""
    d = (index.manifest.get("video_meta") or {}).get("duration")
    return float(d) if isinstance(d, (int, float)) and d > 0 else None


def _subs_key(subtitles: Any) -> Any:
    """What the in-memory index cache tells subtitles apart by: a file by :func:`_file_key` (an edited file is
    looked up again), in-memory subtitles by their content (never ``id()``, which a new object can reuse after the
    old one is freed)."""
    if subtitles is None:
        return None
    if isinstance(subtitles, (str, Path)):
        return _file_key(subtitles)
    return subtitles_digest(subtitles)


def _file_key(path: str | Path) -> Any:
    """A file's resolved path, size and modification time (just the path if it cannot be read: building the
    index then reports the problem)."""
    p = Path(path)
    try:
        st = p.stat()
    except OSError:
        return str(p)
    return str(p.resolve()), st.st_size, st.st_mtime_ns


__all__ = ["SCORERS", "FrameSelector", "Modality", "Selection", "TokenMatch"]
