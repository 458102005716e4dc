"""The projection head's base matrix: our procedure against the reference's model build, re-implemented here
from its description (set_seed(42) → the head is the generator's first draw, ``normal(0, initializer_range)``
in the load dtype, zero bias), and against values recorded from the reference's own float16 kernel."""

from __future__ import annotations

import hashlib
import math
import struct
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from clamr_frames.encoders.clamr import ClamrEncoder, init_head_like_reference  # noqa: E402
from clamr_frames.encoders.clamr.head import legacy_half_normal, mt19937_words, reference_head_weight  # noqa: E402
from clamr_frames.errors import InputError  # noqa: E402


# sha256 of the float16 bytes of ``torch.empty(shape, dtype=torch.float16).normal_(0, std)`` right after
# ``torch.manual_seed(seed)``, recorded with torch 2.7.1 (the CPU kernel of the reference's era; identical with
# ATEN_CPU_CAPABILITY=default, avx2 and avx512), and the first values. The last is the released model's head:
# Qwen2.5-VL-3B's hidden size 2048, seed 42, std 0.02 (benchmarks/RESULTS.md).
RECORDED_TORCH_271 = {
    ((128, 64), 42, 0.02): "af9408ae3381cd651663db6a0e215a892d16f25adb16aff9e81a5404b84aa830",
    ((7, 5), 42, 0.02): "f7e0889965d1d6ced5bd6461b88ceb1a36a3fec97ed932c92cd3add331ac95aa",  # tail path
    ((3, 17), 42, 0.5): "b2a840d3c95d3cab556ab7184c70f1079e828241a2eb118c53772e86ea5dfe34",
    ((128, 2048), 0, 0.02): "81b8b7e38c145855b1f7181d506e90f907a8c6b5d31bafa4ff9fb5080ecc6008",
    ((128, 2048), 42, 0.02): "d2eab13244c85a9a8a03d13f384d8adf5db251c89cb064d15ebaa4565e34a93b",
}
FIRST_VALUES_SEED_42 = [0.007740020751953125, 0.0294189453125, 0.00293731689453125, -0.022369384765625]


def _bare(tiny_qwen_dir, **kw) -> ClamrEncoder:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ClamrEncoder.from_pretrained(None, base_model=tiny_qwen_dir, device="cpu", local_files_only=True, **kw)


def _f16(x: float) -> float:
    return struct.unpack("<e", struct.pack("<e", x))[0]  # round to nearest even, as a float16 store does


def _f32(x: float) -> float:
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _kernel_from_description(words: list[int], n: int, mean: float, std: float) -> list[float]:
    """torch's pre-2025 CPU float16 ``normal_``, element by element, from its description: an 11-bit uniform
    per element; Box–Muller per 16-block on (j, j + 8) with float16 rounding after each operation (libm float
    functions, correctly rounded); a ragged end redraws 16 uniforms into the last 16 slots."""
    uni = [(w & 0x7FF) / 2048.0 for w in words]
    m, s = _f16(mean), _f16(std)

    def block(u: list[float]) -> list[float]:
        out = list(u)
        for j in range(8):
            radius = _f16(math.sqrt(_f16(-2 * _f16(_f32(math.log(_f16(1 - u[j])))))))
            theta = _f16(_f32(2.0 * math.pi * u[j + 8]))
            out[j] = _f16(_f16(_f16(radius * _f16(_f32(math.cos(theta)))) * s) + m)
            out[j + 8] = _f16(_f16(_f16(radius * _f16(_f32(math.sin(theta)))) * s) + m)
        return out

    data = uni[:n]
    for i in range(0, n - 15, 16):
        data[i : i + 16] = block(data[i : i + 16])
    if n % 16:
        data[n - 16 :] = block(uni[n : n + 16])
    return data


def test_generator_stream_is_torchs():
    words = mt19937_words(42, 64)
    gen = torch.Generator().manual_seed(42)
    # torch's float32 uniform is the low 24 bits of each 32-bit output over 2^24
    assert torch.equal(torch.from_numpy((words & 0xFFFFFF).astype(np.float64) / 2**24).float(),
                       torch.rand(64, generator=gen))


@pytest.mark.parametrize(("shape", "seed", "std"), list(RECORDED_TORCH_271))
def test_float16_replay_matches_the_reference_kernel(shape, seed, std):
    w = reference_head_weight(*shape, std=std, seed=seed, dtype="float16")
    digest = hashlib.sha256(w.half().numpy().tobytes()).hexdigest()
    assert digest == RECORDED_TORCH_271[(shape, seed, std)]
    if seed == 42 and std == 0.02:
        assert w.reshape(-1)[:4].tolist() == FIRST_VALUES_SEED_42


@pytest.mark.parametrize("n", [16, 40, 35])
def test_float16_replay_equals_an_element_by_element_rewrite(n):
    words = [int(x) for x in mt19937_words(42, n + 16)]
    want = _kernel_from_description(words, n, 0.0, 0.02)
    assert legacy_half_normal(n, 0.0, 0.02, 42).astype(np.float64).tolist() == want


def test_float32_head_is_the_reference_build(tiny_qwen_dir):
    """The reference's procedure, from its description, for a run without quantisation (float32)."""
    from transformers import set_seed

    enc = _bare(tiny_qwen_dir, head_init_dtype="float32")
    config = enc.model.vlm.config
    std = getattr(config, "initializer_range", None) or config.get_text_config().initializer_range
    hidden = config.get_text_config().hidden_size
    set_seed(42)  # src/main.py; nothing draws before the model is built
    head = torch.nn.utils.skip_init(torch.nn.Linear, hidden, 128)  # built without initialisation, as on meta
    head.weight.data.normal_(mean=0.0, std=std)  # _init_weights of the one module missing from the checkpoint
    head.bias.data.zero_()
    torch.testing.assert_close(enc.model.custom_text_proj.weight, head.weight, rtol=0, atol=0)
    assert not bool(enc.model.custom_text_proj.bias.any())


def test_default_head_is_the_released_runs_float16_draw(tiny_qwen_dir):
    enc = _bare(tiny_qwen_dir)  # float16, as --quantize_4bit loaded it
    w = enc.model.custom_text_proj.weight.detach()
    assert hashlib.sha256(w.half().numpy().tobytes()).hexdigest() == RECORDED_TORCH_271[((128, 64), 42, 0.02)]
    assert torch.equal(w.half().float(), w)  # float16 values, stored exactly
    assert not bool(enc.model.custom_text_proj.bias.any())


def test_head_init_leaves_the_global_rng_alone():
    head = torch.nn.Linear(64, 128)  # (building a Linear draws from the global RNG; the init must not)
    state = torch.get_rng_state()
    init_head_like_reference(head, 0.02)
    init_head_like_reference(head, 0.02, dtype="float32")
    assert torch.equal(torch.get_rng_state(), state)
    with pytest.raises(InputError, match="dtype"):
        reference_head_weight(128, 64, dtype="bfloat16")
