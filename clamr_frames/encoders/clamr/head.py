"""The base matrix of CLaMR's projection head, drawn as the reference's model build draws it.

The released adapter (``meetdavidwan/clamr``) holds only the LoRA change of ``custom_text_proj`` (no
``modules_to_save``); its base ``Linear(hidden, 128)`` was a random initialisation, made again every time the
reference built its model. How it is made (``github.com/meetdavidwan/clamr`` @353c30e, with transformers 4.51,
which the reference's 4.51 module names require):

1. ``src/main.py`` calls ``transformers.set_seed(training_args.seed)`` (``TrainingArguments.seed``, 42 by
   default; the README's training and evaluation commands keep it), which seeds torch's global CPU generator.
   Nothing draws from it before the model is built (processor, dataset and config loading do not).
2. ``ColQwen2_5.from_pretrained("Qwen/Qwen2.5-VL-3B-Instruct", quantization_config=...)``: the model is built on
   the meta device with initialisation switched off; ``custom_text_proj`` (created in ``__init__`` after the
   backbone, then ``post_init``) is missing from the checkpoint, so ``_move_missing_keys_from_meta_to_cpu``
   makes it an empty CPU tensor of the load dtype and ``_initialize_missing_keys`` runs ``_init_weights`` on
   every module not loaded, children before parents. Only the head qualifies (``lm_head`` is tied to the
   embeddings in the 3B model, ``tie_word_embeddings: true``, so it is skipped): its weight gets
   ``normal_(mean=0, std=config.initializer_range)`` (0.02) in place, its bias ``zero_()``. The head is therefore
   the *first* draw of the freshly seeded CPU generator.
3. The load dtype: the README's commands pass ``--quantize_4bit`` and no ``torch_dtype``, and transformers'
   bitsandbytes quantizer then forces ``torch_dtype=float16``. The head itself stays a plain ``nn.Linear``
   (the quantizer keeps the model's last parameter's module, ``custom_text_proj``, unquantised when the model
   has tied weights). So the released weights were trained, and the paper's numbers evaluated, on a float16 head
   drawn by torch's CPU ``normal_`` kernel for float16. Without ``--quantize_4bit`` the head is float32.

torch's CPU ``normal_`` for float16 before its 2025 rework (e.g. torch 2.7.1, the reference's era) drew 11-bit
uniforms (``(random() & 0x7FF) / 2048``) and ran Box–Muller with float16 rounding after every operation, so
its numbers differ from a float32 draw rounded to float16, which is what current torch (2.14 here) computes.
:func:`reference_head_weight` therefore replays that float16 kernel from its description (the generator's
32-bit Mersenne Twister stream, seeded as torch seeds it, then the same float16 arithmetic in numpy), and uses
torch's own float32 kernel for ``dtype="float32"`` (its numbers are the same in torch 2.7.1 and 2.14 on
AVX2/AVX-512 CPUs). Checked bit for bit against torch 2.7.1 + transformers 4.51.3 building a tiny
``ColQwen2_5`` (``benchmarks/check_head_init.py``; ``benchmarks/RESULTS.md``).
"""

from __future__ import annotations

import math
import random
from typing import TYPE_CHECKING

from clamr_frames.errors import InputError

if TYPE_CHECKING:  # pragma: no cover
    import numpy as np
    import torch

#: ``TrainingArguments.seed``'s default, which the reference's commands keep.
REFERENCE_SEED = 42
#: The head's dtype when the released adapter was trained and evaluated (``--quantize_4bit`` → float16).
REFERENCE_DTYPE = "float16"
#: Qwen2.5-VL-3B-Instruct's ``initializer_range``, the std of ``_init_weights``.
REFERENCE_STD = 0.02
HEAD_DTYPES = ("float16", "float32")


def mt19937_words(seed: int, n: int) -> "np.ndarray":
    """The first ``n`` 32-bit outputs of the Mersenne Twister seeded as torch seeds its CPU generator.

    torch's ``manual_seed(s)`` fills the 624-word state with the classic ``init_genrand(s)`` recurrence;
    Python's ``random`` runs the same MT19937 once given that state.

    >>> mt19937_words(5489, 2).tolist()       # the reference outputs of MT19937 for its default seed
    [3499211612, 581869302]
    """
    import numpy as np

    state = [seed & 0xFFFFFFFF]
    for i in range(1, 624):
        prev = state[-1]
        state.append((1812433253 * (prev ^ (prev >> 30)) + i) & 0xFFFFFFFF)
    rng = random.Random()
    rng.setstate((3, (*state, 624), None))
    if n == 0:
        return np.zeros(0, dtype=np.uint32)
    # getrandbits(32 * n) concatenates the next n outputs, the first in the lowest 32 bits.
    return np.frombuffer(rng.getrandbits(32 * n).to_bytes(4 * n, "little"), dtype="<u4").astype(np.uint32)


def legacy_half_normal(n: int, mean: float, std: float, seed: int) -> "np.ndarray":
    """``torch.empty(n, dtype=float16).normal_(mean, std)`` as torch's CPU kernel computed it up to 2025.

    That kernel (for a contiguous tensor of at least 16 elements): one 11-bit uniform per element from the
    generator's 32-bit stream; then, per block of 16, Box–Muller on pairs ``(j, j + 8)``:
    ``radius = sqrt(-2 log(1 - u[j]))``, ``theta = 2 pi u[j + 8]``, ``x[j] = radius cos(theta) std + mean``,
    ``x[j + 8] = radius sin(theta) std + mean``, every operation rounded to float16; when ``n`` is not a multiple
    of 16, 16 fresh uniforms replace the last 16 elements and are transformed again.
    """
    import numpy as np

    if n < 16:
        raise InputError(f"the float16 replay covers tensors of at least 16 elements, got {n}")
    h, f = np.float16, np.float32
    tail = n % 16
    words = mt19937_words(seed, n + (16 if tail else 0))
    uniforms = ((words & 0x7FF).astype(f) / f(2048)).astype(h)  # exact: k / 2048 fits float16
    mean_h, std_h = h(f(mean)), h(f(std))

    def per_value(fn):  # libm's float function of each float16 input, correctly rounded to float32
        def apply(x: "np.ndarray") -> "np.ndarray":
            values, inverse = np.unique(x.astype(f), return_inverse=True)  # at most 2048 distinct inputs
            table = np.array([fn(float(v)) for v in values], dtype=np.float64).astype(f)
            return table[inverse].reshape(x.shape)

        return apply

    log, cos, sin = per_value(math.log), per_value(math.cos), per_value(math.sin)

    def box_muller(u: "np.ndarray") -> "np.ndarray":
        u = u.reshape(-1, 16)
        u1 = (h(1) - u[:, :8]).astype(h)
        u2 = u[:, 8:]
        radius = np.sqrt((h(-2) * log(u1).astype(h)).astype(h).astype(f)).astype(h)
        theta = (2.0 * math.pi * u2.astype(np.float64)).astype(f).astype(h)  # double → float → half, as in C++
        first = ((radius * cos(theta).astype(h)).astype(h) * std_h).astype(h) + mean_h
        second = ((radius * sin(theta).astype(h)).astype(h) * std_h).astype(h) + mean_h
        return np.concatenate([first.astype(h), second.astype(h)], 1).ravel()

    out = uniforms[:n].copy()
    full = n - tail
    out[:full] = box_muller(out[:full])
    if tail:
        out[n - 16:] = box_muller(uniforms[n:])
    return out


def reference_head_weight(out_features: int, in_features: int, *, std: float = REFERENCE_STD,
                          seed: int = REFERENCE_SEED, dtype: str = REFERENCE_DTYPE) -> "torch.Tensor":
    """The reference's base ``custom_text_proj.weight`` ``[out_features, in_features]``, as float32 values.

    Args:
        std: ``config.initializer_range`` of the backbone (0.02 for Qwen2.5-VL).
        seed: the seed ``set_seed`` was given (42).
        dtype: the dtype the reference loaded the model in: ``"float16"`` (4-bit runs, as the released adapter's)
            or ``"float32"`` (runs without quantisation).

    The bias is zero. Values are returned in float32 (a float16 draw converts exactly).

    >>> w = reference_head_weight(128, 64)
    >>> tuple(w.shape), w.dtype, round(float(w.std()), 3)
    ((128, 64), torch.float32, 0.02)
    """
    import numpy as np
    import torch

    if dtype not in HEAD_DTYPES:
        raise InputError(f"head dtype must be one of {HEAD_DTYPES}, got {dtype!r}")
    if out_features < 1 or in_features < 1:
        raise InputError(f"head shape must be positive, got {out_features} x {in_features}")
    n = out_features * in_features
    if dtype == "float16":
        vals = legacy_half_normal(n, 0.0, std, seed)
        return torch.from_numpy(vals.astype(np.float32)).reshape(out_features, in_features)
    gen = torch.Generator(device="cpu").manual_seed(seed)
    w = torch.empty((out_features, in_features), dtype=getattr(torch, dtype)).normal_(0.0, std, generator=gen)
    return w.float()


__all__ = ["HEAD_DTYPES", "REFERENCE_DTYPE", "REFERENCE_SEED", "REFERENCE_STD", "legacy_half_normal",
           "mt19937_words", "reference_head_weight"]
