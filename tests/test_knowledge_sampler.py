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


def _near_hops(graph: SceneGraph, a: str, b: str) -> int | None:
    adj: dict[str, set[str]] = defaultdict(set)
    for r in graph.relations:
        if r.predicate in ("near", "on top of"):
            adj[r.subject].add(r.object)
            adj[r.object].add(r.subject)
    frontier, seen, hops = {a}, {a}, 0
    while frontier:
        if b in frontier:
            return hops
        frontier = {m for n in frontier for m in adj[n]} - seen
        seen |= frontier
        hops += 1
    return None


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
                              "placement": spec.placement}
            colors = o.attribute_values(AttributeKind.COLOR)
            assert len(colors) == 1 and colors[0] in spec.colors
            assert set(o.attribute_values(AttributeKind.MATERIAL)) <= set(spec.materials)
            assert set(o.attribute_values(AttributeKind.STATE)) <= set(spec.states)
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
            # two near hops (< 0.25 diagonal each) can never span a far pair (> 0.5 diagonal)
            assert hops is None or hops > 2, (g.image.id, pair)


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
        assert set(absent) <= set(kb.scenes[g.meta["scene"]].objects)


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
    assert c.add("a", "far from", "d") is None  # three hops may span half the diagonal
    assert c.add("a", "near", "d") == CONTRADICTION
    # four mutually far objects do not fit in an image
    k = SpatialConstraints()
    for s, o in [("p", "q"), ("p", "r"), ("p", "s"), ("q", "r"), ("q", "s")]:
        assert k.add(s, "far from", o) is None
    assert k.add("r", "far from", "s") == FAR_INFEASIBLE
    assert c.triplets == [("a", "left of", "b"), ("b", "left of", "c"), ("a", "near", "b"),
                          ("b", "near", "c"), ("c", "near", "d"), ("a", "far from", "d")]


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
