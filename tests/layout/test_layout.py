"""Layout solver: every emitted layout satisfies its triplets; contradictions are reported."""

from __future__ import annotations

import numpy as np
import pytest
from kgs import random_kg

from scenesynth.graph import (
    Attribute,
    ImageInfo,
    Relation,
    SceneGraph,
    SceneObject,
    spatial_relation,
)
from scenesynth.layout import LayoutConfig, LayoutInputError, is_outdoor, solve_layout


def _obj(oid: str, name: str, form: str = "box", placement: str = "floor",
         size: tuple[float, float, float] = (0.5, 0.5, 0.5)) -> SceneObject:
    return SceneObject(id=oid, name=name, attributes=[Attribute(value="red")],
                       meta={"real_size": list(size), "form": form, "placement": placement})


def _kg(objects: list[SceneObject], triplets: list[tuple[str, str, str]],
        scene: str = "kitchen") -> SceneGraph:
    return SceneGraph(
        image=ImageInfo(id="hand", width=512, height=512, source="scenesynth.knowledge"),
        objects=objects,
        relations=[Relation(subject=s, predicate=p, object=o, category="spatial")
                   for s, p, o in triplets],
        meta={"scene": scene, "absent_objects": [], "kg_seed": 0},
    )


def _all_hold(graph: SceneGraph) -> list[tuple[str, str, str]]:
    by_id = {o.id: o for o in graph.objects}
    return [r.triplet() for r in graph.relations
            if spatial_relation(by_id[r.subject], by_id[r.object], r.predicate,
                                graph.image) is not True]


def _visible_fractions(graph: SceneGraph) -> list[float]:
    """Box area of each object not covered by the boxes of nearer objects (full resolution)."""
    owner = np.full((graph.image.height, graph.image.width), False)
    fractions = {}
    for obj in sorted(graph.objects, key=lambda o: (o.depth, o.id)):
        assert obj.box is not None
        x0, y0 = round(obj.box.x0), round(obj.box.y0)
        x1, y1 = max(x0 + 1, round(obj.box.x1)), max(y0 + 1, round(obj.box.y1))
        region = owner[y0:y1, x0:x1]
        fractions[obj.id] = float((~region).mean())
        region[:] = True
    return [fractions[o.id] for o in graph.objects]


def test_1000_sampled_kgs_layouts_satisfy_every_triplet() -> None:
    solved = relations = 0
    for seed in range(1000):
        kg = random_kg(seed)
        result = solve_layout(kg, seed)
        if not result.ok:
            assert result.conflicts and result.conflicts[0].reason
            continue
        graph = result.graph
        assert graph is not None
        solved += 1
        relations += len(graph.relations)
        assert _all_hold(graph) == [], f"seed {seed}"
        for obj in graph.objects:
            assert obj.box is not None and obj.depth is not None and obj.depth > 0
            assert obj.box.inside_image(512, 512) and obj.box.width >= 1 and obj.box.height >= 1
        # bounded occlusion, measured independently at full resolution
        assert min(_visible_fractions(graph)) >= 0.5, f"seed {seed}"
    # the random KGs include a few crowded ones no layout can fit, and some whose random
    # relations put a ground object above a sky object: no attempt lays those out with the
    # ground object floating (issue 15), so they fail; the rest are solved
    assert solved >= 925, solved  # measured 931 (988 while late attempts let objects float)
    assert relations > 5000


def test_layout_is_deterministic_and_seed_dependent() -> None:
    kg = random_kg(7)
    a, b, c = solve_layout(kg, 3), solve_layout(kg, 3), solve_layout(kg, 4)
    assert a.graph is not None and b.graph is not None and c.graph is not None
    assert a.graph.model_dump_json() == b.graph.model_dump_json()
    assert [o.box for o in a.graph.objects] != [o.box for o in c.graph.objects]


@pytest.mark.parametrize(
    ("triplets", "reason"),
    [
        ([("a", "left of", "b"), ("b", "left of", "c"), ("c", "left of", "a")],
         "cyclic left/right order"),
        ([("a", "left of", "b"), ("a", "right of", "b")], "cyclic left/right order"),
        ([("a", "below", "b"), ("a", "on top of", "b")], "cyclic above/below/on top of order"),
        ([("a", "in front of", "b"), ("b", "in front of", "c"), ("a", "behind", "c")],
         "cyclic in front of/behind order"),
        ([("a", "near", "b"), ("a", "far from", "b")], "a pair cannot be both near and far"),
        ([("a", "near", "c"), ("c", "near", "b"), ("a", "far from", "b")],
         "two near pairs bound the distance below the far threshold"),
        ([("a", "on top of", "b"), ("a", "on top of", "c")],
         "an object cannot rest on top of two supports"),
        ([("a", "left of", "a")], "an object cannot be related to itself"),
    ],
)
def test_contradictions_are_reported_with_their_triplets(
    triplets: list[tuple[str, str, str]], reason: str
) -> None:
    kg = _kg([_obj("a", "cup"), _obj("b", "table"), _obj("c", "chair")], triplets)
    result = solve_layout(kg, 0)
    assert not result.ok and result.graph is None
    conflict = next(c for c in result.conflicts if c.reason == reason)
    assert set(conflict.triplets) == set(triplets)


def test_geometrically_impossible_far_pairs_are_reported_after_search() -> None:
    # six objects pairwise "far from" each other cannot fit on a 512 x 512 canvas
    ids = [f"o{k}" for k in range(6)]
    triplets = [(a, "far from", b) for i, a in enumerate(ids) for b in ids[i + 1:]]
    kg = _kg([_obj(i, "ball", "round") for i in ids], triplets)
    result = solve_layout(kg, 0, LayoutConfig(max_attempts=4))
    assert not result.ok and result.attempts == 4
    assert result.conflicts[0].reason.startswith("no ")
    assert result.conflicts[0].triplets
    assert set(result.conflicts[0].triplets) <= set(triplets)


def test_support_narrower_than_half_the_stacked_object_is_reported() -> None:
    kg = _kg([_obj("car", "car", "vehicle", "ground", (4.2, 1.5, 1.8)),
              _obj("cup", "cup", "container", "surface", (0.08, 0.1, 0.08))],
             [("car", "on top of", "cup")], scene="street")
    result = solve_layout(kg, 0, LayoutConfig(max_attempts=3))
    assert not result.ok
    assert result.conflicts[0].triplets == (("car", "on top of", "cup"),)


def test_stacks_sit_on_their_support() -> None:
    kg = _kg([_obj("t", "table", "flat", "floor", (1.4, 0.75, 0.8)),
              _obj("c", "cup", "container", "surface", (0.09, 0.1, 0.09)),
              _obj("b", "chair", "box", "floor", (0.5, 0.9, 0.5))],
             [("c", "on top of", "t"), ("b", "right of", "t")])
    for seed in range(20):
        g = solve_layout(kg, seed).graph
        assert g is not None
        cup, table = g.object("c").box, g.object("t").box
        assert cup is not None and table is not None
        # bottom edge of the cup within the top 12 % of the table, cup over the table top
        assert table.y0 <= cup.y1 <= table.y0 + 0.13 * table.height
        assert table.x0 <= cup.center[0] <= table.x1
        # drawn over the table (slightly nearer) without deciding "in front of"
        assert g.object("c").depth < g.object("t").depth
        assert spatial_relation(g.object("c"), g.object("t"), "in front of") is None


def test_relative_sizes_follow_real_size_and_perspective() -> None:
    # a person in front of a cup: nearer and bigger, so much larger on screen
    kg = _kg([_obj("p", "person", "person", "floor", (0.5, 1.7, 0.3)),
              _obj("c", "cup", "container", "floor", (0.09, 0.1, 0.09))],
             [("p", "in front of", "c")])
    # two identical boxes, one behind the other: the farther one is smaller and higher
    twins = _kg([_obj("near", "box", "box", "floor", (0.6, 0.5, 0.5)),
                 _obj("far", "box", "box", "floor", (0.6, 0.5, 0.5))],
                [("far", "behind", "near")])
    for seed in range(20):
        g = solve_layout(kg, seed).graph
        assert g is not None
        person, cup = g.object("p").box, g.object("c").box
        assert person is not None and cup is not None
        assert person.height > 4 * cup.height
        t = solve_layout(twins, seed).graph
        assert t is not None
        near, far = t.object("near"), t.object("far")
        assert near.box is not None and far.box is not None
        assert far.depth is not None and near.depth is not None
        ratio = near.depth / far.depth
        assert far.box.width == pytest.approx(near.box.width * ratio, rel=1e-3)  # depth: 4 dp
        assert far.box.y1 < near.box.y1  # farther floor objects stand higher in the image


def test_placement_puts_sky_objects_above_the_ground() -> None:
    kg = _kg([_obj("cloud", "cloud", "round", "sky", (30.0, 12.0, 20.0)),
              _obj("car", "car", "vehicle", "ground", (4.2, 1.5, 1.8)),
              _obj("dog", "dog", "animal", "ground", (0.8, 0.6, 0.3))], [], scene="street")
    for seed in range(20):
        g = solve_layout(kg, seed).graph
        assert g is not None
        horizon = g.meta["layout"]["horizon"]
        cloud = g.object("cloud").box
        assert cloud is not None and cloud.y1 <= horizon + 1
        for oid in ("car", "dog"):
            box = g.object(oid).box
            assert box is not None and box.y1 > horizon
        assert g.meta["layout"]["setting"] == "outdoor"


def test_malformed_real_size_names_image_object_and_field() -> None:
    bad = _obj("o1", "cup")
    bad.meta["real_size"] = [0.1, -2, 0.1]
    kg = _kg([_obj("o0", "table"), bad], [])
    with pytest.raises(LayoutInputError, match=r"'hand'.*objects\[1\] \('o1'\)\.meta\.real_size"):
        solve_layout(kg, 0)
    odd = _obj("o1", "cup")
    odd.meta["form"] = "blob"
    with pytest.raises(LayoutInputError, match=r"objects\[1\] \('o1'\)\.meta\.form"):
        solve_layout(_kg([_obj("o0", "table"), odd], []), 0)


def test_non_spatial_relations_are_left_unconstrained_and_listed() -> None:
    kg = _kg([_obj("a", "person", "person"), _obj("b", "cup", "container")],
             [("a", "holding", "b"), ("a", "left of", "b")])
    result = solve_layout(kg, 1)
    assert result.ok
    assert result.unconstrained == [("a", "holding", "b")]


def test_an_empty_graph_is_its_own_layout_and_one_object_fits() -> None:
    empty = _kg([], [])
    result = solve_layout(empty, 0)
    assert result.ok and result.graph == empty
    single = solve_layout(_kg([_obj("a", "ball", "round")], []), 0)
    assert single.graph is not None and single.graph.objects[0].box is not None


@pytest.mark.parametrize(
    ("scene", "placements", "outdoor"),
    [
        ("parking garage", [], False),  # the head word decides
        ("school yard", [], True),
        ("indoor swimming pool", [], False),
        ("supermarket", ["ground"], False),  # a person's "ground" placement does not make it
        ("somewhere", ["sky", "floor"], True),
        ("somewhere", ["wall", "ground"], False),
    ],
)
def test_indoor_or_outdoor(scene: str, placements: list[str], outdoor: bool) -> None:
    objects = [_obj(f"o{k}", "thing", "box", p) for k, p in enumerate(placements)]
    assert is_outdoor(_kg(objects, [], scene=scene)) is outdoor
    explicit = _kg(objects, [], scene=scene)
    explicit.meta["setting"] = "indoor" if outdoor else "outdoor"
    assert is_outdoor(explicit) is (not outdoor)
