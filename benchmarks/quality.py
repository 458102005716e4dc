"""Frame recall@k on generated needle videos: every selection policy x every scorer that runs here, vs uniform.

A question counts as found when a picked frame lies inside its needle's time span. Videos come from the
project's synthetic generator (one seed per video), each with OCR (a sign), ASR (a subtitle line) and vision
(a coloured shape) needles and one question per needle. Every question is scored once; each policy then picks
k frames from the same per-frame scores, so the policies are compared on identical inputs.

``coverage`` and ``gated`` get the index's visual prior (shots and novelty, as ``FrameSelector`` gives it to
them); the row ``gated, no prior`` is ``gated`` as it was before the prior (uniform on a flat profile), side by
side.

Scorers that need weights this machine cannot download (``clamr``, ``clip``, ``languagebind-v``,
``languagebind-va``) are listed with the command that fills their rows on a machine that has them:

    python benchmarks/quality.py --scorer clip --weights /models/clip-vit-base-patch32

    python benchmarks/quality.py [--scorer default] [--videos 4] [--minutes 10 60] [--needles 4]
                                 [--ks 8 16 32] [--policies ...] [--ocr] [--motion shapes|pan|static]
                                 [--scene-seconds 20 90] [--no-record]
"""

from __future__ import annotations

import argparse
import time
from collections import defaultdict


from benchmarks._common import WORK, record  # noqa: E402

ALL_POLICIES = ["topk", "nms", "adaptive", "inverse-transform", "hybrid", "coverage", "gated", "gated, no prior",
                "uniform"]
NO_PRIOR = "gated, no prior"
NEEDS_WEIGHTS = {
    "clamr": "--scorer clamr --weights /models/clamr --base-model /models/Qwen2.5-VL-3B-Instruct --ocr",
    "clip": "--scorer clip --weights /models/clip-vit-large-patch14",
    "languagebind-v": "--scorer languagebind-v --weights /models/LanguageBind_Image",
    "languagebind-va": "--scorer languagebind-va --weights /models/LanguageBind_Image "
    "--audio-weights /models/LanguageBind_Audio_FT --audio",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--scorer", default="default")
    ap.add_argument("--weights", default=None, help="the scorer's weights (local directory)")
    ap.add_argument("--audio-weights", default=None)
    ap.add_argument("--base-model", default=None)
    ap.add_argument("--videos", type=int, default=4, help="videos per length")
    ap.add_argument("--minutes", type=float, nargs="+", default=[10.0, 60.0])
    ap.add_argument("--needles", type=int, default=4, help="needles per kind per video")
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 16, 32])
    ap.add_argument("--policies", nargs="+", default=ALL_POLICIES)
    ap.add_argument("--ocr", action="store_true", help="read on-screen text with RapidOCR (the 'ocr' extra)")
    ap.add_argument("--audio", action="store_true", help="generate videos with an audio track (for V+A)")
    ap.add_argument("--seed", type=int, default=100, help="first video seed")
    ap.add_argument("--motion", default="shapes", help="generated picture motion: shapes | pan | static")
    ap.add_argument("--scene-seconds", type=float, nargs=2, default=[20.0, 90.0], metavar=("MIN", "MAX"),
                    help="generated scene lengths")
    ap.add_argument("--gated-sweep", action="store_true",
                    help="also tabulate gated's recall over a grid of its prior knobs (flat_z, peak_z, relevance_share)")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    from clamr_frames.evaluation import hits_span, recall
    from clamr_frames.select import select_frames, takes_prior
    from clamr_frames.selector import FrameSelector
    from clamr_frames.synth import generate_video

    out = WORK / "quality"
    enc_kwargs = {"weights": args.weights, "audio_weights": args.audio_weights}
    if args.base_model:
        enc_kwargs["base_model"] = args.base_model
    selector = FrameSelector.from_pretrained(
        args.scorer, index_dir=out / "cache", ocr=args.ocr, progress=True, encoder_kwargs=enc_kwargs
    )
    hits: dict[tuple[float, str, str, int], list[bool]] = defaultdict(list)
    scored: list[tuple[str, dict, object, object]] = []  # (kind, needle, selection, prior) for --gated-sweep
    t_index: dict[float, float] = defaultdict(float)
    t_select: list[float] = []
    n_frames: dict[float, int] = defaultdict(int)
    for minutes in args.minutes:
        for v in range(args.videos):
            seed = args.seed + v
            scenes = tuple(args.scene_seconds)
            plain = (args.motion, scenes) == ("shapes", (20.0, 90.0))
            tag = "" if plain else f"_{args.motion}_{scenes[0]:g}-{scenes[1]:g}"
            video = generate_video(
                out / f"m{minutes:g}_s{seed}{tag}", seed=seed, duration=60.0 * minutes,
                needles_per_kind=args.needles, audio=args.audio, motion=args.motion, scene_seconds=scenes,
            )
            t0 = time.perf_counter()
            index = selector.index(video.video_path, subtitles=video.srt_path, prior=True)
            t_index[minutes] += time.perf_counter() - t0
            n_frames[minutes] += index.num_candidates
            for q in video.questions:
                needle = q["needle"]
                t0 = time.perf_counter()
                sel = selector.select(video.video_path, q["question"], k=1, subtitles=video.srt_path)
                t_select.append(time.perf_counter() - t0)
                if args.gated_sweep:
                    scored.append((needle["kind"], needle, sel, index.prior))
                for policy in args.policies:
                    name = "gated" if policy == NO_PRIOR else policy
                    knobs = {"prior": index.prior} if policy != NO_PRIOR and takes_prior(name) else {}
                    for k in args.ks:
                        idx = select_frames(sel.all_scores, sel.all_timestamps, k, policy=name, **knobs)
                        hit = hits_span(sel.all_timestamps[idx], needle["start"], needle["end"])
                        hits[(minutes, needle["kind"], policy, k)].append(hit)

    kinds = sorted({kind for _, kind, _, _ in hits})
    head = "| video | needle | policy | " + " | ".join(f"R@{k}" for k in args.ks) + " | questions |"
    rows = [head, "|---|---|---|" + "---|" * len(args.ks) + "---|"]
    for minutes in args.minutes:
        for kind in kinds + ["all"]:
            for policy in args.policies:
                vals = []
                for k in args.ks:
                    if kind == "all":
                        h = [x for kd in kinds for x in hits[(minutes, kd, policy, k)]]
                    else:
                        h = hits[(minutes, kind, policy, k)]
                    vals.append(recall(h))
                name = "uniform (baseline)" if policy == "uniform" else policy
                rows.append(f"| {minutes:g} min | {kind} | {name} | " + " | ".join(f"{x:.2f}" for x in vals)
                            + f" | {len(h)} |")
    timing = "; ".join(
        f"{m:g}-min videos: {n_frames[m]} frames indexed in {t_index[m]:.0f} s "
        f"({n_frames[m] / max(t_index[m], 1e-9):.0f} frames/s)" for m in args.minutes
    )
    t_select.sort()
    body = (
        f"Scorer `{args.scorer}` ({'with' if args.ocr else 'without'} OCR context), {args.videos} generated videos "
        f"per length (seeds {args.seed}..{args.seed + args.videos - 1}), {args.needles} needles per kind per video, "
        f"picture motion `{args.motion}`, scenes of {args.scene_seconds[0]:g}-{args.scene_seconds[1]:g} s, "
        f"candidates at 1 fps, one question per needle. {timing}; a question on an indexed video: median "
        f"{1000 * t_select[len(t_select) // 2]:.0f} ms (encode the question + MaxSim + policy).\n\n" + "\n".join(rows) + "\n"
    )
    if args.scorer == "default":
        body += ("\nThe default scorer reads text only (ASR + OCR context): its scores cannot find a vision needle, "
                 "and the policies that follow them do no better than uniform there. `coverage` ignores the scores "
                 "and picks the most novel moments of the video's shots (the visual prior); `gated` switches to it "
                 "when a question's score profile is flat. Rows for the scorers that need weights this "
                 "machine cannot download (run on a machine that has them):\n\n"
                 + "\n".join(f"- `{s}`: `python benchmarks/quality.py {cmd}`" for s, cmd in NEEDS_WEIGHTS.items())
                 + "\n")
    if args.gated_sweep:
        body += "\n" + gated_sweep(scored, args.ks, kinds)
    record(f"Frame recall@k per policy on generated needle videos (scorer: {args.scorer})", body,
           write=not args.no_record)


def gated_sweep(scored: list, ks: list[int], kinds: list[str]) -> str:
    """Recall of ``gated`` (with the prior) per kind over a grid of its knobs: how its defaults were chosen."""
    from clamr_frames.evaluation import hits_span, recall
    from clamr_frames.select import select_frames

    head = "| flat_z | peak_z | relevance_share | " + " | ".join(f"{kd} R@{k}" for k in ks for kd in kinds) + " |"
    rows = [head, "|---|---|---|" + "---|" * (len(ks) * len(kinds))]
    for flat_z, peak_z in ((4.5, 7.0), (5.0, 7.5), (5.0, 8.0), (5.5, 8.0), (5.0, 9.0)):
        for share in (0.25, 0.5, 0.75):
            cells = []
            for k in ks:
                for kd in kinds:
                    h = []
                    for kind, needle, sel, prior in scored:
                        if kind != kd:
                            continue
                        idx = select_frames(sel.all_scores, sel.all_timestamps, k, policy="gated", prior=prior,
                                            flat_z=flat_z, peak_z=peak_z, relevance_share=share)
                        h.append(hits_span(sel.all_timestamps[idx], needle["start"], needle["end"]))
                    cells.append(f"{recall(h):.2f}")
            rows.append(f"| {flat_z:g} | {peak_z:g} | {share:g} | " + " | ".join(cells) + " |")
    return "`gated` over a grid of its knobs (defaults: flat_z 5, peak_z 9, relevance_share 0.25):\n\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    main()
