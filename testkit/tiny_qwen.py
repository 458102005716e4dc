"""A tiny random Qwen2.5-VL (model + processor + tokenizer) for tests that must not download anything.

Everything is built locally: a small byte-level BPE trained with ``tokenizers`` on a few sentences, Qwen's
special tokens added on top, wrapped in ``Qwen2TokenizerFast``; the real ``Qwen2VLImageProcessor`` /
``Qwen2VLVideoProcessor``; a ``Qwen2_5_VLProcessor`` with a chat template that renders like Qwen2.5-VL's
(default system turn, ``<|vision_start|><|image_pad|><|vision_end|>`` items, text items verbatim).

Sizes: text hidden 64, 2 layers, 4 heads / 2 kv heads (head_dim 16,
mrope_section [2, 3, 3] sums to head_dim / 2), vision depth 2, hidden 64, out_hidden 64,
fullatt_block_indexes [1], window_size 112.

Typical use::

    model, processor = build_tiny_qwen()
    path = save_tiny_qwen(tmp_path / "tiny")        # config.json + model.safetensors + processor files
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

#: Qwen2.5-VL's added tokens, in Qwen's order; the first 14 are "special" (never split, skipped on decode).
QWEN_SPECIAL_TOKENS = [
    "<|endoftext|>",
    "<|im_start|>",
    "<|im_end|>",
    "<|object_ref_start|>",
    "<|object_ref_end|>",
    "<|box_start|>",
    "<|box_end|>",
    "<|quad_start|>",
    "<|quad_end|>",
    "<|vision_start|>",
    "<|vision_end|>",
    "<|vision_pad|>",
    "<|image_pad|>",
    "<|video_pad|>",
]
QWEN_EXTRA_TOKENS = ["<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>", "<|fim_suffix|>",
                     "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>"]

# Qwen2's pre-tokenizer split pattern (GPT-4-like: letters, single digits, punctuation runs, whitespace).
_QWEN_SPLIT = (
    r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
)

#: Renders like Qwen2.5-VL-Instruct's template: a default system turn unless one is given, then the user turn
#: with vision placeholders and text items in order.
TINY_CHAT_TEMPLATE = (
    "{% set image_count = namespace(value=0) %}{% set video_count = namespace(value=0) %}"
    "{% for message in messages %}"
    "{% if loop.first and message['role'] != 'system' %}"
    "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n"
    "{% endif %}"
    "<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}<|im_end|>\n"
    "{% else %}"
    "{% for content in message['content'] %}"
    "{% if content['type'] == 'image' or 'image' in content or 'image_url' in content %}"
    "{% set image_count.value = image_count.value + 1 %}"
    "{% if add_vision_id %}Picture {{ image_count.value }}: {% endif %}"
    "<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif content['type'] == 'video' or 'video' in content %}"
    "{% set video_count.value = video_count.value + 1 %}"
    "{% if add_vision_id %}Video {{ video_count.value }}: {% endif %}"
    "<|vision_start|><|video_pad|><|vision_end|>"
    "{% elif 'text' in content %}{{ content['text'] }}"
    "{% endif %}"
    "{% endfor %}<|im_end|>\n"
    "{% endif %}"
    "{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = """\
You are a helpful assistant. Describe the image. What does the speaker write on the board?
Query: which frame shows the red car crossing the bridge at night?
ASR: welcome back to the channel, today we are cooking pasta with tomato sauce and fresh basil.
OCR: BREAKING NEWS: storm reaches the coast. Exit 12 closed. Price $4.99 only today!
The quick brown fox jumps over the lazy dog. A man in a blue jacket opens the door.
Options: A. a cat B. a dog C. a horse D. a bird. Answer with the option's letter.
In the lecture the professor explains gradient descent, learning rates and loss curves.
Subtitles say: I told you we should have left earlier, now the train is gone.
The video shows a football match; the score is 2 to 1 after ninety minutes of play.
Numbers 0 1 2 3 4 5 6 7 8 9 10 100 2024 12:30 and punctuation . , ; : ! ? ( ) [ ] " ' - _ / \\
"""


@lru_cache(maxsize=1)
def _tokenizer_json() -> str:
    """Train the tiny BPE once per process (≈50 ms) and return its serialised form."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE(unk_token=None, byte_fallback=False))
    tok.normalizer = normalizers.NFC()
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Split(Regex(_QWEN_SPLIT), behavior="isolated", invert=False),
            pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=False, use_regex=False),
        ]
    )
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=600,
        min_frequency=1,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(_CORPUS.splitlines() * 3, trainer=trainer)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t in QWEN_SPECIAL_TOKENS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in QWEN_EXTRA_TOKENS])
    return tok.to_str()


def build_tokenizer():
    """A ``Qwen2TokenizerFast`` over a tiny byte-level BPE with Qwen's special tokens (pad = ``<|endoftext|>``)."""
    from tokenizers import Tokenizer
    from transformers import Qwen2TokenizerFast

    backend = Tokenizer.from_str(_tokenizer_json())
    return Qwen2TokenizerFast(
        tokenizer_object=backend,
        unk_token=None,
        bos_token=None,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        errors="replace",
        clean_up_tokenization_spaces=False,
        model_max_length=32768,
    )


def build_processor(tokenizer=None):
    """The real ``Qwen2_5_VLProcessor`` (image + video processors) around the tiny tokenizer."""
    from transformers import Qwen2_5_VLProcessor, Qwen2VLImageProcessor, Qwen2VLVideoProcessor

    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    return Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(),
        tokenizer=tokenizer,
        video_processor=Qwen2VLVideoProcessor(),
        chat_template=TINY_CHAT_TEMPLATE,
    )


def tiny_config(tokenizer=None, **overrides: Any):
    """A ``Qwen2_5_VLConfig`` sized for CPU tests, token ids taken from ``tokenizer``."""
    from transformers import Qwen2_5_VLConfig

    tokenizer = tokenizer if tokenizer is not None else build_tokenizer()
    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    head_dim = 64 // 4
    mrope_section = [2, 3, 3]
    assert sum(mrope_section) == head_dim // 2, "mrope_section must sum to head_dim / 2"
    text = dict(
        vocab_size=len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": mrope_section},
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        pad_token_id=ids["<|endoftext|>"],
    )
    vision = dict(
        depth=2,
        hidden_size=64,
        intermediate_size=128,
        num_heads=4,
        out_hidden_size=64,
        fullatt_block_indexes=[1],
        window_size=112,
        patch_size=14,
        spatial_merge_size=2,
        temporal_patch_size=2,
        tokens_per_second=2,
    )
    kwargs = dict(
        text_config=text,
        vision_config=vision,
        image_token_id=ids["<|image_pad|>"],
        video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"],
        vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=False,
    )
    kwargs.update(overrides)
    return Qwen2_5_VLConfig(**kwargs)


def build_tiny_qwen(seed: int = 0, attn_implementation: str = "sdpa"):
    """Random tiny ``Qwen2_5_VLForConditionalGeneration`` (fp32, eval mode) and its processor."""
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    processor = build_processor()
    config = tiny_config(processor.tokenizer)
    config._attn_implementation = attn_implementation
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    return model, processor


def save_tiny_qwen(path: str | Path, seed: int = 0) -> Path:
    """Write a tiny model + processor as a local Hugging Face directory (safetensors) and return its path."""
    path = Path(path)
    model, processor = build_tiny_qwen(seed)
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
