"""GPU throughput: CLaMR indexing with the full-size Qwen2.5-VL-3B architecture, and the answerer's prefill.

Weights are random (built from a config: no download), which does not change speed or memory.

Indexing side: the Qwen2.5-VL-3B architecture (36 layers, hidden 2048; ViT depth 32) plus the 128-d projection
head, wrapped in :class:`clamr_frames.encoders.clamr.ClamrEncoder` exactly as the index builder uses it: each
document is one 224x224 frame (64 visual tokens) followed by its ASR and OCR context. For each precision (bf16;
4-bit nf4 through bitsandbytes, CUDA only) and each batch size: frames per second, model FLOPs utilisation
(forward FLOPs = 2 x non-embedding parameters x tokens for the language model + 2 x vision parameters x
patches, over the GPU's dense bf16 peak), peak memory; the best batch size is the fastest one that fits.

Answerer side: prefill (vision tower + language model over the prompt, last-token logits only) of the
Qwen2.5-VL-7B architecture in bf16 for a video of 100 selected frames vs 768 frames (``--answer-res`` square
frames, 2 frames per temporal patch as Qwen2.5-VL does): time, tokens, peak memory — the compute frame
selection saves.

The tokenizer is the tiny local one of testkit/tiny_qwen.py (the real Qwen tokenizer is not on this machine), so
the text part of a document tokenises differently from Qwen's; the 64 visual tokens per frame, which dominate,
are exact.

On a GPU machine (what a user runs):

    python benchmarks/gpu.py                       # bf16 + nf4 indexing sweep, 7B prefill 100 vs 768 frames
    python benchmarks/gpu.py --batch-sizes 8 16 32 64 128 --answer-frames 100 768 --answer-res 448

On CPU (tests the script; numbers are not GPU numbers):

    python benchmarks/gpu.py --small
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path


from benchmarks._common import record  # noqa: E402

#: Dense bf16 peak (FLOP/s) by GPU name fragment, for MFU. Override with --peak-tflops.
PEAK_BF16 = {"H200": 989e12, "H100": 989e12, "A100": 312e12, "L40S": 362e12, "L4": 121e12, "A10": 125e12,
             "4090": 165e12, "3090": 71e12, "V100": 125e12}

QWEN25_VL_3B = dict(
    text=dict(hidden_size=2048, intermediate_size=11008, num_hidden_layers=36, num_attention_heads=16,
              num_key_value_heads=2, vocab_size=151936, mrope_section=[16, 24, 24]),
    vision=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=2048,
                fullatt_block_indexes=[7, 15, 23, 31]),
    tie_word_embeddings=True,
)
QWEN25_VL_7B = dict(
    text=dict(hidden_size=3584, intermediate_size=18944, num_hidden_layers=28, num_attention_heads=28,
              num_key_value_heads=4, vocab_size=152064, mrope_section=[16, 24, 24]),
    vision=dict(depth=32, hidden_size=1280, intermediate_size=3420, num_heads=16, out_hidden_size=3584,
                fullatt_block_indexes=[7, 15, 23, 31]),
    tie_word_embeddings=False,
)
SMALL = dict(
    text=dict(hidden_size=128, intermediate_size=256, num_hidden_layers=2, num_attention_heads=4,
              num_key_value_heads=2, vocab_size=None, mrope_section=[4, 6, 6]),
    vision=dict(depth=2, hidden_size=64, intermediate_size=128, num_heads=4, out_hidden_size=128,
                fullatt_block_indexes=[1]),
    tie_word_embeddings=False,
)


def make_config(arch: dict, tokenizer):
    """A Qwen2_5_VLConfig of ``arch`` whose special token ids are the local tokenizer's."""
    from transformers import Qwen2_5_VLConfig

    from testkit.tiny_qwen import QWEN_SPECIAL_TOKENS

    ids = {t: tokenizer.convert_tokens_to_ids(t) for t in QWEN_SPECIAL_TOKENS}
    t = dict(arch["text"])
    mrope = t.pop("mrope_section")
    t["vocab_size"] = t["vocab_size"] or len(tokenizer)
    text = dict(t, max_position_embeddings=128000,
                rope_parameters={"rope_type": "default", "rope_theta": 1_000_000.0, "mrope_section": mrope},
                bos_token_id=ids["<|endoftext|>"], eos_token_id=ids["<|im_end|>"], pad_token_id=ids["<|endoftext|>"])
    vision = dict(arch["vision"], window_size=112, patch_size=14, spatial_merge_size=2, temporal_patch_size=2,
                  tokens_per_second=2)
    return Qwen2_5_VLConfig(text_config=text, vision_config=vision, image_token_id=ids["<|image_pad|>"],
                            video_token_id=ids["<|video_pad|>"], vision_start_token_id=ids["<|vision_start|>"],
                            vision_end_token_id=ids["<|vision_end|>"], tie_word_embeddings=arch["tie_word_embeddings"])


def build_model(config, dtype, device, attn: str):
    import torch
    from transformers import Qwen2_5_VLForConditionalGeneration

    config._attn_implementation = attn
    torch.manual_seed(0)
    old = torch.get_default_dtype()
    torch.set_default_dtype(dtype)  # built directly in the target dtype (no fp32 copy of 7B weights)
    try:
        with torch.device(device):
            model = Qwen2_5_VLForConditionalGeneration(config).to(dtype)
    finally:
        torch.set_default_dtype(old)
    return model.eval()


def build_nf4(config, dtype, tmp: Path):
    """Random weights saved once, then loaded in 4-bit nf4 through bitsandbytes (the path users take)."""
    from transformers import BitsAndBytesConfig, Qwen2_5_VLForConditionalGeneration

    if not (tmp / "config.json").exists():
        model = build_model(config, dtype, "cpu", "sdpa")
        model.save_pretrained(tmp)
        del model
        gc.collect()
    q = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=dtype,
                           bnb_4bit_use_double_quant=True)
    return Qwen2_5_VLForConditionalGeneration.from_pretrained(tmp, quantization_config=q, dtype=dtype,
                                                              device_map={"": 0}, attn_implementation="sdpa").eval()


def param_counts(model) -> tuple[int, int]:
    """(language-model parameters without embeddings and LM head, vision-tower parameters)."""
    import torch

    lm = vis = 0
    for name, p in model.named_parameters():
        n = p.numel() * (2 if p.dtype == torch.uint8 else 1)  # bitsandbytes packs two 4-bit weights per byte
        if "visual" in name:
            vis += n
        elif "embed_tokens" in name or "lm_head" in name:
            continue
        else:
            lm += n
    return lm, vis


def _sync(device):
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _peak_reset(device):
    import torch

    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()


def _peak(device) -> float:
    import torch

    if device.type == "cuda":
        return torch.cuda.max_memory_allocated() / 2**30
    from benchmarks.stages import _status

    return _status("VmHWM") / 2**30


def documents(n: int, size: int, seed: int = 0):
    import numpy as np

    from clamr_frames.encoders.base import Document

    rng = np.random.default_rng(seed)
    words = "river bridge password falcon harbour master bakery weather cousin fences buses lunch afternoon".split()
    out = []
    for i in range(n):
        img = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        asr = " ".join(rng.choice(words, 24))
        ocr = " ".join(rng.choice(words, 6))
        out.append(Document(img, asr=asr, ocr=ocr, timestamp=float(i)))
    return out


def bench_indexing(model, processor, device, batch_sizes, iters, frame_size, peak_flops, label):
    """Rows: (precision, batch, frames/s, tokens/frame, TFLOP/s, MFU, peak GiB) — until out of memory."""
    import torch

    from clamr_frames.encoders.clamr import ClamrEncoder

    enc = ClamrEncoder.from_model(model, processor, dim=128, device=None, max_batch_tokens=1 << 30,
                                  frame_size=frame_size)
    lm_params, vis_params = param_counts(model)
    rows = []
    patches_per_frame = (frame_size // 14) ** 2  # ViT tokens of one image (repeated to fill one temporal patch)
    for b in batch_sizes:
        docs = documents(b, frame_size, seed=b)
        try:
            _peak_reset(device)
            out = enc.encode_documents(docs)  # warm-up (and tokens per frame)
            tokens = int(out.offsets[-1]) / b
            _sync(device)
            times = []
            for _ in range(iters):
                t0 = time.perf_counter()
                enc.encode_documents(docs)
                _sync(device)
                times.append(time.perf_counter() - t0)
        except torch.OutOfMemoryError:
            rows.append((label, b, None, None, None, None, None))
            break
        t = statistics.median(times)
        fps = b / t
        # tokens kept per frame include the template; the LM processes every one of them
        flops = 2 * lm_params * tokens + 2 * vis_params * patches_per_frame
        tflops = flops * fps / 1e12
        mfu = (flops * fps / peak_flops) if peak_flops else None
        rows.append((label, b, fps, tokens, tflops, mfu, _peak(device)))
        del out
        gc.collect()
    return rows, lm_params, vis_params


def bench_prefill(model, processor, device, frames_list, res, iters, label):
    """Prefill time of a video prompt of N frames (random pixels), last-token logits only."""
    import torch

    cfg = model.config
    tok = processor.tokenizer
    merge = cfg.vision_config.spatial_merge_size
    patch = cfg.vision_config.patch_size
    tp = cfg.vision_config.temporal_patch_size
    rows = []
    for n in frames_list:
        t_grid, hw = max(1, n // tp), res // patch
        n_tokens = t_grid * hw * hw // (merge * merge)
        question = tok("Question: what does the speaker write on the board? Answer with the option's letter.")["input_ids"]
        ids = ([cfg.vision_start_token_id] + [cfg.video_token_id] * n_tokens + [cfg.vision_end_token_id] + question)
        input_ids = torch.tensor([ids], device=device)
        dtype = next(model.parameters()).dtype
        pixels = torch.randn(t_grid * hw * hw, 3 * tp * patch * patch, device=device, dtype=dtype)
        grid = torch.tensor([[t_grid, hw, hw]], device=device)
        kw = dict(input_ids=input_ids, attention_mask=torch.ones_like(input_ids), pixel_values_videos=pixels,
                  video_grid_thw=grid, use_cache=False, logits_to_keep=1)
        try:
            _peak_reset(device)
            with torch.no_grad():
                model(**kw)
                _sync(device)
                times = []
                for _ in range(iters):
                    t0 = time.perf_counter()
                    model(**kw)
                    _sync(device)
                    times.append(time.perf_counter() - t0)
            rows.append((label, n, len(ids), statistics.median(times), _peak(device)))
        except torch.OutOfMemoryError:
            rows.append((label, n, len(ids), None, None))
        del kw, pixels
        gc.collect()
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--small", action="store_true", help="tiny config (CPU smoke run; not GPU numbers)")
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=None)
    ap.add_argument("--iters", type=int, default=None)
    ap.add_argument("--precisions", nargs="+", default=None, help="bf16 and/or nf4 (nf4 needs CUDA)")
    ap.add_argument("--answer-frames", type=int, nargs="+", default=[100, 768])
    ap.add_argument("--answer-res", type=int, default=None, help="side of the answerer's square frames")
    ap.add_argument("--no-answerer", action="store_true")
    ap.add_argument("--peak-tflops", type=float, default=None, help="dense bf16 peak of the device (for MFU)")
    ap.add_argument("--tmp", default=None, help="where the random 3B weights are saved for the nf4 load")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    import torch

    from testkit.tiny_qwen import build_processor

    cuda = torch.cuda.is_available()
    device = torch.device("cuda" if cuda else "cpu")
    small = args.small or not cuda
    batch_sizes = args.batch_sizes or ([1, 4, 8] if small else [8, 16, 32, 64, 128, 256])
    iters = args.iters or (2 if small else 5)
    precisions = args.precisions or (["bf16", "nf4"] if cuda else ["fp32"])
    res = args.answer_res or (56 if small else 448)
    dev_name = torch.cuda.get_device_name(0) if cuda else "CPU"
    peak = args.peak_tflops * 1e12 if args.peak_tflops else next(
        (v for k, v in PEAK_BF16.items() if k in dev_name), None)
    processor = build_processor()
    arch3, arch7 = (SMALL, SMALL) if small else (QWEN25_VL_3B, QWEN25_VL_7B)
    attn = "sdpa"

    rows = []
    counts = {}
    for prec in precisions:
        if prec == "nf4" and not cuda:
            rows.append(("nf4", None, None, None, None, None, None))
            continue
        dtype = {"bf16": torch.bfloat16, "fp32": torch.float32, "nf4": torch.bfloat16}[prec]
        cfg = make_config(arch3, processor.tokenizer)
        if prec == "nf4":
            import tempfile

            tmp = Path(args.tmp or tempfile.mkdtemp(prefix="qwen3b_random_"))
            model = build_nf4(cfg, dtype, tmp)
        else:
            model = build_model(cfg, dtype, device, attn)
        r, lm, vis = bench_indexing(model, processor, device, batch_sizes, iters, 224, peak, prec)
        counts[prec] = (lm, vis)
        rows += r
        del model
        gc.collect()
        if cuda:
            torch.cuda.empty_cache()

    pre = []
    if not args.no_answerer:
        dtype = torch.bfloat16 if cuda else torch.float32
        model = build_model(make_config(arch7, processor.tokenizer), dtype, device, attn)
        pre = bench_prefill(model, processor, device, args.answer_frames, res, iters, "bf16" if cuda else "fp32")
        del model
        gc.collect()

    kind = "CPU, --small config (a smoke run of the script: not GPU numbers)" if small else f"GPU {dev_name}"
    arch_txt = ("tiny Qwen2.5-VL-shaped config (text hidden 128 x 2 layers, ViT depth 2)" if small
                else "Qwen2.5-VL-3B architecture (random weights)")
    lines = [f"Device: **{kind}**. Indexing model: {arch_txt} + 128-d head through ClamrEncoder, 224x224 frames with "
             f"~24 ASR + 6 OCR words each, one forward per batch, median of {iters} runs after a warm-up. "
             f"FLOPs/frame = 2 x LM params x tokens + 2 x ViT params x patches (attention not counted); MFU against "
             f"{f'{peak / 1e12:.0f} TFLOP/s dense bf16' if peak else 'no known peak (n/a)'}.", ""]
    for prec, (lm, vis) in counts.items():
        lines.append(f"- {prec}: LM parameters (no embeddings / LM head) {lm / 1e6:.1f} M, ViT {vis / 1e6:.1f} M")
    lines += ["", "| precision | batch | frames/s | tokens/frame | TFLOP/s | MFU | peak memory GiB |",
              "|---|---:|---:|---:|---:|---:|---:|"]
    best = {}
    for prec, b, fps, tok, tf, mfu, mem in rows:
        if b is None:
            lines.append(f"| {prec} | - | skipped (4-bit needs CUDA + bitsandbytes) | | | | |")
            continue
        if fps is None:
            lines.append(f"| {prec} | {b} | out of memory | | | | |")
            continue
        if fps > best.get(prec, (0, 0))[1]:
            best[prec] = (b, fps)
        lines.append(f"| {prec} | {b} | {fps:.1f} | {tok:.0f} | {tf:.3f} | "
                     f"{'n/a' if mfu is None else f'{100 * mfu:.1f}%'} | {mem:.2f} |")
    lines.append("")
    lines += [f"- best batch size ({prec}): {b} ({fps:.1f} frames/s)" for prec, (b, fps) in best.items()]
    if pre:
        a7 = "tiny config" if small else "Qwen2.5-VL-7B architecture (random weights)"
        lines += ["", f"Answerer prefill: {a7}, {res}x{res} frames, vision tower + LM prefill, last-token logits:", "",
                  "| precision | frames | prompt tokens | prefill s | peak memory GiB |", "|---|---:|---:|---:|---:|"]
        for prec, n, ntok, t, mem in pre:
            lines.append(f"| {prec} | {n} | {ntok} | {'out of memory' if t is None else f'{t:.3f}'} | "
                         f"{'' if mem is None else f'{mem:.2f}'} |")
        ok = [p for p in pre if p[3] is not None]
        if len(ok) >= 2:
            lo, hi = min(ok, key=lambda p: p[1]), max(ok, key=lambda p: p[1])
            lines.append(f"\nSelecting {lo[1]} frames instead of {hi[1]}: prefill {hi[3] / lo[3]:.1f}x faster, "
                         f"{hi[2] / lo[2]:.1f}x fewer prompt tokens.")
    if small:
        lines.append("\nOn a GPU machine: `python benchmarks/gpu.py` (full-size 3B bf16 + nf4 sweep, 7B prefill at "
                     "448x448, 100 vs 768 frames).")
    record(f"GPU benchmark: CLaMR indexing throughput and answerer prefill ({kind})", "\n".join(lines) + "\n",
           write=not args.no_record)


if __name__ == "__main__":
    main()
