"""``clamr-frames inspect`` (metadata, ASR source and candidates of a video) and ``clamr-frames transcribe``
(its recognised speech)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from clamr_frames.cli.common import asr_settings, fmt_time, short, transcript_cache, usage


def cmd_inspect(args: argparse.Namespace) -> int:
    """video metadata and candidate timestamps with their subtitle context"""
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
    print(f"duration    {meta.duration:.3f} s ({fmt_time(meta.duration)})")
    print(f"frames      {meta.num_frames}   native fps {meta.fps:.3f}")
    print(f"size        {meta.width}x{meta.height}   audio {'yes' if meta.has_audio else 'no'}")
    if subs is not None:
        print(f"subtitles   {subs.path}: {len(subs.cues)} cues ({subs.encoding}), {subs.skipped} malformed skipped")
    print(f"asr         {asr['source']}: {asr['detail']}")
    print(f"candidates  {len(ts)}")
    limit = len(ts) if args.all else min(len(ts), 20)
    for i in range(limit):
        print(f"  {fmt_time(ts[i])}  frame {int(idx[i]):>7d}  {short(ctx[i]) if ctx[i] else ''}")
    if limit < len(ts):
        print(f"  ... {len(ts) - limit} more (use --all)")
    return 0


def _inspect_asr(args: argparse.Namespace, has_audio: bool) -> dict[str, Any]:
    """Which ASR source ``select``/``index`` would give this video with these arguments (nothing is transcribed;
    a transcript already in the cache is shown)."""
    from clamr_frames.context.asr import asr_available, get_transcriber, resolve_asr_source

    settings = asr_settings(args)
    source, notice = resolve_asr_source(args.asr, has_subtitles=bool(args.subtitles), has_audio=has_audio,
                                        available=asr_available(settings.model))
    out: dict[str, Any] = {"mode": args.asr, "source": source, "detail": notice or ""}
    if source == "subtitles":
        out["detail"] = f"the subtitle file {args.subtitles}"
    elif source == "whisper":
        from clamr_frames._fs import video_fingerprint

        transcriber = get_transcriber(settings)
        state = transcript_cache(args).load(video_fingerprint(args.video), transcriber.cache_key())
        out["model"] = transcriber.model_id
        if state is not None and state.complete:
            out["detail"] = f"speech recognised by {settings.model}: {len(state.cues)} cues (cached)"
            out["_cues"] = state.cues
        else:
            out["detail"] = (f"speech of the audio track, recognised by {settings.model} on the first index "
                             f"(not transcribed yet; `clamr-frames transcribe {args.video}` shows it)")
    return out



def cmd_transcribe(args: argparse.Namespace) -> int:
    """recognise the speech of a video's audio track (cached) and write it

    Transcribe the audio track with Whisper (tiny.en bundled, offline) into timed cues, the ASR context `select`
    uses when a video has no subtitle file.
    """
    from clamr_frames.context.asr import WhisperTranscriber, cached_transcribe

    settings = asr_settings(args)
    transcriber = WhisperTranscriber(settings)
    if args.no_cache:
        tr = transcriber.transcribe(args.video, progress=not args.quiet)
    else:
        tr = cached_transcribe(args.video, settings, cache=transcript_cache(args), transcriber=transcriber, progress=not args.quiet)
    if not tr.has_audio:
        raise usage(f"{args.video}: no audio stream to transcribe")
    if args.output:
        where = tr.write(args.output)
    else:
        sys.stdout.write(tr.to_srt())
        where = "stdout"
    lang = f", language {tr.language}" if tr.language else ""
    print(f"{args.video}: {tr.duration:.0f} s of audio, {tr.speech_seconds:.0f} s of speech{lang}: "
          f"{len(tr.cues)} cues -> {where}", file=sys.stderr)
    return 0
