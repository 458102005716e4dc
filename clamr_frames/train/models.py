"""Differentiable wrappers around the inference encoders, for training.

The inference encoders (:class:`~clamr_frames.encoders.clamr.ClamrEncoder`,
:class:`~clamr_frames.encoders.default.DefaultEncoder`) run under ``torch.inference_mode`` and return packed
embeddings. A trainable wrapper holds the *same* encoder object and calls its own preparation code (chat template,
tokeniser, truncation, image resizing, modality labelling, stop-word filtering), so training and inference see
identical inputs; only the forward pass is new: padded, with autograd, one call for queries and documents together
(so a ``DistributedDataParallel`` wrapper sees one forward per step). The tests check that a wrapper's embeddings
equal the encoder's ``encode_queries`` / ``encode_documents`` output.

- :class:`ClamrTrainable` — Qwen2.5-VL + ``custom_text_proj``; LoRA on the language model (and optionally the
  head), the head trained fully, through LoRA, or frozen; QLoRA when the encoder was loaded in 4 bit (CUDA);
  gradient checkpointing. Saved as a LoRA adapter directory that
  ``ClamrEncoder.from_pretrained(dir, base_model=...)`` (and so ``FrameSelector.from_pretrained``) loads.
- :class:`DefaultTrainable` — all-MiniLM-L6-v2 token embeddings; the full weights or LoRA (merged on save).
  Saved as a model folder that ``DefaultEncoder(model_path=dir)`` loads.
- :class:`ClipTrainable` — the CLIP single-vector baseline (:class:`~clamr_frames.encoders.clip.ClipEncoder`):
  both towers, fully or through LoRA (merged on save). Saved as a CLIP checkpoint folder that
  ``ClipEncoder.from_pretrained(dir)`` (``FrameSelector.from_pretrained("clip", encoder_kwargs={"weights": dir})``)
  loads.

``pooling="mean"`` turns either into a single-vector baseline (one L2-normalised vector per query and per
document, the masked mean of the token vectors): MaxSim over one token is the dot product, so the same losses
and loop train it.
"""

from __future__ import annotations

import copy
import json
import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from clamr_frames.encoders.base import Document
from clamr_frames.errors import InputError
from clamr_frames.types import Modality

if TYPE_CHECKING:  # pragma: no cover
    import torch

    from clamr_frames.train.losses import Embedded

logger = logging.getLogger(__name__)

POOLINGS = ("none", "mean")
HEAD_MODES = ("full", "lora", "frozen")
#: LoRA targets of the CLaMR recipe (attention and MLP projections of the *language model*) in the installed
#: transformers-5 module names; the ViT (``model.visual``) is left alone, as the released adapter did.
CLAMR_LORA_TARGETS = (
    r"model\.language_model\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|o_proj)|mlp\.(gate_proj|up_proj|down_proj))"
)
#: LoRA targets for MiniLM (BERT): attention projections and the feed-forward layers.
DEFAULT_LORA_TARGETS = (
    r"encoder\.layer\.\d+\.(attention\.self\.(query|key|value)|attention\.output\.dense|intermediate\.dense|output\.dense)"
)
TRAIN_META = "clamr_train.json"


# ---------------------------------------------------------------------------------------------- LoRA helpers
def lora_targets(model: "torch.nn.Module", pattern: str | Sequence[str], *, extra: Sequence[str] = ()) -> list[str]:
    """Names of the ``nn.Linear`` modules of ``model`` that ``pattern`` (a regex, full match, or a list of exact
    names) selects, plus ``extra`` names. Raises :class:`InputError` when nothing matches."""
    from torch import nn

    names = []
    for name, module in model.named_modules():
        if not name or not isinstance(module, nn.Linear):
            continue
        if isinstance(pattern, str):
            hit = re.fullmatch(pattern, name) is not None
        else:
            hit = name in set(pattern)
        if hit or name in extra:
            names.append(name)
    if not names:
        raise InputError(f"LoRA target pattern {pattern!r} matches no linear layer of the model")
    return names


def inject_lora(
    model: "torch.nn.Module",
    targets: list[str],
    *,
    r: int,
    alpha: float,
    dropout: float,
    init: str | bool = True,
) -> dict[str, Any]:
    """Add LoRA layers (peft) to ``targets`` of ``model`` in place; returns the adapter config (JSON-ready)."""
    from peft import LoraConfig, inject_adapter_in_model

    if r < 1:
        raise InputError(f"LoRA r must be >= 1, got {r}")
    cfg = LoraConfig(r=int(r), lora_alpha=float(alpha), lora_dropout=float(dropout), target_modules=sorted(targets),
                     init_lora_weights=init, bias="none")
    inject_adapter_in_model(cfg, model, adapter_name="default")
    return {
        "peft_type": "LORA",
        "r": int(r),
        "lora_alpha": float(alpha),
        "lora_dropout": float(dropout),
        "target_modules": sorted(targets),
        "init_lora_weights": init,
        "bias": "none",
        "fan_in_fan_out": False,
        "use_rslora": False,
        "use_dora": False,
        "task_type": None,
    }


def lora_state_dict(model: "torch.nn.Module", prefix: str = "base_model.model.") -> dict[str, "torch.Tensor"]:
    """LoRA tensors of ``model`` in peft's saved layout (``<prefix><module>.lora_A.weight``, no adapter name)."""
    out = {}
    for name, p in model.named_parameters():
        if ".lora_" in name:
            out[prefix + name.replace(".default", "", 1)] = p.detach().to("cpu").contiguous()
    return out


def merged_copy(model: "torch.nn.Module") -> "torch.nn.Module":
    """A deep copy of ``model`` with every LoRA layer folded into its base weights (the original is untouched)."""
    from peft.tuners.tuners_utils import BaseTunerLayer

    clone = copy.deepcopy(model)
    for name, module in [(n, m) for n, m in clone.named_modules() if isinstance(m, BaseTunerLayer)]:
        module.merge(safe_merge=True)
        parent_name, _, child = name.rpartition(".")
        parent = clone.get_submodule(parent_name) if parent_name else clone
        setattr(parent, child, module.get_base_layer())
    return clone


class quiet_hf:
    """No transformers progress bars inside the block (a library call should not draw them)."""

    def __enter__(self) -> None:
        from transformers.utils import logging as hf_logging

        self.was_on = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()

    def __exit__(self, *a: Any) -> None:
        from transformers.utils import logging as hf_logging

        if self.was_on:
            hf_logging.enable_progress_bar()


def enable_checkpointing(model: Any) -> None:
    """Non-reentrant activation checkpointing (works with frozen inputs and on the CPU with 4-bit weights)."""
    kwargs = {"use_reentrant": False}
    if hasattr(model, "activation_checkpointing_enable"):  # transformers >= 5.x name
        model.activation_checkpointing_enable(activation_checkpointing_kwargs=kwargs)
    else:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=kwargs)


def set_trainable(module: "torch.nn.Module", mode: str, lora: dict[str, Any] | None, *, default_targets: str,
                  full: Any, what: str) -> dict[str, Any] | None:
    """Choose what trains in ``module``: LoRA adapters on ``default_targets`` (``mode="lora"``; everything else
    frozen) or the parameters whose name ``full(name)`` accepts (``mode="full"``). Returns the adapter config
    (None for full training).

    Raises:
        InputError: an unknown mode (the message names ``what`` is trained), or LoRA targets that match nothing.
    """
    if mode not in ("full", "lora"):
        raise InputError(f"{what} training mode must be 'full' or 'lora', got {mode!r}")
    if mode == "full":
        for n, p in module.named_parameters():
            p.requires_grad_(bool(full(n)))
        return None
    lora = lora or {}
    targets = lora_targets(module, lora.get("target_modules") or default_targets)
    cfg = inject_lora(module, targets, r=int(lora.get("r", 16)), alpha=float(lora.get("alpha", 32)),
                      dropout=float(lora.get("dropout", 0.0)), init=lora.get("init", True))
    for n, p in module.named_parameters():
        p.requires_grad_(".lora_" in n)
    return cfg


def save_merged(module: "torch.nn.Module", mode: str, path: Path, tokenizer: Any) -> None:
    """Write ``module`` (LoRA folded into a copy when ``mode="lora"``) as safetensors, and its tokenizer."""
    model = merged_copy(module) if mode == "lora" else module
    with quiet_hf():
        model.save_pretrained(str(path), safe_serialization=True)
    tokenizer.save_pretrained(str(path))


def _pool(emb: "torch.Tensor", mask: "torch.Tensor") -> "torch.Tensor":
    """Masked mean over tokens, L2-normalised: ``[N, L, d]`` → ``[N, 1, d]``."""
    import torch.nn.functional as F

    m = mask.to(emb.dtype).unsqueeze(-1)
    mean = (emb * m).sum(1) / m.sum(1).clamp(min=1.0)
    return F.normalize(mean, p=2, dim=-1).unsqueeze(1)


def _embedded(emb: "torch.Tensor", mask: "torch.Tensor", modality: "torch.Tensor | None", pooling: str) -> "Embedded":
    import torch

    from clamr_frames.train.losses import Embedded

    if pooling == "mean":
        pooled = _pool(emb, mask)
        ones = torch.ones(pooled.shape[:2], dtype=torch.bool, device=pooled.device)
        mod = None if modality is None else torch.full_like(ones, int(Modality.OTHER), dtype=torch.long)
        return Embedded(pooled, ones, mod)
    return Embedded(emb, mask, modality)


def _pad_rows(rows: list[list[int]], pad: int) -> "torch.Tensor":
    import torch

    width = max((len(r) for r in rows), default=0)
    out = torch.full((len(rows), max(width, 1)), pad, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            out[i, : len(r)] = torch.tensor(r, dtype=torch.long)
    return out


class _TwoSided:
    """The forward pass every trainable wrapper shares: queries and documents in one call (one DDP forward per
    step), each side through the wrapper's ``_encode_queries`` / ``_encode_documents`` (a prepared batch →
    ``(embeddings [N, L, d], mask [N, L])``), then ``embed`` pools (``pooling``) and labels the modalities."""

    pooling: str

    def _encode_queries(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        raise NotImplementedError

    def _encode_documents(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
        raise NotImplementedError

    def _embed_pooling(self) -> str:
        return self.pooling

    def forward(self, queries: dict | None = None, documents: dict | None = None) -> tuple:
        """``(q_emb, q_mask, d_emb, d_mask, d_modality)``; entries of a missing side are None."""
        out: list[Any] = [None] * 5
        if queries is not None:
            out[0], out[1] = self._encode_queries(queries)
        if documents is not None:
            out[2], out[3] = self._encode_documents(documents)
            out[4] = documents["modality"]
        return tuple(out)

    def embed(self, out: tuple) -> tuple["Embedded | None", "Embedded | None"]:
        """The two sides of a :meth:`forward` output as ``Embedded`` (None for a missing side)."""
        pooling = self._embed_pooling()
        q = None if out[0] is None else _embedded(out[0], out[1], None, pooling)
        d = None if out[2] is None else _embedded(out[2], out[3], out[4], pooling)
        return q, d


# ---------------------------------------------------------------------------------------------- CLaMR
def _clamr_class():
    import torch
    from torch import nn

    class ClamrTrainable(_TwoSided, nn.Module):
        """Trainable :class:`~clamr_frames.encoders.clamr.ClamrEncoder` (see the module docstring).

        Args:
            encoder: the encoder (its ``model`` becomes this module's ``colqwen`` child; weights are shared).
            lora: ``{"r", "alpha", "dropout", "target_modules", "init"}`` or None (an encoder loaded with an
                unmerged adapter keeps training that adapter instead).
            head: ``"full"`` (train ``custom_text_proj``), ``"lora"`` (LoRA on it, the reference) or ``"frozen"``.
            pooling: ``"none"`` (multi-vector) or ``"mean"`` (single-vector baseline).
            gradient_checkpointing: recompute the backbone's activations in backward (less memory).
        """

        uses_image = True

        def __init__(self, encoder: Any, *, lora: dict[str, Any] | None = None, head: str = "full",
                     pooling: str = "none", gradient_checkpointing: bool = False):
            super().__init__()
            if head not in HEAD_MODES:
                raise InputError(f"head must be one of {HEAD_MODES}, got {head!r}")
            if pooling not in POOLINGS:
                raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
            self.__dict__["encoder"] = encoder  # not a child module: the ColQwen module below is
            self.colqwen = encoder.model
            self.pooling = pooling
            self.head_mode = head
            vlm = self.colqwen.vlm
            quantized = bool(getattr(vlm, "is_loaded_in_4bit", False) or encoder.source.get("load_in_4bit"))
            if quantized:
                from peft import prepare_model_for_kbit_training

                # peft's default turns on reentrant checkpointing, which breaks backward on the CPU
                # (measured with peft here); checkpointing is handled below instead.
                prepare_model_for_kbit_training(vlm, use_gradient_checkpointing=False)
            for p in self.colqwen.parameters():
                p.requires_grad_(False)
            existing = [n for n, _ in self.colqwen.named_parameters() if ".lora_" in n]
            self.adapter_config: dict[str, Any] | None = None
            if lora is not None:
                if existing:
                    raise InputError("the encoder already carries LoRA layers (an unmerged adapter); "
                                     "set lora: null to keep training them")
                extra = ["custom_text_proj"] if head == "lora" else []
                pattern = lora.get("target_modules") or CLAMR_LORA_TARGETS
                targets = lora_targets(self.colqwen, pattern, extra=extra)
                self.adapter_config = inject_lora(
                    self.colqwen, targets, r=int(lora.get("r", 128)), alpha=float(lora.get("alpha", 128)),
                    dropout=float(lora.get("dropout", 0.1)), init=lora.get("init", "gaussian"),
                )
            elif existing:
                self.adapter_config = _existing_adapter_config(encoder)
            else:
                raise InputError("ClamrTrainable needs LoRA (lora: {r: ...}) or an encoder with an unmerged adapter")
            for n, p in self.colqwen.named_parameters():
                if ".lora_" in n:
                    p.requires_grad_(True)
            if head == "full":
                for p in self.colqwen.custom_text_proj.parameters():
                    p.requires_grad_(True)
                    if p.dtype != torch.float32 and quantized:
                        p.data = p.data.float()
            if gradient_checkpointing:
                enable_checkpointing(vlm)
                vlm.config.use_cache = False

        # ---------------------------------------------------------------- preparation (the encoder's code)
        def prepare_queries(self, queries: list[str]) -> dict[str, "torch.Tensor"]:
            enc = self.encoder
            return enc.query_batch([enc.prepare_query(q) for q in queries])

        def prepare_documents(self, docs: list[Document]) -> dict[str, "torch.Tensor"]:
            enc = self.encoder
            prepared = [enc.prepare_document(d, where=f"document {i}") for i, d in enumerate(docs)]
            batch = enc.document_batch(prepared)
            batch["modality"] = _pad_rows([p.modality_ids for p in prepared], int(Modality.OTHER))
            return batch

        # ---------------------------------------------------------------- forward
        def _encode(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
            inputs = {k: v for k, v in batch.items() if k != "modality"}
            if "pixel_values" in inputs:
                inputs["pixel_values"] = inputs["pixel_values"].to(self.colqwen.custom_text_proj.weight.dtype)
            return self.colqwen(**inputs), batch["attention_mask"].bool()

        _encode_queries = _encode_documents = _encode  # one prompt format: the same pass for both sides

        # ---------------------------------------------------------------- saving
        def save_pretrained(self, path: str | Path, *, base_model: str | None = None) -> Path:
            """Write a LoRA adapter directory ``ClamrEncoder.from_pretrained(path, base_model=...)`` loads.

            Files: ``adapter_config.json`` + ``adapter_model.safetensors`` (keys in the installed layout),
            ``clamr_head.safetensors`` (the head's base weights: LoRA on the head is in the adapter),
            ``clamr_train.json`` (the encoder settings, pooling and base model to pass when loading).
            """
            from safetensors.torch import save_file

            from clamr_frames.encoders.clamr import CLAMR_HEAD
            from clamr_frames.encoders.clamr.adapter import ADAPTER_CONFIG, ADAPTER_WEIGHTS

            path = Path(path)
            path.mkdir(parents=True, exist_ok=True)
            cfg = dict(self.adapter_config or {})
            src = self.encoder.source
            base = base_model or src.get("base_model")
            cfg["base_model_name_or_path"] = base
            save_file(lora_state_dict(self.colqwen), str(path / ADAPTER_WEIGHTS))
            (path / ADAPTER_CONFIG).write_text(json.dumps(cfg, indent=2), encoding="utf-8")
            head = self.colqwen.custom_text_proj
            head = getattr(head, "base_layer", head)
            save_file({"weight": head.weight.detach().float().cpu().contiguous(),
                       "bias": head.bias.detach().float().cpu().contiguous()}, str(path / CLAMR_HEAD))
            meta = {"kind": "clamr", "base_model": base, "settings": self.encoder.settings.to_dict(),
                    "pooling": self.pooling}
            (path / TRAIN_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
            return path

    return ClamrTrainable


def _existing_adapter_config(encoder: Any) -> dict[str, Any]:
    """Adapter config of LoRA layers an encoder was loaded with (unmerged), for saving them back."""
    from peft.tuners.lora import LoraLayer

    model = encoder.model
    targets = sorted(n for n, m in model.named_modules() if isinstance(m, LoraLayer))
    if not targets:
        raise InputError("the encoder has no LoRA layers")
    layer = model.get_submodule(targets[0])
    r = int(layer.r["default"])
    alpha = float(layer.lora_alpha["default"])
    drop = layer.lora_dropout["default"]
    return {"peft_type": "LORA", "r": r, "lora_alpha": alpha, "lora_dropout": float(getattr(drop, "p", 0.0)),
            "target_modules": targets, "bias": "none", "fan_in_fan_out": False, "use_rslora": False,
            "use_dora": False, "init_lora_weights": True, "task_type": None}


# ---------------------------------------------------------------------------------------------- default (MiniLM)
def _default_class():
    import torch
    import torch.nn.functional as F
    from torch import nn

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
            if pooling not in POOLINGS:
                raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
            self.__dict__["encoder"] = encoder
            self.bert = encoder.model
            self.pooling = pooling
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

    return DefaultTrainable


# ---------------------------------------------------------------------------------------------- CLIP (single vector)
#: LoRA targets for CLIP: attention and MLP projections of both towers.
CLIP_LORA_TARGETS = r"(text_model|vision_model)\.encoder\.layers\.\d+\.(self_attn\.(q_proj|k_proj|v_proj|out_proj)|mlp\.(fc1|fc2))"


def _clip_class():
    import torch
    import torch.nn.functional as F
    from torch import nn

    class ClipTrainable(_TwoSided, nn.Module):
        """Trainable :class:`~clamr_frames.encoders.clip.ClipEncoder`: the single-vector CLIP baseline.

        One L2-normalised vector per query (text tower, EOS pooling, projection) and per frame (image tower,
        projection), computed with the encoder's own tokeniser settings and image preprocessing; the same losses
        and loop as the late-interaction models train it (MaxSim over one token each is the cosine similarity).

        Args:
            encoder: the encoder (its ``CLIPModel`` becomes this module's ``clip`` child; weights are shared).
            mode: ``"full"`` (both towers and projections; the token / position embedding tables and
                ``logit_scale`` stay frozen) or ``"lora"`` (LoRA on the towers' attention and MLP projections,
                folded in on save).
            lora: LoRA settings for ``mode="lora"``.
            pooling: only ``"none"``/``"mean"`` (identical here: one vector already).
            gradient_checkpointing: recompute the towers' activations in backward.
        """

        uses_image = True

        def __init__(self, encoder: Any, *, mode: str = "full", lora: dict[str, Any] | None = None,
                     pooling: str = "none", gradient_checkpointing: bool = False):
            super().__init__()
            if pooling not in POOLINGS:
                raise InputError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
            if getattr(encoder, "uses_audio", False):
                raise InputError("training the audio tower (LanguageBind V+A) is not supported; train the V scorer")
            self.__dict__["encoder"] = encoder
            self.clip = encoder.model
            self.pooling = pooling
            self.mode = mode
            self.adapter_config = set_trainable(
                self.clip, mode, lora, default_targets=CLIP_LORA_TARGETS, what="clip",
                full=lambda n: not ("embeddings.token_embedding" in n or "position_embedding" in n
                                    or n == "logit_scale"))
            if gradient_checkpointing:
                enable_checkpointing(self.clip)

        # ---------------------------------------------------------------- preparation (the encoder's code)
        def prepare_queries(self, queries: list[str]) -> dict[str, "torch.Tensor"]:
            enc = self.encoder
            for i, q in enumerate(queries):
                if not isinstance(q, str) or not q.strip():
                    raise InputError(f"query {i} is empty")
            out = enc.tokenizer([str(q) for q in queries], padding=True, truncation=True,
                                max_length=enc.max_text_tokens, return_tensors="pt")
            return {"input_ids": out["input_ids"], "attention_mask": out["attention_mask"]}

        def prepare_documents(self, docs: list[Document]) -> dict[str, "torch.Tensor"]:
            from clamr_frames.encoders.clip_common import _rgb_array

            missing = [i for i, d in enumerate(docs) if d.image is None]
            if missing:
                raise InputError(f"document(s) {missing[:5]} have no frame: an image-text scorer needs the pixels")
            arrays = [_rgb_array(d.image, f"document {i}") for i, d in enumerate(docs)]
            pixels = self.encoder.preprocess(arrays)
            return {"pixel_values": pixels,
                    "modality": torch.full((len(docs), 1), int(Modality.VIDEO), dtype=torch.long)}

        # ---------------------------------------------------------------- forward
        def _texts(self, batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
            ids = batch["input_ids"]
            hidden = self.clip.text_model(input_ids=ids, attention_mask=batch["attention_mask"])
            pooled = self.encoder._pool_text(hidden, ids)
            return F.normalize(self.clip.text_projection(pooled).float(), dim=-1).unsqueeze(1)

        def _images(self, batch: dict[str, "torch.Tensor"]) -> "torch.Tensor":
            dtype = self.clip.visual_projection.weight.dtype
            pooled = self.clip.vision_model(pixel_values=batch["pixel_values"].to(dtype)).pooler_output
            return F.normalize(self.clip.visual_projection(pooled).float(), dim=-1).unsqueeze(1)

        def _encode_queries(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
            emb = self._texts(batch)
            return emb, torch.ones(emb.shape[:2], dtype=torch.bool, device=emb.device)

        def _encode_documents(self, batch: dict[str, "torch.Tensor"]) -> tuple["torch.Tensor", "torch.Tensor"]:
            emb = self._images(batch)
            return emb, torch.ones(emb.shape[:2], dtype=torch.bool, device=emb.device)

        def _embed_pooling(self) -> str:
            return "none"  # one vector per side already; "mean" would only relabel the frame's modality

        # ---------------------------------------------------------------- saving
        def save_pretrained(self, path: str | Path, **_: Any) -> Path:
            """Write a CLIP checkpoint folder (safetensors, LoRA folded in, tokenizer, image processor) that
            ``ClipEncoder.from_pretrained(path)`` / ``FrameSelector.from_pretrained("clip",
            encoder_kwargs={"weights": path})`` loads."""
            path = Path(path)
            path.mkdir(parents=True, exist_ok=True)
            save_merged(self.clip, self.mode, path, self.encoder.tokenizer)
            processor = getattr(self.encoder, "image_processor", None)
            if processor is not None:
                processor.save_pretrained(str(path))
            meta = {"kind": "clip", "source": self.encoder.source.get("label")}
            (path / TRAIN_META).write_text(json.dumps(meta, indent=2), encoding="utf-8")
            return path

    return ClipTrainable


_CLASSES: dict[str, Any] = {}


def ClamrTrainable(*args: Any, **kwargs: Any):  # noqa: N802 - a class built lazily (keeps torch out of import)
    """Build a trainable CLaMR model; see ``_clamr_class`` for the arguments."""
    if "clamr" not in _CLASSES:
        _CLASSES["clamr"] = _clamr_class()
    return _CLASSES["clamr"](*args, **kwargs)


def DefaultTrainable(*args: Any, **kwargs: Any):  # noqa: N802
    """Build a trainable default (MiniLM) model; see ``_default_class`` for the arguments."""
    if "default" not in _CLASSES:
        _CLASSES["default"] = _default_class()
    return _CLASSES["default"](*args, **kwargs)


def ClipTrainable(*args: Any, **kwargs: Any):  # noqa: N802
    """Build a trainable CLIP (single-vector) model; see ``_clip_class`` for the arguments."""
    if "clip" not in _CLASSES:
        _CLASSES["clip"] = _clip_class()
    return _CLASSES["clip"](*args, **kwargs)
