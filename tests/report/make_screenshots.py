"""Screenshots of the report and of the app for docs/report.md (docs/_static/report.png, serve.png).

    python tests/report/make_screenshots.py [--out docs/_static]

Generates a demo-like synthetic video (5 minutes, 320x180, subtitles), writes its ``select --html`` report and
serves its folder with ``create_app``, then photographs both in Debian's Chromium through Playwright.
"""

from __future__ import annotations

import argparse
import os
import socket
import tempfile
import threading
import time
from pathlib import Path


def _small_png(src: Path, dst: Path, width: int = 1000) -> None:
    from PIL import Image

    img = Image.open(src).convert("RGB")
    if img.width > width:
        img = img.resize((width, round(img.height * width / img.width)), Image.LANCZOS)
    img.quantize(colors=256, method=Image.Quantize.MEDIANCUT).save(dst, optimize=True)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="docs/_static")
    ap.add_argument("--chromium", default="/usr/bin/chromium")
    args = ap.parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import uvicorn
    from playwright.sync_api import sync_playwright

    from clamr_frames.cli import main as cli
    from clamr_frames.report.app import create_app
    from clamr_frames.selector import FrameSelector
    from clamr_frames.synth import generate_video

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="clamr-shots-"))
    v = generate_video(work / "videos", seed=0, duration=300.0, container="webm")
    asked = [q["question"] for q in v.questions if q["needle"]["kind"] == "asr"]
    q = asked[0]
    report = work / "report.html"
    cli(["select", str(v.video_path), q, "-k", "8", "--subtitles", str(v.srt_path), "--index-dir", str(work / "index"),
         "--html", str(report), "--quiet", "--no-ocr"])
    selector = FrameSelector.from_pretrained("default", index_dir=work / "index", progress=False, ocr=False)
    app = create_app(v.video_path.parent, lambda s: selector, scorers=["default", "clamr"],
                     policies=["topk", "nms", "uniform", "gated"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    threading.Thread(target=server.run, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        page = b.new_page(viewport={"width": 1200, "height": 1000})
        page.goto(report.as_uri())
        page.wait_for_function("document.getElementById('player').readyState >= 2", timeout=20000)
        page.locator("#frames .frame .thumb").nth(3).click()
        page.wait_for_timeout(800)
        page.screenshot(path=str(work / "report.png"))
        page.goto(f"http://127.0.0.1:{port}/")
        page.wait_for_selector("#videos .video")
        page.fill("#question", asked[-1])
        page.select_option("#policy", "nms")
        page.fill("#k", "8")
        page.click("#ask")
        page.wait_for_selector("#status[data-done='1']", timeout=120000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(work / "serve.png"))
        b.close()
    server.should_exit = True
    for name in ("report.png", "serve.png"):
        _small_png(work / name, out / name)
        print(out / name, (out / name).stat().st_size)


if __name__ == "__main__":
    main()
