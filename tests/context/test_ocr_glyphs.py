"""The glyph memory of the text-region pass: a line that changed where it stands (a counter) is put together from
the glyphs the recognizer's earlier readings at that place taught, and goes to the recognizer whenever a glyph is
new or unsure. Stand-in detector / recognizer here (signs in PIL's font); the real engine on the real test card is
in test_ocr_real_footage.py."""

from __future__ import annotations

import numpy as np
import pytest

from clamr_frames.context.ocr import TextRegionPass, crop_signature
from clamr_frames.context.ocr.glyphs import GlyphMemory, mismatch, segment
from testkit.ocr_fakes import PaperBoxReader, sign_patch

W, H = 320, 180
SIZE = 26


def card(signs: list[tuple[str, int, int]]) -> np.ndarray:
    frame = np.ascontiguousarray(np.random.default_rng(0).integers(40, 161, (H, W, 3)).astype(np.uint8))
    for text, x, y in signs:
        p = sign_patch(text, SIZE)
        frame[y : y + p.shape[0], x : x + p.shape[1]] = p
    return frame


def gray(text: str) -> np.ndarray:
    return crop_signature(sign_patch(text, SIZE))


COUNTS = [f"{n}" for n in range(1200, 1260)]


def test_counter_is_read_from_glyphs_once_its_digits_were_read():
    reader = PaperBoxReader(COUNTS, size=SIZE)
    seq = COUNTS[:40]
    p = TextRegionPass(reader)
    out = p(np.arange(20.0), [card([(t, 60, 110)]) for t in seq[:20]])
    out += p(np.arange(20.0, 40.0), [card([(t, 60, 110)]) for t in seq[20:]])
    assert out == seq  # every frame's counter, right
    # the recognizer read the counter when it showed a digit not read at that place before, or a gap wider than
    # any read there ("11" in this proportional font), and never otherwise
    assert reader.read == ["1200"] + [f"120{d}" for d in range(3, 10)] + ["1211"]
    assert p.stats.glyph_reads == 40 - 9 and reader.rec_crops == 9


def test_off_reads_every_frame():
    reader = PaperBoxReader(COUNTS, size=SIZE)
    p = TextRegionPass(reader, glyphs=False)
    assert p(np.arange(12.0), [card([(t, 60, 110)]) for t in COUNTS[:12]]) == COUNTS[:12]
    assert p.stats.glyph_reads == 0 and reader.rec_crops == 12
    assert "/glyphs" in TextRegionPass(reader).ocr_id and "/glyphs" not in p.ocr_id


def test_a_digit_never_read_at_that_place_goes_to_the_recognizer():
    mem = GlyphMemory()
    box = (0, 0, 100, 40)
    assert mem.learn(box, gray("1200"), "1200")
    assert mem.read(box, gray("2100")) == "2100"  # known glyphs in another order
    assert mem.read(box, gray("1230")) is None  # "3" was never read here
    assert mem.read((200, 100, 300, 140), gray("1200")) is None  # another place has learned nothing


def test_lines_whose_runs_and_characters_do_not_pair_up_teach_nothing():
    mem = GlyphMemory()
    box = (0, 0, 100, 40)
    assert not mem.learn(box, gray("1200"), "120")  # a reading that lost a character
    assert not mem.learn(box, gray("1200"), "")
    assert mem.read(box, gray("1200")) is None


def test_spaces_come_from_the_gaps_the_readings_showed():
    mem = GlyphMemory()
    box = (0, 0, 200, 40)
    assert mem.learn(box, gray("12 00"), "12 00")
    assert mem.read(box, gray("10 20")) == "10 20"
    assert mem.read(box, gray("1020")) == "1020"  # gaps as narrow as those inside a word


def test_segment_drops_the_ground_around_a_plate():
    # white digits on a black plate inside coloured bars: the bars touch the crop's edge and are not glyphs
    crop = np.full((40, 90), 180, np.uint8)
    crop[:, 30:60] = 60
    crop[6:34, 6:84] = 0
    crop[12:28, 14:20] = 255
    crop[12:28, 30:38] = 255
    glyphs, gaps = segment(crop)
    assert [g.x0 for g in glyphs] == [14, 30] and gaps == [10]
    assert segment(np.full((40, 90), 128, np.uint8)) is None  # no contrast


def test_mismatch_tells_digits_apart_and_forgives_a_pixel_shift():
    masks = {t: segment(gray(t))[0][0].mask for t in "0123456789"}
    for a in "0123456789":
        for b in "0123456789":
            if a != b:
                assert mismatch(masks[a], masks[b]) > 0.15, (a, b)
    shifted = np.zeros_like(masks["3"])
    shifted[:, 1:] = masks["3"][:, :-1]
    assert mismatch(masks["3"], shifted) < 0.05
    assert mismatch(masks["1"], np.zeros((3, 3), bool)) == 1.0


@pytest.mark.parametrize("bad", [np.zeros((4, 4)), np.zeros((40,)), np.zeros((40, 2))])
def test_segment_refuses_what_is_not_a_line(bad):
    assert segment(bad) is None
