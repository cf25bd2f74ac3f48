"""Refinement: make a graph's spatial relations agree with its geometry.

* :func:`add_derived_relations` adds the spatial relations geometry decides (source ``derived``),
  so generators can ask about pairs nobody annotated.
* :func:`filter_contradictions` removes annotated relations whose predicate is purely geometric
  and that the geometry decides are false (annotators do swap left and right); every removal is
  returned with its reason, never dropped silently. Predicates that are only partly geometric in
  human annotations (Visual Genome's "on" is above the object only ~3/4 of the time) are left
  alone unless the caller lists them.
"""

from scenesynth.refine.spatial import (
    GEOMETRIC_PREDICATES,
    RejectedRelation,
    add_derived_relations,
    filter_contradictions,
)

__all__ = [
    "GEOMETRIC_PREDICATES",
    "RejectedRelation",
    "add_derived_relations",
    "filter_contradictions",
]
