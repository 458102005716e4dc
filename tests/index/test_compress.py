"""Index compression: int8, binary (Hamming prefilter + fp16 re-ranking), token pooling, and the stored format."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from clamr_frames.encoders.base import DocEmbeddings
from clamr_frames.errors import InputError
from clamr_frames.index import codecs as C
from clamr_frames.scoring import compressed as S
from clamr_frames.scoring import maxsim


def _docs(n_docs=40, dim=32, seed=0, max_tok=9):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(0, max_tok, (n_docs,), generator=g)
    off = torch.zeros(n_docs + 1, dtype=torch.int64)
    off[1:] = lengths.cumsum(0)
    emb = torch.nn.functional.normalize(torch.randn(int(off[-1]), dim, generator=g), dim=-1).half()
    mods = torch.randint(1, 4, (int(off[-1]),), generator=g).to(torch.int8)
    return DocEmbeddings(emb, off, mods)


def _query(dim=32, n=5, seed=1):
    g = torch.Generator().manual_seed(seed)
    return torch.nn.functional.normalize(torch.randn(n, dim, generator=g), dim=-1)


def test_parse_compression_names_and_errors():
    assert C.parse_compression(None) is None and C.parse_compression("none") is None
    assert C.parse_compression("int8").codec == "int8"
    spec = C.parse_compression("pool3+binary")
    assert (spec.codec, spec.pool_factor, spec.name) == ("binary", 3, "pool3+binary")
    assert C.parse_compression(spec.name) == spec
    assert C.parse_compression("pool").name == f"pool{C.DEFAULT_POOL_FACTOR}"
    for bad in ["int4", "pool+", "binary+int8", "pool0"]:
        with pytest.raises(InputError):
            C.parse_compression(bad)


def test_int8_roundtrip_is_close_and_keeps_zero_rows():
    x = torch.nn.functional.normalize(torch.randn(50, 64), dim=-1)
    x[7] = 0
    codes, scales = C.quantize_int8(x)
    assert codes.dtype == torch.int8 and scales.shape == (50,)
    back = C.dequantize_int8(codes, scales)
    assert float((back - x).abs().max()) < 1.5 * float(x.abs().max()) / 127
    assert bool((back[7] == 0).all())


def test_sign_bits_roundtrip_and_hamming_matches_bit_counting():
    x = torch.randn(20, 37)
    bits = C.pack_signs(x)
    assert bits.shape == (20, 5) and bits.dtype == torch.uint8
    assert torch.equal(C.unpack_signs(bits, 37), torch.where(x > 0, 1.0, -1.0))
    ham = S.hamming_distance(bits[:4], bits)
    brute = ((x[:4, None, :] > 0) != (x[None, :, :] > 0)).sum(-1)
    assert torch.equal(ham, brute)
    # Hamming-MaxSim equals the definition computed from explicit distances
    q = torch.randn(3, 37)
    qb = C.pack_signs(q)
    off = torch.tensor([0, 5, 5, 12, 20])
    got = S.hamming_maxsim(qb, bits, off, 37)
    d = S.hamming_distance(qb, bits).double()
    sim = 1 - 2 * d / 37
    want = [sim[:, s:e].amax(1).sum().item() if e > s else float("-inf") for s, e in zip(off[:-1].tolist(), off[1:].tolist())]
    assert got.tolist() == pytest.approx(want, abs=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("aggregation", ["token_max", "modality_max"])
def test_int8_scores_track_fp16_and_chunking_changes_nothing(monkeypatch, aggregation):
    docs, q = _docs(), _query()
    ref, ref_arg = maxsim(q, docs.embeddings, docs.offsets, aggregation=aggregation,
                          modality_ids=docs.modality_ids, return_argmax=True)
    cdocs, _ = C.compress(docs, C.parse_compression("int8"))
    s_all, a_all = S.score_compressed(q, cdocs, aggregation=aggregation, return_argmax=True)
    fin = torch.isfinite(ref)
    assert torch.equal(fin, torch.isfinite(s_all))
    assert float((s_all[fin] - ref[fin]).abs().max()) < 0.05
    monkeypatch.setattr(S, "_DECODE_ROWS", 7)  # many blocks, documents never split
    s_chunk, a_chunk = S.score_compressed(q, cdocs, aggregation=aggregation, return_argmax=True)
    torch.testing.assert_close(s_chunk, s_all)
    assert torch.equal(a_chunk.token_index, a_all.token_index)
    # argmax rows are global rows, inside their own document, like the fp16 scorer's
    for i in range(docs.num_docs):
        row = a_all.token_index[i]
        s, e = int(docs.offsets[i]), int(docs.offsets[i + 1])
        assert bool(((row == -1) | ((row >= s) & (row < e))).all())
    assert ref_arg.token_index.shape == a_all.token_index.shape


@pytest.mark.slow
def test_binary_rerank_is_exact_for_candidates_and_keeps_them_on_top():
    docs, q = _docs(n_docs=60, max_tok=6), _query()
    exact = maxsim(q, docs.embeddings, docs.offsets)
    cdocs, _ = C.compress(docs, C.CompressionSpec(codec="binary", rerank=60))
    torch.testing.assert_close(S.score_compressed(q, cdocs), exact)  # everything re-ranked = exact
    cdocs, _ = C.compress(docs, C.CompressionSpec(codec="binary", rerank=10))
    scores, arg = S.score_compressed(q, cdocs, return_argmax=True)
    reranked = arg.token_index[:, 0] >= 0
    nonempty = docs.offsets[1:] > docs.offsets[:-1]
    assert int(reranked.sum()) == 10
    torch.testing.assert_close(scores[reranked], exact[reranked])
    top10 = set(torch.topk(scores, 10).indices.tolist())
    assert top10 == set(torch.nonzero(reranked).flatten().tolist())
    # the prefilter found most of the exact top 5 on random data
    assert len(set(torch.topk(exact, 5).indices.tolist()) & top10) >= 3
    assert bool(torch.isfinite(scores[nonempty]).all())


def test_pooling_merges_within_frame_and_modality_only():
    a = torch.nn.functional.normalize(torch.tensor([[1.0, 0.0, 0.0], [0.99, 0.05, 0.0], [0.0, 1.0, 0.0],
                                                    [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), dim=-1)
    mods = torch.tensor([2, 2, 2, 3, 2], dtype=torch.int8)  # token 3 is OCR: never merged with ASR token 0
    emb, off, m = C.pool_tokens(a, [0, 5], mods, factor=5, threshold=0.9)
    assert off.tolist() == [0, 4]
    assert m.tolist() == [2, 2, 3, 2]
    torch.testing.assert_close(emb.norm(dim=-1), torch.ones(4))
    # without a threshold the factor is reached
    emb, off, m = C.pool_tokens(a, [0, 5], mods, factor=2)
    assert off.tolist() == [0, 3] and sorted(m.tolist()) == [2, 2, 3]


def test_pooling_keeps_scores_of_near_duplicate_tokens_and_reduces_tokens():
    g = torch.Generator().manual_seed(3)
    base = torch.nn.functional.normalize(torch.randn(30, 16, generator=g), dim=-1)
    emb = torch.nn.functional.normalize(base.repeat_interleave(3, 0) + 0.01 * torch.randn(90, 16, generator=g), dim=-1)
    off = torch.arange(0, 91, 9)  # 10 docs of 9 tokens = 3 near-duplicate triples
    mods = torch.full((90,), 2, dtype=torch.int8)
    pe, po, pm = C.pool_tokens(emb, off, mods, factor=3)
    assert pe.shape[0] == 30 and po.tolist() == list(range(0, 31, 3))
    torch.testing.assert_close(pe, base, atol=0.03, rtol=0)  # each triple became (about) its common vector
    q = _query(dim=16)
    torch.testing.assert_close(maxsim(q, pe, po), maxsim(q, emb, off), atol=0.1, rtol=0)


def test_pooling_leaves_empty_and_zero_documents():
    emb = torch.zeros(1, 4)
    e, o, m = C.pool_tokens(emb, [0, 0, 1, 1], torch.tensor([0], dtype=torch.int8), factor=4)
    assert o.tolist() == [0, 0, 1, 1] and torch.equal(e, emb)


def test_compressed_sizes_shrink_as_documented():
    docs = _docs(n_docs=100, dim=128, max_tok=20)
    n = docs.embeddings.shape[0]
    fp16 = C.compress(docs, C.CompressionSpec())[0].tensors["embeddings"].numel() * 2
    int8 = C.compress(docs, C.parse_compression("int8"))[0]
    binary = C.compress(docs, C.parse_compression("binary"))[0]
    assert int8.tensors["codes"].numel() + 2 * int8.tensors["scales"].numel() == n * 130
    assert binary.tensors["bits"].numel() == n * 16 < fp16 / 15


# -- stored in an index -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    from clamr_frames.context.subtitles import Cue, write_srt
    from clamr_frames.video.writer import write_video

    d = tmp_path_factory.mktemp("clip")
    frames = (np.full((32, 48, 3), 40 + i, np.uint8) for i in range(30))
    video = write_video(d / "clip.mp4", frames, fps=1.0)
    filler = ["we walked along the river", "the bakery closes early", "buses crossed the bridge"]
    cues = [Cue(float(t), float(t) + 2.9, filler[(t // 3) % 3]) for t in range(0, 30, 3)]
    cues[6] = Cue(18.0, 20.9, "the harbour master said the password is falcon")
    return video, write_srt(d / "clip.srt", cues)


@pytest.fixture(scope="module")
def encoder(default_encoder):
    return default_encoder


@pytest.mark.slow
@pytest.mark.parametrize("compression", ["int8", "binary", "pool+int8", "pool"])
def test_selector_with_compressed_index(clip, encoder, tmp_path, compression):
    from clamr_frames.index import IndexSettings
    from clamr_frames.index.codecs import CompressedDocs
    from clamr_frames.selector import FrameSelector

    video, srt = clip
    plain = FrameSelector(encoder, index_dir=tmp_path, progress=False, settings=IndexSettings(chunk_size=8), ocr=False)
    sel = FrameSelector(encoder, index_dir=tmp_path, progress=False, settings=IndexSettings(chunk_size=8),
                        compression=compression, ocr=False)
    idx = sel.index(video, subtitles=srt)
    assert idx.compression == C.parse_compression(compression).name
    assert idx.path != plain.index(video, subtitles=srt).path  # another compression is another index
    assert isinstance(idx.embeddings, CompressedDocs) == (compression in ("int8", "binary", "pool+int8"))
    assert not list(idx.path.glob("*part-*"))
    got = sel.select(video, "What is the password?", k=2, subtitles=srt)
    ref = plain.select(video, "What is the password?", k=2, subtitles=srt)
    assert any(18 <= t <= 21 for t in got.timestamps)
    assert got.explain()[0]["matched"]  # argmax survives compression
    assert abs(float(got.scores.max()) - float(ref.scores.max())) < 0.1
    # a new process reads it from disk
    again = FrameSelector(encoder, index_dir=tmp_path, progress=False, settings=IndexSettings(chunk_size=8),
                          compression=compression, ocr=False).index(video, subtitles=srt)
    assert again.manifest["sha256"] == idx.manifest["sha256"]


@pytest.mark.slow
def test_index_with_wrong_compression_block_is_rebuilt_not_misread(clip, encoder, tmp_path):
    from clamr_frames.index import IndexSettings, IndexStore, build_index

    video, srt = clip
    store = IndexStore(tmp_path)
    settings = IndexSettings(chunk_size=8, compression="int8")
    idx = build_index(video, encoder, subtitles=srt, settings=settings, store=store, progress=False)
    m = json.loads((idx.path / "manifest.json").read_text())
    m["compression"]["version"] = 999
    (idx.path / "manifest.json").write_text(json.dumps(m))
    with pytest.warns(UserWarning, match="rebuilding"):
        again = build_index(video, encoder, subtitles=srt, settings=settings, store=store, progress=False)
    assert again.manifest["compression"]["version"] == C.COMPRESSION_VERSION


@pytest.mark.slow
def test_binary_index_with_damaged_rerank_file_is_rebuilt(clip, encoder, tmp_path):
    from clamr_frames.index import IndexSettings, IndexStore, build_index

    video, srt = clip
    store = IndexStore(tmp_path)
    settings = IndexSettings(chunk_size=8, compression="binary")
    idx = build_index(video, encoder, subtitles=srt, settings=settings, store=store, progress=False)
    rerank = idx.path / "rerank.safetensors"
    rerank.write_bytes(rerank.read_bytes()[:100])
    with pytest.warns(UserWarning, match="rebuilding"):
        build_index(video, encoder, subtitles=srt, settings=settings, store=store, progress=False)


def test_unknown_compression_is_an_input_error():
    from clamr_frames.index import IndexSettings

    with pytest.raises(InputError, match="compression"):
        IndexSettings(compression="zip")
