"""Selections of a fixed set of videos and questions, to show a refactor changed no behaviour.

Generates held-out synthetic videos (fixed seeds, the held-out phrasing of the questions), indexes each with
the embedded default scorer in several configurations (subtitles, no ASR, OCR, int8 / binary compressed
indexes) and records, for every question and every registered policy at k = 8, the picked candidate indices
and their scores rounded to 5 decimals. Only the public API is used (FrameSelector, select), so the same
script runs before and after a change of the library's layout.

    python -m benchmarks.selection_identity --out benchmarks/results/selection_identity_before.json
    python -m benchmarks.selection_identity --compare benchmarks/results/selection_identity_before.json

``--compare`` writes the record ``selection-identity`` (per configuration: selections compared, identical,
different) unless ``--no-record``; the raw selections file it compares with is not a record.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

POLICIES = ("topk", "nms", "adaptive", "inverse-transform", "hybrid", "uniform", "gated", "aks", "bolt",
            "coverage")
CONFIGS = {
    # name -> (FrameSelector kwargs, select kwargs)
    "subtitles": ({}, {"use_subtitles": True}),
    "no-asr": ({"asr": "none"}, {"use_subtitles": False}),
    "ocr": ({"ocr": True}, {"use_subtitles": True}),
    "int8": ({"compression": "int8"}, {"use_subtitles": True}),
    "binary": ({"compression": "binary"}, {"use_subtitles": True}),
}
VIDEOS = ({"seed": 701, "duration": 120.0}, {"seed": 702, "duration": 180.0, "motion": "pan"})


def run(work: Path) -> dict:
    from clamr_frames import FrameSelector
    from clamr_frames.synth import generate_video

    videos = [generate_video(work / "videos", phrasing=1, **spec) for spec in VIDEOS]
    out: dict = {}
    for cname, (sel_kwargs, how) in CONFIGS.items():
        selector = FrameSelector.from_pretrained("default", ocr=False, index_dir=work / f"index-{cname}", progress=False,
                                                 **sel_kwargs)
        for v in videos:
            subs = v.srt_path if how["use_subtitles"] else None
            for q in v.questions:
                for policy in POLICIES:
                    sel = selector.select(v.video_path, q["question"], k=8, subtitles=subs, policy=policy)
                    key = f"{cname}|{v.video_id}|{q['question_id']}|{policy}"
                    out[key] = {"indices": [int(i) for i in sel.indices],
                                "scores": [round(float(s), 5) for s in sel.scores]}
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, help="write the selections here (JSON)")
    ap.add_argument("--compare", type=Path, help="compare with selections recorded earlier")
    ap.add_argument("--no-record", action="store_true", help="with --compare: print only, write no record")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    with tempfile.TemporaryDirectory() as tmp:
        got = run(Path(tmp))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        tmp_out = args.out.with_name(args.out.name + ".tmp")
        tmp_out.write_text(json.dumps(got, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        os.replace(tmp_out, args.out)
        print(f"wrote {len(got)} selections to {args.out}")
    if args.compare:
        want = json.loads(args.compare.read_text(encoding="utf-8"))
        differ = sorted(k for k in set(want) | set(got) if want.get(k) != got.get(k))
        print(f"{len(want)} recorded, {len(got)} now, {len(differ)} differ")
        for k in differ[:20]:
            print(f"  {k}: recorded {want.get(k)} now {got.get(k)}")
        if not args.no_record:
            from benchmarks.records import write_record

            rows = []
            for cname in CONFIGS:
                keys = sorted(k for k in set(want) | set(got) if k.startswith(cname + "|"))
                same = sum(1 for k in keys if want.get(k) == got.get(k))
                rows.append({"configuration": cname, "selections": len(keys), "identical": same,
                             "different": len(keys) - same})
            path = write_record(
                "selection-identity", rows, title="Selections before and after the layout redesign",
                notes=(f"Every registered policy at k = 8 on the questions of {len(VIDEOS)} held-out synthetic "
                       f"videos (seeds {', '.join(str(v['seed']) for v in VIDEOS)}, held-out phrasing), default "
                       f"scorer; picked candidate indices and their scores (5 decimals) compared with "
                       f"`{args.compare.as_posix()}`, recorded by this script on the code before the redesign."),
            )
            print(f"recorded {path}")
        return 1 if differ else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
