"""Geometry-based refinement of a graph's relations (see the package docstring)."""

from __future__ import annotations

from dataclasses import dataclass

from scenesynth.graph import (
    DEFAULT_RULES,
    RelationCategory,
    SceneGraph,
    SpatialRules,
    canonical_spatial,
    derive_relations,
    spatial_relation,
)
from scenesynth.graph.geometry import ABOVE, BEHIND, BELOW, FRONT, LEFT, RIGHT

# Predicates whose meaning is fully determined by geometry, so a geometric False is an error.
GEOMETRIC_PREDICATES: tuple[str, ...] = (LEFT, RIGHT, ABOVE, BELOW, FRONT, BEHIND)


@dataclass(frozen=True)
class RejectedRelation:
    image_id: str
    index: int  # position in the graph's original relation list
    triplet: tuple[str, str, str]
    reason: str


def add_derived_relations(
    graph: SceneGraph,
    predicates: tuple[str, ...] = GEOMETRIC_PREDICATES,
    rules: SpatialRules = DEFAULT_RULES,
) -> SceneGraph:
    """Return a copy of ``graph`` with derived spatial relations added (no duplicates)."""
    have = {
        (r.subject, canonical_spatial(r.predicate) or r.predicate, r.object)
        for r in graph.relations
    }
    new = [r for r in derive_relations(graph, predicates, rules) if r.triplet() not in have]
    return graph.model_copy(update={"relations": [*graph.relations, *new]})


def filter_contradictions(
    graph: SceneGraph,
    predicates: tuple[str, ...] = GEOMETRIC_PREDICATES,
    rules: SpatialRules = DEFAULT_RULES,
) -> tuple[SceneGraph, list[RejectedRelation]]:
    """Drop relations whose (canonical) predicate is in ``predicates`` and that geometry decides
    are false. Undecided pairs are kept: geometry has no evidence against them."""
    objects = {o.id: o for o in graph.objects}
    kept = []
    rejected: list[RejectedRelation] = []
    for i, rel in enumerate(graph.relations):
        pred = canonical_spatial(rel.predicate)
        if pred in predicates:
            verdict = spatial_relation(
                objects[rel.subject], objects[rel.object], pred, graph.image, graph.camera, rules
            )
            if verdict is False:
                rejected.append(
                    RejectedRelation(
                        graph.image.id,
                        i,
                        rel.triplet(),
                        f"geometry contradicts '{pred}'",
                    )
                )
                continue
            if rel.category == RelationCategory.OTHER:
                rel = rel.model_copy(update={"category": RelationCategory.SPATIAL})
        kept.append(rel)
    return graph.model_copy(update={"relations": kept}), rejected
