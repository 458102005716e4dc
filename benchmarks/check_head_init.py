"""Check the projection-head replay against the reference's own model build (transformers 4.51, old torch).

The CLaMR reference builds ``ColQwen2_5`` (``Qwen2_5_VLForConditionalGeneration`` + ``custom_text_proj``, then
``post_init``) with ``from_pretrained`` after ``set_seed(42)``; the head is missing from the checkpoint and gets
initialised there (see :mod:`clamr_frames.encoders.clamr.head`). This script does exactly that on a tiny random
Qwen2.5-VL with tied word embeddings (as the 3B), in float16 (what ``--quantize_4bit`` forces) and float32, and
compares the head with :func:`~clamr_frames.encoders.clamr.head.reference_head_weight`.

It needs the reference's environment, which is not this project's: transformers 4.51.x (the reference's module
layout) and a torch from before the 2025 rework of the CPU float16 ``normal_`` kernel (e.g. 2.7.1)::

    python -m venv /tmp/ref && /tmp/ref/bin/pip install torch==2.7.1 transformers==4.51.3 numpy
    PYTHONPATH=. /tmp/ref/bin/python benchmarks/check_head_init.py

Other transformers versions are refused (exit 2: their Qwen2.5-VL layout and loading differ). With a torch
from after the rework, the float16 line is expected to differ (the kernel changed); float32 still matches.
Prints one line per dtype and exits 1 when a head differs.
"""

from __future__ import annotations

import argparse
import sys
import tempfile


def _tiny_base(path: str, hidden: int) -> None:
    """A random tiny Qwen2.5-VL in the transformers-4.51 layout, saved without any head."""
    import torch
    from transformers import Qwen2_5_VLConfig, Qwen2_5_VLForConditionalGeneration

    config = Qwen2_5_VLConfig(
        vocab_size=512, hidden_size=hidden, intermediate_size=2 * hidden, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, initializer_range=0.02,
        tie_word_embeddings=True, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]},
        vision_config={"depth": 2, "hidden_size": 64, "intermediate_size": 128, "num_heads": 4,
                       "out_hidden_size": hidden, "fullatt_block_indexes": [1], "window_size": 112},
    )
    torch.manual_seed(1)
    Qwen2_5_VLForConditionalGeneration(config).save_pretrained(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hidden", type=int, default=64, help="hidden size of the tiny backbone (head: 128 x hidden)")
    args = ap.parse_args(argv)

    import torch
    import transformers
    from torch import nn
    from transformers import Qwen2_5_VLForConditionalGeneration, set_seed

    from clamr_frames.encoders.clamr.head import reference_head_weight

    if not transformers.__version__.startswith("4.51."):
        print(f"transformers {transformers.__version__}: this check needs the reference's 4.51.x (see the module doc)")
        return 2

    class ColQwen2_5(Qwen2_5_VLForConditionalGeneration):  # noqa: N801 - the reference's class, from its description
        def __init__(self, config):
            super().__init__(config)
            self.custom_text_proj = nn.Linear(self.model.config.hidden_size, 128)
            self.post_init()

    base = tempfile.mkdtemp(prefix="clamr_head_") + "/base"
    _tiny_base(base, args.hidden)
    failed = 0
    for dtype in ("float16", "float32"):
        set_seed(42)  # src/main.py, TrainingArguments.seed's default
        model = ColQwen2_5.from_pretrained(base, torch_dtype=getattr(torch, dtype))
        head = model.custom_text_proj
        want = reference_head_weight(128, args.hidden, std=model.config.initializer_range, dtype=dtype)
        same = torch.equal(head.weight.detach().float(), want) and not bool(head.bias.detach().any())
        failed += not same
        print(f"torch {torch.__version__}  transformers {transformers.__version__}  head {dtype} "
              f"[128, {args.hidden}]: {'identical' if same else 'DIFFERENT'} "
              f"(std {float(head.weight.float().std()):.5f}, bias zero: {not bool(head.bias.any())})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
