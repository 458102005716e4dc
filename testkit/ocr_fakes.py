"""Stand-ins for the OCR engine in tests of the OCR passes: signs of black text on white paper, and a detector /
recognizer that finds the paper and reads a crop by matching the known signs (no OCR model)."""

from __future__ import annotations

import numpy as np


def sign_patch(text: str, size: int = 18) -> np.ndarray:
    """Black text on white paper with a 6-pixel margin: the only pure-white pixels of the test frames."""
    from PIL import Image, ImageDraw, ImageFont

    font = ImageFont.load_default(size=size)
    x0, y0, x1, y1 = font.getbbox(text)
    img = Image.new("RGB", (x1 - x0 + 12, y1 - y0 + 12), (255, 255, 255))
    ImageDraw.Draw(img).text((6 - x0, 6 - y0), text, font=font, fill=(0, 0, 0))
    return np.asarray(img).copy()


class PaperBoxReader:
    """Finds white paper as text boxes (a little loose, as a detector on a downscaled frame is) and reads a
    crop by matching the known sign patches; counts detector runs, recognizer calls and crops."""

    engine_id = "paper-lookup"
    min_score = 0.5

    def __init__(self, texts: list[str], blind: set[int] = frozenset(), size: int = 18):
        self.patches = {t: sign_patch(t, size) for t in texts}  # the signs' font size: as the frames draw them
        self.blind = blind  # detector runs (1-based) that find nothing, as a flickering detector does
        self.detects = self.rec_calls = self.rec_crops = 0
        self.read: list[str] = []  # every text it recognised, in order

    def detect(self, image: np.ndarray, *, side: int) -> np.ndarray:
        import cv2

        self.detects += 1
        if self.detects in self.blind:
            return np.zeros((0, 4, 2), np.float32)
        rng = np.random.default_rng(self.detects)
        paper = cv2.morphologyEx((image.min(-1) == 255).astype(np.uint8), cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
        _, _, stats, _ = cv2.connectedComponentsWithStats(paper)
        quads = []
        for x, y, w, h, area in stats[1:]:
            if area < 50:
                continue
            a, b, c, d = rng.integers(0, 3, 4)  # jitter: the box never sits on the same pixels twice
            x0, y0, x1, y1 = max(x - a, 0), max(y - b, 0), min(x + w + c, image.shape[1]), min(y + h + d, image.shape[0])
            quads.append([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])
        return np.asarray(quads, np.float32).reshape(-1, 4, 2)

    def recognize(self, crops):
        import cv2

        self.rec_calls += 1
        self.rec_crops += len(crops)
        out = []
        for crop in crops:
            best = ("", 0.0)
            for text, p in self.patches.items():
                if p.shape[0] <= crop.shape[0] and p.shape[1] <= crop.shape[1]:
                    r = cv2.matchTemplate(crop.astype(np.float32), p.astype(np.float32), cv2.TM_SQDIFF).min()
                    if r / p.size < 1.0:
                        best = (text, 0.99)
            out.append(best)
            self.read.append(best[0])
        return out


__all__ = ["PaperBoxReader", "sign_patch"]
