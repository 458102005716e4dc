"""Command line: ``clamr-frames {inspect,index,select,view,serve,transcribe,demo,train}``.

The only place that turns library exceptions into messages and exit codes:
0 success, 1 unexpected internal error, 2 bad input (unreadable video, bad arguments, ...).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Any

from clamr_frames import __version__
from clamr_frames.errors import ClamrFramesError

EXIT_BAD_INPUT = 2


def _fmt_time(t: float) -> str:
    m, s = divmod(float(t), 60.0)
    h, m = divmod(int(m), 60)
    return f"{h:d}:{m:02d}:{s:05.2f}"


def _short(text: str, n: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= n else text[: n - 1] + "…"


# -- inspect ---------------------------------------------------------------------------------------
def cmd_inspect(args: argparse.Namespace) -> int:
    from clamr_frames.context.subtitles import asr_contexts, load_subtitles
    from clamr_frames.video import VideoReader

    with VideoReader(args.video, backend=args.backend) as reader:
        meta = reader.metadata
        idx, ts = reader.candidate_indices(fps=args.fps, num_frames=args.num_frames)
    subs = load_subtitles(args.subtitles) if args.subtitles else None
    asr = _inspect_asr(args, meta.has_audio)
    cues = list(subs.cues) if subs else list(asr.pop("_cues", None) or [])
    ctx = asr_contexts(cues, ts, before=args.window, after=args.window) if cues else [""] * len(ts)
    if args.json:
        print(
            json.dumps(
                {
                    "metadata": meta.__dict__,
                    "asr": asr,
                    "subtitles": None
                    if subs is None
                    else {"path": subs.path, "cues": len(subs.cues), "skipped": subs.skipped, "encoding": subs.encoding},
                    "candidates": [
                        {"frame_index": int(i), "timestamp": float(t), "asr": c} for i, t, c in zip(idx, ts, ctx)
                    ],
                },
                indent=1,
            )
        )
        return 0
    print(f"file        {meta.path}")
    print(f"backend     {meta.backend}   codec {meta.codec}")
    print(f"duration    {meta.duration:.3f} s ({_fmt_time(meta.duration)})")
    print(f"frames      {meta.num_frames}   native fps {meta.fps:.3f}")
    print(f"size        {meta.width}x{meta.height}   audio {'yes' if meta.has_audio else 'no'}")
    if subs is not None:
        print(f"subtitles   {subs.path}: {len(subs.cues)} cues ({subs.encoding}), {subs.skipped} malformed skipped")
    print(f"asr         {asr['source']}: {asr['detail']}")
    print(f"candidates  {len(ts)}")
    limit = len(ts) if args.all else min(len(ts), 20)
    for i in range(limit):
        print(f"  {_fmt_time(ts[i])}  frame {int(idx[i]):>7d}  {_short(ctx[i]) if ctx[i] else ''}")
    if limit < len(ts):
        print(f"  ... {len(ts) - limit} more (use --all)")
    return 0


def _inspect_asr(args: argparse.Namespace, has_audio: bool) -> dict[str, Any]:
    """Which ASR source ``select``/``index`` would give this video with these arguments (nothing is transcribed;
    a transcript already in the cache is shown)."""
    from clamr_frames.context.asr import asr_available, get_transcriber, resolve_asr_source

    settings = _asr_settings(args)
    source, notice = resolve_asr_source(args.asr, has_subtitles=bool(args.subtitles), has_audio=has_audio,
                                        available=asr_available(settings.model))
    out: dict[str, Any] = {"mode": args.asr, "source": source, "detail": notice or ""}
    if source == "subtitles":
        out["detail"] = f"the subtitle file {args.subtitles}"
    elif source == "whisper":
        from clamr_frames._fs import video_fingerprint

        transcriber = get_transcriber(settings)
        state = _transcript_cache(args).load(video_fingerprint(args.video), transcriber.cache_key())
        out["model"] = transcriber.model_id
        if state is not None and state.complete:
            out["detail"] = f"speech recognised by {settings.model}: {len(state.cues)} cues (cached)"
            out["_cues"] = state.cues
        else:
            out["detail"] = (f"speech of the audio track, recognised by {settings.model} on the first index "
                             f"(not transcribed yet; `clamr-frames transcribe {args.video}` shows it)")
    return out


def _transcript_cache(args: argparse.Namespace):
    """The transcript cache ``select``/``index`` use for ``--index-dir`` (the context plan names its place)."""
    from clamr_frames._fs import default_cache_dir
    from clamr_frames.index.plan import transcript_cache

    return transcript_cache(args.index_dir or default_cache_dir())


# -- transcribe ------------------------------------------------------------------------------------
def cmd_transcribe(args: argparse.Namespace) -> int:
    from clamr_frames.context.asr import WhisperTranscriber, cached_transcribe

    settings = _asr_settings(args)
    transcriber = WhisperTranscriber(settings)
    if args.no_cache:
        tr = transcriber.transcribe(args.video, progress=not args.quiet)
    else:
        tr = cached_transcribe(args.video, settings, cache=_transcript_cache(args), transcriber=transcriber, progress=not args.quiet)
    if not tr.has_audio:
        raise _usage(f"{args.video}: no audio stream to transcribe")
    if args.output:
        where = tr.write(args.output)
    else:
        sys.stdout.write(tr.to_srt())
        where = "stdout"
    lang = f", language {tr.language}" if tr.language else ""
    print(f"{args.video}: {tr.duration:.0f} s of audio, {tr.speech_seconds:.0f} s of speech{lang}: "
          f"{len(tr.cues)} cues -> {where}", file=sys.stderr)
    return 0


# -- index / select --------------------------------------------------------------------------------
def _asr_settings(args: argparse.Namespace):
    from clamr_frames.context.asr import AsrSettings

    return AsrSettings(model=args.asr_model, device=args.asr_device, compute_type=args.asr_compute_type,
                       language=args.asr_language, workers=args.asr_workers)


def _encoder_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """What the scorer flags say about the weights: where they are, and which Hub revisions."""
    kw: dict[str, Any] = {"weights": args.weights, "audio_weights": args.audio_weights}
    for name in ("base_model", "revision", "base_revision", "audio_revision"):
        if getattr(args, name, None):
            kw[name] = getattr(args, name)
    return kw


def _selector(args: argparse.Namespace):
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.selector import FrameSelector

    settings = IndexSettings(fps=args.fps, num_frames=args.num_frames, backend=args.backend,
                             compression=getattr(args, "compression", None))
    return FrameSelector.from_pretrained(
        args.scorer,
        device=args.device,
        encoder_kwargs=_encoder_kwargs(args),
        settings=settings,
        index_dir=args.index_dir,
        ocr=args.ocr,
        aggregation=args.aggregation,
        progress=not args.quiet,
        asr=args.asr,
        asr_settings=_asr_settings(args),
    )


def cmd_index(args: argparse.Namespace) -> int:
    from clamr_frames.index.builder import IndexSettings
    from clamr_frames.index.corpus import jobs_from_paths, read_manifest

    if bool(args.videos) == bool(args.manifest):
        raise _usage("give VIDEO paths or --manifest FILE (one of the two)")
    if args.manifest and args.subtitles:
        raise _usage("--subtitles goes with VIDEO paths; a manifest has a 'subtitles' column")
    if args.subtitles and len(args.subtitles) != len(args.videos):
        raise _usage(f"--subtitles was given {len(args.subtitles)} times for {len(args.videos)} videos")
    if args.ray is None and args.workers is not None:
        raise _usage("--workers needs --ray")
    if args.ray is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        warnings.warn("each process of this torchrun / accelerate launch indexes every video (one at a time per "
                      "index, through the store's lock); to spread a corpus over GPUs use --ray", stacklevel=1)
    jobs = read_manifest(args.manifest) if args.manifest else jobs_from_paths(args.videos, args.subtitles)
    settings = IndexSettings(fps=args.fps, num_frames=args.num_frames, backend=args.backend,
                             compression=args.compression)
    encoder_kwargs = _encoder_kwargs(args)
    if args.ray is not None:
        from clamr_frames.index.distributed import index_corpus

        report = index_corpus(jobs, scorer=args.scorer, encoder_kwargs=encoder_kwargs, device=args.device,
                              settings=settings, ocr=args.ocr, asr=args.asr, asr_settings=_asr_settings(args),
                              cache_dir=args.index_dir,
                              address=None if args.ray == "local" else args.ray, workers=args.workers,
                              progress=not args.quiet)
    else:
        from clamr_frames.encoders.registry import load_encoder
        from clamr_frames.index.corpus import index_locally
        from clamr_frames.index.store import IndexStore

        encoder = load_encoder(args.scorer, device=args.device, progress=not args.quiet, **encoder_kwargs)
        report = index_locally(jobs, encoder, settings=settings, ocr=args.ocr,
                               store=IndexStore(args.index_dir) if args.index_dir else IndexStore(),
                               progress=not args.quiet, asr=args.asr, asr_settings=_asr_settings(args))
    if args.json:  # one line per video, in the order given; the summary is not data
        order = {job.name: i for i, job in enumerate(jobs)}
        records = [{"status": status, **e} for status, entries in
                   (("indexed", report.indexed), ("skipped", report.skipped), ("failed", report.failed)) for e in entries]
        for rec in sorted(records, key=lambda r: order.get(r["video"], len(order))):
            print(json.dumps(rec), flush=True)
        print(report.summary(), file=sys.stderr)
    else:
        for e in report.indexed + report.skipped:
            how = f"{e['frames_encoded']} frames encoded" if "frames_encoded" in e else "already indexed"
            print(f"{e['video']}: {e['candidates']} candidates ({how}) in {e['index']}")
        for e in report.failed:
            print(f"{e['video']}: failed: {e['reason']}", file=sys.stderr)
        print(report.summary())
    if args.report:
        print(f"report: {report.write(args.report)}")
    return EXIT_BAD_INPUT if report.failed else 0


def cmd_select(args: argparse.Namespace) -> int:
    if args.questions:
        return _select_questions(args)
    if args.video is None or args.question is None:
        raise _usage("give VIDEO and QUESTION, or --questions FILE.jsonl")
    selector = _selector(args)
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
        _write_html(selector, sel, Path(args.html), args.subtitles, args.options or None, args)
    if args.save_frames:
        out = Path(args.save_frames)
        out.mkdir(parents=True, exist_ok=True)
        for t, img in zip(sel.timestamps, sel.pil_images()):
            img.save(out / f"frame_{t:010.3f}.jpg")
    if args.json:
        print(json.dumps(sel.to_dict(), indent=1))
        return 0
    print(f"{len(sel.indices)} of {len(sel.all_scores)} candidates for: {sel.question}")
    for e in sel.explain():
        ctx = e["ocr"] or e["asr"]
        why = ", ".join(f"{m}: {' '.join(toks[:6])}" for m, toks in e["matched"].items()) if e["matched"] else ""
        print(f"  {_fmt_time(e['timestamp'])}  score {e['score']:8.3f}  {_short(ctx, 50)}  [{why}]")
    if args.plot:
        print(f"timeline plot: {args.plot}")
    if args.html:
        print(f"report: {args.html}")
    return 0


def _write_html(selector: Any, sel: Any, path: Path, subtitles: Any, options: list[str] | None,
                args: argparse.Namespace, **meta: Any) -> Path:
    """``select --html``: the selection's report, with the transcript and the per-modality scores."""
    from clamr_frames.report.live import selection_extras

    extras = selection_extras(selector, sel, subtitles=subtitles, options=options)
    meta = {"scorer": args.scorer, "k": len(sel.indices), "ocr": bool(args.ocr), **meta}
    return sel.to_html(path, options=options, meta=meta, **extras)


def _select_questions(args: argparse.Namespace) -> int:
    """``select [VIDEO] --questions FILE.jsonl``: one JSON line per question (see ``clamr_frames.questions``)."""
    from clamr_frames.questions import QuestionsError, read_questions, select_rows

    if args.question is not None:
        raise _usage("give QUESTION or --questions, not both")
    for flag, value in (("--plot", args.plot), ("--save-frames", args.save_frames), ("--options", args.options)):
        if value:
            raise _usage(f"{flag} goes with a single question (rows of --questions carry their own options)")
    try:  # every row is checked before a model loads
        rows = read_questions(args.questions, video=args.video, subtitles=args.subtitles, k=args.k)
    except QuestionsError as e:
        for problem in e.problems:
            print(f"clamr-frames select: error: {problem}", file=sys.stderr)
        print(f"clamr-frames select: {len(e.problems)} bad line(s) in {args.questions}; nothing was run",
              file=sys.stderr)
        return EXIT_BAD_INPUT
    selector = _selector(args)
    failed = 0
    pages: list[dict[str, Any]] = []
    for n, result in enumerate(select_rows(selector, rows, policy=args.policy, seed=args.seed)):
        print(json.dumps(result.to_dict()), flush=True)
        if result.error is not None:
            failed += 1
            print(f"clamr-frames select: error: {result.error}", file=sys.stderr)
        elif args.html:
            pages.append(_question_page(selector, result, Path(args.html), n, args))
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


def _question_page(selector: Any, result: Any, out: Path, n: int, args: argparse.Namespace) -> dict[str, Any]:
    """One page of ``select --questions F --html DIR``; returns its row of the index page."""
    from clamr_frames.report import index_row
    from clamr_frames.report.view import page_name

    row, sel = result.row, result.selection
    name = page_name(n, row.id)
    meta = {"index_href": "index.html", **({"question_id": row.id} if row.id is not None else {})}
    _write_html(selector, sel, out / name, row.subtitles, list(row.options) or None, args, **meta)
    return index_row({"question": sel.question, "video": {"name": Path(sel.video).name},
                      "picked": [{"timestamp": float(t), "score": float(s)} for t, s in zip(sel.timestamps, sel.scores)],
                      "candidates": {"timestamps": sel.all_timestamps.tolist()},
                      "meta": {"policy": sel.policy, "asr_source": sel.asr_source}}, name, id=row.id)


# -- view / serve ----------------------------------------------------------------------------------
def cmd_view(args: argparse.Namespace) -> int:
    from clamr_frames.report.view import render_selections

    result = render_selections(args.selections, args.output, index_dir=args.index_dir, thumbnails=not args.no_thumbnails,
                               progress=not args.quiet)
    print(f"{result.pages} pages, index: {result.index} ({result.seconds:.1f} s)")
    for problem in result.problems:
        print(f"warning: {problem}", file=sys.stderr)
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from clamr_frames.report.app import LOCAL_HOSTS, serve
    from clamr_frames.select import POLICIES
    from clamr_frames.selector import SCORERS, FrameSelector

    def make_selector(scorer: str) -> Any:
        return FrameSelector.from_pretrained(scorer, index_dir=args.index_dir, ocr=args.ocr, asr=args.asr,
                                             progress=False)

    if args.host not in LOCAL_HOSTS:
        print(f"warning: serving on {args.host}: anyone who can reach this address can read the videos of "
              f"{args.folder} and run selections; use the default 127.0.0.1 unless you mean it", file=sys.stderr)
    print(f"clamr-frames serve: http://{args.host}:{args.port}/ (folder {args.folder}; Ctrl-C stops)", file=sys.stderr)
    serve(args.folder, make_selector, host=args.host, port=args.port, scorers=SCORERS, policies=sorted(POLICIES))
    return 0


# -- demo ------------------------------------------------------------------------------------------
def cmd_demo(args: argparse.Namespace) -> int:
    from clamr_frames.demo import run_demo

    return run_demo(
        out_dir=Path(args.out),
        minutes=args.minutes,
        k=args.k,
        seed=args.seed,
        policy=args.policy,
        ocr=args.ocr,
        speech=args.speech,
        use_subtitles=args.use_subtitles,
    )


# -- train -----------------------------------------------------------------------------------------
def cmd_train(args: argparse.Namespace) -> int:
    from clamr_frames.train import train

    result = train(args.config, progress=not args.quiet, log_stdout=not args.quiet)
    if int(os.environ.get("RANK", "0")) != 0:  # accelerate launch: one summary, from the main process
        return 0
    if result.stopped:
        print(f"stopped after step {result.global_step} (train.stop_after_steps); run the same command again "
              f"to resume from {result.output_dir / 'checkpoints'}")
        return 0
    print(f"trained {result.global_step} steps; model: {result.final_dir}")
    if result.evals:
        last = result.evals[-1]
        hits = [k for k in last if k.startswith("hit@") and "/" not in k]
        shown = "  ".join(f"{k} {last[k]:.3f}" for k in hits)
        if len(result.evals) > 1 and result.evals[0].get("tag") == "before":
            first = result.evals[0]
            shown = "  ".join(f"{k} {first[k]:.3f} -> {last[k]:.3f}" for k in hits)
        print(f"held-out ({int(last.get('queries', 0))} queries): {shown}")
    print(f"log: {result.output_dir / 'log.jsonl'}")
    return 0


# -- parser ----------------------------------------------------------------------------------------
class _UsageError(ClamrFramesError):
    pass


def _usage(msg: str) -> _UsageError:
    return _UsageError(msg)


class _DeprecatedAlias(argparse.Action):
    """An old option name that still works, with a warning naming the new one."""

    def __init__(self, *args: Any, new: str, **kwargs: Any) -> None:
        self.new = new
        super().__init__(*args, **kwargs)

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        print(f"warning: {option_string} is deprecated, use {self.new}", file=sys.stderr)
        setattr(namespace, self.dest, values)


def _add_sampling(p: argparse.ArgumentParser) -> None:
    p.add_argument("--fps", type=float, default=1.0, help="candidate frames per second (default 1.0)")
    p.add_argument("--num-frames", type=int, default=None, help="take N evenly spaced candidates instead of --fps")
    p.add_argument("--backend", choices=["auto", "decord", "pyav"], default="auto", help="video decoding backend")


def _add_index_dir(p: argparse.ArgumentParser, help: str) -> None:
    """``--index-dir`` and its deprecated old name ``--cache-dir`` (every subcommand that takes one)."""
    p.add_argument("--index-dir", default=None, help=help)
    p.add_argument("--cache-dir", dest="index_dir", action=_DeprecatedAlias, new="--index-dir", help=argparse.SUPPRESS)


def _add_compression(p: argparse.ArgumentParser) -> None:
    """``--compression`` of the index settings (the same option for ``index`` and ``select``)."""
    p.add_argument("--compression", default=None,
                   help="index compression: none | int8 | binary | pool[N] | pool[N]+int8 | pool[N]+binary")


def _add_scorer(p: argparse.ArgumentParser) -> None:
    from clamr_frames.encoders.registry import SCORERS

    p.add_argument(
        "--scorer", default="default",
        help=f"{' | '.join(SCORERS)} | a local scorer folder (a trained run, a CLaMR adapter or saved model) | "
             "a CLaMR hub id",
    )
    p.add_argument("--weights", default=None, metavar="PATH",
                   help="the scorer's weights (local directory or hub id) instead of its published default")
    p.add_argument("--audio-weights", default=None, metavar="PATH", help="LanguageBind audio checkpoint (languagebind-va)")
    p.add_argument("--base-model", default=None, metavar="PATH", help="CLaMR backbone (Qwen2.5-VL-3B-Instruct) path")
    p.add_argument("--revision", default=None,
                   help="Hub branch, tag or commit of the scorer's weights (recorded in the index manifest)")
    p.add_argument("--base-revision", default=None, help="Hub revision of the CLaMR backbone")
    p.add_argument("--audio-revision", default=None, help="Hub revision of the LanguageBind audio checkpoint")
    p.add_argument("--device", default=None, help="torch device (default: cuda if available)")
    _add_index_dir(p, "where the indexes live (default: $CLAMR_FRAMES_CACHE or the user cache directory)")
    p.add_argument("--ocr", action="store_true", help="add OCR context (needs the 'ocr' extra)")
    p.add_argument("--aggregation", choices=["token_max", "modality_max"], default="token_max")
    p.add_argument("--quiet", action="store_true", help="no progress bars (model downloads included)")
    _add_asr(p)


def _add_asr(p: argparse.ArgumentParser, *, mode: bool = True) -> None:
    from clamr_frames.context.asr import ASR_MODES, BUNDLED_MODEL

    if mode:
        p.add_argument("--asr", choices=ASR_MODES, default="auto",
                       help="ASR context: auto (the subtitle file if given, else speech recognised from the audio "
                            "track, else none), subtitles, whisper, or none (default auto)")
    p.add_argument("--asr-model", default=BUNDLED_MODEL, metavar="NAME",
                   help=f"speech model: {BUNDLED_MODEL} (bundled, offline), a faster-whisper name (small, large-v3, "
                        "distil-large-v3), a hub id, or a local CTranslate2 directory")
    p.add_argument("--asr-device", choices=["auto", "cpu", "cuda"], default="auto", help="speech model device")
    p.add_argument("--asr-compute-type", default="auto", help="CTranslate2 compute type (default: int8 on CPU, float16 on CUDA)")
    p.add_argument("--asr-language", default=None, help="spoken language code (default: detected by multilingual models)")
    p.add_argument("--asr-workers", type=int, default=0, metavar="N",
                   help="audio blocks transcribed at once (default: one per core on CPU, at most 4; 1 on CUDA)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clamr-frames",
        description="Pick the frames of a long video that a video-QA model should look at.",
    )
    parser.add_argument("--version", action="version", version=f"clamr-frames {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("inspect", help="video metadata and candidate timestamps with their subtitle context")
    p.add_argument("video")
    p.add_argument("--subtitles", default=None, help=".srt / .vtt / LongVideoBench .json")
    p.add_argument("--window", type=float, default=3.0, help="seconds of subtitles before/after each candidate")
    p.add_argument("--all", action="store_true", help="list every candidate, not the first 20")
    p.add_argument("--json", action="store_true")
    _add_index_dir(p, "where indexes and transcripts live (a cached transcript is shown)")
    _add_sampling(p)
    _add_asr(p)
    p.set_defaults(func=cmd_inspect)

    p = sub.add_parser(
        "index", help="encode the candidate frames of videos into the on-disk index (one machine, or Ray)",
        description="Index videos ahead of time: VIDEO paths (or URIs), or a CSV / JSONL manifest with the "
                    "columns video, subtitles, options. With --ray the corpus runs as a Ray Data pipeline "
                    "(decode and context on CPU tasks, the encoder on an actor pool, one actor per GPU); "
                    "re-running resumes. Exit code 2 when any video failed (each is listed with its reason).",
    )
    p.add_argument("videos", nargs="*", metavar="VIDEO")
    p.add_argument("--manifest", default=None, metavar="FILE", help="CSV / JSONL list of videos (instead of VIDEO...)")
    p.add_argument("--subtitles", action="append", default=None, help="one per video, in order")
    p.add_argument("--ray", nargs="?", const="local", default=None, metavar="ADDRESS",
                   help="run on Ray: a cluster address ('auto', 'ray://head:10001'); without one a local cluster "
                        "(needs the 'distributed' extra)")
    p.add_argument("--workers", type=int, default=None,
                   help="with --ray: encoder actors (default: one per GPU; without GPUs, half the CPUs)")
    p.add_argument("--report", default=None, metavar="JSON",
                   help="write the corpus report (indexed, skipped, failed with reasons, frames/s per stage)")
    p.add_argument("--json", action="store_true",
                   help="one JSON line per video on stdout (status indexed | skipped | failed, index, candidates, "
                        "frames_encoded or reason); the summary goes to stderr")
    _add_compression(p)
    _add_sampling(p)
    _add_scorer(p)
    p.set_defaults(func=cmd_index)

    p = sub.add_parser(
        "select", help="pick k frames of a video for a question (or for every question of a JSONL file)",
        description="Pick k frames of VIDEO for QUESTION. With --questions FILE.jsonl, answer every question of "
                    "the file in one call (the model and each video's index load once) and print one JSON line per "
                    "question, in file order. Rows: {\"question\": ..., \"options\": [...], \"k\": 8, \"video\": ..., "
                    "\"subtitles\": ..., \"id\": ...}, only question required; VIDEO (and --subtitles, -k) are the "
                    "defaults for rows without their own. A malformed row stops the run before any work, listing "
                    "every bad line as file:line; a row that fails on its video (k more than its candidate "
                    "frames, an unreadable file) gets an \"error\" record and the others are answered (exit 2).",
    )
    p.add_argument("video", nargs="?", default=None, help="the video (optional with --questions)")
    p.add_argument("question", nargs="?", default=None)
    p.add_argument("--questions", default=None, metavar="FILE.jsonl", help="answer every question of this file")
    p.add_argument("-k", type=int, default=16)
    p.add_argument("--subtitles", default=None)
    p.add_argument("--options", nargs="*", default=None, help="multiple-choice options to add to the query")
    p.add_argument("--policy", default="topk",
                   help="topk | nms | adaptive | aks | inverse-transform | bolt | hybrid | uniform | gated | coverage")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    p.add_argument("--plot", default=None, metavar="PNG", help="write a score timeline plot")
    p.add_argument("--html", default=None, metavar="PATH",
                   help="write a self-contained HTML report (player, score timeline, picked frames with their matched "
                        "words, transcript); with --questions a folder: one page per question and index.html")
    p.add_argument("--save-frames", default=None, metavar="DIR", help="write the picked frames as JPEG")
    _add_sampling(p)
    _add_compression(p)
    _add_scorer(p)
    p.set_defaults(func=cmd_select)

    p = sub.add_parser(
        "view", help="HTML reports of a selections file: one page per question and a sortable index",
        description="Render a selections file (clamr-frames/selections JSONL, or log_selections rows) into a folder: "
                    "one self-contained page per question (thumbnails decoded from the video, candidates' context "
                    "from its stored index when there is one) and index.html, a table sortable by task, video, "
                    "correctness, ASR source and share of picks inside the ground-truth window, with a wrong-answers "
                    "filter.",
    )
    p.add_argument("selections", metavar="SELECTIONS.jsonl")
    p.add_argument("-o", "--output", default="report", metavar="DIR", help="output folder (default: report/)")
    _add_index_dir(p, "where the indexes live (default: $CLAMR_FRAMES_CACHE or the user cache directory)")
    p.add_argument("--no-thumbnails", action="store_true", help="do not decode the picked frames from the videos")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_view)

    p = sub.add_parser(
        "serve", help="a local web app: index the videos of a folder, ask questions, see the report live",
        description="Serve FOLDER's videos in a local web app (needs the 'ui' extra: pip install 'clamr-frames[ui]'). "
                    "Binds 127.0.0.1 unless --host says otherwise; paths outside FOLDER are refused.",
    )
    p.add_argument("folder", nargs="?", default=".", help="folder of videos (default: the current folder)")
    p.add_argument("--host", default="127.0.0.1",
                   help="address to bind (default 127.0.0.1; any other address exposes the folder to the network)")
    p.add_argument("--port", type=int, default=8765)
    _add_index_dir(p, "where the indexes live")
    p.add_argument("--ocr", action="store_true", help="add OCR context when indexing (needs the 'ocr' extra)")
    p.add_argument("--asr", default="auto", help="ASR context: auto (a subtitle file beside the video, else speech "
                                                  "recognised from the audio track), subtitles, whisper, none")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("transcribe", help="recognise the speech of a video's audio track (cached) and write it",
                       description="Transcribe the audio track with Whisper (tiny.en bundled, offline) into timed "
                                   "cues, the ASR context `select` uses when a video has no subtitle file.")
    p.add_argument("video")
    p.add_argument("-o", "--output", default=None, metavar="FILE",
                   help="write .srt, .vtt or .json (by the suffix); default: SRT on stdout")
    _add_index_dir(p, "where indexes and transcripts (<index-dir>/asr) live (default: $CLAMR_FRAMES_CACHE or the "
                      "user cache directory)")
    p.add_argument("--no-cache", action="store_true", help="transcribe again and do not store the result")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_asr(p, mode=False)
    p.set_defaults(func=cmd_transcribe)

    p = sub.add_parser("demo", help="generate a video with needles, select frames offline, report hits")
    p.add_argument("--out", default="demo_out", help="output directory (video, subtitles, plot)")
    p.add_argument("--minutes", type=float, default=5.0)
    p.add_argument("-k", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--policy", default="topk")
    p.add_argument("--ocr", action=argparse.BooleanOptionalAction, default=None,
                   help="read the on-screen signs with OCR (default: on when the 'ocr' extra is installed)")
    p.add_argument("--speech", action=argparse.BooleanOptionalAction, default=None,
                   help="speak the needles and a narration into the audio track (default: on when espeak-ng is "
                        "available, the 'synth' extra)")
    p.add_argument("--use-subtitles", action="store_true",
                   help="give the selector the subtitle file instead of recognising the speech")
    p.set_defaults(func=cmd_demo)

    p = sub.add_parser(
        "train", help="train a frame retriever from a YAML config (run under `accelerate launch` for many GPUs)",
        description="Train a frame retriever (CLaMR, the embedded default, or a single-vector baseline) as "
                    "CONFIG says; examples in clamr_frames/train/configs/. Metrics go to stdout and "
                    "<output_dir>/log.jsonl (and TensorBoard when installed); rerunning resumes from the last "
                    "checkpoint.",
    )
    p.add_argument("config", help="training configuration (.yaml / .json), or the name of one shipped in "
                                   "clamr_frames/train/configs/ (e.g. default_synthetic)")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no metric lines on stdout")
    p.set_defaults(func=cmd_train)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_BAD_INPUT
    if getattr(args, "quiet", False):  # no bar at all, transformers' weight loading included
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"  # type: ignore[assignment]
        try:
            return int(args.func(args) or 0)
        except ClamrFramesError as e:
            print(f"clamr-frames {args.command}: error: {e}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            return 130


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
