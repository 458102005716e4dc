"""`clamr-frames inspect` on real-world videos the project did not make, against ffprobe.

The videos are the sample clips shipped inside the `gradio` wheel on PyPI (MP4/H.264 and an AVI), fetched with
`pip download` (PyPI is reachable where the model hub is not). ffprobe comes from Debian's `ffmpeg` package
(`apt-get install -y ffmpeg`).

    python benchmarks/realworld.py [--no-record]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import zipfile
from pathlib import Path


from benchmarks._common import WORK, record  # noqa: E402

WHEEL = "gradio==6.31.0"
MEMBERS = ("a.mp4", "b.mp4", "b.avi", "world.mp4", "muted_b.mp4")


def fetch() -> list[Path]:
    out = WORK / "realworld"
    out.mkdir(parents=True, exist_ok=True)
    wheels = list(out.glob("gradio-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-q", WHEEL, "-d", str(out)], check=True)
        wheels = list(out.glob("gradio-*.whl"))
    paths = []
    with zipfile.ZipFile(wheels[0]) as z:
        for name in MEMBERS:
            member = f"gradio/media_assets/videos/{name}"
            dest = out / name
            if not dest.exists():
                dest.write_bytes(z.read(member))
            paths.append(dest)
    return paths


def ffprobe(path: Path) -> dict:
    cmd = ["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
           "stream=nb_read_frames,width,height,codec_name,avg_frame_rate,duration:format=duration,format_name", "-of", "json", str(path)]
    data = json.loads(subprocess.run(cmd, capture_output=True, text=True, check=True).stdout)
    s = data["streams"][0]
    return {"duration": float(s.get("duration", data["format"]["duration"])),
            "container_duration": float(data["format"]["duration"]), "frames": int(s["nb_read_frames"]), "codec": s["codec_name"],
            "size": f"{s['width']}x{s['height']}", "container": data["format"]["format_name"]}


def ours(path: Path, backend: str) -> dict:
    cmd = [sys.executable, "-m", "clamr_frames.cli", "inspect", str(path), "--json", "--backend", backend]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()}
    m = json.loads(r.stdout)["metadata"]
    return {"duration": m["duration"], "frames": m["num_frames"], "size": f"{m['width']}x{m['height']}", "backend": m["backend"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--no-record", action="store_true")
    args = ap.parse_args()
    rows = ["| file | ffprobe: container / codec / size | ffprobe video-stream duration (s) (container) | ffprobe frames (decoded) | "
            "backend | ours: duration (s) | ours: frames | match |", "|---|---|---|---|---|---|---|---|"]
    all_ok = True
    for p in fetch():
        ref = ffprobe(p)
        for backend in ("decord", "pyav"):
            got = ours(p, backend)
            if "error" in got:
                rows.append(f"| {p.name} | | | | {backend} | error: {got['error'][:60]} | | no |")
                all_ok = False
                continue
            ok = got["frames"] == ref["frames"] and abs(got["duration"] - ref["duration"]) <= 0.05 and got["size"] == ref["size"]
            all_ok &= ok
            rows.append(
                f"| {p.name} | {ref['container']} / {ref['codec']} / {ref['size']} | {ref['duration']:.3f} "
                f"({ref['container_duration']:.3f}) | {ref['frames']} | "
                f"{got['backend']} | {got['duration']:.3f} | {got['frames']} | {'yes' if ok else 'NO'} |"
            )
    body = (f"Sample videos from the `{WHEEL}` wheel; match = video-stream duration within 0.05 s of ffprobe's and "
            "frame count equal to `ffprobe -count_frames` (the container duration in brackets also spans the audio "
            "track, which can run longer than the video).\n\n" + "\n".join(rows) + f"\n\nAll match: {'yes' if all_ok else 'no'}.\n")
    record("Real-world videos: clamr-frames inspect vs ffprobe", body, write=not args.no_record)


if __name__ == "__main__":
    main()
