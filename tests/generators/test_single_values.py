"""The per-graph table of single-valued kinds (kit.single_values) answers every
(object, kind) as kit.single_value does: objects with no value, one value, two values of a
kind, and a value repeated."""

from __future__ import annotations

import random

from scenesynth.generators.kit import QUERY_KINDS, single_value, single_values
from scenesynth.graph import (
    DEFAULT_RULES,
    Attribute,
    AttributeKind,
    ImageInfo,
    SceneGraph,
    SceneObject,
)
from scenesynth.programs.tables import SceneTables

VALUES = {AttributeKind.COLOR: ["red", "blue"], AttributeKind.MATERIAL: ["wood", "metal"],
          AttributeKind.SIZE: ["small", "large"], AttributeKind.OTHER: ["striped", "old"]}


def test_single_values_answer_as_single_value() -> None:
    rng = random.Random(4)
    objects = []
    for i in range(200):
        attributes = [Attribute(value=rng.choice(VALUES[kind]), kind=kind)
                      for kind in rng.sample(list(VALUES), rng.randint(0, 3))
                      for _ in range(rng.choice((1, 1, 2)))]  # two draws: 1 or 2 values
        objects.append(SceneObject(id=f"o{i}", name="cup", attributes=attributes))
    graph = SceneGraph(image=ImageInfo(id="kinds", width=100, height=100), objects=objects)
    t = SceneTables(graph, 0, DEFAULT_RULES)
    singles = single_values(t)
    answered = {None: 0, "value": 0}
    for r in t.scene:
        for kind in (*QUERY_KINDS, AttributeKind.OTHER):
            expected = single_value(t, r, kind)
            assert singles[r].get(kind) == expected, (r, kind)
            answered["value" if expected is not None else None] += 1
    # objects with two values of a kind (no single value) and with one are both exercised
    assert any(len(set(t.attr_by_kind[r].get(k, ()))) == 2 for r in t.scene for k in VALUES)
    assert answered[None] > 0 and answered["value"] > 0
