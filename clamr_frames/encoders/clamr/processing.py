"""CLaMR processing: documents and queries → token ids, modality ids and model inputs (no model, no weights).

A document (one candidate frame with its OCR / ASR text) is one user turn rendered with the Qwen2.5-VL chat
template: the frame resized to ``frame_size`` (one image item), then ``" OCR: …"`` / ``" ASR: …"`` text items.
A query is ``"Query: " + text`` followed by 10 ``<|endoftext|>`` augmentation tokens, with no chat template.
Each document token gets a modality id (video / asr / ocr / other) from the tokenizer's character offsets.
Batches are padded dynamically on the right and grouped by a padded-token budget. Why each choice is made, and
where it departs from the reference implementation: ``docs/clamr_scorer.md``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

from clamr_frames._settings import Settings
from clamr_frames.encoders.base import Document
from clamr_frames.encoders.query import OPTIONS_MARKER, has_options
from clamr_frames.encoders.runtime import token_budget_batches
from clamr_frames.errors import InputError, ModelLoadError
from clamr_frames.types import Modality

if TYPE_CHECKING:  # pragma: no cover
    import torch
    from PIL import Image

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


class ClamrProcessor:
    """Turns documents and queries into Qwen2.5-VL model inputs, as CLaMR formats them.

    Inference (:class:`~clamr_frames.encoders.clamr.ClamrEncoder`) and the training wrapper
    (:mod:`clamr_frames.train.models`) both prepare and batch through this class, so the model sees the same
    tensors in both.

    Args:
        processor: the Qwen2.5-VL processor (tokenizer, image processor, chat template).
        settings: :class:`ClamrSettings`.

    Raises:
        ModelLoadError: the tokenizer lacks Qwen's vision or augmentation tokens.
    """

    def __init__(self, processor: Any, settings: ClamrSettings | None = None):
        self.processor = processor
        self.tokenizer = processor.tokenizer
        self.settings = settings or ClamrSettings()
        self._init_token_ids()

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

    def _render(self, doc: Document, image: "Image.Image | None",
                grid: tuple[int, int, int] | None) -> tuple[str, list[tuple[str, int, int]]]:
        """The chat-template prompt (vision placeholder expanded) and its text segments
        ``(segment text, modality, prefix length)``, in prompt order."""
        s = self.settings
        content: list[dict[str, Any]] = [{"type": "image"}] if image is not None else []
        segments: list[tuple[str, int, int]] = []
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
        return prompt, segments

    def _text_spans(self, prompt: str, segments: list[tuple[str, int, int]],
                    has_image: bool) -> list[tuple[int, int, int]]:
        """Character span ``(start, end, modality)`` of each text segment in the rendered prompt: the segments
        follow each other inside the user turn (the last ``<|im_start|>``), after the vision block."""
        spans: list[tuple[int, int, int]] = []
        cursor = prompt.rfind("<|im_start|>")
        if has_image:
            cursor = max(cursor, prompt.rfind("<|vision_end|>"))
        for seg, mod, plen in segments:
            at = prompt.find(seg, max(cursor, 0))
            if at < 0:
                raise ModelLoadError("the chat template altered a text item; cannot locate it to label its tokens")
            start = at if self.settings.prefix_in_span else at + plen
            spans.append((start, at + len(seg), mod))
            cursor = at + len(seg)
        return spans

    def _label(self, ids: list[int], offsets: Sequence[tuple[int, int]],
               spans: list[tuple[int, int, int]]) -> list[int]:
        """Modality id per token: VIDEO from ``<|vision_start|>`` through the last image pad, the text spans'
        modality by character offset, OTHER for the rest of the template."""
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
        return mods

    def prepare_document(self, doc: Document, where: str = "document") -> PreparedDocument:
        """Render, tokenise and label one document (no pixels are computed here)."""
        if not isinstance(doc, Document):
            raise InputError(f"{where}: expected a Document, got {type(doc).__name__}")
        image = self._frame(doc.image, where) if doc.image is not None else None
        grid = None
        if image is not None:
            grid = (1, image.height // (self._factor // self._merge), image.width // (self._factor // self._merge))
        prompt, segments = self._render(doc, image, grid)
        spans = self._text_spans(prompt, segments, image is not None)
        enc = self.tokenizer(prompt, add_special_tokens=False, return_offsets_mapping=True)
        ids: list[int] = list(enc["input_ids"])
        mods = self._label(ids, enc["offset_mapping"], spans)
        if image is not None:
            n_pad = sum(1 for t in ids if t == self._image_pad)
            if n_pad != grid[1] * grid[2] // (self._merge ** 2):
                raise ModelLoadError(f"{where}: tokenizer split the image placeholder ({n_pad} pads)")
        return PreparedDocument(input_ids=ids, modality_ids=mods, image=image, grid_thw=grid, text=prompt)

    # ------------------------------------------------------------------ queries
    def query_cap(self, query: str) -> int:
        """Token cap for ``query``: the larger one when it carries answer options
        (:func:`~clamr_frames.encoders.query.build_query`)."""
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
    @staticmethod
    def batches(lengths: Sequence[int], max_batch_tokens: int) -> list[list[int]]:
        """Group indices (longest first) so that batch_size * longest <= max_batch_tokens (>= 1 item each)."""
        return token_budget_batches(lengths, max_batch_tokens)

    def _collate(self, seqs: list[list[int]]) -> dict[str, "torch.Tensor"]:
        import torch

        longest = max(len(s) for s in seqs)
        ids = torch.full((len(seqs), longest), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), longest), dtype=torch.long)
        for r, s in enumerate(seqs):
            ids[r, : len(s)] = torch.tensor(s, dtype=torch.long)
            mask[r, : len(s)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    def query_batch(self, prepared: list[list[int]]) -> dict[str, "torch.Tensor"]:
        """Model inputs for prepared queries (:meth:`prepare_query`): padded ids and masks, no vision tokens."""
        import torch

        batch = self._collate(prepared)
        batch["mm_token_type_ids"] = torch.zeros_like(batch["input_ids"])
        return batch

    def document_batch(self, items: "list[PreparedDocument]") -> dict[str, "torch.Tensor"]:
        """Model inputs for prepared documents (:meth:`prepare_document`): padded ids, masks, vision token
        types, and the frames' pixel patches.

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


__all__ = ["OPTIONS_MARKER", "ClamrProcessor", "ClamrSettings", "PreparedDocument"]
