"""A fixed set of training queries and documents, and the check that a trainable wrapper embeds exactly as the
inference encoder it wraps (shared by the tests of every trainable model)."""

from __future__ import annotations

import numpy as np

QUERIES = ["what did the harbour master say?", "exit 12 closed", "the red car crossing the bridge", "pasta sauce"]


def frame(seed: int) -> np.ndarray:
    """A random 90x160 RGB frame."""
    return np.random.default_rng(seed).integers(0, 256, (90, 160, 3), dtype=np.uint8)


def documents() -> list:
    """Six documents: QUERIES[i]'s positive is document i; the last one is text only."""
    from clamr_frames.encoders.base import Document

    return [
        Document(frame(1), asr="welcome back, the harbour master said falcon", ocr="", timestamp=1.0),
        Document(frame(2), asr="", ocr="EXIT 12 CLOSED", timestamp=2.0),
        Document(frame(3), asr="a car on the bridge at night", ocr="BRIDGE", timestamp=3.0),
        Document(frame(4), asr="cooking pasta with tomato sauce", ocr="", timestamp=4.0),
        Document(frame(5), asr="the quick brown fox", ocr="Price $4.99", timestamp=5.0),
        Document(None, asr="a text-only document about the lecture", ocr="", timestamp=6.0),
    ]


def check_same_as_encoder(model, enc, docs, queries) -> None:
    """Assert that ``model`` (a trainable wrapper, in eval mode) gives ``enc``'s document and query embeddings:
    same token counts, same values (atol 1e-5), same modality ids, padding masked."""
    import torch

    from clamr_frames.scoring import unpack

    model.eval()
    with torch.no_grad():
        q, d = model.embed(model(queries=model.prepare_queries(queries), documents=model.prepare_documents(docs)))
    ref = enc.encode_documents(docs)
    for i, r in enumerate(unpack(ref.embeddings, ref.offsets)):
        n = int(d.mask[i].sum())
        assert n == r.shape[0]
        assert torch.allclose(d.emb[i, :n], r.float(), atol=1e-5)
        assert d.modality[i, :n].tolist() == ref.modality_ids[int(ref.offsets[i]) : int(ref.offsets[i + 1])].tolist()
        assert not d.mask[i, n:].any()
    for i, r in enumerate(enc.encode_queries(queries)):
        n = int(q.mask[i].sum())
        assert n == r.shape[0] and torch.allclose(q.emb[i, :n], r.float(), atol=1e-5)
