"""Merging index parts into one safetensors file (clamr_frames.index.store.merge_safetensors): BF16 tensors kept,
parts that disagree refused without leaving a temporary file, no parts give a valid empty index."""

from __future__ import annotations

import pytest

from clamr_frames._fs import sha256_file
from clamr_frames.errors import IndexCacheError
from clamr_frames.index.store import merge_safetensors

# -- the safetensors merge and BF16 -------------------------------------------------------------------------
NAMES = ["embeddings", "offsets", "modality_ids"]


def _part(path, n_docs: int, tokens: int, dtype, seed: int, offsets_dtype=None):
    import torch
    from safetensors.torch import save_file

    torch.manual_seed(seed)
    emb = torch.randn(tokens, 8).to(dtype)
    off = torch.linspace(0, tokens, n_docs + 1).round().to(offsets_dtype or torch.int64)
    save_file({"embeddings": emb, "offsets": off, "modality_ids": torch.arange(tokens, dtype=torch.int8) % 3}, str(path))
    return emb, off


def test_merge_keeps_bf16_tensors(tmp_path):
    import torch
    from safetensors.torch import load_file

    a, off_a = _part(tmp_path / "a.safetensors", 2, 5, torch.bfloat16, 0)
    b, off_b = _part(tmp_path / "b.safetensors", 3, 7, torch.bfloat16, 1, offsets_dtype=torch.int32)
    out = tmp_path / "index.safetensors"
    digest, n_docs = merge_safetensors([tmp_path / "a.safetensors", tmp_path / "b.safetensors"], out, NAMES,
                                       {"format": "1"})
    t = load_file(str(out))
    assert t["embeddings"].dtype == torch.bfloat16 and torch.equal(t["embeddings"], torch.cat([a, b]))
    assert t["offsets"].dtype == torch.int64 and t["offsets"].tolist() == [0, *off_a[1:].tolist(),
                                                                           *(5 + off_b[1:].long()).tolist()]
    assert t["modality_ids"].shape == (12,)
    assert n_docs == 5 and digest == sha256_file(out)


def test_merge_refuses_parts_that_disagree(tmp_path):
    import torch

    _part(tmp_path / "a.safetensors", 1, 3, torch.float16, 0)
    _part(tmp_path / "b.safetensors", 1, 3, torch.bfloat16, 1)
    with pytest.raises(IndexCacheError, match=r"b\.safetensors: tensor 'embeddings' is BF16 .* first part's is F16"):
        merge_safetensors([tmp_path / "a.safetensors", tmp_path / "b.safetensors"], tmp_path / "out", NAMES, {})
    assert not list(tmp_path.glob(".out.*"))  # no temporary file left behind


def test_merge_of_no_parts_is_a_valid_empty_index(tmp_path):
    from safetensors.torch import load_file

    _, n_docs = merge_safetensors([], tmp_path / "index.safetensors", NAMES, {})
    t = load_file(str(tmp_path / "index.safetensors"))
    assert n_docs == 0 and t["offsets"].tolist() == [0] and t["embeddings"].numel() == 0
