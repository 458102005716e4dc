"""``ClipEncoder``: the CLIP single-vector baseline (``transformers.CLIPModel``), the scorer most frame-selection
papers use.

Each candidate frame becomes one L2-normalised image embedding (``Modality.VIDEO``), the question one
L2-normalised text embedding; MaxSim over one token each is their cosine similarity, so the index, the scoring
and the selection policies work unchanged (``multi_vector = False``).

Preprocessing is the checkpoint's own ``CLIPImageProcessor`` (shortest side to 224, bicubic, centre crop, OpenAI
mean/std for the OpenAI checkpoints) and ``CLIPTokenizer`` (texts cut to the text tower's 77 positions, EOS
pooling). Weights load through ``CLIPModel.from_pretrained``: safetensors when present, otherwise
``pytorch_model.bin`` through ``torch.load(weights_only=True)``; remote code is never run.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from clamr_frames.encoders.clip_common import ClipStyleEncoder
from clamr_frames.encoders.hub import hub_record, resolve_checkpoint
from clamr_frames.encoders.runtime import resolve_device, resolve_dtype, resolve_offline
from clamr_frames.errors import ModelLoadError, first_line

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

#: The default checkpoint (ViT-B/32, 224 px); ``openai/clip-vit-large-patch14`` also works.
DEFAULT_CLIP = "openai/clip-vit-base-patch32"


class ClipEncoder(ClipStyleEncoder):
    """CLIP scorer implementing :class:`~clamr_frames.encoders.base.Encoder` (one vector per frame / query).

    Build it with :meth:`from_pretrained` (hub id or local directory) or directly from a ``CLIPModel``, a
    ``CLIPTokenizer`` and a ``CLIPImageProcessor``.

    Example (offline, with a local checkpoint folder; the repository's tests build a tiny random one with
    ``testkit.tiny_clip.write_tiny_clip``)::

        enc = ClipEncoder.from_pretrained("/path/to/clip-vit-base-patch32")
        q = enc.encode_queries(["a dog on a sofa"])[0]          # [1, dim]
    """

    kind = "clip"
    default_policy = "gated"  # what policy=None selects with: docs/policies.md, "Default policy by scorer"

    def __init__(self, model: Any, tokenizer: Any, image_processor: Any, **kwargs: Any):
        self.image_processor = image_processor
        super().__init__(model, tokenizer, self._preprocess, **kwargs)

    def _preprocess(self, frames: "list[np.ndarray]") -> "torch.Tensor":
        return self.image_processor(images=list(frames), return_tensors="pt")["pixel_values"]

    @property
    def config(self) -> dict[str, Any]:
        proc = self.image_processor
        return {
            **super().config,
            "model": self.source.get("label", "in-memory"),
            "image_size": _jsonable(getattr(proc, "crop_size", None)),
            "resize": _jsonable(getattr(proc, "size", None)),
            "image_mean": _jsonable(getattr(proc, "image_mean", None)),
            "image_std": _jsonable(getattr(proc, "image_std", None)),
        }

    @classmethod
    def from_pretrained(
        cls,
        name_or_path: str | Path = DEFAULT_CLIP,
        *,
        device: "str | torch.device | None" = None,
        dtype: "str | torch.dtype | None" = None,
        local_files_only: bool | None = None,
        batch_size: int = 32,
        output_dtype: "torch.dtype | None" = None,
        revision: str | None = None,
        progress: bool = True,
    ) -> "ClipEncoder":
        """Load a CLIP checkpoint (hub id or local directory in the ``transformers`` CLIP layout).

        Args:
            name_or_path: e.g. ``openai/clip-vit-base-patch32`` (default) or a local directory.
            device: torch device (default: CUDA if available, else CPU).
            dtype: weights dtype (default: float16 on CUDA, float32 on CPU).
            local_files_only: never touch the network (default: ``HF_HUB_OFFLINE``).
            batch_size: frames / texts per forward pass.
            output_dtype: dtype of returned embeddings (default float16).
            revision: Hub branch, tag or commit (default: the repository's default branch); recorded in
                ``source`` with the commit it resolved to.
            progress: show Hub download progress.

        Raises:
            ModelLoadError: unreachable hub id offline (the message says how to use a local copy), not a CLIP
                checkpoint, weights that do not load safely.
        """
        from transformers import CLIPImageProcessor, CLIPModel, CLIPTokenizer

        dev = resolve_device(device)
        dt = resolve_dtype(dtype, dev)
        offline = resolve_offline(local_files_only)
        directory = resolve_checkpoint(name_or_path, offline=offline, example="ClipEncoder.from_pretrained('DIR')",
                                       revision=revision, progress=progress)
        ref = str(directory)
        kw = {"local_files_only": True, "trust_remote_code": False}
        try:
            model = CLIPModel.from_pretrained(ref, dtype=dt, **kw)
        except Exception as e:  # OSError (missing files), ValueError (wrong model type), ...
            raise ModelLoadError(f"cannot load CLIP model {str(name_or_path)!r}: {type(e).__name__}: "
                                 f"{first_line(e)}") from e
        try:
            tokenizer = CLIPTokenizer.from_pretrained(ref, **kw)
        except Exception as e:
            raise ModelLoadError(f"cannot load the CLIP tokenizer of {ref!r}: {first_line(e)}") from e
        try:
            processor = CLIPImageProcessor.from_pretrained(ref, **kw)
        except Exception:  # a checkpoint without preprocessor_config.json: CLIP's standard preprocessing
            side = int(model.config.vision_config.image_size)
            processor = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
        model.to(dev)
        return cls(
            model,
            tokenizer,
            processor,
            device=dev,
            batch_size=batch_size,
            output_dtype=output_dtype,
            source={"label": str(name_or_path), **hub_record(name_or_path, directory, revision)},
        )


def _jsonable(x: Any) -> Any:
    if x is None or isinstance(x, (bool, int, float, str)):
        return x
    if isinstance(x, dict):
        return {str(k): _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if hasattr(x, "items"):  # transformers' SizeDict
        return {str(k): _jsonable(v) for k, v in x.items() if v is not None}
    if hasattr(x, "__dict__"):
        return {str(k): _jsonable(v) for k, v in vars(x).items() if v is not None}
    return str(x)


__all__ = ["DEFAULT_CLIP", "ClipEncoder"]
