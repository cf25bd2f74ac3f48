"""Random spatial knowledge graphs (a small furniture catalogue), for layout and render tests."""

from __future__ import annotations

import random

from scenesynth.graph import Attribute, AttributeKind, ImageInfo, Relation, SceneGraph, SceneObject

CATALOG = [
    # name, form, placement, real size (w, h, d) metres, colors
    ("table", "flat", "floor", (1.4, 0.75, 0.8), ["brown", "white", "black"]),
    ("chair", "box", "floor", (0.5, 0.9, 0.5), ["brown", "black", "red"]),
    ("cup", "container", "surface", (0.09, 0.1, 0.09), ["white", "red", "blue"]),
    ("lamp", "tall", "surface", (0.3, 0.6, 0.3), ["yellow", "white"]),
    ("person", "person", "floor", (0.5, 1.7, 0.3), ["blue", "red", "green"]),
    ("dog", "animal", "floor", (0.8, 0.6, 0.3), ["brown", "black", "white"]),
    ("plant", "plant", "floor", (0.5, 1.0, 0.5), ["green"]),
    ("ball", "round", "floor", (0.25, 0.25, 0.25), ["red", "orange", "blue"]),
    ("car", "vehicle", "ground", (4.2, 1.5, 1.8), ["red", "blue", "silver", "black"]),
    ("bench", "long", "ground", (1.6, 0.8, 0.5), ["brown", "green"]),
    ("clock", "round", "wall", (0.35, 0.35, 0.05), ["white", "black"]),
    ("cloud", "round", "sky", (30.0, 12.0, 20.0), ["white", "gray"]),
    ("box", "box", "floor", (0.6, 0.5, 0.5), ["brown", "yellow"]),
    ("bowl", "container", "surface", (0.2, 0.1, 0.2), ["white", "green"]),
    ("book", "flat", "surface", (0.2, 0.04, 0.28), ["red", "blue", "green"]),
]


SUPPORTS = {"cup": {"table", "box", "chair"}, "lamp": {"table", "box"},
            "bowl": {"table", "box"}, "book": {"table", "chair", "box"},
            "ball": {"table", "box", "chair"}}


MATERIALS = ["wood", "metal", "plastic", "glass", "fabric", "stone"]


def random_kg(seed: int, n_range: tuple[int, int] = (3, 8), canvas: int = 512) -> SceneGraph:
    rng = random.Random(seed)
    n = rng.randint(*n_range)
    objects: list[SceneObject] = []
    hidden: dict[str, tuple[float, float, float]] = {}  # x, y, depth of a secret arrangement
    used: dict[str, int] = {}
    for k in range(n):
        name, form, placement, size, colors = rng.choice(CATALOG)
        copy = used.get(name, 0)
        used[name] = copy + 1
        color = colors[copy % len(colors)] if copy < len(colors) else rng.choice(colors)
        attrs = [Attribute(value=color, kind=AttributeKind.COLOR),
                 Attribute(value=MATERIALS[(k + copy) % len(MATERIALS)],
                           kind=AttributeKind.MATERIAL)]
        objects.append(SceneObject(
            id=f"o{k}", name=name, attributes=attrs,
            meta={"real_size": list(size), "form": form, "placement": placement},
        ))
        hidden[f"o{k}"] = (rng.random(), rng.random(), rng.uniform(2, 8))
    relations: list[Relation] = []
    supported: set[str] = set()
    ids = [o.id for o in objects]
    by_id = {o.id: o for o in objects}

    def add(s: str, p: str, o: str) -> None:
        relations.append(Relation(subject=s, predicate=p, object=o, category="spatial"))

    # stacks first, so the hidden arrangement can agree with them
    for a in ids:
        for b in ids:
            if a != b and a not in supported and b not in supported and by_id[b].name in \
                    SUPPORTS.get(by_id[a].name, ()) and rng.random() < 0.7:
                add(a, "on top of", b)
                supported.add(a)
                xb, yb, db = hidden[b]
                hidden[a] = (xb, yb - 0.2, db)
                break
    pairs = [(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    rng.shuffle(pairs)
    for a, b in pairs[: rng.randint(1, max(1, len(pairs)))]:
        if any({r.subject, r.object} == {a, b} for r in relations):
            continue
        (xa, ya, da), (xb, yb, db) = hidden[a], hidden[b]
        options = []
        if abs(xa - xb) > 0.1:
            options.append(("left of", "right of")[xa > xb])
        if abs(ya - yb) > 0.1 and a not in supported and b not in supported:
            options.append(("above", "below")[ya > yb])
        if abs(da - db) > 1.0 and a not in supported and b not in supported:
            options.append(("in front of", "behind")[da > db])
        dist = ((xa - xb) ** 2 + (ya - yb) ** 2) ** 0.5
        if dist < 0.2:
            options.append("near")
        elif dist > 0.8:
            options.append("far from")
        if options:
            add(a, rng.choice(options), b)
    return SceneGraph(
        image=ImageInfo(id=f"kg-{seed}", width=canvas, height=canvas,
                        source="scenesynth.knowledge"),
        objects=objects, relations=relations,
        meta={"scene": rng.choice(["kitchen", "park", "office", "street"]),
              "absent_objects": ["sofa"], "kg_seed": seed},
    )
