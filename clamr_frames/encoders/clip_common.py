"""What the single-vector CLIP-style scorers (CLIP, LanguageBind) share: safe loading of a checkpoint directory
(:mod:`clamr_frames.encoders.hub` finds it), a weights fingerprint, and :class:`ClipStyleEncoder`, which turns a ``transformers`` ``CLIPModel``
(text tower + image tower + projections) into an :class:`~clamr_frames.encoders.base.Encoder`.

A single-vector encoder returns one token per query and one per document (``multi_vector = False``). MaxSim
over one query token and one document token is their dot product, and both are L2-normalised, so the
existing scoring (``token_max``) ranks frames by cosine similarity without any change.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from clamr_frames.encoders.base import DocEmbeddings, Document
from clamr_frames.encoders.runtime import strided_sample
from clamr_frames.errors import InputError, ModelLoadError, first_line
from clamr_frames.types import Modality

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

logger = logging.getLogger(__name__)

#: CLIP text towers have 77 positions; the tokenizer's output is cut to the tower's size.
CLIP_CONTEXT_LENGTH = 77
#: OpenAI CLIP's pixel statistics (also LanguageBind's).
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)

_SAFETENSORS = ("model.safetensors", "model.safetensors.index.json")
_TORCH_BIN = ("pytorch_model.bin", "pytorch_model.bin.index.json")


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from ``path``, or :class:`ModelLoadError` naming the file."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise ModelLoadError(f"{path}: missing (not a Hugging Face checkpoint directory?)") from e
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{path}: unreadable JSON ({first_line(e)})") from e
    if not isinstance(data, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return data


def load_state_dict(directory: str | Path) -> dict[str, "torch.Tensor"]:
    """Every tensor of the checkpoint in ``directory``, on the CPU, without executing pickled code.

    ``model.safetensors`` (or its sharded index) is preferred; otherwise ``pytorch_model.bin`` (or its shards)
    is read with ``torch.load(weights_only=True)``, which refuses anything but tensors and plain containers.

    Raises:
        ModelLoadError: no weights, a corrupt file, or a pickle that needs code to load.
    """
    directory = Path(directory)
    for name in _SAFETENSORS + _TORCH_BIN:
        path = directory / name
        if not path.exists():
            continue
        files = [path]
        if name.endswith(".index.json"):
            weight_map = read_json(path).get("weight_map")
            if not isinstance(weight_map, dict) or not weight_map:
                raise ModelLoadError(f"{path}: no weight_map")
            files = [directory / f for f in sorted(set(weight_map.values()))]
        state: dict[str, Any] = {}
        for f in files:
            state.update(_load_file(f))
        return state
    raise ModelLoadError(f"{directory}: no model.safetensors or pytorch_model.bin")


def _load_file(path: Path) -> dict[str, "torch.Tensor"]:
    import torch

    if not path.exists():
        raise ModelLoadError(f"{path}: missing shard")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(str(path), device="cpu")
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt zip, truncated file, or a pickle weights_only refuses
        raise ModelLoadError(f"{path}: cannot read weights safely ({type(e).__name__}: {first_line(e)})") from e
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelLoadError(f"{path}: expected a flat mapping of names to tensors")
    return state


@contextlib.contextmanager
def skip_weight_init():
    """Build modules without random initialisation (every weight is loaded right after; 60x faster for ViT-L)."""
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # pragma: no cover - older/newer transformers: plain (slower) construction
        yield
        return
    with no_init_weights():
        yield


def weights_fingerprint(modules: Sequence[Any]) -> str:
    """sha256 over strided samples of every tensor: other weights give another fingerprint, in milliseconds."""
    import torch

    h = hashlib.sha256()
    with torch.no_grad():
        for mi, module in enumerate(modules):
            for name, t in sorted(module.state_dict().items()):
                h.update(f"{mi}:{name}:{tuple(t.shape)}".encode())
                h.update(strided_sample(t))
    return h.hexdigest()


def check_state_dict(module: Any, state: dict[str, Any], where: str) -> None:
    """Load ``state`` into ``module`` strictly; a mismatch → :class:`ModelLoadError` listing the keys."""
    try:
        result = module.load_state_dict(state, strict=False)
    except RuntimeError as e:  # shape mismatches raise even with strict=False
        raise ModelLoadError(f"{where}: weights do not match the architecture in its config: {first_line(e)}") from e
    problems = []
    if result.missing_keys:
        problems.append(f"missing {len(result.missing_keys)} (e.g. {', '.join(result.missing_keys[:4])})")
    if result.unexpected_keys:
        problems.append(f"unexpected {len(result.unexpected_keys)} (e.g. {', '.join(result.unexpected_keys[:4])})")
    if problems:
        raise ModelLoadError(f"{where}: weights do not match the architecture in its config: " + "; ".join(problems))


def _rgb_array(image: Any, where: str) -> "np.ndarray":
    import numpy as np

    if image is not None and hasattr(image, "convert") and not isinstance(image, np.ndarray):
        image = np.asarray(image.convert("RGB"))
    arr = np.asarray(image)
    if arr.ndim != 3 or arr.shape[2] != 3 or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"{where}: expected an RGB frame [H, W, 3], got shape {tuple(arr.shape)}")
    if arr.dtype != np.uint8:
        raise InputError(f"{where}: expected a uint8 RGB frame, got dtype {arr.dtype}")
    return arr


# ---------------------------------------------------------------------------------------------- the encoder
class ClipStyleEncoder:
    """One vector per frame (image tower) and per query (text tower), L2-normalised, for any ``CLIPModel``.

    Subclasses supply the checkpoint loading and the pixel preprocessing (``preprocess`` maps a list of uint8
    RGB arrays to ``[B, 3, H, W]`` float pixels).

    Attributes:
        model: the ``transformers.CLIPModel`` (eval mode) whose towers are used.
        tokenizer: its CLIP tokenizer (texts are cut to the text tower's positions, at most 77).
        batch_size: frames / texts per forward pass (a runtime knob; results do not depend on it).
        output_dtype: dtype of returned embeddings (on CPU); float16 by default, as the index stores.
    """

    multi_vector = False
    uses_image = True
    uses_ocr = False
    uses_audio = False
    #: a prefix of ``encoder_id``.
    kind = "clip-style"

    def __init__(
        self,
        model: Any,
        tokenizer: Any,
        preprocess: Callable[[list["np.ndarray"]], "torch.Tensor"],
        *,
        device: "str | torch.device | None" = None,
        batch_size: int = 32,
        output_dtype: "torch.dtype | None" = None,
        source: dict[str, Any] | None = None,
    ):
        import torch

        if batch_size < 1:
            raise InputError(f"batch_size must be >= 1, got {batch_size}")
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.preprocess = preprocess
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        self.batch_size = int(batch_size)
        self.output_dtype = output_dtype or torch.float16
        self.source = dict(source or {})
        self.dim = int(model.text_projection.out_features)
        if int(model.visual_projection.out_features) != self.dim:
            raise ModelLoadError("text and image projections have different sizes: not a CLIP-style checkpoint")
        positions = int(model.config.text_config.max_position_embeddings)
        self.max_text_tokens = min(CLIP_CONTEXT_LENGTH, positions)
        self._encoder_id: str | None = None

    # -------------------------------------------------------------------- identity
    def _fingerprinted(self) -> list[Any]:
        return [self.model]

    @property
    def encoder_id(self) -> str:
        """``<kind>:<source>@<12 hex>``; the hex digests samples of every weight."""
        if self._encoder_id is None:
            label = self.source.get("label") or "in-memory"
            self._encoder_id = f"{self.kind}:{label}@{weights_fingerprint(self._fingerprinted())[:12]}"
        return self._encoder_id

    @property
    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings that change embeddings (fingerprinted by the index)."""
        return {
            "dim": self.dim,
            "max_text_tokens": self.max_text_tokens,
            "dtype": str(self.model.text_projection.weight.dtype).replace("torch.", ""),
        }

    def query_tokens(self, query: str) -> list[str]:
        """Names of the query's tokens for ``explain()``: a single-vector query is one token."""
        return ["<query>"]

    # -------------------------------------------------------------------- towers
    def _cast(self, t: "torch.Tensor") -> "torch.Tensor":
        return t.to(self.device, dtype=self.model.visual_projection.weight.dtype)

    def _pool_text(self, outputs: Any, input_ids: "torch.Tensor") -> "torch.Tensor":
        """The text tower's pooled state (``transformers``' choice of the EOS position)."""
        return outputs.pooler_output

    def encode_texts(self, texts: Sequence[str]) -> "torch.Tensor":
        """Texts → ``[n, dim]`` float32 L2-normalised vectors (text tower, EOS pooling, projection)."""
        import torch
        import torch.nn.functional as F

        if isinstance(texts, str):
            raise InputError("encode_texts takes a list of strings, got one string")
        texts = [str(t) for t in texts]
        out = []
        for s in range(0, len(texts), self.batch_size):
            # Right padding is invisible to the pooled EOS state (causal attention), so batching changes nothing.
            enc = self.tokenizer(
                texts[s : s + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_text_tokens,
                return_tensors="pt",
            )
            ids = enc["input_ids"].to(self.device)
            with torch.inference_mode():
                hidden = self.model.text_model(input_ids=ids, attention_mask=enc["attention_mask"].to(self.device))
                pooled = self._pool_text(hidden, ids)
                out.append(F.normalize(self.model.text_projection(pooled).float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.empty((0, self.dim))

    def encode_images(self, images: Sequence[Any]) -> "torch.Tensor":
        """uint8 RGB frames ``[H, W, 3]`` (or PIL images) → ``[n, dim]`` float32 L2-normalised vectors."""
        import torch
        import torch.nn.functional as F

        arrays = [_rgb_array(im, f"frame {i}") for i, im in enumerate(images)]
        out = []
        for s in range(0, len(arrays), self.batch_size):
            pixels = self.preprocess(arrays[s : s + self.batch_size])
            with torch.inference_mode():
                pooled = self.model.vision_model(pixel_values=self._cast(pixels)).pooler_output
                out.append(F.normalize(self.model.visual_projection(pooled).float(), dim=-1).cpu())
        return torch.cat(out) if out else torch.empty((0, self.dim))

    # -------------------------------------------------------------------- Encoder protocol
    def encode_queries(self, queries: list[str]) -> "list[torch.Tensor]":
        """Each query → ``[1, dim]`` L2-normalised (``output_dtype``, CPU)."""
        if isinstance(queries, str):
            raise InputError("encode_queries takes a list of strings, got one string")
        vecs = self.encode_texts(list(queries))
        return [v.unsqueeze(0).to(self.output_dtype) for v in vecs]

    def encode_documents(self, docs: list[Document]) -> DocEmbeddings:
        """Frames → one ``VIDEO`` token each (ASR / OCR text is not used by an image–text scorer).

        A document without a frame (it did not decode) gets no token, so it scores ``-inf`` and is never
        picked; a warning counts them.
        """
        vecs = self._frame_vectors(docs)
        return pack_tokens([[(v, Modality.VIDEO)] if v is not None else [] for v in vecs], self.dim, self.output_dtype)

    def _frame_vectors(self, docs: Sequence[Document]) -> "list[torch.Tensor | None]":
        have = [i for i, d in enumerate(docs) if d.image is not None]
        if len(have) < len(docs):
            warnings.warn(
                f"{len(docs) - len(have)} of {len(docs)} documents have no frame; they get no image token",
                stacklevel=3,
            )
        vecs = self.encode_images([docs[i].image for i in have]) if have else None
        out: list[Any] = [None] * len(docs)
        for row, i in enumerate(have):
            out[i] = vecs[row]
        return out


def pack_tokens(
    per_doc: Sequence[Sequence[tuple["torch.Tensor", int]]], dim: int, dtype: "torch.dtype"
) -> DocEmbeddings:
    """Per document a list of ``(vector [dim], modality id)`` → packed :class:`DocEmbeddings`."""
    import torch

    rows, mods, lengths = [], [], []
    for tokens in per_doc:
        lengths.append(len(tokens))
        for vec, mod in tokens:
            rows.append(vec.reshape(dim))
            mods.append(int(mod))
    offsets = torch.zeros(len(per_doc) + 1, dtype=torch.int64)
    if lengths:
        offsets[1:] = torch.cumsum(torch.tensor(lengths, dtype=torch.int64), 0)
    emb = torch.stack(rows).to(dtype) if rows else torch.empty((0, dim), dtype=dtype)
    return DocEmbeddings(emb, offsets, torch.tensor(mods, dtype=torch.int8))
