"""Relation density: how many relations a graph set has per object, by category (the figure
Synthetic Visual Genome reports: ~4x Visual Genome's relations per object after completion)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from scenesynth.graph import SceneGraph


class DensityCounter:
    """Streaming counts for :func:`density` (one graph at a time, constant memory)."""

    def __init__(self) -> None:
        self.images = self.objects = self.relations = 0
        self.ratio_sum = 0.0
        self.ratio_images = 0
        self.by_category: Counter[str] = Counter()

    def add(self, g: SceneGraph) -> None:
        self.images += 1
        self.objects += len(g.objects)
        self.relations += len(g.relations)
        self.by_category.update(r.category.value for r in g.relations)
        if g.objects:
            self.ratio_sum += len(g.relations) / len(g.objects)
            self.ratio_images += 1

    def result(self) -> dict[str, Any]:
        objects = self.objects
        return {
            "images": self.images,
            "objects": objects,
            "relations": self.relations,
            "relations_per_object": round(self.relations / objects, 4) if objects else 0.0,
            "mean_relations_per_object_per_image": round(
                self.ratio_sum / self.ratio_images, 4) if self.ratio_images else 0.0,
            "by_category": {
                cat: {"relations": n, "per_object": round(n / objects, 4) if objects else 0.0}
                for cat, n in sorted(self.by_category.items())},
        }


def density(graphs: Iterable[SceneGraph]) -> dict[str, Any]:
    """Images, objects, relations; relations per object over the whole set and as the mean of
    the per-image ratios (images without objects left out); relations and relations per object
    by category."""
    counter = DensityCounter()
    for g in graphs:
        counter.add(g)
    return counter.result()
