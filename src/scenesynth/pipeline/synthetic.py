"""Synthetic scene graphs for scale tests and benchmarks (no dataset needed).

Deterministic in ``seed``: graph ``i`` depends only on ``(seed, i)``, so any prefix of a big set
equals the smaller set. Objects have names, typed attributes (color, size, material), boxes
inside the image, depths, and a few annotated spatial relations consistent with their boxes.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

from scenesynth.graph import (
    Attribute,
    AttributeKind,
    Box,
    ImageInfo,
    Relation,
    RelationCategory,
    SceneGraph,
    SceneObject,
    write_graphs_jsonl,
)
from scenesynth.graph.seeds import derive_seed

NAMES = ("cube", "sphere", "cylinder", "chair", "table", "cup", "lamp", "book", "dog", "cat")
COLORS = ("red", "green", "blue", "yellow", "gray", "brown", "purple", "cyan")
SIZES = ("small", "large")
MATERIALS = ("metal", "rubber", "wood")
WIDTH, HEIGHT = 640, 480


def synthetic_graph(seed: int, i: int, min_objects: int = 3, max_objects: int = 8) -> SceneGraph:
    rng = random.Random(derive_seed(seed, "synthetic", i))
    objects: list[SceneObject] = []
    for k in range(rng.randint(min_objects, max_objects)):
        w, h = rng.uniform(30, 200), rng.uniform(30, 200)
        x0, y0 = rng.uniform(0, WIDTH - w), rng.uniform(0, HEIGHT - h)
        objects.append(
            SceneObject(
                id=str(k),
                name=rng.choice(NAMES),
                attributes=[
                    Attribute(value=rng.choice(COLORS), kind=AttributeKind.COLOR),
                    Attribute(value=rng.choice(SIZES), kind=AttributeKind.SIZE),
                    Attribute(value=rng.choice(MATERIALS), kind=AttributeKind.MATERIAL),
                ],
                box=Box(x0=round(x0, 1), y0=round(y0, 1), x1=round(x0 + w, 1), y1=round(y0 + h, 1)),
                depth=round(rng.uniform(1.0, 20.0), 2),
            )
        )
    relations: list[Relation] = []
    for a in objects:
        for b in objects:
            assert a.box is not None and b.box is not None
            if a is not b and a.box.x1 < b.box.x0 and rng.random() < 0.3:
                relations.append(
                    Relation(
                        subject=a.id,
                        predicate="left of",
                        object=b.id,
                        category=RelationCategory.SPATIAL,
                    )
                )
    return SceneGraph(
        image=ImageInfo(id=f"syn-{seed}-{i:07d}", width=WIDTH, height=HEIGHT, source="synthetic"),
        objects=objects,
        relations=relations,
    )


def synthetic_graphs(n: int, seed: int = 0) -> Iterator[SceneGraph]:
    for i in range(n):
        yield synthetic_graph(seed, i)


def write_synthetic_jsonl(path: str | Path, n: int, seed: int = 0) -> int:
    """Write ``n`` synthetic graphs as scene-graph JSONL (atomically); returns ``n``."""
    return write_graphs_jsonl(synthetic_graphs(n, seed), path)
