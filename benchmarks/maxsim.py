"""Packed MaxSim (clamr_frames.scoring) against the padded einsum the CLaMR reference uses.

One video's index: 3,600 candidate frames (1 fps for an hour) of about 150 tokens each, laid out like a CLaMR
document (template tokens, 64 VIDEO tokens, "ASR:" + a variable ASR span, "OCR:" + a variable OCR span), unit-norm
embeddings stored in float16 as the index stores them, and a 20-token query. For each aggregation and dim:

- ours: ``token_max`` / ``modality_max`` on the packed tokens (float32 accumulation), with and without argmax;
- reference: documents padded to the longest one, ``einsum("qd,csd->cqs")``, padding masked to -inf,
  ``amax(-1).sum(-1)``; for ``modality_max`` a one-hot modality mask, per-modality sums, max (as in CLaMR's
  ``util.py``). The padded float32 tensor is built before timing (its cost is reported on its own row), which
  favours the reference.

colpali-engine (0.3.18: torch<2.14, peft<0.21) and pylate (torch 2.11.0 through fast-plaid) cannot be installed
beside this project's torch 2.14.1 / peft 0.21, so the reference is re-implemented here from the CLaMR code.

    python benchmarks/maxsim.py [--docs 3600] [--mean-tokens 150] [--nq 20] [--dims 128,384] [--no-record]

Writes the table to benchmarks/_work/maxsim.md (and appends it to benchmarks/RESULTS.md unless --no-record).
"""

from __future__ import annotations

import argparse
import statistics
import time


from benchmarks._common import WORK, header, record  # noqa: E402


def make_index(n_docs: int, mean_tokens: int, dim: int, seed: int = 0):
    """Packed fp16 embeddings, offsets and modality ids shaped like CLaMR per-frame documents."""
    import torch

    from clamr_frames.types import Modality

    g = torch.Generator().manual_seed(seed)
    fixed = 5 + 64 + 3 + 3 + 2  # template, VIDEO, " ASR: ", " OCR: ", end-of-turn
    var = max(0, mean_tokens - fixed)
    asr = torch.randint(0, int(var * 1.5) + 1, (n_docs,), generator=g)  # mean 0.75 var
    ocr = torch.randint(0, int(var * 0.5) + 1, (n_docs,), generator=g)  # mean 0.25 var
    O, V, A, C = Modality.OTHER, Modality.VIDEO, Modality.ASR, Modality.OCR
    parts = []
    for a, o in zip(asr.tolist(), ocr.tolist()):
        layout = [O] * 5 + [V] * 64 + [O] * 3 + [A] * a + [O] * 3 + [C] * o + [O] * 2
        parts.append(torch.tensor(layout, dtype=torch.int8))
    mods = torch.cat(parts)
    lengths = torch.tensor([len(p) for p in parts])
    offsets = torch.zeros(n_docs + 1, dtype=torch.int64)
    offsets[1:] = lengths.cumsum(0)
    emb = torch.nn.functional.normalize(torch.randn(len(mods), dim, generator=g), dim=-1).to(torch.float16)
    return emb, offsets, mods


def reference_token_max(q, padded, mask):
    import torch

    sims = torch.einsum("qd,csd->cqs", q, padded)
    return sims.masked_fill(~mask[:, None, :], float("-inf")).amax(-1).sum(-1)


def reference_modality_max(q, padded, mask, mod_padded, modalities):
    import torch

    sims = torch.einsum("qd,csd->cqs", q, padded)
    per_mod = []
    for m in modalities:
        keep = mask & (mod_padded == m)
        per_mod.append(sims.masked_fill(~keep[:, None, :], float("-inf")).amax(-1).sum(-1))
    return torch.stack(per_mod, -1).max(-1).values


def timeit(fn, repeats: int) -> tuple[float, float, object]:
    out = fn()  # warm-up (allocator, thread pool)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3, min(times) * 1e3, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--docs", type=int, default=3600)
    ap.add_argument("--mean-tokens", type=int, default=150)
    ap.add_argument("--nq", type=int, default=20)
    ap.add_argument("--dims", default="128,384")
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--no-record", action="store_true", help="print only; do not append to RESULTS.md")
    args = ap.parse_args()

    import torch

    from clamr_frames.scoring import modality_max, pad_packed, token_max

    rows = []
    for dim in (int(x) for x in args.dims.split(",")):
        emb, off, mods = make_index(args.docs, args.mean_tokens, dim)
        n_tok = emb.shape[0]
        q = torch.nn.functional.normalize(torch.randn(args.nq, dim, generator=torch.Generator().manual_seed(1)), dim=-1)
        pad_ms, _, (padded, mask) = timeit(lambda: pad_packed(emb.float(), off), 3)
        mod_padded, _ = pad_packed(mods, off, pad_value=-1)
        modalities = tuple(int(m) for m in torch.unique(mods))
        desc = f"{args.docs} docs, {n_tok / args.docs:.0f} tok/doc (max {padded.shape[1]}), d={dim}, fp16 storage"

        ref_t = timeit(lambda: reference_token_max(q, padded, mask), args.repeats)
        ref_m = timeit(lambda: reference_modality_max(q, padded, mask, mod_padded, modalities), args.repeats)
        cases = [
            ("token_max", "reference: padded einsum + mask (fp32)", ref_t, ref_t),
            ("token_max", "ours: packed", timeit(lambda: token_max(q, emb, off), args.repeats), ref_t),
            ("token_max", "ours: packed + argmax",
             timeit(lambda: token_max(q, emb, off, return_argmax=True)[0], args.repeats), ref_t),
            ("modality_max", "reference: padded einsum + one-hot modality mask", ref_m, ref_m),
            ("modality_max", "ours: packed", timeit(lambda: modality_max(q, emb, off, mods), args.repeats), ref_m),
            ("modality_max", "ours: packed + argmax",
             timeit(lambda: modality_max(q, emb, off, mods, return_argmax=True)[0], args.repeats), ref_m),
        ]
        # float64 ground truth on the same stored values: how far float32 accumulation drifts
        exact = {
            "token_max": token_max(q.double(), emb.double(), off),
            "modality_max": modality_max(q.double(), emb.double(), off, mods),
        }
        for agg, name, (med, mn, out), (_, ref_min, ref_out) in cases:
            diff = (out.double() - ref_out.double()).abs().max().item()
            err = (out.double() - exact[agg]).abs().max().item()
            rows.append((desc, agg, name, med, mn, ref_min / mn, diff, err))
        nan = float("nan")
        pad_row = "(padding the packed index to fp32 [C, L, d], not in the reference times)"
        rows.append((desc, "-", pad_row, pad_ms, pad_ms, nan, nan, nan))
        del padded, mask, mod_padded

    lines = [
        "| data | aggregation | method | median ms | min ms | speed-up vs reference (min) "
        "| max abs diff vs reference | max abs diff vs float64 |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for desc, agg, name, med, mn, ratio, diff, err in rows:
        r = "" if ratio != ratio else f"{ratio:.2f}x"
        dd = "" if diff != diff else f"{diff:.1e}"
        ee = "" if err != err else f"{err:.1e}"
        lines.append(f"| {desc} | {agg} | {name} | {med:.1f} | {mn:.1f} | {r} | {dd} | {ee} |")
    body = "\n".join(lines) + (
        f"\n\nQuery: {args.nq} tokens; {args.repeats} timed runs after one warm-up; speed-ups compare minimum times "
        "(the least disturbed by other processes on a shared machine); torch threads: "
        f"{torch.get_num_threads()}. colpali-engine 0.3.18 (torch<2.14, peft<0.21) and pylate (torch 2.11.0 via "
        "fast-plaid) cannot be installed beside torch 2.14.1, so the reference is re-implemented from CLaMR's code.\n"
    )
    title = "MaxSim scoring: packed vs padded einsum"
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / "maxsim.md").write_text(header(title) + "\n" + body, encoding="utf-8")
    record(title, body, write=not args.no_record)


if __name__ == "__main__":
    main()
