"""score_frames: the one scoring entry point of FrameSelector.score (plain, compressed and score-fused indexes)."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

from clamr_frames.encoders.base import DocEmbeddings  # noqa: E402
from clamr_frames.errors import InputError  # noqa: E402
from clamr_frames.scoring import maxsim, score_frames  # noqa: E402
from clamr_frames.index.codecs import CompressionSpec, compress, parse_compression  # noqa: E402
from clamr_frames.scoring.compressed import score_compressed  # noqa: E402
from clamr_frames.scoring.fusion import fuse_scores, modality_similarities  # noqa: E402
from clamr_frames.types import Modality  # noqa: E402


def _docs(n_docs=40, d=16, seed=0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(1, 6, (n_docs,), generator=g)
    emb = torch.nn.functional.normalize(torch.randn(int(lengths.sum()), d, generator=g), dim=1).half()
    off = torch.zeros(n_docs + 1, dtype=torch.int64)
    off[1:] = lengths.cumsum(0)
    mods = torch.randint(1, 4, (emb.shape[0],), generator=g).to(torch.int8)
    q = torch.nn.functional.normalize(torch.randn(5, d, generator=g), dim=1)
    return DocEmbeddings(emb, off, mods), q


@pytest.mark.parametrize("aggregation", ["token_max", "modality_max"])
@pytest.mark.parametrize("floor", [None, 0.0])
def test_plain_documents_are_maxsim(aggregation, floor):
    docs, q = _docs()
    got, arg = score_frames(q, docs, aggregation=aggregation, floor=floor)
    want, want_arg = maxsim(q, docs.embeddings, docs.offsets, aggregation=aggregation, modality_ids=docs.modality_ids,
                            return_argmax=True, floor=floor)
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    assert torch.equal(arg.token_index, want_arg.token_index)


@pytest.mark.parametrize("spec", ["int8", "binary"])
def test_compressed_documents_go_through_score_compressed(spec):
    docs, q = _docs()
    c, _ = compress(docs, parse_compression(spec))
    got, arg = score_frames(q, c, normalize=True)
    want, want_arg = score_compressed(q, c, normalize=True, return_argmax=True)
    torch.testing.assert_close(got, want, atol=0, rtol=0)
    assert torch.equal(arg.token_index, want_arg.token_index)


def test_fusion_replaces_the_raw_maximum_and_keeps_the_argmax():
    g = torch.Generator().manual_seed(1)
    n = 12
    emb = torch.nn.functional.normalize(torch.randn(2 * n, 8, generator=g), dim=1)
    mods = torch.tensor([int(Modality.VIDEO), int(Modality.AUDIO)] * n, dtype=torch.int8)
    docs = DocEmbeddings(emb, torch.arange(0, 2 * n + 1, 2), mods)
    q = torch.nn.functional.normalize(torch.randn(1, 8, generator=g), dim=1)
    for method in ("max", "mean"):
        got, arg = score_frames(q, docs, fusion=method)
        torch.testing.assert_close(got, fuse_scores(modality_similarities(docs, q[0]), method), atol=0, rtol=0)
        assert arg.token_index.shape == (n, 1)
    with pytest.raises(InputError, match="one token"):
        score_frames(torch.cat([q, q]), docs, fusion="max")
    with pytest.raises(InputError, match="fusion must be one of"):
        score_frames(q, docs, fusion="sum")


def test_fusion_refuses_int8_and_binary_documents():
    docs, q = _docs()
    c, _ = compress(docs, CompressionSpec(codec="int8"))
    with pytest.raises(InputError, match="does not apply to score-fusion scorers"):
        score_frames(q, c, fusion="max")
