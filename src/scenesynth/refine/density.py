"""Relation density: how many relations a graph set has per object, by category (the figure
Synthetic Visual Genome reports: ~4x Visual Genome's relations per object after completion)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from typing import Any

from scenesynth.graph import SceneGraph


def density(graphs: Iterable[SceneGraph]) -> dict[str, Any]:
    """Images, objects, relations; relations per object over the whole set and as the mean of
    the per-image ratios (images without objects left out); relations and relations per object
    by category."""
    images = objects = relations = 0
    ratios: list[float] = []
    by_category: Counter[str] = Counter()
    for g in graphs:
        images += 1
        objects += len(g.objects)
        relations += len(g.relations)
        by_category.update(r.category.value for r in g.relations)
        if g.objects:
            ratios.append(len(g.relations) / len(g.objects))
    per_object = relations / objects if objects else 0.0
    return {
        "images": images,
        "objects": objects,
        "relations": relations,
        "relations_per_object": round(per_object, 4),
        "mean_relations_per_object_per_image": round(sum(ratios) / len(ratios), 4)
        if ratios else 0.0,
        "by_category": {
            cat: {"relations": n, "per_object": round(n / objects, 4) if objects else 0.0}
            for cat, n in sorted(by_category.items())},
    }
