"""End-to-end in a real Chromium (Debian's package, driven by Playwright; Playwright's own browser download is not
used): the report page and the local app, as a user clicks through them.

Skipped with the reason when Playwright or Chromium is missing, except under ``CI=true``, where that is a
failure: CI installs both (``.ci/run``) and must run these tests.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

CHROMIUM_NAMES = ("chromium", "chromium-browser")


def _missing(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: the browser tests must run in CI; .ci/run installs chromium)")
    pytest.skip(reason)


def _chromium() -> str:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    _missing("no chromium executable on PATH (apt-get install chromium)")
    raise AssertionError  # unreachable


@pytest.fixture(scope="module")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("playwright is not installed (pip install 'clamr-frames[browser]')")
    exe = _chromium()
    with sync_playwright() as p:
        args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []  # root cannot sandbox
        b = p.chromium.launch(executable_path=exe, args=args)
        yield b
        b.close()


def _page(browser):
    page = browser.new_page(viewport={"width": 1200, "height": 900})
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, errors


def _cli_select(report_video: dict, question: str, k: int, extra: list[str], capsys) -> dict:
    from clamr_frames.cli import main

    capsys.readouterr()
    rc = main(["select", str(report_video["video"]), question, "-k", str(k), "--subtitles", str(report_video["srt"]),
               "--index-dir", str(report_video["index_dir"]), "--quiet", "--no-ocr", "--json", *extra])
    assert rc == 0
    return json.loads(capsys.readouterr().out)


@pytest.fixture(scope="module")
def report_file(report_video: dict, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from clamr_frames.cli import main

    out = tmp_path_factory.mktemp("browser") / "pages" / "report.html"
    assert main(["select", str(report_video["video"]), report_video["question"], "-k", "6", "--subtitles",
                 str(report_video["srt"]), "--index-dir", str(report_video["index_dir"]), "--html", str(out),
                 "--quiet", "--no-ocr"]) == 0
    return out


def test_report_loads_without_console_errors_and_shows_every_candidate(browser, report_file: Path) -> None:
    page, errors = _page(browser)
    page.goto(report_file.as_uri())
    page.wait_for_selector("#frames .frame")
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=15000)
    assert errors == []
    assert page.locator("#frames .frame").count() == 6
    assert page.locator("#timeline").get_attribute("data-candidates") == "90"
    assert "90 candidates" in page.locator("#timeline .count").inner_text()
    assert page.locator("#timeline polyline.series-score").get_attribute("data-points") == "90"
    assert page.locator("#timeline circle.pick").count() == 6
    assert page.locator("#transcript .cue.picked").count() >= 1
    assert page.locator(".note").first.is_hidden(), "the WebM plays: no codec note"
    page.close()


def test_clicking_a_thumbnail_a_point_or_a_line_seeks_the_player(browser, report_file: Path) -> None:
    page, errors = _page(browser)
    page.goto(report_file.as_uri())
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=15000)
    cards = page.locator("#frames .frame")
    for j in (cards.count() - 1, 0):
        want = float(cards.nth(j).get_attribute("data-time"))
        cards.nth(j).locator(".thumb").click()
        page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {want}) < 0.05")
        assert "active" in (cards.nth(j).get_attribute("class") or "")
    point = page.locator("#timeline circle.pick").nth(2)
    want = float(point.get_attribute("data-time"))
    point.click(force=True)
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {want}) < 0.05")
    cue = page.locator("#transcript .cue").nth(3)
    want = float(cue.get_attribute("data-start"))
    cue.click()
    page.wait_for_function(f"Math.abs(document.getElementById('player').currentTime - {want}) < 0.05")
    assert errors == []
    page.close()


@pytest.fixture(scope="module")
def app_url(report_video: dict, report_selector):
    import uvicorn

    from clamr_frames.report.app import create_app

    app = create_app(report_video["folder"], lambda scorer: report_selector, scorers=["default"],
                     policies=["topk", "uniform", "nms"])
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}/"
    server.should_exit = True
    thread.join(timeout=10)


def test_a_question_typed_into_the_app_picks_the_frames_the_cli_picks(browser, app_url: str, report_video: dict,
                                                                       capsys) -> None:
    question = report_video["question"]
    want = _cli_select(report_video, question, 5, ["--policy", "nms"], capsys)
    page, errors = _page(browser)
    page.goto(app_url)
    page.wait_for_selector(f'#videos .video[data-path="{report_video["video"].name}"]').click()
    page.fill("#question", question)
    page.fill("#k", "5")
    page.select_option("#policy", "nms")
    page.click("#ask")
    page.wait_for_selector("#status[data-done='1']", timeout=60000)
    got = [float(t) for t in page.locator("#frames .frame").evaluate_all("els => els.map(e => e.dataset.time)")]
    assert got == [f["timestamp"] for f in want["frames"]]
    page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=15000)
    assert errors == []
    page.close()


def test_view_index_sorts_and_filters_wrong_answers(browser, selections_file: Path, report_video: dict,
                                                   tmp_path: Path) -> None:
    from clamr_frames.report.view import render_selections

    render_selections(selections_file, tmp_path / "view", index_dir=report_video["index_dir"], progress=False)
    page, errors = _page(browser)
    page.goto((tmp_path / "view" / "index.html").as_uri())
    rows = page.locator("table.index tbody tr")
    assert rows.count() == 2
    page.click("th[data-key='correct']")
    assert [rows.nth(i).get_attribute("data-correct") for i in range(2)] == ["false", "true"]
    page.check("#wrong-only")
    assert rows.count() == 1 and rows.first.get_attribute("data-correct") == "false"
    rows.first.locator("a").click()
    page.wait_for_selector("#frames .frame")
    assert "wrong" in page.locator("header .answer").inner_text()
    assert errors == []
    page.close()


def test_a_codec_the_browser_cannot_play_gets_a_note(browser, tmp_path: Path) -> None:
    from clamr_frames.report import page_data, write_page
    from clamr_frames.synth import generate_video

    v = generate_video(tmp_path, seed=5, duration=4.0, width=64, height=36, container="avi", needles_per_kind=0)
    sel = {"video": str(v.video_path), "question": "q?", "frames": [{"candidate": 0, "frame_index": 0,
                                                                     "timestamp": 0.0, "score": 1.0}]}
    path = write_page(tmp_path / "r.html", page_data(sel, all_timestamps=[0.0, 1.0], all_scores=[1.0, 0.0],
                                                      page_dir=tmp_path))
    page, _ = _page(browser)
    page.goto(path.as_uri())
    page.wait_for_selector(".note:not([hidden])", timeout=15000)
    assert "cannot play" in page.locator(".note").inner_text()
    page.close()
