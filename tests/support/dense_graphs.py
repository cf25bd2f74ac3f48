"""Dense scene graphs for the tests of the per-graph indexes (spatial orderings, box
overlaps) and of the references built on them: many same-named objects on coarse grid
values, so exact ties, touching boxes and margin-edge differences are common."""

from __future__ import annotations

import random

from scenesynth.graph import (
    Attribute,
    AttributeKind,
    Box,
    ImageInfo,
    Relation,
    SceneGraph,
    SceneObject,
    Vec3,
)


def dense_graph(seed: int, positions: str, n_objects: int = 60) -> SceneGraph:
    """Many same-named objects on coarse grid values (exact ties and margin-edge
    differences are common), some without a box or a depth; ``positions``: "none", "all"
    or "some" objects with a 3D position."""
    rng = random.Random(seed)
    objects = []
    for i in range(n_objects):
        x0, y0 = rng.randrange(0, 600, 8), rng.randrange(0, 400, 8)
        w, h = rng.randrange(8, 160, 8), rng.randrange(8, 160, 8)
        positioned = positions == "all" or (positions == "some" and rng.random() < 0.5)
        objects.append(SceneObject(
            id=f"o{i}",
            name=rng.choices(["cup", "dog", "tree", "car", "kite"], [8, 4, 2, 1, 1])[0],
            attributes=[Attribute(value=v, kind=AttributeKind.COLOR)
                        for v in rng.sample(["red", "blue", "green"], rng.randint(0, 1))],
            box=None if rng.random() < 0.05 else Box(x0=x0, y0=y0, x1=x0 + w, y1=y0 + h),
            depth=None if rng.random() < 0.05 else rng.randrange(1, 60) / 4,
            position=Vec3(x=rng.randrange(-8, 8) / 2, y=rng.randrange(-8, 8) / 2,
                          z=rng.randrange(0, 8) / 2) if positioned else None,
        ))
    relations = [Relation(subject=f"o{a}", predicate=rng.choice(["left of", "on", "holding"]),
                          object=f"o{b}")
                 for a, b in (rng.sample(range(n_objects), 2) for _ in range(n_objects // 2))]
    return SceneGraph(image=ImageInfo(id=f"dense{seed}", width=800, height=600),
                      objects=objects, relations=relations)

