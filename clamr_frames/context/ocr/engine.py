"""The OCR engine: RapidOCR (``rapidocr`` 3.x on onnxruntime; its models ship in the wheel) → a frame's text lines in
reading order. rapidocr, onnxruntime and OpenCV are imported only when an :class:`OcrEngine` is built."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from clamr_frames._machine import usable_cores
from clamr_frames.context.ocr.base import (
    DEFAULT_DET_SIDE,
    OCR_EXTRA_HINT,
    OcrUnavailableError,
    _check_image,
)
from clamr_frames.context.ocr.words import split_glued_words
from clamr_frames.errors import (
    ClamrFramesError,
    InputError,
)


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
        rec_min_width: the narrowest input of the recognizer, in pixels at its 48-pixel line height. RapidOCR's
            own (320) pads every line to 320 pixels, and a batch to its widest line; a short line (a counter, a
            timecode: 130-200 pixels) then costs what a long one does. At 48, with :meth:`recognize` batching
            only lines of similar width, recognition of such lines took about a third of the time and read the
            same text (``benchmarks/ocr_real.py``).
        rec_workers: batches of lines recognised at the same time, each in its own onnxruntime run (with
            ``threads`` threads). None: as many as fit the usable cores at ``threads`` threads each (the usable
            cores when ``threads=1``; 1 when ``threads`` is None, onnxruntime then using every core), 1 on CUDA.
            The batches are the same for any number of workers, so the text and scores are too. Independent
            runs, unlike more intra-op threads, do not wait on each other (on a loaded 2-core machine two
            intra-op threads made recognition slower, two workers made it faster); the index's OCR thread
            thereby uses a core the other stages leave idle.

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
        rec_min_width: int = 48,
        rec_workers: int | None = None,
    ) -> None:
        if det_limit_side_len < 32:
            raise InputError(f"det_limit_side_len must be >= 32, got {det_limit_side_len}")
        if not 0.0 <= min_score <= 1.0:
            raise InputError(f"min_score must be in [0, 1], got {min_score}")
        if threads is not None and threads < 1:
            raise InputError(f"threads must be >= 1, got {threads}")
        if rec_batch < 1:
            raise InputError(f"rec_batch must be >= 1, got {rec_batch}")
        if not 16 <= rec_min_width <= 2048:
            raise InputError(f"rec_min_width must be in [16, 2048], got {rec_min_width}")
        self.det_limit_side_len = int(det_limit_side_len)
        self.use_cls = bool(use_cls)
        self.min_score = float(min_score)
        self.split_glued = bool(split_glued)
        self.threads = threads
        self.rec_batch = int(rec_batch)
        self.rec_min_width = int(rec_min_width)
        if rec_workers is not None and rec_workers < 1:
            raise InputError(f"rec_workers must be >= 1, got {rec_workers}")
        self._pool: Any = None  # threads of the recognition workers: started on first use
        self.device = _ort_device(device)
        if rec_workers is not None:
            self.rec_workers = int(rec_workers)
        elif self.device == "cpu" and threads is not None:
            # workers x intra-op threads stay within the cores (8 cores at threads=4: 2 workers, not 8 x 4)
            self.rec_workers = max(1, usable_cores() // int(threads))
        else:
            self.rec_workers = 1
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
            "Rec.rec_img_shape": [3, 48, self.rec_min_width],
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
            + (f"/recw{self.rec_min_width}" if self.rec_min_width != 320 else "")
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
        """(text, confidence) of each RGB text-line crop, in batches of up to ``rec_batch`` lines of similar
        width (a batch is padded to its widest line, so a short line batched with a long one costs as much)."""
        if not crops:
            return []
        bgr = [np.ascontiguousarray(_check_image(c, "text crop")[..., ::-1]) for c in crops]
        groups = _similar_widths([c.shape[1] / c.shape[0] for c in bgr], self.rec_batch)

        def run(group: list[int]) -> Any:
            try:
                return self._ocr.recognize_txt([bgr[i] for i in group])
            except Exception as e:
                raise ClamrFramesError(f"RapidOCR's recognizer failed on {len(group)} text crops: {e}") from e

        if self.rec_workers > 1 and len(groups) > 1:
            if self._pool is None:
                from concurrent.futures import ThreadPoolExecutor

                self._pool = ThreadPoolExecutor(self.rec_workers, thread_name_prefix="ocr-rec")
            results = list(self._pool.map(run, groups))
        else:
            results = [run(g) for g in groups]
        out: list[tuple[str, float]] = [("", 0.0)] * len(bgr)
        for group, result in zip(groups, results):
            for i, t, sc in zip(group, result.txts, result.scores):
                out[i] = (str(t), float(sc))
        return out

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


def _similar_widths(ratios: Sequence[float], most: int, spread: float = 1.25) -> list[list[int]]:
    """Indices of ``ratios`` (width / height) in groups of at most ``most``, narrowest first, each group's widest
    at most ``spread`` times its narrowest.

    >>> _similar_widths([3.0, 10.0, 3.2, 2.9], 16)
    [[3, 0, 2], [1]]
    """
    groups: list[list[int]] = []
    for i in sorted(range(len(ratios)), key=lambda i: ratios[i]):
        if groups and len(groups[-1]) < most and ratios[i] <= spread * ratios[groups[-1][0]]:
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


@functools.lru_cache(maxsize=4096)
def _split_cached(line: str) -> str:
    # the same lines come back frame after frame: split each once
    return split_glued_words(line)
