"""``ClamrEncoder``: the CLaMR late-interaction scorer (Qwen2.5-VL + ``Linear(hidden→128)`` head).

Faithful to the reference (``github.com/meetdavidwan/clamr`` @353c30e, see reference/clamr_notes.md), with the
differences that make it usable for per-frame scoring stated here:

Model
    The inner ``Qwen2_5_VLModel`` runs and its last hidden state (after the final norm, which is what the
    reference's ``hidden_states[-1]`` is) goes through ``custom_text_proj`` and L2 normalisation. The LM head is
    never called, so no ``[tokens, vocab]`` logits are computed. Every non-pad token is kept
    (``mask_non_image_embeddings=False``), template tokens included.

Document (one candidate frame)
    One user turn rendered with the processor's chat template (Qwen2.5-VL's adds the default system turn, as in
    the reference): the frame as one image item, then ``" OCR: <ocr>"`` and ``" ASR: <asr>"`` text items, in the
    reference's ``main.py`` order (video, ocr, asr; ``text_order`` knob). Empty texts are left out (the
    reference's Video-MME run used video + ASR only); ``keep_empty_text=True`` emits the bare prefix instead.

    *Frame.* Resized to ``frame_size``×``frame_size`` (224: 16×16 patches → 64 visual tokens). The reference fed
    frames as a video item with ``max_pixels=224*224``, which keeps the aspect ratio (a 16:9 frame becomes
    168×280, 60 tokens); ``keep_aspect=True`` does that instead. A single frame as an image item equals the
    reference's one-frame video item: Qwen pads a video to 2 frames by repeating the frame and tiles a still image
    the same way, both give a ``t=1`` grid whose temporal rope index is 0, and the placeholder token's embedding is
    replaced by the vision features either way.

    *Text truncation.* As the reference, a text is cut with its prefix to ``text_max_length`` tokens (256 per
    the paper, the code default was 512) and decoded back; the count is taken on ``" ASR: " + text`` as it sits
    in the prompt (the reference counted ``"ASR: " + text`` alone, which can be a token off). Whitespace runs
    are collapsed and Qwen's special-token strings are removed from ASR/OCR/query text, so a subtitle cannot
    inject ``<|im_end|>`` or a vision placeholder.

    *Modality ids* (computed exactly from the tokenizer's character offsets, not from the reference's per-piece
    token counts, which drift by a token where BPE merges across the leading space): ``VIDEO`` from
    ``<|vision_start|>`` (inclusive) through the last ``<|image_pad|>``, ``<|vision_end|>`` excluded, exactly the
    reference's ``cumsum(start) - cumsum(end) > 0`` rule; ``OCR`` / ``ASR`` for the tokens of
    ``" OCR: <ocr>"`` / ``" ASR: <asr>"`` (the prefix counts as the modality, as in the reference; with
    ``prefix_in_span=False`` only the text itself does); ``OTHER`` for the system turn, role tags, ``<|im_end|>``
    and the rest of the template.

Query
    ``"Query: " + text + "<|endoftext|>" * 10`` with no chat template, as the reference. The reference padded or
    right-truncated to 64 tokens, so long queries lost their augmentation tokens; here the *text* is truncated
    instead and the 10 augmentation tokens always survive. The cap is ``query_max_length`` (64, the reference's),
    raised to ``query_max_length_with_options`` (256, this project's: the reference never put options in a query)
    for a query built by :func:`~clamr_frames.encoders.query.build_query` with answer options, the format that
    both ``FrameSelector.select(options=...)`` and training (``examples_from_qa(options_key=...)``) use.

Projection head
    The reference created ``custom_text_proj`` randomly on top of the base model (no ``modules_to_save``), so only
    its LoRA delta is in the released adapter. When no head weights are found, its base matrix is drawn as the
    reference's model build drew it (:mod:`clamr_frames.encoders.clamr_head`): the first draw of torch's CPU
    generator after ``set_seed(42)``, ``normal(0, initializer_range)`` (0.02) in float16 (the dtype
    ``--quantize_4bit`` forces; ``head_init_dtype="float32"`` for a run without it) with the float16 kernel the
    reference's torch used, zero bias; a private generator is used, the global RNG is left alone. This replays
    the procedure bit for bit (checked against transformers 4.51.3 + torch 2.7.1 on a tiny model); that the
    released adapter was trained on this very matrix rests on the reference's code and README commands (seed
    42, ``--quantize_4bit``), which cannot be checked without the released weights (a warning says so). An
    adapter directory may carry the real base weights as ``clamr_head.safetensors`` (``weight``, ``bias``);
    saved models (:meth:`ClamrEncoder.save_pretrained`) always do. The head is not quantised, as the
    reference's was not (bitsandbytes keeps the last module of a model with tied embeddings unquantised); it runs
    in the backbone's dtype, so on a bfloat16 backbone its float16 values are rounded to bfloat16.

Adapters
    The released adapter's transformers-4.51 keys and ``target_modules`` regex are remapped to the installed
    layout and checked key by key (``clamr_adapter``); LoRA is merged into the weights unless the backbone is
    4-bit.

Scoring (``score_floor``)
    The reference padded every document to 2048 tokens with zero embeddings and took MaxSim over all positions
    (``processing_colqwen2_5.process_combined``: ``padding="max_length"``, ``max_combined_length`` 2048, which
    the README's training and evaluation commands keep; ``ColQwen2_5.forward``: ``proj * attention_mask``;
    ``util._colbert_sim`` / ``_modality_max_sim``: max over all positions), in its training losses and in its
    evaluation alike, so every query token's best match was floored at 0: the released weights were trained and
    evaluated with that floor. Here documents are not padded (dynamic batches, packed index), and
    ``score_floor = 0.0`` makes the scorer aggregate exactly as the reference did
    (:mod:`clamr_frames.scoring.maxsim`, ``floor=``); ``FrameSelector`` and the training core read it. Set
    ``encoder.score_floor = None`` for plain ColBERT MaxSim over the real tokens. (The reference's Video-MME frame
    selection script is not released, so whether Table 4's scores carried the floor is not stated; its
    processor pads to 2048 whenever documents are built with ``process_combined``.)

Batching
    Documents are tokenised first (cheap), sorted by length, and packed into batches of at most
    ``max_batch_tokens`` padded tokens; pixels are produced per batch, so memory stays bounded. Padding is on the
    right and dynamic (never to 2048; ``score_floor`` scores as if it were); Qwen's 3-D rope positions are computed from the attention mask, so a
    document's embeddings are the same alone or in a batch (checked in the tests). Results come back in input
    order, on CPU, as ``output_dtype`` (fp16 by default).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from clamr_frames._settings import Settings
from clamr_frames.encoders.base import DocEmbeddings, Document
from clamr_frames.encoders.clamr_head import REFERENCE_DTYPE, REFERENCE_SEED, reference_head_weight
from clamr_frames.encoders.hub import hub_record, resolve_checkpoint
# build_query / OPTIONS_MARKER are re-exported: the query format is shared by every scorer and by training.
from clamr_frames.encoders.query import OPTIONS_MARKER, build_query, has_options  # noqa: F401
from clamr_frames.encoders.runtime import (
    resolve_device,
    resolve_dtype,
    resolve_offline,
    strided_sample,
    token_budget_batches,
)
from clamr_frames.errors import InputError, ModelLoadError, first_line
from clamr_frames.types import Modality

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch
    from PIL import Image

logger = logging.getLogger(__name__)

DEFAULT_ADAPTER = "meetdavidwan/clamr"
DEFAULT_BASE_MODEL = "Qwen/Qwen2.5-VL-3B-Instruct"
#: Written beside an adapter by the training core: the encoder settings and backbone it was trained with.
TRAIN_META = "clamr_train.json"
#: Files written by :meth:`ClamrEncoder.save_pretrained` (and read back by ``from_pretrained``).
CLAMR_CONFIG = "clamr_config.json"
CLAMR_HEAD = "clamr_head.safetensors"
FORMAT = "clamr-frames/clamr-encoder"
FORMAT_VERSION = 1
#: The reference seeds everything with 42 before the model (and so its random head) is built.
HEAD_SEED = REFERENCE_SEED

_TEXT_PREFIX = {"ocr": "OCR: ", "asr": "ASR: "}
_TEXT_MODALITY = {"ocr": Modality.OCR, "asr": Modality.ASR}
_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class ClamrSettings(Settings):
    """Knobs that change embeddings (all of them go into ``encoder.config`` and so into the index fingerprint).

    Attributes:
        frame_size: side of the square the frame is resized to (multiple of 28).
        keep_aspect: resize like the reference instead (Qwen ``smart_resize`` with ``max_pixels=frame_size**2``).
        text_order: text modalities after the frame, in order (reference: ocr, then asr).
        text_max_length: tokens per text modality, its ``"ASR: "``/``"OCR: "`` prefix included.
        keep_empty_text: emit ``" OCR: "`` even when the OCR text is empty.
        prefix_in_span: the prefix tokens carry the text's modality id (reference) rather than OTHER.
        query_prefix / query_augmentation_token / query_augmentation_count: the reference's query format.
        query_max_length: token cap of a query (reference 64); the text is cut, never the augmentation tokens.
        query_max_length_with_options: cap for queries that contain :data:`OPTIONS_MARKER`.
    """

    label = "CLaMR"  # names these settings in errors (not a field)
    frame_size: int = 224
    keep_aspect: bool = False
    text_order: tuple[str, ...] = ("ocr", "asr")
    text_max_length: int = 256
    keep_empty_text: bool = False
    prefix_in_span: bool = True
    query_prefix: str = "Query: "
    query_augmentation_token: str = "<|endoftext|>"
    query_augmentation_count: int = 10
    query_max_length: int = 64
    query_max_length_with_options: int = 256

    def __post_init__(self) -> None:
        if self.frame_size < 56 or self.frame_size % 28:
            raise InputError(f"frame_size must be a multiple of 28 (patch 14 x merge 2), >= 56, got {self.frame_size}")
        object.__setattr__(self, "text_order", tuple(self.text_order))
        bad = [m for m in self.text_order if m not in _TEXT_PREFIX]
        if bad or len(set(self.text_order)) != len(self.text_order):
            raise InputError(f"text_order must list distinct modalities among {sorted(_TEXT_PREFIX)}, got {self.text_order}")
        if self.text_max_length < 1:
            raise InputError(f"text_max_length must be >= 1, got {self.text_max_length}")
        if self.query_augmentation_count < 0:
            raise InputError("query_augmentation_count must be >= 0")
        for name in ("query_max_length", "query_max_length_with_options"):
            if getattr(self, name) < self.query_augmentation_count + 4:
                raise InputError(
                    f"{name}={getattr(self, name)} leaves no room for the query text next to "
                    f"{self.query_augmentation_count} augmentation tokens"
                )


@dataclass
class PreparedDocument:
    """A tokenised document, ready to batch (public for tests and diagnostics).

    Attributes:
        input_ids: token ids of the rendered, vision-expanded prompt.
        modality_ids: one :class:`~clamr_frames.types.Modality` value per token.
        image: the resized RGB frame (``None`` for a text-only document).
        grid_thw: Qwen's (t, h, w) patch grid of the frame.
        text: the rendered prompt with the image placeholder expanded (what was tokenised).
    """

    input_ids: list[int]
    modality_ids: list[int]
    image: "Image.Image | None" = None
    grid_thw: tuple[int, int, int] | None = None
    text: str = ""

    def __len__(self) -> int:
        return len(self.input_ids)


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
    """Set ``head`` to the reference's random projection (:func:`~clamr_frames.encoders.clamr_head.reference_head_weight`:
    seed, ``normal(0, initializer_range)`` drawn in ``dtype``, zero bias)."""
    import torch

    out_features, in_features = head.weight.shape
    w = reference_head_weight(int(out_features), int(in_features), std=initializer_range, seed=seed, dtype=dtype)
    with torch.no_grad():
        head.weight.copy_(w.to(head.weight.dtype))
        if head.bias is not None:
            head.bias.zero_()


class ClamrEncoder:
    """CLaMR scorer implementing :class:`~clamr_frames.encoders.base.Encoder`.

    Build it with :meth:`from_pretrained` (released adapter, a local adapter, or a directory written by
    :meth:`save_pretrained`) or :meth:`from_model` (an in-memory backbone).

    Attributes:
        model: the ``ColQwen25`` module (``model``, ``lm_head``, ``custom_text_proj``), in eval mode.
        processor: the Qwen2.5-VL processor (tokenizer, image processor, chat template).
        settings: :class:`ClamrSettings`.
        max_batch_tokens: padded tokens per forward pass (runtime knob, does not change embeddings).
        output_dtype: dtype of returned embeddings (on CPU).
        score_floor: lower bound of each query token's best similarity when scoring (0.0: the reference's zero
            padding, see the module docstring; None: plain MaxSim). A scoring knob: embeddings and indexes do
            not depend on it.
    """

    multi_vector = True
    score_floor: float | None = 0.0
    uses_image = True
    uses_ocr = True

    def __init__(
        self,
        model: Any,
        processor: Any,
        settings: ClamrSettings | None = None,
        *,
        device: "str | torch.device | None" = None,
        max_batch_tokens: int = 16384,
        output_dtype: "torch.dtype | None" = None,
        source: dict[str, Any] | None = None,
    ):
        import torch

        self.model = model.eval()
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.settings = settings or ClamrSettings()
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        if max_batch_tokens < 1:
            raise InputError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self.max_batch_tokens = int(max_batch_tokens)
        self.output_dtype = output_dtype or torch.float16
        self.source = dict(source or {})
        self.dim = int(model.custom_text_proj.out_features)
        self._encoder_id: str | None = None
        self._init_token_ids()

    # ------------------------------------------------------------------ identity
    @property
    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings that change embeddings (fingerprinted by the index)."""
        dtype = str(self.model.custom_text_proj.weight.dtype).replace("torch.", "")
        return {
            **self.settings.to_dict(),
            "dim": self.dim,
            "dtype": dtype,
            "load_in_4bit": bool(self.source.get("load_in_4bit", False)),
        }

    @property
    def encoder_id(self) -> str:
        """``clamr:<source>@<12 hex>``: the hex digests samples of every weight, so other weights → other id."""
        if self._encoder_id is None:
            label = self.source.get("adapter") or self.source.get("path") or "in-memory"
            self._encoder_id = f"clamr:{label}@{self._weights_fingerprint()[:12]}"
        return self._encoder_id

    def _weights_fingerprint(self) -> str:
        # Hashing 3B parameters in full would take seconds; strided samples of each tensor change whenever
        # training or a different adapter touched it, which is what the index needs to know.
        import torch

        h = hashlib.sha256()
        with torch.no_grad():
            for name, t in sorted(self.model.state_dict().items()):
                h.update(name.encode())
                h.update(str(tuple(t.shape)).encode())
                h.update(strided_sample(t))
        return h.hexdigest()

    def _init_token_ids(self) -> None:
        tok = self.tokenizer
        ids = {}
        for t in ("<|vision_start|>", "<|vision_end|>", "<|image_pad|>", self.settings.query_augmentation_token):
            i = tok.convert_tokens_to_ids(t)
            if i is None or i == tok.unk_token_id:
                raise ModelLoadError(f"tokenizer lacks Qwen's {t} token: not a Qwen2.5-VL processor")
            ids[t] = int(i)
        self._vision_start = ids["<|vision_start|>"]
        self._vision_end = ids["<|vision_end|>"]
        self._image_pad = ids["<|image_pad|>"]
        self._aug_id = ids[self.settings.query_augmentation_token]
        self._pad_id = int(tok.pad_token_id) if tok.pad_token_id is not None else self._aug_id
        self._image_token = "<|image_pad|>"
        self._merge = int(getattr(self.processor.image_processor, "merge_size", 2))
        patch = int(getattr(self.processor.image_processor, "patch_size", 14))
        self._factor = patch * self._merge
        specials = set(getattr(tok, "all_special_tokens", [])) | {
            t for t in tok.get_added_vocab() if t.startswith("<|") and t.endswith("|>")
        }
        specials = sorted((s for s in specials if s), key=len, reverse=True)
        self._specials_re = re.compile("|".join(re.escape(s) for s in specials)) if specials else None

    # ------------------------------------------------------------------ text helpers
    def _clean(self, text: str | None) -> str:
        text = "" if text is None else str(text)
        if self._specials_re is not None:
            text = self._specials_re.sub(" ", text)
        return _WS.sub(" ", text).strip()

    def _truncate_piece(self, piece: str, max_tokens: int) -> str:
        ids = self.tokenizer(piece, add_special_tokens=False)["input_ids"]
        if len(ids) <= max_tokens:
            return piece
        # A cut inside a multi-byte character decodes to U+FFFD: drop it rather than feed it to the model.
        return self.tokenizer.decode(ids[:max_tokens]).rstrip("\ufffd").rstrip()

    # ------------------------------------------------------------------ documents
    def _frame(self, image: Any, where: str) -> "Image.Image":
        import numpy as np
        from PIL import Image

        if isinstance(image, Image.Image):
            pil = image.convert("RGB")
        else:
            arr = np.asarray(image)
            if arr.ndim != 3 or arr.shape[2] != 3 or arr.dtype != np.uint8 or min(arr.shape[:2]) < 1:
                raise InputError(f"{where}: image must be a uint8 RGB array [H, W, 3], got {arr.dtype} {arr.shape}")
            pil = Image.fromarray(np.ascontiguousarray(arr))
        s = self.settings
        if s.keep_aspect:
            from transformers.models.qwen2_vl.image_processing_qwen2_vl import smart_resize

            try:
                h, w = smart_resize(pil.height, pil.width, factor=self._factor,
                                    min_pixels=4 * self._factor ** 2, max_pixels=s.frame_size ** 2)
            except ValueError as e:
                raise InputError(f"{where}: {e}") from e
        else:
            h = w = s.frame_size
        if (pil.width, pil.height) != (w, h):
            pil = pil.resize((w, h), resample=Image.BICUBIC)
        return pil

    def prepare_document(self, doc: Document, where: str = "document") -> PreparedDocument:
        """Render, tokenise and label one document (no pixels are computed here)."""
        if not isinstance(doc, Document):
            raise InputError(f"{where}: expected a Document, got {type(doc).__name__}")
        s = self.settings
        image = self._frame(doc.image, where) if doc.image is not None else None
        grid = None
        content: list[dict[str, Any]] = []
        if image is not None:
            grid = (1, image.height // (self._factor // self._merge), image.width // (self._factor // self._merge))
            content.append({"type": "image"})
        segments: list[tuple[str, int, int]] = []  # (segment text, modality, prefix length)
        for mod in s.text_order:
            text = self._clean(getattr(doc, mod))
            if not text and not s.keep_empty_text:
                continue
            prefix = _TEXT_PREFIX[mod]
            # Cut the segment as it sits in the prompt (leading space included) so the document really holds at
            # most text_max_length tokens of it; the reference cut "ASR: text" alone, one token off at times.
            seg = self._truncate_piece(" " + prefix + text, s.text_max_length) if text else " " + prefix.rstrip()
            # Without the prefix, the text span starts at the space after "ASR:": byte-level BPE attaches that
            # space to the first word, so the first word's token would otherwise be cut out of its own span.
            segments.append((seg, int(_TEXT_MODALITY[mod]), 1 + len(prefix.rstrip())))
            content.append({"type": "text", "text": seg})

        prompt = self.processor.apply_chat_template(
            [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=False
        )
        if isinstance(prompt, list):
            prompt = prompt[0]
        if image is not None:
            if prompt.count(self._image_token) != 1:
                raise ModelLoadError("the chat template did not render exactly one image placeholder")
            n_img = grid[0] * grid[1] * grid[2] // (self._merge ** 2)
            prompt = prompt.replace(self._image_token, self._image_token * n_img, 1)

        # Character span of each text segment in the rendered prompt: the segments follow each other inside the
        # user turn (the last "<|im_start|>"), after the vision block.
        spans: list[tuple[int, int, int]] = []
        cursor = prompt.rfind("<|im_start|>")
        if image is not None:
            cursor = max(cursor, prompt.rfind("<|vision_end|>"))
        for seg, mod, plen in segments:
            at = prompt.find(seg, max(cursor, 0))
            if at < 0:
                raise ModelLoadError("the chat template altered a text item; cannot locate it to label its tokens")
            start = at if s.prefix_in_span else at + plen
            spans.append((start, at + len(seg), mod))
            cursor = at + len(seg)

        enc = self.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        ids: list[int] = list(enc["input_ids"])
        offsets = enc["offset_mapping"]
        mods = [int(Modality.OTHER)] * len(ids)
        inside = False
        for i, tid in enumerate(ids):
            if tid == self._vision_start:
                inside = True
            elif tid == self._vision_end:
                inside = False
            if inside:
                mods[i] = int(Modality.VIDEO)
                continue
            a = offsets[i][0]
            for start, end, mod in spans:
                if start <= a < end:
                    mods[i] = mod
                    break
        if image is not None:
            n_pad = sum(1 for t in ids if t == self._image_pad)
            if n_pad != grid[1] * grid[2] // (self._merge ** 2):
                raise ModelLoadError(f"{where}: tokenizer split the image placeholder ({n_pad} pads)")
        return PreparedDocument(input_ids=ids, modality_ids=mods, image=image, grid_thw=grid, text=prompt)

    # ------------------------------------------------------------------ queries
    def query_cap(self, query: str) -> int:
        """Token cap for ``query``: the larger one when it carries answer options (:func:`build_query`)."""
        s = self.settings
        return s.query_max_length_with_options if has_options(query) else s.query_max_length

    def prepare_query(self, query: str, max_length: int | None = None) -> list[int]:
        """``"Query: " + text`` cut to fit, then the augmentation tokens (they always survive)."""
        s = self.settings
        text = query.replace("\r\n", "\n")
        if self._specials_re is not None:
            text = self._specials_re.sub(" ", text)
        text = text.strip()
        if not text:
            raise InputError("empty query")
        cap = int(max_length) if max_length is not None else self.query_cap(query)
        budget = cap - s.query_augmentation_count
        ids = self.tokenizer(s.query_prefix + text, add_special_tokens=False)["input_ids"]
        n_prefix = len(self.tokenizer(s.query_prefix.rstrip(), add_special_tokens=False)["input_ids"])
        if budget <= n_prefix:
            raise InputError(f"query cap {cap} leaves no room for text next to the augmentation tokens")
        if len(ids) > budget:
            ids = ids[:budget]
        return list(ids) + [self._aug_id] * s.query_augmentation_count

    # ------------------------------------------------------------------ batching
    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Group indices (longest first) so that batch_size * longest <= max_batch_tokens (>= 1 item each)."""
        return token_budget_batches(lengths, self.max_batch_tokens)

    def _collate(self, seqs: list[list[int]]) -> dict[str, "torch.Tensor"]:
        import torch

        longest = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), longest), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), longest), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[r, : len(s)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def _run(self, batch: dict[str, Any]) -> "torch.Tensor":
        import torch

        dtype = self.model.custom_text_proj.weight.dtype
        inputs = {}
        for k, v in batch.items():
            v = v.to(self.device)
            if k == "pixel_values" and dtype.is_floating_point:
                v = v.to(dtype)
            inputs[k] = v
        with torch.inference_mode():
            return self.model(**inputs)

    # ------------------------------------------------------------------ Encoder protocol
    def encode_queries(self, queries: list[str], max_length: int | None = None) -> "list[torch.Tensor]":
        """Each query → ``[n_q, dim]`` L2-normalised token embeddings (``output_dtype``, CPU).

        Args:
            queries: query texts (e.g. from :func:`build_query`).
            max_length: token cap for all of them; default: :meth:`query_cap` per query.
        """
        if isinstance(queries, str):
            raise InputError("encode_queries takes a list of strings, got one string")
        prepared = [self.prepare_query(q, max_length) for q in queries]
        out: list[Any] = [None] * len(prepared)
        for idx in self._batches([len(p) for p in prepared]):
            emb = self._run(self.query_batch([prepared[i] for i in idx])).to("cpu")
            for row, i in enumerate(idx):
                out[i] = emb[row, : len(prepared[i])].to(self.output_dtype)
        return out

    def query_batch(self, prepared: list[list[int]]) -> dict[str, "torch.Tensor"]:
        """Model inputs for prepared queries (:meth:`prepare_query`): padded ids and masks, no vision tokens.
        Inference and the training wrapper both batch through here, so they feed the model the same tensors."""
        import torch

        batch = self._collate(prepared)
        batch["mm_token_type_ids"] = torch.zeros_like(batch["input_ids"])
        return batch

    def document_batch(self, items: "list[PreparedDocument]") -> dict[str, "torch.Tensor"]:
        """Model inputs for prepared documents (:meth:`prepare_document`): padded ids, masks, vision token
        types, and the frames' pixel patches (shared by inference and the training wrapper).

        Raises:
            ModelLoadError: the processor cut the frames into other patch grids than the prompt reserved.
        """
        batch = self._collate([p.input_ids for p in items])
        batch["mm_token_type_ids"] = (batch["input_ids"] == self._image_pad).long() * batch["attention_mask"]
        images = [p.image for p in items if p.image is not None]
        if images:
            # Frames are already at their final, patch-aligned size: no second resize by the processor.
            pix = self.processor.image_processor(images=images, do_resize=False, return_tensors="pt")
            grids = [p.grid_thw for p in items if p.grid_thw is not None]
            if [tuple(g) for g in pix["image_grid_thw"].tolist()] != grids:
                raise ModelLoadError(
                    "the image processor produced other patch grids than expected "
                    f"({pix['image_grid_thw'].tolist()} vs {grids}); is it a Qwen2-VL image processor?"
                )
            batch["pixel_values"] = pix["pixel_values"]
            batch["image_grid_thw"] = pix["image_grid_thw"]
        return batch

    def encode_documents(self, docs: list[Document]) -> DocEmbeddings:
        """Documents → packed token embeddings (input order) with a modality id per token."""
        import torch

        prepared = [self.prepare_document(d, where=f"document {i}") for i, d in enumerate(docs)]
        if not prepared:
            return DocEmbeddings(
                torch.empty((0, self.dim), dtype=self.output_dtype),
                torch.zeros(1, dtype=torch.int64),
                torch.empty(0, dtype=torch.int8),
            )
        results: list[Any] = [None] * len(prepared)
        for idx in self._batches([len(p) for p in prepared]):
            emb = self._run(self.document_batch([prepared[i] for i in idx])).to("cpu")
            for row, i in enumerate(idx):
                results[i] = emb[row, : len(prepared[i])].to(self.output_dtype)
        lengths = torch.tensor([len(p) for p in prepared], dtype=torch.int64)
        offsets = torch.zeros(len(prepared) + 1, dtype=torch.int64)
        offsets[1:] = torch.cumsum(lengths, 0)
        modality_ids = torch.tensor([m for p in prepared for m in p.modality_ids], dtype=torch.int8)
        return DocEmbeddings(torch.cat(results), offsets, modality_ids)

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_model(
        cls,
        vlm: Any,
        processor: Any,
        *,
        head_state: dict[str, "torch.Tensor"] | None = None,
        dim: int = 128,
        device: "str | torch.device | None" = None,
        max_batch_tokens: int = 16384,
        output_dtype: "torch.dtype | None" = None,
        source: dict[str, Any] | None = None,
        head_init_dtype: str = REFERENCE_DTYPE,
        **settings: Any,
    ) -> "ClamrEncoder":
        """Wrap an in-memory ``Qwen2_5_VLForConditionalGeneration`` and processor.

        ``head_state`` (``{"weight", "bias"}``) sets ``custom_text_proj``; without it the head is initialised as
        the reference's (seed 42, drawn in ``head_init_dtype``) and a warning says so.
        """
        model = make_colqwen(vlm, dim)
        _set_head(model, head_state, vlm, head_init_dtype)
        ref = next(vlm.parameters())
        model.custom_text_proj.to(device=ref.device, dtype=ref.dtype if ref.is_floating_point() else None)
        if device is not None:
            model.to(device)
        return cls(model, processor, ClamrSettings(**settings), device=device,
                   max_batch_tokens=max_batch_tokens, output_dtype=output_dtype, source=source)

    @classmethod
    def from_pretrained(
        cls,
        adapter_or_model: str | Path | None = DEFAULT_ADAPTER,
        base_model: str | Path | None = None,
        device: "str | torch.device | None" = None,
        dtype: "torch.dtype | str | None" = None,
        load_in_4bit: bool = False,
        trust_remote_code: bool = False,
        local_files_only: bool | None = None,
        *,
        merge_adapter: bool | None = None,
        max_batch_tokens: int = 16384,
        output_dtype: "torch.dtype | None" = None,
        head_init_dtype: str = REFERENCE_DTYPE,
        revision: str | None = None,
        base_revision: str | None = None,
        progress: bool = True,
        **settings: Any,
    ) -> "ClamrEncoder":
        """Load a CLaMR scorer.

        Args:
            adapter_or_model: a hub id or local directory holding either a LoRA adapter
                (``adapter_config.json`` + ``adapter_model.safetensors``, 4.51 or installed key layout; the base
                model comes from ``base_model``) or a directory written by :meth:`save_pretrained`
                (``clamr_config.json``; self-contained). ``None``: the bare base model with a fresh
                reference-initialised head (a starting point for training).
            base_model: hub id or local directory of the Qwen2.5-VL backbone (adapters only). Default: the
                backbone the adapter names (``clamr_train.json`` of the training core, else
                ``adapter_config.json``'s ``base_model_name_or_path``), else Qwen2.5-VL-3B-Instruct.
            device: default CUDA when available, else CPU.
            dtype: default bfloat16 on CUDA, float32 on CPU.
            load_in_4bit: nf4 with double quantisation and bf16 compute (bitsandbytes, CUDA only); the adapter
                then stays unmerged.
            trust_remote_code: passed to transformers (keep it off).
            local_files_only: never touch the network; default: ``HF_HUB_OFFLINE``.
            merge_adapter: fold LoRA into the weights (default: yes unless 4-bit).
            max_batch_tokens / output_dtype: runtime knobs, see the class docstring.
            head_init_dtype: when no head weights are found, the dtype the reference drew its head in:
                ``"float16"`` (its 4-bit runs, which trained the released adapter) or ``"float32"``.
            revision / base_revision: Hub branch, tag or commit of ``adapter_or_model`` / of the backbone
                (default: each repository's default branch); recorded in ``source`` with the commit each
                resolved to, and so in every index manifest.
            progress: show Hub download progress.
            **settings: :class:`ClamrSettings` overrides.

        Raises:
            ModelLoadError: unreachable hub id, missing files, unmatched adapter keys, 4-bit without CUDA, ...
        """
        import torch

        dev = resolve_device(device)
        tdtype = resolve_dtype(dtype, dev, cuda_default="bfloat16")
        if load_in_4bit and dev.type != "cuda":
            raise ModelLoadError(
                f"load_in_4bit needs a CUDA device (bitsandbytes nf4), but the device is {dev}; "
                "drop load_in_4bit to run in float32 on the CPU"
            )
        offline = resolve_offline(local_files_only)
        source: dict[str, Any] = {"load_in_4bit": bool(load_in_4bit)}
        saved_settings: dict[str, Any] = {}
        head_state = None
        adapter_dir: Path | None = None
        backbone_dir: Path | None = None  # set when the backbone is local already (a saved model)

        if adapter_or_model is None:
            backbone = base_model if base_model is not None else DEFAULT_BASE_MODEL
            source["base_model"] = str(backbone)
        else:
            src = resolve_checkpoint(adapter_or_model, offline=offline, example=_example("adapter"),
                                     weights=("*.safetensors",), revision=revision, progress=progress)
            source.update(hub_record(adapter_or_model, src, revision))
            if (src / CLAMR_CONFIG).is_file():
                meta = _read_clamr_config(src)
                saved_settings = meta.get("settings", {})
                head_state = _read_head(src)
                backbone = backbone_dir = src
                source.update(path=str(adapter_or_model), base_model=str(src))
            elif (src / "adapter_config.json").is_file():
                adapter_dir = src
                trained = _read_json_object(src / TRAIN_META) if (src / TRAIN_META).is_file() else {}
                saved_settings = dict(trained.get("settings") or {})
                backbone = base_model if base_model is not None else _adapter_backbone(src, trained)
                if (src / CLAMR_HEAD).is_file():
                    head_state = _read_head(src)
                source.update(adapter=str(adapter_or_model), base_model=str(backbone))
            else:
                raise ModelLoadError(
                    f"{adapter_or_model}: neither a LoRA adapter (adapter_config.json) nor a saved CLaMR model "
                    f"({CLAMR_CONFIG}); for a bare Qwen2.5-VL backbone pass adapter_or_model=None, "
                    "base_model=that directory"
                )

        if backbone_dir is not None and base_revision is not None:
            raise InputError(f"{adapter_or_model}: a saved CLaMR model carries its backbone; base_revision does "
                             "not apply (revision= picks the model's own revision)")
        if backbone_dir is None:
            backbone_dir = resolve_checkpoint(backbone, offline=offline, example=_example("base"),
                                              weights=("*.safetensors",), revision=base_revision, progress=progress)
            source.update({f"base_{k}": v for k, v in hub_record(backbone, backbone_dir, base_revision).items()})
        vlm = _load_backbone(backbone_dir, tdtype, dev, load_in_4bit, trust_remote_code)
        processor = _load_processor(backbone_dir, trust_remote_code)
        dim = int(head_state["weight"].shape[0]) if head_state is not None else 128
        model = make_colqwen(vlm, dim)
        _set_head(model, head_state, vlm, head_init_dtype)
        model.custom_text_proj.to(device=dev, dtype=tdtype)
        if not load_in_4bit:
            model.to(dev)
        if adapter_dir is not None:
            from clamr_frames.encoders.clamr_adapter import load_lora_adapter

            merge = (not load_in_4bit) if merge_adapter is None else bool(merge_adapter)
            if merge and load_in_4bit:
                raise ModelLoadError("merge_adapter=True cannot merge LoRA into a 4-bit backbone")
            report = load_lora_adapter(model, adapter_dir, merge=merge)
            source["adapter_tensors"] = report.n_tensors
            source["adapter_merged"] = report.merged
            logger.info("loaded LoRA adapter %s (%d tensors, r=%d, merged=%s) on %s",
                        adapter_or_model, report.n_tensors, report.r, report.merged, backbone)
        merged_settings = {**saved_settings, **settings}
        return cls(model, processor, ClamrSettings.from_dict(merged_settings), device=dev,
                   max_batch_tokens=max_batch_tokens, output_dtype=output_dtype, source=source)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write a self-contained model directory that :meth:`from_pretrained` reads back.

        Contents: the backbone (``config.json`` + ``model.safetensors``, LoRA already merged), the processor
        files, ``clamr_head.safetensors`` (``custom_text_proj``) and ``clamr_config.json`` (format, settings).
        """
        from safetensors.torch import save_file

        if any(".lora_" in n for n, _ in self.model.named_parameters()):
            raise InputError("save_pretrained needs merged weights: load with merge_adapter=True (not 4-bit)")
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        self.model.vlm.save_pretrained(path, safe_serialization=True)
        self.processor.save_pretrained(path)
        head = self.model.custom_text_proj
        save_file(
            {"weight": head.weight.detach().to("cpu").contiguous(),
             "bias": head.bias.detach().to("cpu").contiguous()},
            str(path / CLAMR_HEAD),
        )
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "dim": self.dim,
            "settings": self.settings.to_dict(),
            "source": {k: v for k, v in self.source.items() if isinstance(v, (str, int, float, bool))},
        }
        (path / CLAMR_CONFIG).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return path


# ---------------------------------------------------------------------- loading helpers
def _read_json_object(path: Path) -> dict[str, Any]:
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{path}: unreadable ({e})") from e
    if not isinstance(obj, dict):
        raise ModelLoadError(f"{path}: expected a JSON object")
    return obj


def _adapter_backbone(src: Path, trained: dict[str, Any]) -> str:
    """The backbone an adapter names: the training core's record, else PEFT's ``base_model_name_or_path``."""
    named = trained.get("base_model") or _read_json_object(src / "adapter_config.json").get("base_model_name_or_path")
    return str(named) if named else DEFAULT_BASE_MODEL


def _example(role: str) -> str:
    """The call that takes a local copy of the adapter (``role="adapter"``) or of the backbone (``"base"``)."""
    if role == "adapter":
        return "ClamrEncoder.from_pretrained('DIR', base_model='/path/to/Qwen2.5-VL-3B-Instruct')"
    return "ClamrEncoder.from_pretrained('/path/to/clamr-adapter', base_model='DIR')"


def _load_backbone(directory: Path, dtype, dev, load_in_4bit: bool, trust_remote_code: bool):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    kwargs: dict[str, Any] = dict(
        dtype=dtype, local_files_only=True, trust_remote_code=trust_remote_code, attn_implementation="sdpa"
    )
    if dev.type == "cuda":
        kwargs["device_map"] = {"": dev.index if dev.index is not None else torch.cuda.current_device()}
    if load_in_4bit:
        try:
            import bitsandbytes  # noqa: F401
            from transformers import BitsAndBytesConfig
        except ImportError as e:
            raise ModelLoadError("load_in_4bit needs bitsandbytes (pip install bitsandbytes)") from e
        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
            bnb_4bit_quant_storage=torch.bfloat16,
        )
    try:
        vlm = Qwen2_5_VLForConditionalGeneration.from_pretrained(str(directory), **kwargs)
    except (OSError, ValueError, RuntimeError) as e:
        reason = first_line(e).rstrip(".")
        raise ModelLoadError(f"cannot load the Qwen2.5-VL backbone {str(directory)!r}: {reason}.") from e
    return vlm.eval()


def _load_processor(directory: Path, trust_remote_code: bool):
    from transformers import AutoProcessor

    try:
        processor = AutoProcessor.from_pretrained(str(directory), local_files_only=True,
                                                  trust_remote_code=trust_remote_code)
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"cannot load the processor of {str(directory)!r}: {first_line(e)}") from e
    if not hasattr(processor, "image_processor") or not hasattr(processor, "tokenizer"):
        raise ModelLoadError(f"{directory}: processor has no image processor / tokenizer (not Qwen2.5-VL?)")
    return processor


def _read_clamr_config(src: Path) -> dict[str, Any]:
    try:
        meta = json.loads((src / CLAMR_CONFIG).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{src / CLAMR_CONFIG}: unreadable ({e})") from e
    if meta.get("format") != FORMAT or int(meta.get("format_version", -1)) > FORMAT_VERSION:
        raise ModelLoadError(
            f"{src / CLAMR_CONFIG}: format {meta.get('format')!r} v{meta.get('format_version')} is not "
            f"{FORMAT} <= v{FORMAT_VERSION}"
        )
    return meta


def _read_head(src: Path) -> dict[str, "torch.Tensor"]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    path = src / CLAMR_HEAD
    try:
        state = load_file(str(path))
    except (OSError, SafetensorError) as e:
        raise ModelLoadError(f"{path}: unreadable head weights ({e})") from e
    if set(state) != {"weight", "bias"} or state["weight"].ndim != 2 or state["bias"].shape != state["weight"].shape[:1]:
        raise ModelLoadError(f"{path}: expected tensors 'weight' [dim, hidden] and 'bias' [dim], got {sorted(state)}")
    return state


def _set_head(model: Any, head_state: dict[str, "torch.Tensor"] | None, vlm: Any,
              head_init_dtype: str = REFERENCE_DTYPE) -> None:
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
            stacklevel=3,
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
