"""The OCR of the index on real footage (the committed test cards, tests/data/README.md): a counter or timecode
that changes in every frame is read in every candidate, and the caption of the colour-bar card with it."""

from __future__ import annotations

import re

import numpy as np
import pytest

from testkit.extras import require_extra
from testkit.real_media import VIDEO

pytestmark = pytest.mark.slow


def _norm(text: str) -> str:
    return re.sub(r"[^0-9a-z]+", "", text.lower())


def _candidates(name: str, fps: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Candidates of a real clip, decoded as the index builder decodes them (longer side at most 448)."""
    from clamr_frames.video import VideoReader

    reader = VideoReader(VIDEO / name)  # (an absolute path stays itself)
    ts, frames = [], []
    for chunk in reader.iter_candidates(fps=fps, max_side=448):
        ts += list(chunk.timestamps)
        frames += list(chunk.frames)
    return np.asarray(ts), frames


@pytest.fixture(scope="module")
def engine():
    require_extra("ocr")
    from clamr_frames.context.ocr import OcrEngine

    return OcrEngine(threads=1)


def test_smpte_counters_are_read_in_every_candidate(engine):
    from clamr_frames.context.ocr import make_ocr_pass

    ts, frames = _candidates("smpte_2997.mp4", fps=1.5)  # 25 fps card: frame k shows 29.97 fps frame n
    ocr, _ = make_ocr_pass(engine)
    texts = ocr(ts[:8], frames[:8]) + ocr(ts[8:], frames[8:])  # two chunks: the state carries over
    hits = []
    for t, text in zip(ts, texts):
        n = round(round(t * 25) / 25 * 29.97)
        for want in (f"{n}.000", f"{n / 29.97:.3f}", f"00:00:{n // 30:02d};{n % 30:02d}"):
            hits.append(_norm(want) in _norm(text))
    assert len(ts) >= 14 and np.mean(hits) >= 0.9, list(zip(ts, texts))
    # nothing but the counters changes on the card: the detector is skipped for most candidates
    assert ocr.stats.detected <= len(ts) // 3 and ocr.stats.in_place >= len(ts)


def test_colour_bar_card_caption_and_timecode(engine):
    from clamr_frames.context.ocr import make_ocr_pass

    ts, frames = _candidates("testcard_timecode.mp4", fps=5.0)  # 2 s clip, timecode from 00:00:05:00
    ocr, _ = make_ocr_pass(engine)
    texts = ocr(ts, frames)
    caption = [_norm("1024 x 768 25 fps Photo JPEG 75%") in _norm(x) for x in texts]
    timecode = []
    for t, text in zip(ts, texts):
        f = 125 + round(t * 25)
        timecode.append(_norm(f"00:00:{f // 25:02d}:{f % 25:02d}") in _norm(text))
    assert np.mean(caption) >= 0.9 and np.mean(timecode) >= 0.8, list(zip(ts, texts))
    assert ocr.engine.read(frames[0]).count("1024") == 1  # the full-frame reader agrees on the caption


@pytest.mark.parametrize("name, fps, least", [("smpte_2997.mp4", 3.0, 10), ("testcard_timecode.mp4", 10.0, 3)])
def test_glyph_memory_reads_what_the_recognizer_reads(engine, name, fps, least):
    # the counters and timecodes of the real cards, read with the glyph memory and without it: the same text in
    # every candidate, with fewer recognizer runs
    from clamr_frames.context.ocr import make_ocr_pass

    ts, frames = _candidates(name, fps=fps)
    on, _ = make_ocr_pass(engine)
    off, _ = make_ocr_pass(engine, glyphs=False)
    assert on(ts, frames) == off(ts, frames)
    assert on.stats.glyph_reads >= least, on.stats  # (the 2-s card changes its digits' places less often)
    assert on.stats.recognised < off.stats.recognised


def test_archive_recalls_text_that_comes_back_after_a_cut_as_the_recognizer_reads_it(engine, tmp_path):
    # real cards and films cut together, the cards coming back after each cut (the title of Big Buck Bunny too):
    # with the archive and the glyph memory the same text in every candidate, with fewer recognizer runs
    from clamr_frames.context.ocr import make_ocr_pass
    from testkit.real_footage import Segment, compose

    plan = [Segment("smpte", 0.0, 3.0), Segment("bunny", 20.5, 2.0), Segment("testcard", 0.0, 2.0),
            Segment("chaplin", 1.0, 2.0), Segment("smpte", 0.0, 3.0), Segment("bunny", 20.5, 2.0),
            Segment("testcard", 0.5, 1.5)]
    video = tmp_path / "cards_and_films.mp4"
    compose(video, plan, fps=8.0, size=(960, 540))
    ts, frames = _candidates(str(video), fps=3.0)
    on, _ = make_ocr_pass(engine)
    off, _ = make_ocr_pass(engine, glyphs=False, archive=0)
    texts = on(ts[:20], frames[:20]) + on(ts[20:], frames[20:])
    assert texts == off(ts[:20], frames[:20]) + off(ts[20:], frames[20:])
    assert any("PEACH" in t for t in texts) and any("1024" in t for t in texts), texts
    assert on.stats.cuts >= 3 and on.stats.recalled > 0, on.stats
    assert on.stats.recognised < off.stats.recognised
