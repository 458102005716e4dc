"""``ClamrEncoder``: the CLaMR scorer behind the :class:`~clamr_frames.encoders.base.Encoder` protocol.

It ties the three parts together: :mod:`~clamr_frames.encoders.clamr.processing` (documents and queries → model
inputs), :mod:`~clamr_frames.encoders.clamr.modeling` (backbone + projection head → token embeddings) and
:mod:`~clamr_frames.encoders.clamr.loading` (Hub / local checkpoints, adapters, 4-bit). How the scorer is
built and where it differs from the reference implementation: ``docs/clamr_scorer.md``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from clamr_frames.encoders.base import DocEmbeddings, Document
from clamr_frames.encoders.clamr.head import REFERENCE_DTYPE
from clamr_frames.encoders.clamr.loading import DEFAULT_ADAPTER, build_scorer_module, load_clamr, save_clamr
from clamr_frames.encoders.clamr.modeling import embed, weights_fingerprint
from clamr_frames.encoders.clamr.processing import ClamrProcessor, ClamrSettings, PreparedDocument
from clamr_frames.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import torch


class ClamrEncoder:
    """CLaMR scorer implementing :class:`~clamr_frames.encoders.base.Encoder`.

    Build it with :meth:`from_pretrained` (released adapter, a local adapter, or a directory written by
    :meth:`save_pretrained`) or :meth:`from_model` (an in-memory backbone).

    Attributes:
        model: the ``ColQwen25`` module (``model``, ``lm_head``, ``custom_text_proj``), in eval mode.
        processor: the Qwen2.5-VL processor (tokenizer, image processor, chat template).
        processing: the :class:`~clamr_frames.encoders.clamr.processing.ClamrProcessor` that formats
            documents and queries (shared with the training wrapper).
        settings: :class:`ClamrSettings`.
        max_batch_tokens: padded tokens per forward pass (runtime knob, does not change embeddings).
        output_dtype: dtype of returned embeddings (on CPU).
        score_floor: lower bound of each query token's best similarity when scoring (0.0: the reference's zero
            padding, see ``docs/clamr_scorer.md``; None: plain MaxSim). A scoring knob: embeddings and indexes
            do not depend on it.
    """

    multi_vector = True
    score_floor: float | None = 0.0
    uses_image = True
    uses_ocr = True
    default_policy = "gated"  # what policy=None selects with: docs/policies.md, "Default policy by scorer"

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
        self.processing = ClamrProcessor(processor, settings)
        self.device = torch.device(device) if device is not None else next(model.parameters()).device
        if max_batch_tokens < 1:
            raise InputError(f"max_batch_tokens must be >= 1, got {max_batch_tokens}")
        self.max_batch_tokens = int(max_batch_tokens)
        self.output_dtype = output_dtype or torch.float16
        self.source = dict(source or {})
        self.dim = int(model.custom_text_proj.out_features)
        self._encoder_id: str | None = None

    @property
    def settings(self) -> ClamrSettings:
        """The formatting knobs (:class:`ClamrSettings`) of :attr:`processing`."""
        return self.processing.settings

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
            self._encoder_id = f"clamr:{label}@{weights_fingerprint(self.model)[:12]}"
        return self._encoder_id

    # ------------------------------------------------------------------ processing (see ClamrProcessor)
    def prepare_document(self, doc: Document, where: str = "document") -> PreparedDocument:
        """Render, tokenise and label one document (:meth:`ClamrProcessor.prepare_document`)."""
        return self.processing.prepare_document(doc, where)

    def query_cap(self, query: str) -> int:
        """Token cap for ``query`` (:meth:`ClamrProcessor.query_cap`)."""
        return self.processing.query_cap(query)

    def prepare_query(self, query: str, max_length: int | None = None) -> list[int]:
        """Query token ids, augmentation tokens included (:meth:`ClamrProcessor.prepare_query`)."""
        return self.processing.prepare_query(query, max_length)

    def query_batch(self, prepared: list[list[int]]) -> dict[str, "torch.Tensor"]:
        """Model inputs for prepared queries (:meth:`ClamrProcessor.query_batch`)."""
        return self.processing.query_batch(prepared)

    def document_batch(self, items: "list[PreparedDocument]") -> dict[str, "torch.Tensor"]:
        """Model inputs for prepared documents (:meth:`ClamrProcessor.document_batch`)."""
        return self.processing.document_batch(items)

    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        return self.processing.batches(lengths, self.max_batch_tokens)

    # ------------------------------------------------------------------ Encoder protocol
    def encode_queries(self, queries: list[str], max_length: int | None = None) -> "list[torch.Tensor]":
        """Each query → ``[n_q, dim]`` L2-normalised token embeddings (``output_dtype``, CPU).

        Args:
            queries: query texts (e.g. from :func:`~clamr_frames.encoders.query.build_query`).
            max_length: token cap for all of them; default: :meth:`query_cap` per query.
        """
        if isinstance(queries, str):
            raise InputError("encode_queries takes a list of strings, got one string")
        prepared = [self.prepare_query(q, max_length) for q in queries]
        out: list[Any] = [None] * len(prepared)
        for idx in self._batches([len(p) for p in prepared]):
            emb = embed(self.model, self.query_batch([prepared[i] for i in idx]), self.device).to("cpu")
            for row, i in enumerate(idx):
                out[i] = emb[row, : len(prepared[i])].to(self.output_dtype)
        return out

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
            emb = embed(self.model, self.document_batch([prepared[i] for i in idx]), self.device).to("cpu")
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
        model = build_scorer_module(vlm, head_state, dim, head_init_dtype, stacklevel=3)
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
        """Load a CLaMR scorer (:func:`~clamr_frames.encoders.clamr.loading.load_clamr`).

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
        loaded = load_clamr(adapter_or_model, base_model, device=device, dtype=dtype, load_in_4bit=load_in_4bit,
                            trust_remote_code=trust_remote_code, local_files_only=local_files_only,
                            merge_adapter=merge_adapter, head_init_dtype=head_init_dtype, revision=revision,
                            base_revision=base_revision, progress=progress)
        merged_settings = {**loaded.settings, **settings}
        return cls(loaded.model, loaded.processor, ClamrSettings.from_dict(merged_settings), device=loaded.device,
                   max_batch_tokens=max_batch_tokens, output_dtype=output_dtype, source=loaded.source)

    def save_pretrained(self, path: str | Path) -> Path:
        """Write a self-contained model directory that :meth:`from_pretrained` reads back.

        Contents: the backbone (``config.json`` + ``model.safetensors``, LoRA already merged), the processor
        files, ``clamr_head.safetensors`` (``custom_text_proj``) and ``clamr_config.json`` (format, settings).
        """
        meta = {
            "dim": self.dim,
            "settings": self.settings.to_dict(),
            "source": {k: v for k, v in self.source.items() if isinstance(v, (str, int, float, bool))},
        }
        return save_clamr(self.model, self.processor, path, meta)


__all__ = ["ClamrEncoder"]
