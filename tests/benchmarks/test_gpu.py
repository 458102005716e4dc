"""benchmarks/gpu.py's model configs: the 3B and 7B architectures it builds have the published models' sizes.

The sizes are the parameter counts on the model cards (Hugging Face's safetensors metadata of
Qwen/Qwen2.5-VL-3B-Instruct: 3.75B, Qwen/Qwen2.5-VL-7B-Instruct: 8.29B), independent of the dictionaries
the script hard-codes: a wrong width, depth, vocabulary or tied head in the script moves its count off them.
The models are built on the ``meta`` device (no memory, no weights).
"""

from __future__ import annotations

import pytest

PUBLISHED_PARAMS = {"3B": 3.75e9, "7B": 8.29e9}  # rounded to 0.01B on the model cards


def _count(arch) -> int:
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    from benchmarks.gpu import make_config
    from testkit.tiny_qwen import build_tokenizer

    config = make_config(arch, build_tokenizer())
    with torch.device("meta"):
        model = Qwen2_5_VLForConditionalGeneration(config)
    if config.tie_word_embeddings:
        model.tie_weights()
    return sum(p.numel() for p in model.parameters())  # tied tensors are counted once


@pytest.mark.slow
@pytest.mark.parametrize("size", ["3B", "7B"])
def test_gpu_configs_have_the_published_parameter_counts(size):
    pytest.importorskip("transformers")
    from benchmarks import gpu

    arch = gpu.QWEN25_VL_3B if size == "3B" else gpu.QWEN25_VL_7B
    n = _count(arch)
    assert abs(n - PUBLISHED_PARAMS[size]) <= 0.005e9, f"{size}: {n / 1e9:.3f}B parameters"


def test_gpu_configs_rotary_sections_and_token_ids():
    pytest.importorskip("transformers")
    from benchmarks.gpu import QWEN25_VL_3B, QWEN25_VL_7B, SMALL, make_config
    from testkit.tiny_qwen import build_tokenizer

    tok = build_tokenizer()
    for arch in (QWEN25_VL_3B, QWEN25_VL_7B, SMALL):
        c = make_config(arch, tok)
        head_dim = c.text_config.hidden_size // c.text_config.num_attention_heads
        assert sum(c.text_config.rope_parameters["mrope_section"]) == head_dim // 2  # covers head_dim / 2
        assert c.video_token_id == tok.convert_tokens_to_ids("<|video_pad|>")
        assert c.image_token_id == tok.convert_tokens_to_ids("<|image_pad|>")
