"""Trainable default encoder: all-MiniLM-L6-v2 token embeddings, the full weights or LoRA (merged on save);
saved as a model folder ``DefaultEncoder(model_path=...)`` loads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from clamr_frames.encoders.base import Document
from clamr_frames.errors import InputError
from clamr_frames.train.models.common import TRAIN_META, _pad_rows, _TwoSided
from clamr_frames.train.models.lora import enable_checkpointing, save_merged, set_trainable
from clamr_frames.types import Modality

#: LoRA targets for MiniLM (BERT): attention projections and the feed-forward layers.
DEFAULT_LORA_TARGETS = (
    r"encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"
)


class DefaultTrainable(_TwoSided, nn.Module):
    """Trainable :class:`~clamr_frames.encoders.default.DefaultEncoder` (see the module docstring).

    Args:
        encoder: the encoder (its BERT ``model`` becomes this module's ``bert`` child; weights are shared).
        mode: ``"full"`` (every MiniLM weight but the embedding tables) or ``"lora"`` (LoRA adapters, folded
            in on save).
        lora: LoRA settings for ``mode="lora"``.
        pooling: ``"none"`` or ``"mean"`` (single-vector baseline).
    """

    uses_image = False

    def __init__(self, encoder: Any, *, mode: str = "full", lora: dict[str, Any] | None = None,
                 pooling: str = "none", gradient_checkpointing: bool = False):
        super().__init__()
        self._keep_encoder(encoder, pooling)
        self.bert = encoder.model
        self.mode = mode
        # full: the transformer layers; the word/position embeddings stay (a small training set would only
        # move the rows of the words it happens to contain, and Adam on 12M embedding rows is slow)
        # (the pooler is not used: token vectors are the last hidden states)
        self.adapter_config = set_trainable(self.bert, mode, lora, default_targets=DEFAULT_LORA_TARGETS,
                                            full=lambda n: n.startswith("encoder."), what="default encoder")
        if gradient_checkpointing:
            enable_checkpointing(self.bert)

    # ---------------------------------------------------------------- preparation (the encoder's code)
    def _pack(self, encs: list[Any], rows: list[list[int]]) -> dict[str, "torch.Tensor"]:
        ids = _pad_rows([list(e.ids) for e in encs], 0)
        types = _pad_rows([list(e.type_ids) for e in encs], 0)
        mask = _pad_rows([[1] * len(e.ids) for e in encs], 0)
        keep = torch.zeros_like(ids, dtype=torch.bool)
        for i, r in enumerate(rows):
            keep[i, r] = True
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": mask, "keep": keep}

    def prepare_queries(self, queries: list[str]) -> dict[str, "torch.Tensor"]:
        from clamr_frames.encoders.default import _clean

        enc = self.encoder
        texts = []
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not _clean(q):
                raise InputError(f"query {i} is empty")
            texts.append(_clean(q))
        encs, _ = enc._tokenize(texts, split_long=False)
        rows = [enc._query_rows(t, e) for t, e in zip(texts, encs)]
        return self._pack(encs, rows)

    def prepare_documents(self, docs: list[Document]) -> dict[str, "torch.Tensor"]:
        """Encodings of the distinct texts plus, per document, which kept token rows form it (in the
        encoder's order: ASR tokens, then OCR tokens; an empty document is one zero vector)."""
        from clamr_frames.encoders.default import _clean

        enc = self.encoder
        for i, d in enumerate(docs):
            if not isinstance(d, Document):
                raise InputError(f"document {i}: expected a Document, got {type(d).__name__}")
        asr = [_clean(d.asr) for d in docs]
        ocr = [_clean(d.ocr) for d in docs]
        # piece = (encoding index, token rows, modality) ; a document is a list of pieces
        pieces_of: list[list[tuple[int, list[int], int]]] = []
        if enc.settings.context_mode == "joint":
            pairs = sorted({(a, o) for a, o in zip(asr, ocr) if a or o})
            encs: list[Any] = []
            table: dict[tuple[str, str], list[tuple[int, list[int], int]]] = {}
            if pairs:
                out = enc.tokenizer([a for a, _ in pairs], [o for _, o in pairs], truncation="longest_first",
                                    max_length=enc.settings.max_length, return_offsets_mapping=True)
                encs = list(out.encodings)
                for j, ((a, o), e) in enumerate(zip(pairs, encs)):
                    table[(a, o)] = []
                    for side, text, mod in ((0, a, Modality.ASR), (1, o, Modality.OCR)):
                        keep = enc._keep_mask(text, e, enc.settings.doc_stopwords, side)
                        table[(a, o)].append((j, [i for i, k in enumerate(keep) if k], int(mod)))
            pieces_of = [table.get((a, o), []) for a, o in zip(asr, ocr)]
        else:
            unique = sorted({t for t in asr + ocr if t})
            encs, owner = enc._tokenize(unique, split_long=True) if unique else ([], [])
            by_text: dict[str, list[tuple[int, list[int]]]] = {}
            for j, (e, o) in enumerate(zip(encs, owner)):
                keep = enc._keep_mask(unique[o], e, enc.settings.doc_stopwords)
                by_text.setdefault(unique[o], []).append((j, [i for i, k in enumerate(keep) if k]))
            for a, o in zip(asr, ocr):
                pieces = []
                for text, mod in ((a, Modality.ASR), (o, Modality.OCR)):
                    if text:
                        pieces += [(j, r, int(mod)) for j, r in by_text.get(text, [])]
                pieces_of.append(pieces)
        batch = self._pack(encs, [[] for _ in encs]) if encs else {}
        # gather plan: for each document token, (encoding, row); -1 = the zero vector of an empty document
        plan_enc, plan_row, plan_mod = [], [], []
        for pieces in pieces_of:
            e_idx, r_idx, m_idx = [], [], []
            for j, rows, mod in pieces:
                e_idx += [j] * len(rows)
                r_idx += rows
                m_idx += [mod] * len(rows)
            if not e_idx:
                e_idx, r_idx, m_idx = [-1], [0], [int(Modality.OTHER)]
            plan_enc.append(e_idx)
            plan_row.append(r_idx)
            plan_mod.append(m_idx)
        batch["doc_enc"] = _pad_rows(plan_enc, -1)
        batch["doc_row"] = _pad_rows(plan_row, 0)
        batch["modality"] = _pad_rows(plan_mod, int(Modality.OTHER))
        batch["doc_mask"] = _pad_rows([[1] * len(e) for e in plan_enc], 0).bool()
        return batch

    # ---------------------------------------------------------------- forward
    def _hidden(self, batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
        h = self.bert(input_ids=batch["input_ids"], token_type_ids=batch["token_type_ids"],
                      attention_mask=batch["attention_mask"]).last_hidden_state
        return F.normalize(h.float(), p=2, dim=-1)

    def _encode_queries(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        h = self._hidden(batch)
        keep = batch["keep"]
        n = int(keep.sum(1).max())
        emb = h.new_zeros((h.shape[0], max(n, 1), h.shape[-1]))
        mask = torch.zeros(emb.shape[:2], dtype=torch.bool, device=h.device)
        for i in range(h.shape[0]):
            rows = h[i][keep[i]]
            emb[i, : rows.shape[0]] = rows
            mask[i, : rows.shape[0]] = True
        return emb, mask

    def _encode_documents(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        enc_idx, row_idx, mask = batch["doc_enc"], batch["doc_row"], batch["doc_mask"]
        if "input_ids" in batch:
            h = self._hidden(batch)  # [E, T, d]
            # row E of the padded table is the zero vector of empty documents
            table = torch.cat([h, h.new_zeros((1, h.shape[1], h.shape[2]))], 0)
        else:
            dim = int(self.bert.config.hidden_size)
            table = torch.zeros((1, 1, dim), device=enc_idx.device)
        e = torch.where(enc_idx < 0, torch.full_like(enc_idx, table.shape[0] - 1), enc_idx)
        emb = table[e, row_idx]  # [N, L, d]
        return emb * mask.unsqueeze(-1).to(emb.dtype), mask

    # ---------------------------------------------------------------- saving
    def save_pretrained(self, path: str | Path, **_: Any) -> Path:
        """Write a MiniLM model folder (LoRA folded in) that ``DefaultEncoder(model_path=path)`` loads."""
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        save_merged(self.bert, self.mode, path, self.encoder.tokenizer)
        meta = {"kind": "default", "settings": self.encoder.settings.to_dict(), "pooling": self.pooling}
        (path / TRAIN_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
        return path
