"""OCR on text that changes where it stands (counters, timecodes): the text-region pass reads such a line again at
its box instead of running the detector, skips the detector while nothing else in the picture changes, and reads
a static caption once. A stand-in detector / recognizer (no OCR model); the real engine on the real test cards is
in test_ocr_real_footage.py."""

from __future__ import annotations

import numpy as np
import pytest

from clamr_frames.context.ocr import TextRegionPass, crop_signature, make_ocr_pass
from clamr_frames.context.ocr.engine import _similar_widths
from clamr_frames.context.ocr.regions import cell_box, unchanged_share
from testkit.ocr_fakes import PaperBoxReader, sign_patch

W, H = 320, 180


SIZE = 26  # font size of the signs: a changed digit must change enough of the picture to count as a change


def patch(text: str) -> np.ndarray:
    return sign_patch(text, SIZE)


def card(signs: list[tuple[str, int, int]], shift: int = 0) -> np.ndarray:
    """A fixed random texture (a test card: nothing moves unless ``shift`` scrolls it) with signs pasted on."""
    base = np.random.default_rng(0).integers(40, 161, (H, 2 * W, 3)).astype(np.uint8)
    frame = np.ascontiguousarray(np.roll(base, 5 * shift, axis=1)[:, :W])
    for text, x, y in signs:
        p = patch(text)
        frame[y : y + p.shape[0], x : x + p.shape[1]] = p
    return frame


def PaperReader(texts: list[str]) -> PaperBoxReader:
    return PaperBoxReader(texts, size=SIZE)


COUNTS = [f"FRAME {n}" for n in range(120, 140)]
CAPTION = "TEST CARD: STUDIO 4"


def test_running_counter_is_read_in_every_frame_and_the_caption_once():
    reader = PaperReader(COUNTS + [CAPTION])
    frames = [card([(CAPTION, 20, 20), (COUNTS[i], 60, 110)]) for i in range(12)]
    # defaults but the glyph memory (test_ocr_glyphs.py): detector every other frame while the picture changes
    p = TextRegionPass(reader, glyphs=False)
    out = p(np.arange(6.0), frames[:6]) + p(np.arange(6.0, 12.0), frames[6:])
    assert out == [f"{CAPTION}\n{COUNTS[i]}" for i in range(12)]
    # the caption is read once; the counter once per frame, at its box
    assert reader.read.count(CAPTION) == 1
    assert sorted(t for t in reader.read if t != CAPTION) == COUNTS[:12]
    # nothing but the counter changed: the detector ran on the first frame only
    assert reader.detects == 1 and p.stats.steady == 11 and p.stats.in_place == 11


def test_counter_that_comes_back_to_a_value_reuses_its_reading():
    reader = PaperReader(COUNTS)
    seq = [COUNTS[i % 3] for i in range(9)]  # a looping counter: three values
    p = TextRegionPass(reader, glyphs=False)  # (with glyphs: one reading, test_ocr_glyphs.py)
    assert p(np.arange(9.0), [card([(t, 60, 80)]) for t in seq]) == seq
    assert reader.rec_crops == 3


def test_counter_on_a_moving_picture_is_read_at_its_box_between_detections():
    # the background scrolls (the whole picture changes: never steady), the counter's sign stays put: on the
    # frames without a detection the counter is read again where it stands instead of being dropped
    reader = PaperReader(COUNTS + [CAPTION])
    frames = [card([(CAPTION, 20, 20), (COUNTS[i], 60, 110)], shift=i) for i in range(8)]
    p = TextRegionPass(reader, det_every=2)
    out = p(np.arange(8.0), frames)
    assert out == [f"{CAPTION}\n{COUNTS[i]}" for i in range(8)]
    assert p.stats.steady == 0 and 0 < reader.detects < 8 and p.stats.in_place >= 3
    assert reader.read.count(CAPTION) == 1


def test_a_new_line_outside_the_known_ones_is_detected():
    reader = PaperReader(COUNTS + [CAPTION])
    frames = [card([(COUNTS[i], 60, 110)] + ([(CAPTION, 20, 20)] if i >= 3 else [])) for i in range(6)]
    p = TextRegionPass(reader)
    out = p(np.arange(6.0), frames)
    assert out == [COUNTS[i] if i < 3 else f"{CAPTION}\n{COUNTS[i]}" for i in range(6)]
    assert reader.detects == 2  # the first frame, and the frame where the caption appeared


def test_a_line_replaced_by_a_longer_one_is_detected_again():
    reader = PaperReader(["EXIT 7", "EXIT 7 TRAINS"])
    frames = [card([("EXIT 7", 20, 80)])] * 2 + [card([("EXIT 7 TRAINS", 20, 80)])] * 2
    frames = [f.copy() for f in frames]
    frames[1][0:4, 0:4] = 0  # a little change elsewhere, below the whole-frame test's threshold
    p = make_ocr_pass(reader)[0]
    assert p(np.arange(4.0), frames) == ["EXIT 7"] * 2 + ["EXIT 7 TRAINS"] * 2
    assert reader.detects == 2


def test_unchanged_share_and_cells():
    a = crop_signature(patch("00:00:06:24"))
    b = crop_signature(patch("00:00:06:21"))
    c = crop_signature(patch("GATE 9 CLOSED"))
    grown = np.pad(b, 4, constant_values=255)
    assert unchanged_share(a, np.pad(a, 4, constant_values=255), 10.0) == 1.0
    assert 0.5 < unchanged_share(a, grown, 10.0) < 1.0  # two of eleven characters changed
    assert unchanged_share(a, np.pad(c[:, : a.shape[1]], 4, constant_values=255), 10.0) < 0.4
    assert unchanged_share(a, a[:5, :5], 10.0) == 0.0  # smaller than the line
    assert cell_box((0, 0, 320, 180), (180, 320), (54, 96)) == (0, 54, 0, 96)


def test_recognition_batches_lines_of_similar_width():
    assert _similar_widths([], 4) == []
    assert _similar_widths([3.0, 3.1, 3.2, 3.3, 3.4], 2) == [[0, 1], [2, 3], [4]]
    assert _similar_widths([1.0, 2.0, 1.1, 8.0], 16) == [[0, 2], [1], [3]]


@pytest.mark.parametrize("bad", [8, 4096])
def test_engine_rejects_bad_recognizer_width(bad):
    from clamr_frames.context.ocr import OcrEngine
    from clamr_frames.errors import InputError

    with pytest.raises(InputError, match="rec_min_width"):
        OcrEngine(rec_min_width=bad)


def test_recognition_workers_read_the_same_text():
    from testkit.extras import require_extra

    require_extra("ocr")
    from clamr_frames.context.ocr import OcrEngine

    crops = [patch(t) for t in ("00:00:06:24", "3.503", "TEST CARD: STUDIO 4", "105.000", "EXIT 7")]
    one, two = OcrEngine(threads=1, rec_workers=1), OcrEngine(threads=1, rec_workers=2)
    assert one.rec_workers == 1 and two.rec_workers == 2
    assert one.recognize(crops) == two.recognize(crops)
    assert [t for t, _ in two.recognize(crops)][:2] == ["00:00:06:24", "3.503"]


@pytest.mark.parametrize("cores, threads, workers", [(2, 1, 2), (8, 4, 2), (8, 1, 8), (8, None, 1), (3, 2, 1)])
def test_default_recognition_workers_stay_within_the_cores(monkeypatch, cores, threads, workers):
    # workers x onnxruntime threads: at most the usable cores (no 8 x 4 threads on an 8-core machine)
    from testkit.extras import require_extra

    require_extra("ocr")
    import clamr_frames.context.ocr.engine as engine_module

    monkeypatch.setattr(engine_module, "usable_cores", lambda: cores)
    assert engine_module.OcrEngine(threads=threads).rec_workers == workers
