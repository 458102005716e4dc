"""``clamr-frames select``: pick k frames of a video for a question, or for every question of a JSONL file."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from clamr_frames.cli.common import EXIT_BAD_INPUT, fmt_time, make_selector, short, usage


def cmd_select(args: argparse.Namespace) -> int:
    """pick k frames of a video for a question (or for every question of a JSONL file)

    Pick k frames of VIDEO for QUESTION. With --questions FILE.jsonl, answer every question of the file in one
    call (the model and each video's index load once) and print one JSON line per question, in file order. Rows:
    {"question": ..., "options": [...], "k": 8, "video": ..., "subtitles": ..., "id": ...}, only question
    required; VIDEO (and --subtitles, -k) are the defaults for rows without their own. A malformed row stops the
    run before any work, listing every bad line as file:line; a row that fails on its video (k more than its
    candidate frames, an unreadable file) gets an "error" record and the others are answered (exit 2).
    """
    if args.questions:
        return select_questions(args)
    if args.video is None or args.question is None:
        raise usage("give VIDEO and QUESTION, or --questions FILE.jsonl")
    selector = make_selector(args)
    sel = selector.select(
        args.video,
        args.question,
        k=args.k,
        subtitles=args.subtitles,
        options=args.options or None,
        policy=args.policy,
        seed=args.seed,
    )
    if args.plot:
        from clamr_frames.plot import plot_timeline

        plot_timeline(sel, args.plot)
    if args.html:
        write_html(selector, sel, Path(args.html), args.subtitles, args.options or None, args)
    if args.save_frames:
        out = Path(args.save_frames)
        out.mkdir(parents=True, exist_ok=True)
        for t, img in zip(sel.timestamps, sel.pil_images()):
            img.save(out / f"frame_{t:010.3f}.jpg")
    if args.json:
        print(json.dumps(sel.to_dict(), indent=1))
        return 0
    ocr = "with OCR" if selector.use_ocr else "without OCR"
    print(f"{len(sel.indices)} of {len(sel.all_scores)} candidates (policy {sel.policy}, {ocr}) for: {sel.question}")
    for e in sel.explain():
        ctx = e["ocr"] or e["asr"]
        why = ", ".join(f"{m}: {' '.join(toks[:6])}" for m, toks in e["matched"].items()) if e["matched"] else ""
        print(f"  {fmt_time(e['timestamp'])}  score {e['score']:8.3f}  {short(ctx, 50)}  [{why}]")
    if args.plot:
        print(f"timeline plot: {args.plot}")
    if args.html:
        print(f"report: {args.html}")
    return 0


def write_html(selector: Any, sel: Any, path: Path, subtitles: Any, options: list[str] | None,
                args: argparse.Namespace, **meta: Any) -> Path:
    """``select --html``: the selection's report, with the transcript and the per-modality scores."""
    from clamr_frames.report.live import selection_extras

    extras = selection_extras(selector, sel, subtitles=subtitles, options=options)
    meta = {"scorer": args.scorer, "k": len(sel.indices), "policy": sel.policy, "ocr": bool(selector.use_ocr), **meta}
    return sel.to_html(path, options=options, meta=meta, **extras)


def select_questions(args: argparse.Namespace) -> int:
    """``select [VIDEO] --questions FILE.jsonl``: one JSON line per question (see ``clamr_frames.questions``)."""
    from clamr_frames.questions import QuestionsError, read_questions, select_rows

    if args.question is not None:
        raise usage("give QUESTION or --questions, not both")
    for flag, value in (("--plot", args.plot), ("--save-frames", args.save_frames), ("--options", args.options)):
        if value:
            raise usage(f"{flag} goes with a single question (rows of --questions carry their own options)")
    try:  # every row is checked before a model loads
        rows = read_questions(args.questions, video=args.video, subtitles=args.subtitles, k=args.k)
    except QuestionsError as e:
        for problem in e.problems:
            print(f"clamr-frames select: error: {problem}", file=sys.stderr)
        print(f"clamr-frames select: {len(e.problems)} bad line(s) in {args.questions}; nothing was run",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    selector = make_selector(args)
    failed = 0
    pages: list[dict[str, Any]] = []
    for n, result in enumerate(select_rows(selector, rows, policy=args.policy, seed=args.seed)):
        print(json.dumps(result.to_dict()), flush=True)
        if result.error is not None:
            failed += 1
            print(f"clamr-frames select: error: {result.error}", file=sys.stderr)
        elif args.html:
            pages.append(question_page(selector, result, Path(args.html), n, args))
    if args.html:
        from clamr_frames.report import write_index
        from clamr_frames.report.view import INDEX_COLUMNS

        index = write_index(Path(args.html) / "index.html", pages, columns=INDEX_COLUMNS,
                            title=f"clamr-frames: {Path(args.questions).name}", source=str(args.questions))
        print(f"report: {index} ({len(pages)} pages)", file=sys.stderr)
    if failed:
        print(f"clamr-frames select: {failed} of {len(rows)} questions failed (the others were answered)",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    return 0


def question_page(selector: Any, result: Any, out: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One page of ``select --questions F --html DIR``; returns its row of the index page."""
    from clamr_frames.report import index_row
    from clamr_frames.report.view import page_name

    row, sel = result.row, result.selection
    name = page_name(n, row.id)
    meta = {"index_href": "index.html", **({"question_id": row.id} if row.id is not None else {})}
    write_html(selector, sel, out / name, row.subtitles, list(row.options) or None, args, **meta)
    return index_row({"question": sel.question, "video": {"name": Path(sel.video).name},
                      "picked": [{"timestamp": float(t), "score": float(s)} for t, s in zip(sel.timestamps, sel.scores)],
                      "candidates": {"timestamps": sel.all_timestamps.tolist()},
                      "meta": {"policy": sel.policy, "asr_source": sel.asr_source}}, name, id=row.id)
