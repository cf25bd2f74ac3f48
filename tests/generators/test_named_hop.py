"""The multi-hop screen for one name (relations._named_hop) answers as the whole-image lists
filtered by that name: the objects of the name related to the anchor, and None when one of
them is undecided."""

from __future__ import annotations

import pytest
from dense_graphs import dense_graph

from scenesynth.generators.families import relations
from scenesynth.graph import DEFAULT_RULES, SceneGraph, SpatialRules
from scenesynth.programs.tables import SceneTables

PREDICATES = ["left of", "right of", "above", "below", "in front of", "behind", "near",
              "on top of"]


@pytest.mark.parametrize("graph,rules", [
    (dense_graph(seed, positions, n_objects=80), rules) for seed in range(2)
    for positions in ("none", "some")
    for rules in (DEFAULT_RULES, SpatialRules(lr_margin=0.0, ab_margin=0.0))])
def test_named_hop_equals_the_filtered_image_lists(graph: SceneGraph,
                                                    rules: SpatialRules) -> None:
    t = SceneTables(graph, 0, rules)
    undecided_names = single_objects = 0
    for o in t.scene:
        for predicate in PREDICATES:
            for name in t.by_name:
                related = [z for z in relations._related(t, o, predicate, "geometry")
                           if t.names[z] == name]
                undecided = any(t.names[z] == name
                                for z in relations._undecided(t, o, predicate, "geometry"))
                expected = None if undecided else related
                assert relations._named_hop(t, o, predicate, "geometry", name) == expected
                undecided_names += expected is None
                single_objects += expected is not None and len(expected) == 1
    for o, predicate in t.rel_by_object:
        for name in t.by_name:
            assert relations._named_hop(t, o, predicate, "annotated", name) == [
                z for z in relations._related(t, o, predicate, "annotated")
                if t.names[z] == name]
    assert undecided_names > 0 and single_objects > 0  # both screens' outcomes exercised
