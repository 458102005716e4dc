"""Shot rarity in the visual prior: once-only inserts, all-unique footage and text questions, today's prior vs rarity.

The videos are the real-footage compositions of ``testkit/compositions.py``: ``recurring_with_inserts`` (11 min,
a background of five real clips recurring every minute, the cartoon pigs and the deer inserted once each) and
``all_unique`` (every clip once, 71 s, where rarity must change nothing). Each is indexed once with the
default scorer and OCR on (``FrameSelector.from_pretrained("default", ocr=True)``, candidates at 1 fps), so the
text questions can be answered from the on-screen text; the index's prior is the new one (version 2, with
rarity), and today's prior (version 1) is the same arrays with rarity off (``PriorSettings(alike=0)``: every
shot unique, which is exactly version 1's coverage). For every question, both priors are used on the same
scores in the same run: a question is found at ``k`` when a picked frame lies inside a span where its answer
is visible. ``uniform`` and ``topk`` do not read the prior (one number, shown in both columns).

A third set checks what rarity does to the project's generated videos, whose different scenes look partly alike
in 16x9 thumbnails (similar palettes): held-out seeds (``--synth-seeds``, default 600-607; ``alike``, the
ranking and the 15-s window were chosen on seeds 400-407 and 500-507 and on the real compositions), 10 min,
scenes of 2-60 s, both motions, candidates at 1 fps rendered (no codec), ``coverage`` on a flat profile (what ``gated`` does with the default scorer on a picture
question): a needle is found when a picked frame lies inside it.

The prior's compute cost is measured side by side, interleaved, on the candidate frames already decoded
(what an OCR or image-encoder build pays): the whole prior with rarity off and on, and rarity alone, also on
the recurring video's thumbnails tiled to 3 hours (a scaling check: 10,800 candidates).

    python benchmarks/rarity.py [--k 8 16] [--repeats 5] [--synth-seeds 500 ...] [--no-record]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks._common import WORK, record  # noqa: E402

POLICIES = ("coverage", "gated", "uniform", "topk")
PRIORS = ("v1", "v2")


def _old_prior(prior):
    """Today's prior (version 1): the same shots, novelty and thumbnails, rarity off."""
    from clamr_frames.context.shots import VisualPrior

    return VisualPrior(prior.shot_ids, prior.novelty, prior.cut_scores, prior.thumbs,
                       dataclasses.replace(prior.settings, alike=0.0))


def _group(comp, q) -> str:
    if q.kind == "text":
        return "text (on-screen)"
    if comp.name == "recurring_with_inserts":
        return "picture: once-only inserts"
    return "picture: single shots"


def hits_table(selector, comps, ks: list[int]) -> tuple[list[dict], list[str]]:
    """Rows: per composition, question group, k and policy, the questions found with each prior."""
    from clamr_frames.select import select_frames
    from clamr_frames.select.gated import FLAT_Z, PEAK_Z
    from clamr_frames.select.profile import prominence

    rows, log = [], []
    for comp in comps:
        t0 = time.perf_counter()
        index = selector.index(comp.path, prior=True)
        log.append(f"{comp.name}: {index.num_candidates} candidates, {index.prior.num_shots} shots, indexed "
                   f"(default scorer, OCR on) in {time.perf_counter() - t0:.1f} s")
        ts = index.timestamps
        priors = {"v1": _old_prior(index.prior), "v2": index.prior}
        tally: dict[tuple, list[int]] = {}
        branch: dict[str, list[int]] = {}
        for q in comp.questions:
            scores = selector.score(index, q.text)[0].detach().float().cpu().numpy()
            z = prominence(scores)
            g = _group(comp, q)
            b = branch.setdefault(g, [0, 0, 0])
            b[0 if z < FLAT_Z else 2 if z >= PEAK_Z else 1] += 1
            for k in ks:
                for policy in POLICIES:
                    for pv in PRIORS:
                        knobs = {"prior": priors[pv]} if policy in ("coverage", "gated") else {}
                        picks = select_frames(scores, ts, min(k, len(ts)), policy=policy, **knobs)
                        hit = q.hit(ts[picks].tolist())
                        tally.setdefault((g, k, policy, pv), []).append(int(hit))
                        if policy == "gated" and k == ks[0]:
                            log.append(f"  {comp.name} | {q.text} | z={z:.1f} | gated {pv}: "
                                       f"{[round(float(x)) for x in ts[picks]]} hit={hit}")
        for g in dict.fromkeys(_group(comp, q) for q in comp.questions):
            for k in ks:
                for policy in POLICIES:
                    v1, v2 = tally[(g, k, policy, "v1")], tally[(g, k, policy, "v2")]
                    row = {"video": comp.name, "questions": g, "n": len(v1), "k": k, "policy": policy,
                           "found, today's prior (v1)": sum(v1), "found, rarity prior (v2)": sum(v2)}
                    if policy == "gated":
                        row["gated branch flat/mixed/peaked"] = "/".join(map(str, branch[g]))
                    rows.append(row)
    return rows, log


def synth_rows(seeds: list[int], ks: list[int]) -> list[dict]:
    """Generated videos: needles found by coverage on a flat profile with each prior."""
    from clamr_frames.context.shots import compute_prior
    from clamr_frames.select import select_frames
    from clamr_frames.synth.render import SyntheticScene

    tally: dict[tuple, list[int]] = {}
    shots = {"shapes": 0, "pan": 0}
    for motion in ("shapes", "pan"):
        for seed in seeds:
            sc = SyntheticScene(seed=seed, duration=600.0, scene_seconds=(2.0, 60.0), needles_per_kind=2,
                                motion=motion)
            ts = np.arange(0.0, sc.duration, 1.0)
            new = compute_prior(ts, [sc.render_frame(t) for t in ts])
            shots[motion] += new.num_shots
            priors = {"v1": _old_prior(new), "v2": new}
            for k in ks:
                for pv, p in priors.items():
                    picks = ts[select_frames(np.zeros(len(ts)), ts, k, policy="coverage", prior=p)]
                    for nd in sc.needles:
                        if nd.kind != "asr":
                            hit = any(nd.start <= t < nd.end for t in picks)
                            tally.setdefault((motion, nd.kind, k, pv), []).append(int(hit))
    rows = []
    for motion in ("shapes", "pan"):
        for kind in ("vision", "ocr"):
            for k in ks:
                v1, v2 = tally[(motion, kind, k, "v1")], tally[(motion, kind, k, "v2")]
                rows.append({"video": f"generated, {motion}, {len(seeds)} x 10 min ({shots[motion]} shots)",
                             "questions": f"{kind} needles (flat profile)", "n": len(v1), "k": k,
                             "policy": "coverage", "found, today's prior (v1)": sum(v1),
                             "found, rarity prior (v2)": sum(v2)})
    return rows


def cost_rows(comps, index_of, repeats: int) -> list[dict]:
    """ms per candidate of the whole prior (rarity off / on) and of rarity alone, interleaved."""
    from clamr_frames.context.shots import PriorSettings, compute_prior, shot_rarity
    from clamr_frames.video import VideoReader

    rows = []
    for comp in comps:
        with VideoReader(comp.path) as r:
            ts, frames = [], []
            for ch in r.iter_candidates(fps=1.0, max_side=448):
                ts += [float(x) for x in ch.timestamps]
                frames += list(ch.frames)
        times = {"off": [], "on": []}
        for _ in range(repeats):
            for label, alike in (("off", 0.0), ("on", PriorSettings().alike)):
                t0 = time.perf_counter()
                p = compute_prior(ts, frames, PriorSettings(alike=alike))
                times[label].append(time.perf_counter() - t0)
        rar = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            shot_rarity(p.thumbs, p.shot_ids, np.asarray(ts), p.settings.alike, p.settings.window)
            rar.append(time.perf_counter() - t0)
        n = len(ts)
        off, on = 1000 * np.median(times["off"]) / n, 1000 * np.median(times["on"]) / n
        rows.append({"video": comp.name, "candidates": n, "shots": p.num_shots,
                     "prior, rarity off (v1): ms/candidate": round(float(off), 3),
                     "prior with rarity (v2): ms/candidate": round(float(on), 3),
                     "rarity alone: ms/candidate": round(float(1000 * np.median(rar) / n), 4),
                     "v2 / v1": round(float(on / off), 3)})
        if comp.name == "recurring_with_inserts":
            reps = int(np.ceil(10800 / n))  # 3 hours at 1 fps: the same footage again and again
            th = np.concatenate([p.thumbs] * reps)[:10800]
            sid = np.concatenate([p.shot_ids + i * p.num_shots for i in range(reps)])[:10800]
            sid = (sid - sid[0]).astype(np.int32)
            period = ts[-1] + 1.0
            tt = np.concatenate([np.asarray(ts) + i * period for i in range(reps)])[:10800]
            t0 = time.perf_counter()
            shot_rarity(th, sid, tt)
            dt = time.perf_counter() - t0
            rows.append({"video": f"{comp.name} tiled to 3 h (scaling)", "candidates": 10800,
                         "shots": int(sid[-1]) + 1, "rarity alone: ms/candidate": round(1000 * dt / 10800, 4)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--k", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--synth-seeds", type=int, nargs="+", default=list(range(600, 608)))
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    from clamr_frames import FrameSelector
    from testkit.compositions import all_unique, recurring_with_inserts

    work = WORK / "rarity"
    work.mkdir(parents=True, exist_ok=True)
    comps = [recurring_with_inserts(work / "recurring_with_inserts.mp4"), all_unique(work / "all_unique.mp4")]
    selector = FrameSelector.from_pretrained("default", ocr=True, asr="none", progress=False,
                                             index_dir=Path(tempfile.mkdtemp(dir=work)))
    rows, log = hits_table(selector, comps, args.k)
    print("\n".join(log))
    rows += synth_rows(args.synth_seeds, args.k)
    cost = cost_rows(comps, None, args.repeats)
    notes = (
        "Real footage only (tests/data/video, sources in tests/data/README.md), composed by testkit/compositions.py "
        "at 8 fps, 480x270; candidates at 1 fps. `found`: questions with a picked frame inside a span where the "
        "answer is visible (for the inserts: the insert's 4 s; for text: every showing of the text). Today's "
        "prior (v1) and the rarity prior (v2) are used on the same index and scores in one run; `uniform` and "
        "`topk` read no prior. `gated branch`: how many of the questions gated sent to coverage (flat profile), "
        "the mix, or nms (peaked), from the scores' prominence (the same for both priors). The default scorer "
        "reads text only, so a picture question's profile is flat and only the prior can find its frames. "
        "The `generated` rows are the project's own generator (held-out seeds, rendered frames, coverage on a flat "
        "profile), seeds 600-607; `alike` (0.015), the rarity-times-novelty ranking and the 15-s window between "
        "look-alikes were chosen on seeds 400-407 and 500-507 and on the two real compositions above, which are "
        "therefore not held out."
    )
    cost_notes = (
        "Interleaved in one process on a machine shared with other jobs (2 cores, other helpers running): "
        "medians of the repeats; compare the columns of one row, not rows across runs. The prior is computed "
        "from frames already decoded (max side 448), as an OCR or image-encoder build does: thumbnails, shots, "
        "novelty, and for v2 rarity. The 3 h row tiles the recurring video's thumbnails and shots (a scaling "
        "check of the all-pairs shot comparison, not footage)."
    )
    record("Shot rarity: once-only inserts, all-unique footage and text questions, today's prior vs rarity",
           rows=rows, notes=notes, write=not args.no_record, name="rarity")
    record("Shot rarity: what the prior costs with it", rows=cost, notes=cost_notes,
           write=not args.no_record, name="rarity-cost")


if __name__ == "__main__":
    main()
