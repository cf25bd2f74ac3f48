"""The seeded KG sampler over 1000 seeds: consistency, support, negatives, describability."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from graphlib import CycleError, TopologicalSorter

import pytest

from scenesynth.graph import AttributeKind, RelationCategory, RelationSource, SceneGraph
from scenesynth.knowledge import (
    KBSource,
    KnowledgeSource,
    load_kb,
    make_source,
    sample_kg,
    sample_many,
)
from scenesynth.knowledge.__main__ import main as knowledge_main
from scenesynth.knowledge.consistency import (
    CONTRADICTION,
    CYCLE,
    DUPLICATE,
    FAR_INFEASIBLE,
    SECOND_SUPPORT,
    SELF_RELATION,
    STACKED_DEPTH,
    STACKED_OVERLAP,
    SUPPORT_FULL,
    UNKNOWN_PREDICATE,
    UNSUPPORTED,
    SpatialConstraints,
)

N_SEEDS = 1000
# Each directional predicate as "first precedes second" on an axis (independent of the code).
AXIS = {
    "left of": ("x", False), "right of": ("x", True),
    "above": ("y", False), "below": ("y", True), "on top of": ("y", False),
    "in front of": ("z", False), "behind": ("z", True),
}


@pytest.fixture(scope="module")
def kb():
    return load_kb()


@pytest.fixture(scope="module")
def graphs(kb) -> list[SceneGraph]:
    return [sample_kg(kb, seed) for seed in range(N_SEEDS)]


def _near_hops(graph: SceneGraph, a: str, b: str) -> float | None:
    """Shortest chain between a and b counting near pairs 1 and stacks 0.5 (Bellman-Ford)."""
    edges = [(r.subject, r.object, 1.0 if r.predicate == "near" else 0.5)
             for r in graph.relations if r.predicate in ("near", "on top of")]
    dist = {a: 0.0}
    for _ in range(len(graph.objects)):
        for u, v, w in edges:
            for x, y in ((u, v), (v, u)):
                if x in dist and dist[x] + w < dist.get(y, float("inf")):
                    dist[y] = dist[x] + w
    return dist.get(b)


def test_graphs_follow_the_kg_spec(kb, graphs):
    for seed, g in enumerate(graphs):
        assert g.image.source == "scenesynth.knowledge"
        assert (g.image.width, g.image.height) == (512, 512)
        assert g.meta["kg_seed"] == seed and g.meta["scene"] in kb.scenes
        assert 3 <= len(g.objects) <= 8
        assert [o.id for o in g.objects] == [f"o{i}" for i in range(len(g.objects))]
        scene_objects = set(kb.scenes[g.meta["scene"]].objects)
        for o in g.objects:
            assert o.box is None and o.depth is None and o.distinct
            assert o.name in scene_objects
            spec = kb.objects[o.name]
            assert o.meta == {"real_size": list(spec.size), "form": spec.form,
                              "placement": spec.placement, "depiction": spec.depiction,
                              "aspect": spec.aspect}
            colors = o.attribute_values(AttributeKind.COLOR)
            # one colour wherever the drawing shows one (depictions.yaml)
            assert len(colors) == (1 if spec.colors else 0) and set(colors) <= set(spec.colors)
            materials = o.attribute_values(AttributeKind.MATERIAL)
            states = o.attribute_values(AttributeKind.STATE)
            # a material only where the drawing shows one the colour does not contradict
            assert len(materials) <= (1 if spec.materials else 0)
            assert set(materials) <= set(spec.materials)
            assert len(states) == (1 if spec.states else 0)
            assert set(states) <= set(spec.states)
        for r in g.relations:
            assert r.category == RelationCategory.SPATIAL
            assert r.source == RelationSource.ANNOTATED
            assert r.predicate in {*AXIS, "near", "far from"}


def test_no_cycles_or_contradictions_per_axis(graphs):
    for g in graphs:
        order: dict[str, dict[str, set[str]]] = {"x": {}, "y": {}, "z": {}}
        near, far = set(), set()
        seen_edges: set[tuple[str, str, str]] = set()
        for r in g.relations:
            assert r.subject != r.object
            if r.predicate in AXIS:
                axis, flip = AXIS[r.predicate]
                first, second = (r.object, r.subject) if flip else (r.subject, r.object)
                # A left of B together with A right of B (or B left of A) is contradictory
                assert (axis, second, first) not in seen_edges, (g.image.id, r)
                seen_edges.add((axis, first, second))
                order[axis].setdefault(second, set()).add(first)  # node -> predecessors
            elif r.predicate == "near":
                near.add(frozenset((r.subject, r.object)))
            else:
                far.add(frozenset((r.subject, r.object)))
        for axis, preds in order.items():
            try:
                tuple(TopologicalSorter(preds).static_order())
            except CycleError as exc:  # pragma: no cover - failure path
                pytest.fail(f"{g.image.id}: cycle on {axis}: {exc.args[1]}")
        assert not near & far, g.image.id
        assert len(far) <= 2, g.image.id
        for pair in far:
            a, b = tuple(pair)
            hops = _near_hops(g, a, b)
            # two near hops (< 0.25 diagonal each) can never span a far pair (> 0.5 diagonal);
            # the sampler keeps more than three for the layout's sake
            assert hops is None or hops > 3, (g.image.id, pair)


def test_support_table_respected(kb, graphs):
    n_on_top = 0
    for g in graphs:
        supports: Counter[str] = Counter()
        for r in g.relations:
            if r.predicate == "on top of":
                n_on_top += 1
                item, base = g.object(r.subject), g.object(r.object)
                assert kb.can_support(item.name, base.name), (g.image.id, item.name, base.name)
                assert kb.objects[base.name].placement not in ("ceiling", "sky")
                supports[r.subject] += 1
        assert all(c == 1 for c in supports.values()), g.image.id
    assert n_on_top >= 500  # the sampler does produce support relations, often


def test_negatives_are_absent_and_from_the_scene(kb, graphs):
    for g in graphs:
        absent = g.meta["absent_objects"]
        assert absent, g.image.id
        assert len(absent) == len(set(absent)) <= 5
        assert not set(absent) & g.names()
        for name in absent:  # no "is there a person?" -> "no" next to a man
            assert not kb.overlapping(name) & g.names(), (g.image.id, name)
        scene = kb.scenes[g.meta["scene"]]
        assert set(absent) <= set(scene.listed or scene.objects)


def test_every_object_uniquely_describable(graphs):
    n_duplicates = 0
    for g in graphs:
        by_name: dict[str, list[frozenset[str]]] = defaultdict(list)
        for o in g.objects:
            by_name[o.name].append(frozenset(a.value for a in o.attributes))
        for name, attr_sets in by_name.items():
            if len(attr_sets) > 1:
                n_duplicates += 1
                colors = [s for s in attr_sets]
                assert len(set(colors)) == len(colors), (g.image.id, name)
        # the color alone already tells copies apart
        for name in by_name:
            copies = [o for o in g.objects if o.name == name]
            if len(copies) == 1:
                continue  # a single object needs no colour to be told apart (a person)
            cols = [o.attribute_values(AttributeKind.COLOR)[0] for o in copies]
            assert len(set(cols)) == len(cols), (g.image.id, name, cols)
    assert n_duplicates >= 50  # duplicates do occur


def test_variety_over_seeds(graphs):
    scenes = Counter(g.meta["scene"] for g in graphs)
    predicates = Counter(r.predicate for g in graphs for r in g.relations)
    assert len(scenes) >= 140
    assert set(predicates) == {*AXIS, "near", "far from"}
    assert all(len(g.relations) >= len(g.objects) - 1 for g in graphs if len(g.objects) > 1)


def test_deterministic_per_seed_and_independent_of_hash_seed(kb):
    a = [sample_kg(kb, s).model_dump() for s in range(20)]
    b = [sample_kg(kb, s).model_dump() for s in range(20)]
    assert a == b
    assert a[0] != a[1]
    code = (
        "import json; from scenesynth.knowledge import load_kb, sample_kg; kb = load_kb(); "
        "print(json.dumps([sample_kg(kb, s).model_dump(mode='json') for s in range(20)]))"
    )
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                         check=True, timeout=120)
    assert json.loads(out.stdout) == [sample_kg(kb, s).model_dump(mode="json") for s in range(20)]


def test_sampler_options(kb):
    g = sample_kg(kb, 5, n_objects=(6, 6), canvas=(640, 480), scene="kitchen")
    assert len(g.objects) == 6 and g.meta["scene"] == "kitchen"
    assert (g.image.width, g.image.height) == (640, 480)
    assert g.image.id == "kg-kitchen-5-0"
    assert g.names() <= set(kb.scenes["kitchen"].objects)
    with pytest.raises(ValueError, match="n_objects"):
        sample_kg(kb, 1, n_objects=(5, 2))
    with pytest.raises(KeyError, match="atlantis"):
        sample_kg(kb, 1, scene="atlantis")


def test_kb_source_implements_the_protocol(kb):
    source = make_source("kb", n_objects=(4, 4), scenes=["beach", "farm"])
    assert isinstance(source, KBSource) and isinstance(source, KnowledgeSource)
    g0, g1 = source.sample(0), source.sample(1)
    assert {g0.meta["scene"], g1.meta["scene"]} == {"beach", "farm"}
    assert len(g0.objects) == 4
    assert source.sample(0) == g0
    with pytest.raises(ValueError, match="unknown knowledge source"):
        make_source("oracle")
    with pytest.raises(ValueError, match="unknown scenes"):
        KBSource(kb, scenes=["atlantis"])


# -- the consistency checker on hand-made triplets ------------------------------------------


def test_constraints_reject_cycles_and_contradictions():
    c = SpatialConstraints()
    assert c.add("a", "left of", "b") is None
    assert c.add("b", "to the left of", "c") is None  # aliases accepted
    assert c.add("c", "left of", "a") == CYCLE
    assert c.add("b", "left of", "a") == CONTRADICTION
    assert c.add("b", "right of", "a") == DUPLICATE  # same fact as a left of b
    assert c.add("a", "right of", "b") == CONTRADICTION
    assert c.add("a", "left of", "a") == SELF_RELATION
    assert c.add("a", "hugging", "b") == UNKNOWN_PREDICATE
    assert c.ordered("x", "a", "c")
    assert c.add("a", "near", "b") is None
    assert c.add("a", "far from", "b") == CONTRADICTION
    assert c.add("b", "near", "c") is None
    assert c.add("a", "far from", "c") == FAR_INFEASIBLE  # two near hops
    assert c.add("c", "near", "d") is None
    assert c.add("a", "far from", "d") == FAR_INFEASIBLE  # three hops: too tight to lay out
    assert c.add("d", "on top of", "e") is None
    assert c.add("e", "near", "f") is None
    assert c.add("a", "far from", "f") is None  # 4.5 hops (a stack counts half a hop)
    assert c.add("a", "near", "f") == CONTRADICTION
    # four mutually far objects do not fit in an image
    k = SpatialConstraints()
    for s, o in [("p", "q"), ("p", "r"), ("p", "s"), ("q", "r"), ("q", "s")]:
        assert k.add(s, "far from", o) is None
    assert k.add("r", "far from", "s") == FAR_INFEASIBLE
    assert c.triplets == [("a", "left of", "b"), ("b", "left of", "c"), ("a", "near", "b"),
                          ("b", "near", "c"), ("c", "near", "d"), ("d", "on top of", "e"),
                          ("e", "near", "f"), ("a", "far from", "f")]


def test_constraints_on_top_of():
    c = SpatialConstraints(can_support=lambda item, base: (item, base) != ("t", "cup"))
    assert c.add("cup", "on top of", "t") is None
    assert c.add("t", "on top of", "cup") == UNSUPPORTED
    assert c.add("cup", "on", "shelf") == SECOND_SUPPORT
    assert c.add("t", "above", "cup") == CONTRADICTION  # on top of implies above
    assert c.add("lamp", "above", "cup") is None
    assert c.add("t", "above", "lamp") == CYCLE
    assert c.add("cup", "far from", "t") == CONTRADICTION


class _FlakySource:
    """Fails on odd seeds, as an LLM source with a broken server would."""

    def __init__(self, kb):
        self.kb = kb

    def sample(self, seed: int) -> SceneGraph:
        if seed % 2:
            raise RuntimeError(f"no answer for {seed}")
        return sample_kg(self.kb, seed)


def test_sample_many_reports_failed_seeds(kb):
    report = sample_many(_FlakySource(kb), range(5))
    assert [g.meta["kg_seed"] for g in report.graphs] == [0, 2, 4]
    assert report.failures == [(1, "RuntimeError: no answer for 1"),
                               (3, "RuntimeError: no answer for 3")]
    assert (report.n_ok, report.n_failed) == (3, 2)


def test_command_line(tmp_path, capsys):
    assert knowledge_main(["stats"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["scenes"] >= 150 and stats["avg_objects_per_scene"] >= 15
    out = tmp_path / "kgs.jsonl"
    assert knowledge_main(["sample", "--seed", "10", "--count", "3", "--out", str(out)]) == 0
    lines = out.read_text().splitlines()
    assert [json.loads(line)["meta"]["kg_seed"] for line in lines] == [10, 11, 12]
    assert "3 graphs, 0 failed" in capsys.readouterr().err


def test_constraints_treat_a_stack_as_one_depth_and_one_column():
    c = SpatialConstraints(widths={"table": 1.4, "cup": 0.1, "plate": 0.3, "box": 1.2})
    assert c.add("cup", "on top of", "table") is None
    assert c.add("plate", "on top of", "table") is None
    assert c.add("box", "on top of", "table") == SUPPORT_FULL  # 0.1 + 0.3 + 1.2 > 1.4 m
    # depth: the cup stands at the table's distance
    assert c.add("cup", "in front of", "table") == STACKED_DEPTH
    assert c.add("cup", "behind", "plate") == STACKED_DEPTH  # same stack
    assert c.add("chair", "behind", "cup") is None
    assert c.add("table", "behind", "chair") == CYCLE  # the table is where the cup is
    # left/right: nothing may be ordered between a stacked object and its support
    assert c.add("cup", "left of", "plate") is None  # two things on one table: fine
    assert c.add("lamp", "left of", "cup") is None
    assert c.add("table", "left of", "lamp") == STACKED_OVERLAP
    assert c.add("cup", "right of", "table") == STACKED_OVERLAP
    # and a stack is not built across an existing depth or left/right order
    assert c.add("vase", "in front of", "shelf") is None
    assert c.add("vase", "on top of", "shelf") == STACKED_DEPTH
    assert c.add("pen", "left of", "desk") is None
    assert c.add("pen", "on top of", "desk") == STACKED_OVERLAP


def test_no_two_overlapping_names_in_a_graph(kb, graphs):
    assert {"man", "woman", "chef", "child"} <= kb.overlapping("person")
    assert "woman" not in kb.overlapping("man")  # a man and a woman may appear together
    assert "person" in kb.overlapping("man") and "car" in kb.overlapping("taxi")
    for g in graphs:
        names = g.names()
        for name in names:
            assert not kb.overlapping(name) & names, (g.image.id, name)


def test_walls_and_sky_stay_at_the_back(kb, graphs):
    """A wall or sky object (or what stands on it) is never in front of other things."""
    checked = 0
    for g in graphs:
        support = {r.subject: r.object for r in g.relations if r.predicate == "on top of"}

        def backdrop(obj_id: str, g: SceneGraph = g, support: dict = support) -> bool:
            while obj_id in support:
                obj_id = support[obj_id]
            return g.object(obj_id).meta["placement"] in ("wall", "sky")

        for r in g.relations:
            if r.predicate in ("in front of", "behind"):
                front, back = ((r.subject, r.object) if r.predicate == "in front of"
                               else (r.object, r.subject))
                assert not (backdrop(front) and not backdrop(back)), (g.image.id, r)
                checked += backdrop(back)
    assert checked >= 100
