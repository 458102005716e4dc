"""Shot-boundary detection on candidate frames: our detector vs PySceneDetect, on real clips and generated videos.

The visual prior (``clamr_frames.context.shots``) sees only the candidate frames the index decodes (1 fps by
default), so every detector here gets exactly those frames. PySceneDetect's detectors (``scenedetect`` 0.7,
optional: run with it importable to fill its rows) are fed the same frames through their ``process_frame``
API with ``min_scene_len=1`` (candidates are a second apart: their default of 15 frames would forbid shots
shorter than 15 s); its AdaptiveDetector is also run the usual way, on every native frame (``native`` rows),
and its cuts are mapped to the candidate grid.

Videos with hand-labelled cuts (frame indices read off every frame):

- Debian's opencv-doc samples (``apt-get install opencv-doc``; rows are skipped when absent): ``Megamind.avi``
  (animated film, 4 boundaries: a black first frame, then 3 cuts), ``Megamind_bugy.avi`` (the same with
  single-frame corrupt blocks that are not cuts), ``tree.avi`` (one shot; a hand enters at the end),
  ``vtest.avi`` (one static-camera shot of pedestrians); and a montage of all four (joins are cuts; the
  clips' own cuts count too).
- Generated videos (``clamr_frames.synth``), seeds given on the command line: scenes of 20–90 s (the
  default) and of 2–60 s, with shapes gliding over still scenes, and (2–60 s) with a swaying camera
  (``motion="pan"``: every frame moves, the hard case for a frame-difference detector).

A detected boundary matches a true one at most ``--tolerance`` candidates away (one to one).

    python benchmarks/shots.py [--fps 1 2] [--seeds 500 501] [--minutes 5] [--no-record]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


from benchmarks._common import WORK, record  # noqa: E402

OPENCV_DATA = Path("/usr/share/doc/opencv-doc/examples/data")
#: native frame indices where a new shot starts (read off every frame of the clips)
REAL_CUTS = {"Megamind": [1, 98, 154, 200], "Megamind_bugy": [1, 98, 154, 200], "tree": [], "vtest": []}


def candidate_frames(path: Path, fps: float, max_side: int = 448) -> tuple[np.ndarray, np.ndarray, list]:
    """(native frame indices, timestamps, frames or None) of the candidates at ``fps``, read as the index reads them."""
    import warnings

    from clamr_frames.video import VideoReader

    with VideoReader(path) as r:
        idx, ts = r.candidate_indices(fps=fps)
        got: dict[int, np.ndarray] = {}
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for ch in r.iter_candidates(fps=fps, max_side=max_side):
                got.update(zip((int(i) for i in ch.indices), ch.frames))
    return np.asarray(idx), np.asarray(ts, np.float64), [got.get(int(i)) for i in idx]


def truth_on_grid(frame_idx: np.ndarray, cuts: list[int]) -> list[int]:
    """Candidate positions i (> 0) whose interval (frame_idx[i-1], frame_idx[i]] holds a true cut."""
    out = []
    for c in cuts:
        i = int(np.searchsorted(frame_idx, c, side="left"))
        if 0 < i < len(frame_idx):
            out.append(i)
    return sorted(set(out))


def match(pred: list[int], truth: list[int], tol: int) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives), greedy one-to-one within ``tol`` positions."""
    free = sorted(truth)
    tp = 0
    for p in sorted(pred):
        best = min(free, key=lambda g: abs(g - p), default=None)
        if best is not None and abs(best - p) <= tol:
            free.remove(best)
            tp += 1
    return tp, len(pred) - tp, len(free)


def ours(frames: list, ts: np.ndarray) -> list[int]:
    from clamr_frames.context.shots import compute_prior

    prior = compute_prior(ts, frames)
    return prior.shot_bounds[1:-1].tolist()


def _scenedetect():
    try:
        import scenedetect  # noqa: F401
    except ImportError:
        return None
    return scenedetect


def pyscenedetect(kind: str, frames: list, fps: float) -> list[int]:
    """Cuts (candidate positions) of one PySceneDetect detector fed the candidate frames (BGR)."""
    from scenedetect import AdaptiveDetector, ContentDetector, FrameTimecode, HashDetector, HistogramDetector

    det = {
        "content": lambda: ContentDetector(min_scene_len=1),
        "adaptive": lambda: AdaptiveDetector(min_scene_len=1),
        "histogram": lambda: HistogramDetector(min_scene_len=1),
        "hash": lambda: HashDetector(min_scene_len=1),
    }[kind]()
    cuts: list = []
    last = None
    for i, f in enumerate(frames):
        f = last if f is None else f
        last = f
        if f is None:
            continue
        cuts += det.process_frame(FrameTimecode(i, fps=fps), np.ascontiguousarray(f[..., ::-1]))
    cuts += det.post_process(FrameTimecode(len(frames), fps=fps)) or []
    return sorted({int(c.frame_num) for c in cuts if 0 < int(c.frame_num) < len(frames)})


def pyscenedetect_native(path: Path, frame_idx: np.ndarray) -> list[int]:
    """AdaptiveDetector (defaults) on every native frame; its cuts mapped to the candidate grid."""
    from scenedetect import AdaptiveDetector, detect

    scenes = detect(str(path), AdaptiveDetector())
    cuts = [int(s[0].frame_num) for s in scenes[1:]]
    return truth_on_grid(frame_idx, cuts)


def real_videos(fps: float) -> list[tuple[str, Path | None, np.ndarray, list, list[int]]]:
    """(name, path or None, timestamps, frames, true cut positions) of the opencv-doc clips and their montage."""
    out = []
    parts = []
    for name in ("vtest", "tree", "Megamind", "Megamind_bugy"):
        path = OPENCV_DATA / f"{name}.avi"
        if not path.exists():
            return []
        idx, ts, frames = candidate_frames(path, fps)
        truth = truth_on_grid(idx, REAL_CUTS[name])
        out.append((name, path, ts, frames, truth, idx))
        parts.append((ts, frames, truth))
    # montage: vtest's first half, tree, Megamind, Megamind_bugy, vtest's second half (joins are cuts)
    vt_ts, vt_fr, _ = parts[0]
    half = len(vt_ts) // 2
    seq = [(vt_ts[:half], vt_fr[:half], [])] + parts[1:] + [(vt_ts[half:], vt_fr[half:], [])]
    ts_all, fr_all, truth_all = [], [], []
    for ts, frames, truth in seq:
        base = len(fr_all)
        if base:
            truth_all.append(base)
        truth_all += [base + i for i in truth]
        fr_all += [None if f is None else _fit(f, (384, 288)) for f in frames]  # one size, as in a real edit
        ts_all += list(np.arange(base, base + len(frames)) / fps)
    out.append(("montage", None, np.asarray(ts_all), fr_all, sorted(set(truth_all)), None))
    return out


def _fit(frame: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(frame).resize(size, Image.Resampling.BILINEAR))


def synthetic_videos(seeds: list[int], minutes: float, scene_seconds: tuple[float, float], fps: float,
                     motion: str = "shapes"):
    from clamr_frames.synth import generate_video

    out = []
    for seed in seeds:
        tag = f"s{seed}_m{minutes:g}_sc{scene_seconds[0]:g}-{scene_seconds[1]:g}"
        tag += "" if motion == "shapes" else f"_{motion}"
        v = generate_video(WORK / "shots" / tag, seed=seed, duration=60.0 * minutes, needles_per_kind=2,
                           scene_seconds=scene_seconds, motion=motion)
        idx, ts, frames = candidate_frames(v.video_path, fps)
        fps_native = v.fps
        cut_frames = [int(np.ceil(s * fps_native - 1e-9)) for s in v.scene().scene_starts[1:]]  # first frame shown
        out.append((f"synth {tag}", v.video_path, ts, frames, truth_on_grid(idx, cut_frames), idx))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fps", type=float, nargs="+", default=[1.0, 2.0], help="candidate rates")
    ap.add_argument("--seeds", type=int, nargs="+", default=[500, 501, 502, 503, 504, 505])
    ap.add_argument("--minutes", type=float, default=5.0)
    ap.add_argument("--tolerance", type=int, default=1, help="candidates a match may be off by")
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()

    sd = _scenedetect()
    methods = ["ours"] + ([f"pyscenedetect {k}" for k in ("content", "adaptive", "histogram", "hash")]
                          + ["pyscenedetect adaptive, native"] if sd else [])
    rows = []
    details = []
    for fps in args.fps:
        groups = {
            "real clips (opencv-doc)": real_videos(fps),
            "generated, scenes 20-90 s": synthetic_videos(args.seeds, args.minutes, (20.0, 90.0), fps),
            "generated, scenes 2-60 s": synthetic_videos(args.seeds, args.minutes, (2.0, 60.0), fps),
            "generated, swaying camera, scenes 2-60 s": synthetic_videos(args.seeds, args.minutes, (2.0, 60.0), fps,
                                                                         "pan"),
        }
        for group, videos in groups.items():
            if not videos:
                continue
            for m in methods:
                tp = fp = fn = 0
                secs = 0.0
                for name, path, ts, frames, truth, idx in videos:
                    t0 = time.perf_counter()
                    if m == "ours":
                        pred = ours(frames, ts)
                    elif m.endswith("native"):
                        if path is None:
                            continue  # the montage exists only as candidate frames
                        pred = pyscenedetect_native(path, idx)
                    else:
                        pred = pyscenedetect(m.split()[1], frames, fps)
                    secs += time.perf_counter() - t0
                    a, b, c = match(pred, truth, args.tolerance)
                    tp, fp, fn = tp + a, fp + b, fn + c
                    if group.startswith("real"):
                        details.append(f"| {fps:g} | {name} | {m} | {len(truth)} | {pred} | {truth} |")
                p = tp / max(tp + fp, 1)
                r = tp / max(tp + fn, 1)
                f1 = 2 * p * r / max(p + r, 1e-9)
                n_frames = sum(len(v[3]) for v in videos)
                rows.append(f"| {fps:g} | {group} | {m} | {tp + fn} | {tp} | {fp} | {fn} | {p:.2f} | {r:.2f} "
                            f"| {f1:.2f} "
                            f"| {1000 * secs / max(n_frames, 1):.2f} |")
    body = (
        f"Candidates at the given rate (max side 448, as the index decodes them); tolerance {args.tolerance} "
        f"candidate(s); generated videos: {args.minutes:g} min, seeds {', '.join(map(str, args.seeds))}"
        f"{'; PySceneDetect ' + sd.__version__ if sd else '; PySceneDetect not installed (its rows are missing)'}. "
        "ms/frame: detection time per candidate frame (ours includes the descriptors and novelty; the native "
        "rows decode every frame themselves). Machine shared with other jobs: compare times within a run.\n\n"
        "| cand. fps | videos | detector | true cuts | found | false | missed | precision | recall | F1 | ms/frame |\n"
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|\n" + "\n".join(rows) + "\n\n"
        "Real clips, per detector (candidate positions):\n\n"
        "| cand. fps | clip | detector | true cuts | detected | true |\n|---|---|---|---:|---|---|\n"
        + "\n".join(details) + "\n"
    )
    record("Shot boundaries on candidate frames: ours vs PySceneDetect", body, write=not args.no_record)


if __name__ == "__main__":
    main()
