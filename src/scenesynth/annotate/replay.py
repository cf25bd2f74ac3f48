"""Replay backends: a dataset's own annotations (any format ``scenesynth.sources.load`` reads)
or stored depth maps played back as if a model had produced them. They check the merge logic
against ground truth, and let a run reuse annotations computed elsewhere."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from scenesynth.graph import Box, SceneGraph, iou
from scenesynth.models.detector import Detection
from scenesynth.models.roles import (
    DepthKind,
    DepthResult,
    MaskResult,
    RoleImage,
    Tag,
    clip_mask_to_box,
    disparity_to_depth,
)


def _graphs_by_file(source: str) -> dict[str, SceneGraph]:
    from scenesynth.sources import load

    out: dict[str, SceneGraph] = {}
    for graph in load(source):
        name = Path(graph.image.path or graph.image.id).name
        out[name] = graph
    return out


class ReplayAnnotations:
    """Tagger, detector and segmenter at once, from a dataset's annotations matched by image
    file name: names, boxes (score 1) and masks as the dataset's loader gives them."""

    def __init__(self, source: str) -> None:
        self.name = f"replay:{Path(source).name}"
        self.graphs = _graphs_by_file(source)

    def _graph(self, image: RoleImage) -> SceneGraph | None:
        return self.graphs.get(Path(image.key).name)

    def tag(self, images: Sequence[RoleImage]) -> list[list[Tag]]:
        out = []
        for img in images:
            g = self._graph(img)
            names = [] if g is None else list(dict.fromkeys(o.name for o in g.objects))
            out.append([Tag(n, 1.0) for n in names])
        return out

    def detect(self, images: Sequence[RoleImage],
               labels: Sequence[Sequence[str]]) -> list[list[Detection]]:
        out = []
        for img, wanted in zip(images, labels, strict=True):
            g = self._graph(img)
            keep = set(wanted)
            out.append([] if g is None else [Detection(o.name, o.box, 1.0) for o in g.objects
                                             if o.box is not None and o.name in keep])
        return out

    def segment(self, images: Sequence[RoleImage],
                boxes: Sequence[Sequence[Box]]) -> list[list[MaskResult | None]]:
        from scenesynth.annotate.pipeline import decode_mask

        out: list[list[MaskResult | None]] = []
        for img, prompts in zip(images, boxes, strict=True):
            g = self._graph(img)
            masked = [] if g is None else [o for o in g.objects if o.box and o.mask]
            results: list[MaskResult | None] = []
            for box in prompts:
                best = max(masked, key=lambda o: iou(o.box, box) if o.box else 0.0,
                           default=None)
                if best is None or best.box is None or best.mask is None or \
                        iou(best.box, box) < 0.99:
                    results.append(None)
                    continue
                results.append(MaskResult(clip_mask_to_box(decode_mask(best.mask), box), 1.0))
            out.append(results)
        return out


class ReplayDepth:
    """Depth maps stored as ``<folder>/<image file stem>.npy``; ``kind`` ``disparity`` (inverse
    depth, e.g. a stereo ground truth) is converted like a relative model's output."""

    def __init__(self, folder: str, kind: str = "disparity") -> None:
        if kind not in ("disparity", "relative", "metric"):
            raise ValueError(f"replay depth kind must be disparity, relative or metric: {kind!r}")
        self.folder = Path(folder)
        self.kind = kind
        self.name = f"replay:{self.folder.name}"

    def estimate(self, images: Sequence[RoleImage]) -> list[DepthResult]:
        out = []
        for img in images:
            raw = np.load(self.folder / f"{Path(img.key).stem}.npy", allow_pickle=False)
            depth = disparity_to_depth(raw) if self.kind == "disparity" else raw
            kind: DepthKind = "metric" if self.kind == "metric" else "relative"
            out.append(DepthResult(np.asarray(depth, dtype=np.float32), kind))
        return out
