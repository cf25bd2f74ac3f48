"""A reference asked with anchors avoided is the one the search with those anchors avoided
finds, also when :func:`refer` answers it from the reference found with none avoided (the
case of every question about two or more objects on a dense graph)."""

from __future__ import annotations

import random

import pytest
from dense_graphs import dense_graph

from scenesynth.generators import refer as refer_module
from scenesynth.generators.refer import EXHAUSTIVE_RELATIONS, Reference, refer
from scenesynth.graph import DEFAULT_RULES, AttributeKind, SceneGraph, SpatialRules
from scenesynth.programs.tables import SceneTables

RULES = [DEFAULT_RULES, SpatialRules(lr_margin=0.0, ab_margin=0.0, depth_margin=0.0,
                                     eps_3d=0.0)]


def described(ref: Reference | None) -> str:
    if ref is None:
        return "none"
    return f"{ref.text} {ref.steps!r} {ref.objects} {ref.relations} {sorted(ref.kinds_used)}"


def graphs() -> list[tuple[SceneGraph, SpatialRules]]:
    out = []
    for seed, n in ((0, 60), (1, 120)):
        for positions in ("none", "some"):
            graph = dense_graph(seed, positions, n_objects=n)
            out.extend((graph, rules) for rules in RULES)
    # relations marked complete: annotated non-spatial relations name objects too
    graph = dense_graph(0, "some", n_objects=60)
    out.append((graph.model_copy(update={"meta": {EXHAUSTIVE_RELATIONS: True}}), DEFAULT_RULES))
    return out


@pytest.mark.parametrize("graph,rules", graphs())
def test_avoided_anchors_give_the_reference_of_the_search(
    graph: SceneGraph, rules: SpatialRules
) -> None:
    reused = SceneTables(graph, 0, rules)  # refer's memo: answers reused across calls
    searched = SceneTables(graph, 0, rules)  # every reference searched with its avoidance
    rng = random.Random(len(graph.objects))
    changed = relational = annotated = 0
    for target in reused.scene:
        others = [x for x in reused.scene if x != target]
        for kinds in ((), (AttributeKind.COLOR,)):
            for relations in (True, False):
                free = refer(reused, target, avoid_kinds=kinds, relations=relations)
                # avoid the anchors the free reference uses, then random objects
                avoided: list[tuple[str, ...]] = []
                if free is not None and free.relations:
                    avoided.append(tuple(free.objects[1:]))
                    avoided.append((free.objects[1], rng.choice(others)))
                avoided.extend(tuple(rng.sample(others, k)) for k in (1, 1, 2, 3))
                for avoid in avoided:
                    got = refer(reused, target, avoid_kinds=kinds, relations=relations,
                                avoid_objects=avoid)
                    want, _ = refer_module._refer(searched, target, kinds, relations, True,
                                                  avoid)
                    assert described(got) == described(want), (target, kinds, avoid)
                    changed += described(got) != described(free)
                    relational += got is not None and bool(got.relations)
                    annotated += got is not None and "'annotated'" in repr(got.steps)
    # both paths and relational references exercised (annotated ones where marked complete)
    assert changed > 0 and relational > 0
    assert annotated > 0 or graph.meta.get(EXHAUSTIVE_RELATIONS) is not True
