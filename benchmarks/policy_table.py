"""Policy table: hit@k of every selection policy, per scorer, evaluation set and question type.

The default policy of each scorer is chosen from this table (docs/policies.md, "Default policy by scorer").
Every question is scored once per scorer; each policy then picks ``k`` frames from the same per-frame scores
(as ``benchmarks/quality.py`` does), so the policies are compared on identical inputs. A question is a hit at
``k`` when a picked frame lies inside the span where its answer is visible or said.

Evaluation sets (question types: ``text`` = on-screen text or subtitles / speech; ``picture`` = something only
visible):

- ``synthetic``: the project's generator (:mod:`clamr_frames.synth`): sign, subtitle and shape needles;
- ``heldout``: :mod:`testkit.heldout`, a generator written apart from the project's (textured backgrounds,
  saturated distractors in every scene, other fonts, its own .srt);
- ``spoken``: :mod:`testkit.real_media`'s spoken video (real speech recordings, no subtitle file: ASR from the
  audio with the bundled Whisper model) and its paraphrased questions;
- ``compositions``: :mod:`testkit.compositions` (real footage: a recurring background with once-only inserts,
  and all-unique footage), when that module is present.

Scorers: ``default`` with OCR on (``FrameSelector.from_pretrained("default", ocr=True)``), and ``clip`` with the
tiny random test checkpoint (:mod:`testkit.tiny_clip`): its scores carry no meaning, so its rows test the
table's plumbing and show what the policies do on an uninformative visual score. ``--clip-weights DIR`` fills the
``clip`` rows with real weights on a machine that has them.

    python -m benchmarks.policy_table [--quick] [--sets synthetic heldout spoken compositions]
                                      [--scorers default clip] [--ks 8 16] [--clip-weights DIR] [--no-record]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks._common import WORK, record
from benchmarks.quality import ALL_POLICIES, NO_PRIOR

#: every policy the table compares: quality.py's list (``gated`` with its prior only) and the published two
POLICIES = [p for p in ALL_POLICIES if p not in (NO_PRIOR, "uniform")] + ["aks", "bolt", "uniform"]
#: columns that run a policy with other knobs: ``gated`` as it was before it kept a frame for the best score on
#: a flat profile (FLAT_SHARE), side by side with today's
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {"gated, flat: coverage only": ("gated", {"flat_share": 0.0})}
POLICIES.insert(POLICIES.index("gated") + 1, "gated, flat: coverage only")
SETS = ("synthetic", "heldout", "spoken", "compositions")
RECORD = "policy_table"
MEAN_SET = "mean of sets"  # the rows averaging a scorer's sets with equal weight
GATE_COL = "gated: cov/mix/nms"  # questions per branch of gated (see gate_branches)


@dataclass(frozen=True)
class Item:
    """One question on one video: where its answer lies, and how the video's context is read."""

    set: str
    qtype: str  # "text" | "picture"
    question: str
    spans: tuple[tuple[float, float], ...]
    video: Path
    subtitles: Path | None = None
    asr: str = "auto"


# -- the evaluation sets -------------------------------------------------------------------------------------------


def synthetic_items(work: Path, videos: int, minutes: float, per_kind: int, seed: int = 300) -> list[Item]:
    """The project's generator: ``videos`` videos of ``minutes`` minutes, ``per_kind`` sign / subtitle / shape
    needles each."""
    from clamr_frames.synth import generate_video

    items = []
    for s in range(seed, seed + videos):
        v = generate_video(work / "synthetic" / f"m{minutes:g}_n{per_kind}", seed=s, duration=60.0 * minutes,
                           needles_per_kind=per_kind)
        for q in v.questions:
            nd = q["needle"]
            items.append(Item("synthetic", "picture" if nd["kind"] == "vision" else "text", q["question"],
                              ((nd["start"], nd["end"]),), v.video_path, v.srt_path))
    return items


def heldout_items(work: Path, videos: int, minutes: float, per_kind: int, seed: int = 900) -> list[Item]:
    """:mod:`testkit.heldout`: another generator's videos (seeds ``seed``...)."""
    from testkit.heldout import heldout_set

    items = []
    for v in heldout_set(work / "heldout", list(range(seed, seed + videos)), 60.0 * minutes, per_kind):
        items += [Item("heldout", q.qtype, q.question, ((q.start, q.end),), v.video_path, v.srt_path)
                  for q in v.questions]
    return items


def spoken_items(work: Path) -> list[Item]:
    """Real speech recordings one after the other (no subtitle file: ASR from the audio), paraphrased questions."""
    from testkit.real_media import QUESTIONS, build_spoken_video

    video = build_spoken_video(work / "spoken.mp4")
    return [Item("spoken", "text", q, (video.spans[name],), video.path, None, "whisper") for q, name in QUESTIONS]


def composition_items(work: Path) -> list[Item]:
    """Real-footage compositions (:mod:`testkit.compositions`); empty when that module is not here."""
    if importlib.util.find_spec("testkit.compositions") is None:
        return []
    from testkit.compositions import COMPOSITIONS

    out = []
    for name, build in COMPOSITIONS.items():
        comp = build(work / "compositions" / f"{name}.mp4")
        out += [Item(f"compositions: {name}", q.kind, q.text, tuple(q.spans), comp.path) for q in comp.questions]
    return out


def build_items(sets: Sequence[str], work: Path, quick: bool) -> list[Item]:
    items: list[Item] = []
    if "synthetic" in sets:
        items += synthetic_items(work, *((1, 2.0, 1) if quick else (3, 5.0, 2)))
    if "heldout" in sets:
        items += heldout_items(work, *((1, 1.5, 1) if quick else (4, 4.0, 2)))
    if "spoken" in sets:
        items += spoken_items(work)
    if "compositions" in sets:
        items += composition_items(work)
    return items


# -- scoring and the table -------------------------------------------------------------------------------------------


@dataclass
class Scored:
    item: Item
    scores: np.ndarray
    timestamps: np.ndarray
    prior: Any


def load_scorer(name: str, work: Path, clip_weights: str | None = None):
    """``default`` (OCR on) or ``clip`` (``clip_weights``, else the tiny random test checkpoint)."""
    from clamr_frames.selector import FrameSelector

    index_dir = work / "index"
    if name == "default":
        return FrameSelector.from_pretrained("default", ocr=True, index_dir=index_dir, progress=False)
    if name == "clip":
        weights = clip_weights
        if weights is None:
            from testkit.tiny_clip import write_tiny_clip

            d = work / "tiny-clip"
            weights = str(d if (d / "config.json").exists() else write_tiny_clip(d, seed=0))
        # the tiny checkpoint on the CPU; real weights where FrameSelector puts them (a GPU when there is one)
        return FrameSelector.from_pretrained("clip", device="cpu" if clip_weights is None else None,
                                             index_dir=index_dir, progress=False,
                                             encoder_kwargs={"weights": weights})
    raise SystemExit(f"unknown scorer {name!r} (this table runs 'default' and 'clip')")


def score_items(selector: Any, items: Iterable[Item]) -> tuple[list[Scored], dict[str, float]]:
    """Index each video once (with its visual prior) and score each question once; seconds spent per set."""
    from clamr_frames.encoders.query import build_query

    out, spent = [], defaultdict(float)
    for it in items:
        t0 = time.perf_counter()
        # a scorer that reads no text context gets none (a visual scorer need not transcribe the audio)
        asr = it.asr if getattr(selector.encoder, "uses_ocr", True) else "none"
        index = selector.index(it.video, it.subtitles, asr=asr, prior=True)
        scores = selector.score(index, build_query(it.question))[0].detach().float().cpu().numpy()
        out.append(Scored(it, scores, np.asarray(index.timestamps, np.float64), index.prior))
        spent[it.set] += time.perf_counter() - t0
    return out, dict(spent)


def hit(sc: Scored, k: int, policy: str) -> bool:
    """Whether ``policy``'s ``k`` frames on ``sc``'s scores include one inside an answer span ``[start, end)``."""
    from clamr_frames.select import select_frames, takes_prior

    policy, extra = VARIANTS.get(policy, (policy, {}))
    knobs = {"prior": sc.prior} if takes_prior(policy) and sc.prior is not None else {}
    knobs.update(extra)
    if takes_prior(policy) and sc.prior is None:
        raise RuntimeError(f"{sc.item.video}: the index has no visual prior for {policy!r}")
    idx = select_frames(sc.scores, sc.timestamps, min(k, sc.scores.size), policy=policy, **knobs)
    # half-open spans: a composition's segment ends where the next one begins
    picked = sc.timestamps[np.unique(idx)]
    return any(bool(np.any((picked >= a) & (picked < b))) for a, b in sc.item.spans)


def table_rows(scorer: str, scored: Sequence[Scored], ks: Sequence[int], policies: Sequence[str]) -> list[dict]:
    """Wide rows: one per (set, question type, k) with the hit rate of each policy, then the mean of the sets."""
    groups: dict[tuple[str, str], list[Scored]] = defaultdict(list)
    for sc in scored:
        groups[(sc.item.set, sc.item.qtype)].append(sc)
    rows = []
    for (set_name, qtype), group in sorted(groups.items(), key=lambda kv: (_set_order(kv[0][0]), kv[0][1])):
        for k in ks:
            row: dict[str, Any] = {"scorer": scorer, "set": set_name, "questions": qtype, "k": k, "n": len(group),
                                   GATE_COL: gate_branches(group)}
            for p in policies:
                row[p] = round(float(np.mean([hit(sc, k, p) for sc in group])), 3)
            rows.append(row)
    for qtype in ("text", "picture"):
        for k in ks:
            cells = [r for r in rows if r["questions"] == qtype and r["k"] == k]
            if len(cells) > 1:
                row = {"scorer": scorer, "set": MEAN_SET, "questions": qtype, "k": k,
                       "n": sum(r["n"] for r in cells)}
                row.update({p: round(float(np.mean([r[p] for r in cells])), 3) for p in policies})
                rows.append(row)
    return rows


def gate_branches(group: Sequence[Scored]) -> str:
    """How many of the questions ``gated`` sends to coverage / the mix / nms (its prominence bands): whether a
    scorer's profiles read as "cannot see it" or "found it" is what decides ``gated`` on them."""
    from clamr_frames.select import prominence
    from clamr_frames.select.gated import FLAT_Z, PEAK_Z

    z = [prominence(sc.scores) for sc in group]
    flat = sum(v < FLAT_Z for v in z)
    peaked = sum(v >= PEAK_Z for v in z)
    return f"{flat}/{len(z) - flat - peaked}/{peaked}"


def _set_order(name: str) -> int:
    return next((i for i, s in enumerate(SETS) if name.startswith(s)), len(SETS))


# -- what the docs show ---------------------------------------------------------------------------------------------


def summary(rows: Sequence[dict], policies: Sequence[str] | None = None) -> list[dict]:
    """Per scorer and policy: the mean hit rate over the scorer's (set, question type, k) cells, text and picture
    apart and together (each cell weighted equally), and in how many cells it is best or tied for best; best
    mean first."""
    cells = [r for r in rows if r["set"] != MEAN_SET]
    policies = list(policies or [p for p in POLICIES if any(p in r for r in cells)])
    out = []
    for scorer in dict.fromkeys(r["scorer"] for r in cells):
        mine = [r for r in cells if r["scorer"] == scorer]
        best = [max(r.get(p, 0.0) for p in policies) for r in mine]
        ranked = []
        for p in policies:
            vals = {t: [r[p] for r in mine if r["questions"] == t and p in r] for t in ("text", "picture")}
            allv = vals["text"] + vals["picture"]
            if not allv:
                continue
            ranked.append({
                "scorer": scorer, "policy": p,
                "text": round(float(np.mean(vals["text"])), 3) if vals["text"] else None,
                "picture": round(float(np.mean(vals["picture"])), 3) if vals["picture"] else None,
                "all": round(float(np.mean(allv)), 3),
                "best in cells": f"{sum(r.get(p) == b for r, b in zip(mine, best))} of {len(mine)}",
            })
        ranked.sort(key=lambda r: -r["all"])
        out += ranked
    return out


def summary_markdown(path: str | None = None) -> str:
    """The docs' summary of the committed record (``markdown-from benchmarks.policy_table:summary_markdown``)."""
    from benchmarks.records import RESULTS_DIR, render_table

    p = Path(path) if path else RESULTS_DIR / f"{RECORD}.json"
    if not p.exists():
        return f"*(no record yet: run `python -m benchmarks.policy_table` to write `{p.name}`)*"
    rec = json.loads(p.read_text(encoding="utf-8"))
    return (f"From `benchmarks/results/{p.name}` ({rec.get('date', '?')}, commit `{rec.get('commit') or '?'}`): "
            "mean hit rate over the scorer's (set, question type, k) cells, each weighted equally, and the cells "
            "where the policy is best or tied for best; best mean first.\n\n"
            + render_table(summary(rec.get("rows") or [])))


# -- main -------------------------------------------------------------------------------------------------------------


def run(sets: Sequence[str], scorers: Sequence[str], ks: Sequence[int], work: Path, *, quick: bool = False,
        clip_weights: str | None = None, policies: Sequence[str] = POLICIES) -> tuple[list[dict], str]:
    """Build the sets, score them with each scorer, and return the table's rows and a note of what ran."""
    t0 = time.perf_counter()
    items = build_items(sets, work, quick)
    built = time.perf_counter() - t0
    rows, notes = [], []
    for name in scorers:
        selector = load_scorer(name, work, clip_weights)
        scored, spent = score_items(selector, items)
        rows += table_rows(name, scored, ks, policies)
        notes.append(f"{name}: " + ", ".join(f"{s} {v:.0f} s" for s, v in spent.items()))
    counts = defaultdict(int)
    for it in items:
        counts[(it.set, it.qtype)] += 1
    what = "; ".join(f"{s} {t}: {n}" for (s, t), n in counts.items())
    return rows, f"Questions per set and type: {what}. Sets built (or found in benchmarks/_work) in {built:.0f} s; " \
        "index (or load it from the cache in benchmarks/_work) + score, per scorer: " + \
        "; ".join(notes) + "."


NOTES = """\
One row per scorer, evaluation set, question type and k; each policy's column is the share of the row's `n`
questions with a picked frame inside the answer's span (1-fps candidates; every policy on the same scores). The
`{mean}` rows average the sets with equal weight. `{gate}` counts the questions whose score profile `gated` reads
as flat (→ `coverage`), in between (→ the mix) and peaked (→ `nms`). `coverage` and `gated` read each index's visual prior (the prior
of the commit named above). `default` runs with OCR on. `clip` is the tiny random test checkpoint
(`testkit/tiny_clip.py`): its scores carry no meaning, so its rows check the table's plumbing and show what each
policy does on an uninformative visual score (score-following policies land about where chance puts them; the
prior-driven ones do not depend on the scores). Timings were taken on 2 shared, loaded cores: they say what the
run cost, not how fast a stage is. {what}
"""


def main(argv: Sequence[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", nargs="+", default=list(SETS), choices=SETS)
    ap.add_argument("--scorers", nargs="+", default=["default", "clip"], choices=["default", "clip"])
    ap.add_argument("--ks", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--quick", action="store_true",
                    help="a smoke test: one short video per generated set; prints the table, writes no record")
    ap.add_argument("--clip-weights", default=None, help="real CLIP weights (local folder) for the clip rows")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args(argv)

    work = WORK / "policy_table"
    rows, what = run(args.sets, args.scorers, args.ks, work, quick=args.quick, clip_weights=args.clip_weights)
    notes = NOTES.format(mean=MEAN_SET, gate=GATE_COL, what=what)
    if args.clip_weights:
        notes = notes.replace("is the tiny random test checkpoint", f"ran with the weights in `{args.clip_weights}`")
    if "compositions" in args.sets and not any(r["set"].startswith("compositions") for r in rows):
        notes += "\nThe compositions set is not in this run: testkit/compositions.py was not found.\n"
    title = "Policy table: hit@k per policy, scorer, evaluation set and question type" + (" (quick)" if args.quick else "")
    # a smoke test prints its table but writes no record (the committed record is the full run's)
    record(title, rows=rows, notes=notes, name=RECORD, write=not (args.no_record or args.quick))


if __name__ == "__main__":
    main()
