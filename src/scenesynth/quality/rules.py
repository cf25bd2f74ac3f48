"""Verification by construction for exact renders.

After the CPU renderer re-measured every object from its visible mask, two checks decide
whether a rendered image may be used:

* objects with fewer than ``min_pixels`` visible pixels are dropped from the graph together
  with every relation that mentions them (a question about an object nobody can see is wrong);
* every remaining spatial relation is re-derived from the rendered boxes and depths with
  :func:`scenesynth.graph.spatial_relation`; a triplet that is no longer decided True means
  the image has to be laid out again (or dropped).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from scenesynth.graph import (
    DEFAULT_RULES,
    SceneGraph,
    SpatialRules,
    canonical_spatial,
    spatial_relation,
)

Triplet = tuple[str, str, str]


@dataclass
class VerifiedGraph:
    graph: SceneGraph
    dropped_objects: list[str] = field(default_factory=list)
    dropped_relations: list[Triplet] = field(default_factory=list)
    unsatisfied: list[Triplet] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.unsatisfied and bool(self.graph.objects)


def visible_pixels(graph: SceneGraph, object_index: int) -> int:
    obj = graph.objects[object_index]
    count = obj.meta.get("visible_pixels")
    if count is not None:
        return int(count)
    if obj.mask is None:
        return 0
    from pycocotools import mask as mask_utils

    rle = {"size": list(obj.mask.size), "counts": obj.mask.counts}
    if isinstance(obj.mask.counts, list):
        rle = mask_utils.frPyObjects(rle, *obj.mask.size)
    return int(mask_utils.area(rle))


def drop_small_objects(graph: SceneGraph, min_pixels: int) -> tuple[SceneGraph, list[str],
                                                                   list[Triplet]]:
    """The graph without objects under ``min_pixels`` visible pixels (and their relations)."""
    keep, dropped = [], []
    for k, obj in enumerate(graph.objects):
        if obj.box is not None and visible_pixels(graph, k) >= min_pixels:
            keep.append(obj)
        else:
            dropped.append(obj.id)
    if not dropped:
        return graph, [], []
    gone = set(dropped)
    relations, lost = [], []
    for rel in graph.relations:
        if rel.subject in gone or rel.object in gone:
            lost.append(rel.triplet())
        else:
            relations.append(rel)
    return graph.model_copy(update={"objects": keep, "relations": relations}), dropped, lost


def unsatisfied_relations(graph: SceneGraph, rules: SpatialRules = DEFAULT_RULES) -> list[Triplet]:
    """Spatial triplets of ``graph`` not decided True on its (rendered) boxes and depths."""
    by_id = {o.id: o for o in graph.objects}
    failed: list[Triplet] = []
    for rel in graph.relations:
        if canonical_spatial(rel.predicate) is None:
            continue
        verdict = spatial_relation(by_id[rel.subject], by_id[rel.object], rel.predicate,
                                   graph.image, graph.camera, rules)
        if verdict is not True:
            failed.append(rel.triplet())
    return failed


def verify_rendered(
    graph: SceneGraph, min_pixels: int = 64, rules: SpatialRules = DEFAULT_RULES
) -> VerifiedGraph:
    """Drop barely visible objects, then re-derive every relation from the rendered geometry."""
    kept, dropped, lost = drop_small_objects(graph, min_pixels)
    return VerifiedGraph(kept, dropped, lost, unsatisfied_relations(kept, rules))
