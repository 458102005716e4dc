"""``LanguageBindEncoder``: the LanguageBind single-vector baselines, V (frame vs question) and V+A (fused with
the soundtrack around the frame).

Model (facts from ``PKU-YuanGroup/LanguageBind``, read, not copied)
    Every LanguageBind checkpoint is a CLIP model (``config.json``: ``architectures: ["CLIPModel"]``,
    ``model_type: "LanguageBindImage"`` / ``"LanguageBindAudio"``, ``text_config``, ``vision_config``,
    ``projection_dim`` 768) whose modality tower is a CLIP ViT-L/14 and whose text tower, shared by all
    modalities (frozen in training), is a CLIP text transformer pooled at the EOS token (``argmax`` of the ids).
    The image tower sees 224×224 frames (ToTensor, shortest side to 224 bicubic, centre crop, OpenAI mean/std);
    the audio tower (``LanguageBind_Audio_FT``) sees a ``[3, num_mel_bins, target_length]`` fbank "image" (see
    :mod:`clamr_frames.encoders.languagebind_audio`) through the same ViT with a non-square patch grid
    (112/14 × 1036/14 = 8 × 74 patches, 593 positions with the class token, in the released config).

Resizing frames (``antialias``)
    LanguageBind's image processor resizes the *tensor* (``ToTensor`` comes first) with torchvision's
    ``Resize``; under the torchvision its README pins (0.14.1) a tensor resize does not antialias. Current
    torchvision (>= 0.17) antialiases tensors by default, so running the same transform today gives other
    pixels. The default here, ``antialias=False``, is the reference's behaviour (these are baselines, meant to
    match the published ones); ``antialias=True`` (``scorer_antialias=true`` in the harness) gives the
    antialiased downscale, which aliases less on frames much larger than 224 px.

    The transformers classes are used as they are (``CLIPModel`` for image + text, ``CLIPVisionModel`` for audio
    with its patch embedding replaced by one with a ``rows × cols`` grid). The ``languagebind`` package on PyPI
    (0.1.0) was not used: it pins ``transformers<5`` and rebuilds the towers around peft at construction time.

State-dict layout (read by :mod:`clamr_frames.encoders.languagebind_loading`)
    Keys are CLIP's (``text_model.*``, ``vision_model.*``, ``visual_projection.weight``,
    ``text_projection.weight``, ``logit_scale``), plus persistent ``*.position_ids`` buffers (dropped here).
    LoRA-tuned checkpoints (``vision_config.lora_r > 0``, e.g. ``LanguageBind_Audio``) wrap the vision encoder
    with peft: ``vision_model.encoder.base_model.model.layers.N.self_attn.{q,k,v,out}_proj.weight`` and
    ``...lora_A.default.weight`` / ``...lora_B.default.weight`` (peft 0.4 names; newer peft writes
    ``...base_layer.weight``). Both are read and the LoRA update is merged: ``W + (lora_alpha / r) B A``.
    Weights load from ``model.safetensors`` when present, else from ``pytorch_model.bin`` through
    ``torch.load(weights_only=True)`` (the released checkpoints ship only .bin); no remote code runs.

Scoring (V+A)
    A V+A document has two tokens, the frame (``Modality.VIDEO``) and the audio window (``Modality.AUDIO``);
    a V document has one. The query is one token, so plain MaxSim (``token_max``) gives the raw maximum of
    the two cosine similarities, which is uncalibrated (audio–text and image–text similarities live on
    different scales). The issue's fusion z-scores each modality's similarities over the video's candidates and
    takes their ``max`` or ``mean`` (:func:`clamr_frames.scoring.fusion.fuse_scores`, from the stored embeddings);
    ``encoder.score_fusion`` tells the scoring stage to use it (:func:`clamr_frames.scoring.score_frames`).
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from clamr_frames.encoders.base import DocEmbeddings, Document
from clamr_frames.encoders.clip_common import (
    OPENAI_MEAN,
    OPENAI_STD,
    ClipStyleEncoder,
    pack_tokens,
)
from clamr_frames.encoders.hub import hub_record, resolve_checkpoint
from clamr_frames.encoders.runtime import resolve_device, resolve_dtype, resolve_offline
from clamr_frames.encoders.languagebind_audio import AudioFeatureSettings, audio_inputs, read_windows, window_bounds
from clamr_frames.encoders.languagebind_loading import (  # noqa: F401  (the checkpoint API, re-exported)
    LanguageBindConfig,
    convert_state_dict,
    load_audio_checkpoint,
    load_image_checkpoint,
    make_audio_tower,
    read_languagebind_config,
)
from clamr_frames.errors import InputError, ModelLoadError, VideoError
from clamr_frames.types import FUSIONS, Modality

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

DEFAULT_IMAGE = "LanguageBind/LanguageBind_Image"
DEFAULT_AUDIO = "LanguageBind/LanguageBind_Audio_FT"

_EXAMPLE = "LanguageBindEncoder.from_pretrained(image='DIR_IMAGE', audio='DIR_AUDIO')"


# ---------------------------------------------------------------------------------------------- the encoder
class LanguageBindEncoder(ClipStyleEncoder):
    """LanguageBind V / V+A scorer implementing :class:`~clamr_frames.encoders.base.Encoder`.

    Attributes:
        uses_audio: True when an audio tower is loaded (V+A): the index builder should then call
            :meth:`encode_video_documents` instead of ``encode_documents``.
        score_fusion: ``"max"`` / ``"mean"`` for V+A (scored by :func:`clamr_frames.scoring.fusion.fuse_scores`),
            ``None`` for V.
        audio_window: ``(before, after)`` seconds of audio around each frame.
        audio_settings: :class:`~clamr_frames.encoders.languagebind_audio.AudioFeatureSettings` of the tower.
    """

    kind = "languagebind"
    default_policy = "gated"  # what policy=None selects with: docs/policies.md, "Default policy by scorer"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        *,
        audio_tower: Any = None,
        audio_settings: AudioFeatureSettings | None = None,
        fusion: str = "max",
        audio_window: "float | tuple[float, float] | None" = None,
        image_size: int | None = None,
        antialias: bool = False,
        device: "str | torch.device | None" = None,
        batch_size: int = 32,
        audio_batch_size: int = 8,
        output_dtype: "torch.dtype | None" = None,
        source: dict[str, Any] | None = None,
    ):
        if fusion not in FUSIONS:
            raise InputError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        if audio_batch_size < 1:
            raise InputError(f"audio_batch_size must be >= 1, got {audio_batch_size}")
        self.image_size = int(image_size or model.config.vision_config.image_size)
        self.antialias = bool(antialias)
        super().__init__(
            model,
            tokenizer,
            self._preprocess,
            device=device,
            batch_size=batch_size,
            output_dtype=output_dtype,
            source=source,
        )
        self.audio_tower = audio_tower.eval() if audio_tower is not None else None
        self.uses_audio = self.audio_tower is not None
        self.audio_settings = (audio_settings or AudioFeatureSettings()) if self.uses_audio else None
        self.audio_window = window_bounds(audio_window, self.audio_settings) if self.audio_settings else None
        self.fusion = fusion
        self.score_fusion = fusion if self.uses_audio else None
        self.audio_batch_size = int(audio_batch_size)
        if self.uses_audio and int(self.audio_tower.visual_projection.out_features) != self.dim:
            raise ModelLoadError(
                f"audio tower projects to {self.audio_tower.visual_projection.out_features} dims, the text tower "
                f"to {self.dim}: the checkpoints do not belong together"
            )
        self._warned_no_audio: set[str] = set()

    # -------------------------------------------------------------------- identity
    def _fingerprinted(self) -> list[Any]:
        return [self.model] + ([self.audio_tower] if self.uses_audio else [])

    @property
    def config(self) -> dict[str, Any]:
        """Settings that change embeddings (fusion does not: it only changes scoring)."""
        return {
            **super().config,
            "image": self.source.get("image", "in-memory"),
            "image_size": self.image_size,
            "antialias": self.antialias,
            "text_pooling": "argmax",
            "audio": self.source.get("audio", "in-memory") if self.uses_audio else None,
            "audio_window": list(self.audio_window) if self.audio_window else None,
            "audio_features": self.audio_settings.to_dict() if self.audio_settings else None,
        }

    # -------------------------------------------------------------------- towers
    def _pool_text(self, outputs: Any, input_ids: "torch.Tensor") -> "torch.Tensor":
        # LanguageBind pools at argmax(ids), the EOS of CLIP's vocabulary, whatever eos_token_id the config says.
        import torch

        hidden = outputs.last_hidden_state
        return hidden[torch.arange(hidden.shape[0], device=hidden.device), input_ids.argmax(dim=-1)]

    def _preprocess(self, frames: "list[np.ndarray]") -> "torch.Tensor":
        """LanguageBind's image transform: [0, 1] floats, shortest side to ``image_size`` (bicubic), centre
        crop, OpenAI mean/std. No antialiasing unless ``antialias`` (see the module doc: the reference's
        torchvision 0.14 did not antialias tensors)."""
        import torch
        from torchvision.transforms import InterpolationMode
        from torchvision.transforms import functional as TF

        def run(x: "torch.Tensor") -> "torch.Tensor":
            x = TF.resize(x, self.image_size, interpolation=InterpolationMode.BICUBIC, antialias=self.antialias)
            x = TF.center_crop(x, [self.image_size, self.image_size])
            return TF.normalize(x, OPENAI_MEAN, OPENAI_STD)

        tensors = [torch.from_numpy(f).permute(2, 0, 1).float().div_(255.0) for f in frames]
        if len({tuple(t.shape) for t in tensors}) == 1:
            return run(torch.stack(tensors))
        return torch.stack([run(t.unsqueeze(0))[0] for t in tensors])

    def encode_audio(self, windows: "Sequence[np.ndarray | None]") -> "list[torch.Tensor | None]":
        """Mono audio windows at ``audio_settings.sample_rate`` → ``[dim]`` float32 L2-normalised vectors.

        ``None`` (or a window shorter than one 25 ms frame) gives ``None``.
        """
        import torch
        import torch.nn.functional as F

        if not self.uses_audio:
            raise InputError("this LanguageBind encoder has no audio tower: load it with audio=...")
        settings = self.audio_settings
        keep = [i for i, w in enumerate(windows) if w is not None and len(w) >= settings.window_samples]
        out: list[Any] = [None] * len(windows)
        dtype = self.audio_tower.visual_projection.weight.dtype
        for s in range(0, len(keep), self.audio_batch_size):
            idx = keep[s : s + self.audio_batch_size]
            x = audio_inputs([windows[i] for i in idx], settings, device=self.device)
            with torch.inference_mode():
                vecs = F.normalize(self.audio_tower(x.to(dtype)).float(), dim=-1).cpu()
            for row, i in enumerate(idx):
                out[i] = vecs[row]
        return out

    def encode_video_audio(
        self,
        video: str | Path,
        timestamps: Sequence[float],
        *,
        read_audio: Callable[[float, float, int], "np.ndarray | None"] | None = None,
    ) -> "tuple[torch.Tensor, torch.Tensor] | None":
        """Embed the audio window around each timestamp of ``video``.

        Args:
            video: the video file; its soundtrack is decoded with ``clamr_frames.video.VideoReader.read_audio``
                (mono, resampled to the tower's rate).
            timestamps: seconds.
            read_audio: ``(start_s, end_s, sample_rate) -> samples | None`` to read from elsewhere instead.

        Returns:
            ``(vectors [n, dim] float32, present [n] bool)``; rows without audio (a window past the end of the
            track) are zero with ``present`` False. ``None`` when the video has no audio stream, or its audio
            does not decode (with a warning, once per video): the caller falls back to V.

        Raises:
            VideoError: the video itself cannot be opened.
        """
        import torch

        if not self.uses_audio:
            raise InputError("this LanguageBind encoder has no audio tower: load it with audio=...")
        sr = self.audio_settings.sample_rate
        before, after = self.audio_window
        kw = dict(before=before, after=after, sample_rate=sr, min_samples=self.audio_settings.window_samples)

        def cut(read: Callable[[float, float], Any]) -> tuple[Any, str]:
            try:
                return read_windows(read, timestamps, **kw), "no audio stream"
            except VideoError as e:  # the soundtrack is broken, the frames may be fine
                return None, f"its audio track does not decode ({e.reason})"

        if read_audio is not None:
            windows, problem = cut(lambda s, e: read_audio(s, e, sr))
        else:
            from clamr_frames.video import VideoReader

            with VideoReader(video) as reader:
                windows, problem = cut(lambda s, e: reader.read_audio(s, e, sample_rate=sr))
        if windows is None:
            self._warn_no_audio(video, problem)
            return None
        vecs = self.encode_audio(windows)
        present = torch.tensor([v is not None for v in vecs], dtype=torch.bool)
        out = torch.zeros((len(vecs), self.dim))
        for i, v in enumerate(vecs):
            if v is not None:
                out[i] = v
        return out, present

    def _warn_no_audio(self, video: str | Path, why: str) -> None:
        key = str(video)
        if key not in self._warned_no_audio:  # once per video, not once per chunk of candidates
            self._warned_no_audio.add(key)
            warnings.warn(f"{video}: {why}; LanguageBind V+A falls back to V (frames only)", stacklevel=3)

    # -------------------------------------------------------------------- documents
    def encode_video_documents(
        self,
        docs: list[Document],
        video: str | Path,
        *,
        read_audio: Callable[[float, float, int], "np.ndarray | None"] | None = None,
    ) -> DocEmbeddings:
        """Documents of ``video`` → per document a ``VIDEO`` token (its frame) and, with an audio tower, an
        ``AUDIO`` token (the soundtrack around ``doc.timestamp``).

        This is what an index builder calls when ``encoder.uses_audio`` is True. Without an audio stream (or
        without an audio tower) it equals :meth:`encode_documents`.
        """
        frames = self._frame_vectors(docs)
        audio = (
            self.encode_video_audio(video, [d.timestamp for d in docs], read_audio=read_audio)
            if self.uses_audio and docs
            else None
        )
        per_doc = []
        for i, f in enumerate(frames):
            tokens = [(f, Modality.VIDEO)] if f is not None else []
            if audio is not None and bool(audio[1][i]):
                tokens.append((audio[0][i], Modality.AUDIO))
            per_doc.append(tokens)
        return pack_tokens(per_doc, self.dim, self.output_dtype)

    # -------------------------------------------------------------------- construction
    @classmethod
    def from_pretrained(
        cls,
        image: str | Path = DEFAULT_IMAGE,
        audio: str | Path | None = None,
        *,
        fusion: str = "max",
        audio_window: "float | tuple[float, float] | None" = None,
        device: "str | torch.device | None" = None,
        dtype: "str | torch.dtype | None" = None,
        local_files_only: bool | None = None,
        batch_size: int = 32,
        audio_batch_size: int = 8,
        output_dtype: "torch.dtype | None" = None,
        antialias: bool = False,
        revision: str | None = None,
        audio_revision: str | None = None,
        progress: bool = True,
    ) -> "LanguageBindEncoder":
        """Load LanguageBind checkpoints (hub ids or local directories in the released layout).

        Args:
            image: the image (+ shared text) checkpoint, default ``LanguageBind/LanguageBind_Image``.
            audio: the audio checkpoint for V+A (e.g. ``LanguageBind/LanguageBind_Audio_FT``), None for V.
            fusion: ``"max"`` or ``"mean"`` of the z-scored per-modality similarities (V+A).
            audio_window: seconds of audio around each frame: None (the 10.36 s one crop covers, centred),
                a number (centred) or ``(before, after)``.
            device: torch device (default: CUDA if available, else CPU).
            dtype: weights dtype (default float16 on CUDA, float32 on CPU).
            local_files_only: never touch the network (default: ``HF_HUB_OFFLINE``).
            batch_size / audio_batch_size: frames / audio windows per forward pass.
            output_dtype: dtype of returned embeddings (default float16).
            antialias: antialias the bicubic downscale of frames (default False: LanguageBind's processor
                under its pinned torchvision 0.14.1, which did not antialias tensors).
            revision / audio_revision: Hub branch, tag or commit of the image / audio checkpoint (default: the
                repository's default branch); recorded in ``source`` with the commit each resolved to.
            progress: show Hub download progress.

        Raises:
            ModelLoadError: unreachable hub id offline (the message says how to use a local copy), a config or
                weights that do not match, an unsafe or corrupt weights file.
        """
        import torch

        if fusion not in FUSIONS:
            raise InputError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        offline = resolve_offline(local_files_only)
        image_dir = resolve_checkpoint(image, offline=offline, example=_EXAMPLE, revision=revision, progress=progress)
        hub = hub_record(image, image_dir, revision)
        model, tokenizer, image_cfg = load_image_checkpoint(image_dir)
        tower = settings = None
        if audio is not None:
            audio_dir = resolve_checkpoint(audio, offline=offline, example=_EXAMPLE, revision=audio_revision,
                                           progress=progress)
            hub.update({f"audio_{k}": v for k, v in hub_record(audio, audio_dir, audio_revision).items()})
            tower, settings, text_projection = load_audio_checkpoint(audio_dir)
            mine = model.text_projection.weight.float()
            if text_projection is not None and (
                text_projection.shape != mine.shape or not torch.allclose(text_projection.float(), mine, atol=1e-3)
            ):
                warnings.warn(
                    f"{audio}: its text projection differs from {image}'s; LanguageBind shares one text tower, so "
                    f"queries are encoded with {image}'s (are these checkpoints from the same release?)",
                    stacklevel=2,
                )
            tower.to(device=dev, dtype=dt)
        model.to(device=dev, dtype=dt)
        return cls(
            model,
            tokenizer,
            audio_tower=tower,
            audio_settings=settings,
            fusion=fusion,
            audio_window=audio_window,
            image_size=int(image_cfg.vision.get("image_size", 224)),
            antialias=antialias,
            device=dev,
            batch_size=batch_size,
            audio_batch_size=audio_batch_size,
            output_dtype=output_dtype,
            source={
                "label": str(image) + (f"+{audio}" if audio is not None else ""),
                "image": str(image),
                "audio": str(audio) if audio is not None else None,
                **hub,
            },
        )


__all__ = [
    "DEFAULT_AUDIO",
    "DEFAULT_IMAGE",
    "LanguageBindConfig",
    "LanguageBindEncoder",
    "convert_state_dict",
    "load_audio_checkpoint",
    "load_image_checkpoint",
    "make_audio_tower",
    "read_languagebind_config",
]
