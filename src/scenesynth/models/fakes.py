"""Deterministic fake backends with a fixed cost per image: for tests, for the pipeline
benchmark (``bench/annotate.py``), and to try a config before any model is downloaded.

Their output is a function of the image size only (and ``cost_s`` seconds of sleep per image,
standing in for model time): a grid of boxes cycling through the asked labels, an ellipse
inscribed in each box, and a floor-like depth map (lower rows nearer).
"""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from scenesynth.graph import Box
from scenesynth.models.detector import Detection
from scenesynth.models.roles import DepthResult, MaskResult, RoleImage, box_pixels


class GridDetector:
    def __init__(self, rows: int = 2, cols: int = 2, cost_s: float = 0.0) -> None:
        self.rows, self.cols, self.cost_s = rows, cols, cost_s
        self.name = f"fake:grid{rows}x{cols}"

    def detect(self, images: Sequence[RoleImage],
               labels: Sequence[Sequence[str]]) -> list[list[Detection]]:
        out = []
        for img, names in zip(images, labels, strict=True):
            time.sleep(self.cost_s)
            w, h = img.image.size
            cw, ch = w / self.cols, h / self.rows
            dets = []
            for k in range(self.rows * self.cols if names else 0):
                r, c = divmod(k, self.cols)
                box = Box(x0=c * cw + cw * 0.1, y0=r * ch + ch * 0.1,
                          x1=(c + 1) * cw - cw * 0.1, y1=(r + 1) * ch - ch * 0.1)
                dets.append(Detection(names[k % len(names)], box, round(0.9 - 0.1 * k, 6)))
            out.append(dets)
        return out


class EllipseSegmenter:
    def __init__(self, cost_s: float = 0.0) -> None:
        self.cost_s = cost_s
        self.name = "fake:ellipse"

    def segment(self, images: Sequence[RoleImage],
                boxes: Sequence[Sequence[Box]]) -> list[list[MaskResult | None]]:
        out: list[list[MaskResult | None]] = []
        for img, prompts in zip(images, boxes, strict=True):
            time.sleep(self.cost_s)
            w, h = img.image.size
            results: list[MaskResult | None] = []
            for b in prompts:
                rows, cols = box_pixels(b, h, w)
                yy, xx = np.mgrid[rows, cols] + 0.5
                cx, cy = (b.x0 + b.x1) / 2, (b.y0 + b.y1) / 2
                rx, ry = max(b.width / 2, 1e-6), max(b.height / 2, 1e-6)
                mask = np.zeros((h, w), dtype=bool)
                mask[rows, cols] = ((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1.0
                results.append(MaskResult(mask, 1.0) if mask.any() else None)
            out.append(results)
        return out


class FloorDepth:
    def __init__(self, cost_s: float = 0.0) -> None:
        self.cost_s = cost_s
        self.name = "fake:floor"

    def estimate(self, images: Sequence[RoleImage]) -> list[DepthResult]:
        out = []
        for img in images:
            time.sleep(self.cost_s)
            w, h = img.image.size
            rows = np.linspace(10.0, 1.0, h, dtype=np.float32)  # top far, bottom near
            out.append(DepthResult(np.repeat(rows[:, None], w, axis=1), "relative"))
        return out
