"""CLaMR modeling: the Qwen2.5-VL backbone + ``Linear(hidden→128)`` projection head, and its forward pass.

The inner ``Qwen2_5_VLModel`` runs; its last hidden state (after the final norm) goes through
``custom_text_proj`` and L2 normalisation. The LM head is never called, so no ``[tokens, vocab]`` logits are
computed. When no head weights are given, the head's base matrix is drawn as the reference's model build drew it
(:mod:`clamr_frames.encoders.clamr.head`). Details and the differences from the reference: ``docs/clamr_scorer.md``.
"""

from __future__ import annotations

import hashlib
import warnings
from typing import TYPE_CHECKING, Any

from clamr_frames.encoders.clamr.head import REFERENCE_DTYPE, REFERENCE_SEED, reference_head_weight
from clamr_frames.encoders.runtime import strided_sample
from clamr_frames.errors import ModelLoadError

if TYPE_CHECKING:  # pragma: no cover
    import torch

#: The reference seeds everything with 42 before the model (and so its random head) is built.
HEAD_SEED = REFERENCE_SEED


def _colqwen_class():
    """Build the module class lazily so importing this file does not import torch."""
    from torch import nn

    class ColQwen25(nn.Module):
        """The reference ``ColQwen2_5`` in the installed transformers layout.

        Children: ``model`` (``Qwen2_5_VLModel``: ``model.visual``, ``model.language_model``), ``lm_head`` (kept
        only so the backbone can be saved as a regular checkpoint; never called) and ``custom_text_proj``.
        """

        def __init__(self, vlm: nn.Module, dim: int = 128):
            super().__init__()
            self.model = vlm.model
            self.lm_head = vlm.lm_head
            hidden = vlm.config.get_text_config().hidden_size
            self.custom_text_proj = nn.Linear(hidden, dim)
            # Not a child: the full model is only needed for save_pretrained (shares every tensor above).
            self.__dict__["vlm"] = vlm

        def forward(self, **inputs: Any):
            """Batch inputs → L2-normalised token embeddings [B, L, dim] (fp32); pads are not masked here."""
            import torch.nn.functional as F

            out = self.model(use_cache=False, return_dict=True, **inputs)
            hidden = out.last_hidden_state
            proj = self.custom_text_proj(hidden.to(self.custom_text_proj.weight.dtype))
            return F.normalize(proj.float(), p=2, dim=-1)

    return ColQwen25


_COLQWEN = None


def make_colqwen(vlm: Any, dim: int = 128) -> Any:
    """Wrap a ``Qwen2_5_VLForConditionalGeneration`` as the scorer module ``ColQwen25`` (see module docstring)."""
    global _COLQWEN
    if _COLQWEN is None:
        _COLQWEN = _colqwen_class()
    return _COLQWEN(vlm, dim)


def init_head_like_reference(head: "torch.nn.Linear", initializer_range: float = 0.02, seed: int = HEAD_SEED,
                             dtype: str = REFERENCE_DTYPE) -> None:
    """Set ``head`` to the reference's random projection
    (:func:`~clamr_frames.encoders.clamr.head.reference_head_weight`: seed, ``normal(0, initializer_range)``
    drawn in ``dtype``, zero bias)."""
    import torch

    out_features, in_features = head.weight.shape
    w = reference_head_weight(int(out_features), int(in_features), std=initializer_range, seed=seed, dtype=dtype)
    with torch.no_grad():
        head.weight.copy_(w.to(head.weight.dtype))
        if head.bias is not None:
            head.bias.zero_()


def set_head(model: Any, head_state: dict[str, "torch.Tensor"] | None, vlm: Any,
             head_init_dtype: str = REFERENCE_DTYPE, *, stacklevel: int = 2) -> None:
    """Load ``custom_text_proj`` from ``head_state`` (``{"weight", "bias"}``), or, without it, draw the
    reference's random head and warn (at ``stacklevel``, as :func:`warnings.warn` counts) that it was drawn.

    Raises:
        ModelLoadError: the head weights do not fit the backbone's hidden size.
    """
    import torch

    head = model.custom_text_proj
    if head_state is None:
        init_range = float(getattr(vlm.config, "initializer_range", None)
                           or getattr(vlm.config.get_text_config(), "initializer_range", 0.02))
        init_head_like_reference(head, init_range, dtype=head_init_dtype)
        warnings.warn(
            "no custom_text_proj weights were found (the released CLaMR adapter carries only its LoRA delta): "
            f"the projection base weight is drawn as the reference's model build drew it (seed {HEAD_SEED}, "
            f"normal std {init_range} in {head_init_dtype}, zero bias). That the released adapter was trained on "
            "this matrix follows from the reference's code and commands; it cannot be checked without its weights "
            "(benchmarks/check_clamr_weights.py does, end to end).",
            UserWarning,
            stacklevel=stacklevel,
        )
        return
    w, b = head_state["weight"], head_state["bias"]
    if tuple(w.shape) != tuple(head.weight.shape):
        raise ModelLoadError(
            f"custom_text_proj weight has shape {tuple(w.shape)}, the backbone needs {tuple(head.weight.shape)}"
        )
    with torch.no_grad():
        head.weight.copy_(w.to(head.weight.dtype))
        head.bias.copy_(b.to(head.bias.dtype))


def embed(model: Any, batch: dict[str, Any], device: "torch.device") -> "torch.Tensor":
    """Run ``model`` (a ``ColQwen25``) on a batch of model inputs: token embeddings ``[B, L, dim]`` (fp32),
    with pixels cast to the head's dtype, under ``inference_mode``."""
    import torch

    dtype = model.custom_text_proj.weight.dtype
    inputs = {}
    for k, v in batch.items():
        v = v.to(device)
        if k == "pixel_values" and dtype.is_floating_point:
            v = v.to(dtype)
        inputs[k] = v
    with torch.inference_mode():
        return model(**inputs)


def weights_fingerprint(model: Any) -> str:
    """sha256 over strided samples of every tensor of ``model`` (names and shapes included).

    Hashing 3B parameters in full would take seconds; strided samples of each tensor change whenever training
    or a different adapter touched it, which is what the index needs to know.
    """
    import torch

    h = hashlib.sha256()
    with torch.no_grad():
        for name, t in sorted(model.state_dict().items()):
            h.update(name.encode())
            h.update(str(tuple(t.shape)).encode())
            h.update(strided_sample(t))
    return h.hexdigest()


__all__ = ["HEAD_SEED", "embed", "init_head_like_reference", "make_colqwen", "set_head", "weights_fingerprint"]
