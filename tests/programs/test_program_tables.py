"""The executor's per-graph caches (SceneTables) agree exactly with the graph module's
definitions they shortcut: spatial relations (3D and planar rules) and measures."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from scenesynth.graph import (
    DEFAULT_RULES,
    Box,
    ImageInfo,
    ProgramStep,
    SceneGraph,
    SceneObject,
    SpatialRules,
    Vec3,
    iou,
    spatial_relation,
)
from scenesynth.programs.execute import execute
from scenesynth.programs.tables import SceneTables, measure

PREDICATES = ["left of", "to the left of", "right of", "above", "below", "in front of",
              "behind", "near", "far from", "inside", "on", "under", "contains"]


def random_graph(seed: int, positions: bool) -> SceneGraph:
    rng = random.Random(seed)
    objects = []
    for i in range(14):
        # coarse grid values make exact ties and margin-edge differences common
        x0, y0 = rng.randrange(0, 600, 12), rng.randrange(0, 400, 8)
        w, h = rng.randrange(4, 200, 4), rng.randrange(4, 200, 4)
        objects.append(SceneObject(
            id=f"o{i}", name=rng.choice(["cube", "cup", "dog"]),
            box=None if rng.random() < 0.1 else Box(x0=x0, y0=y0, x1=x0 + w, y1=y0 + h),
            depth=None if rng.random() < 0.1 else rng.randrange(1, 40) / 4,
            position=Vec3(x=rng.randrange(-6, 6) / 2, y=rng.randrange(-6, 6) / 2,
                          z=rng.randrange(0, 6) / 2) if positions else None,
        ))
    return SceneGraph(image=ImageInfo(id=f"g{seed}", width=800, height=600), objects=objects)


@pytest.mark.parametrize("positions", [False, True])
@pytest.mark.parametrize("rules", [DEFAULT_RULES, SpatialRules(prefer_3d=False,
                                                                 depth_margin=0.0)])
def test_cached_spatial_equals_spatial_relation(positions: bool, rules: SpatialRules) -> None:
    decided = 0
    for seed in range(6):
        graph = random_graph(seed, positions)
        t = SceneTables(graph, 0, rules)
        for a in t.scene:
            for b in t.scene:
                if a == b:
                    continue
                for p in PREDICATES:
                    expected = spatial_relation(t.objects[a], t.objects[b], p, graph.image,
                                                graph.camera, rules)
                    assert t.spatial(a, b, p) is expected, (seed, a, b, p)
                    assert t.spatial(a, b, p) is expected  # cached answer too
                    decided += expected is not None
    assert decided > 1000


# the default rules, image-plane only, and zero margins (every difference decided)
GRID_RULES = [DEFAULT_RULES, SpatialRules(prefer_3d=False),
              SpatialRules(lr_margin=0.0, ab_margin=0.0, eps_3d=0.0)]


@pytest.mark.parametrize("positions", [False, True])
@pytest.mark.parametrize("rules", GRID_RULES)
def test_related_by_geometry_lists_the_related_objects(
    positions: bool, rules: SpatialRules,
) -> None:
    """On coarse grids (ties and differences of exactly the margin are common): the objects
    past the order's ``certain`` bound are listed without asking the rule, and the list is
    still exactly the rule's."""
    certain = 0
    for seed in range(4):
        graph = random_graph(seed, positions)
        t = SceneTables(graph, 0, rules)
        for o in t.scene:
            for p in ("left of", "right of", "above", "behind", "in front of"):
                order = t.spatial_order(p)
                if order is not None and o in order.key_of:
                    for below in (False, True):
                        certain += len(order.past(order.key_of[o], below)[0])
                for inverse in (False, True):
                    expected = [x for x in t.scene if x != o and (spatial_relation(
                        t.objects[o], t.objects[x], p, t.image, None, rules) if inverse
                        else spatial_relation(t.objects[x], t.objects[o], p, t.image, None,
                                              rules)) is True]
                    assert t.related_by_geometry(o, p, inverse) == expected, (seed, o, p)
    assert certain > 100


def test_measure_of_equals_measure_and_names_the_missing_field() -> None:
    graph = random_graph(5, False)
    t = SceneTables(graph, 0, DEFAULT_RULES)
    for r, obj in t.objects.items():
        for name in ("depth", "box_area", "center_x", "center_y"):
            try:
                expected: float | str = measure(t, r, name)
            except KeyError as exc:
                expected = f"missing {exc.args[0]}"
            for _ in range(2):  # computed, then cached
                try:
                    got: float | str = t.measure_of(r, name)
                except KeyError as exc:
                    got = f"missing {exc.args[0]}"
                assert got == expected
        if obj.box is None:
            with pytest.raises(KeyError, match="box"):
                t.measure_of(r, "box_area")
    with pytest.raises(ValueError, match="unknown measure"):
        t.measure_of(t.scene[0], "weight")


def _naive_count_distinct(objects: list[SceneObject], threshold: float) -> int:
    counted: list[SceneObject] = []
    n = 0
    for obj in objects:
        if obj.box is not None and not obj.distinct:
            if any(iou(obj.box, c.box) > threshold for c in counted if c.box is not None):
                continue
            counted.append(obj)
        n += 1
    return n


@pytest.mark.parametrize("threshold", [0.3, 0.5, 0.9])
def test_count_distinct_matches_pairwise_definition(threshold: float) -> None:
    rng = random.Random(7)
    for seed in range(20):
        objects = []
        for i in range(12):  # heavy overlap: boxes jittered around three spots
            cx, cy = rng.choice([(100, 100), (110, 104), (300, 200)])
            w = rng.choice([40, 44, 60])
            box = None if rng.random() < 0.1 else Box(x0=cx, y0=cy, x1=cx + w, y1=cy + w)
            objects.append(SceneObject(id=f"o{i:02d}", name=rng.choice(["cup", "dog"]), box=box,
                                       distinct=rng.random() < 0.2))
        graph = SceneGraph(image=ImageInfo(id=f"d{seed}", width=500, height=400),
                           objects=objects)
        t = SceneTables(graph, 0, DEFAULT_RULES)
        for name in ("cup", "dog", None):
            program = [ProgramStep(op="scene", args={"image": 0})]
            if name is not None:
                program.append(ProgramStep(op="filter_name", inputs=[0], args={"name": name}))
            program.append(ProgramStep(op="count_distinct", inputs=[len(program) - 1],
                                       args={"iou": threshold}))
            members = [o for o in objects if name is None or o.name == name]
            members.sort(key=lambda o: t.ref_of[o.id])  # sets are in reference order
            got = execute(program, [graph], tables=[t])[-1]
            assert got == _naive_count_distinct(members, threshold), (seed, name)


def test_fast_built_question_and_steps_are_complete() -> None:
    """finish() and new_step() skip the dataclass __init__: every field must still be set."""
    import dataclasses

    from scenesynth._fast import new_step
    from scenesynth.generators.base import AnswerType, GenContext, Question
    from scenesynth.generators.kit import finish
    from scenesynth.programs.builder import ProgramBuilder

    graph = random_graph(1, False)
    ctx = GenContext(graphs=[graph], rng=random.Random(0))
    b = ProgramBuilder()
    b.add("count", [b.add("scene", image=0)])
    q = finish(ctx, b, text="How many objects are there?", template="t",
               answer_type=AnswerType.COUNT)
    assert q is not None
    assert set(vars(q)) == {f.name for f in dataclasses.fields(Question)}
    assert Question(**vars(q)) == q and q.answer == 14
    step = new_step("count", [0], {}, 3)
    assert step == ProgramStep(op="count", inputs=[0], args={}, output=3)


def test_runner_context_has_every_field() -> None:
    """The runner builds each GenContext without its __init__: all fields must be there."""
    import dataclasses
    from collections.abc import Iterator
    from typing import ClassVar

    from scenesynth.generators import base
    from scenesynth.generators.base import GenContext, Question
    from scenesynth.graph import AnswerForm
    from scenesynth.pipeline.shard import generate_shard

    seen: list[GenContext] = []

    class Probe(base.Generator):
        spec: ClassVar[base.GeneratorSpec] = base.GeneratorSpec(
            name="test_probe", family="test", description="records its context",
            needs=frozenset({base.Need.NAMES}), answer_type=base.AnswerType.COUNT, example="-")

        def generate(self, ctx: GenContext) -> Iterator[Question]:
            seen.append(ctx)
            return iter(())

    base.register(Probe)
    try:
        generate_shard([random_graph(2, False)], ["test_probe"], 1, (AnswerForm.SHORT,), 0,
                       base.GenConfig(), None)
    finally:
        base._REGISTRY.pop("test_probe")
    (ctx,) = seen
    assert set(vars(ctx)) == {f.name for f in dataclasses.fields(GenContext)}
    assert ctx.indexes[0].graph is ctx.graph and "tables" in ctx.cache
    assert ctx.would_keep is not None


def test_seeded_random_has_the_state_of_random_random() -> None:
    from scenesynth.graph.seeds import seeded_random

    for seed in (0, 1, 123456789, 2**62 + 12345):
        fast, plain = seeded_random(seed), random.Random(seed)
        assert fast.getstate() == plain.getstate() and vars(fast) == vars(plain)
        assert [fast.random() for _ in range(5)] == [plain.random() for _ in range(5)]


def test_sample_ids_follow_their_definition(shared_data: Path) -> None:
    """build_sample hashes a per-context prefix; the id must still be sample_id(...)."""
    from scenesynth.generators.base import GenConfig
    from scenesynth.graph import AnswerForm
    from scenesynth.pipeline.shard import generate_shard, sample_id
    from scenesynth.sources import load

    clevr = load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json")
    graphs = list(itertools.islice(clevr, 3))
    result = generate_shard(graphs, None, 2, tuple(AnswerForm), 0, GenConfig(), None)
    assert result.samples
    for s in result.samples:
        assert s.id == sample_id(s.provenance.image_ids, s.provenance.generator, s.question,
                                 s.form, s.options)
        if s.form == AnswerForm.SHORT:
            # a question's forms share the id of its short form
            assert s.provenance.extra["question_group"] == s.id


@pytest.mark.parametrize("threshold", [-0.1, 0.0, 0.25, 0.5, 0.9, 1.0])
def test_duplicate_partners_equal_all_pairs(threshold: float) -> None:
    """The sweep and area pruning in duplicate_partners find exactly the pairs an all-pairs IoU
    comparison finds, nested boxes whose IoU equals the threshold included."""
    rng = random.Random(3)
    for seed in range(30):
        objects = []
        for i in range(16):
            x0, y0 = rng.choice([0, 10, 20]), rng.choice([0, 10])
            w, h = rng.choice([10, 20, 40]), rng.choice([10, 20, 40])
            objects.append(SceneObject(id=f"o{i:02d}", name="cup",
                                       box=Box(x0=x0, y0=y0, x1=x0 + w, y1=y0 + h),
                                       distinct=rng.random() < 0.1))
        graph = SceneGraph(image=ImageInfo(id=f"p{seed}", width=100, height=100),
                           objects=objects)
        t = SceneTables(graph, 0, DEFAULT_RULES)
        partners = t.duplicate_partners(threshold)
        for a in objects:
            expected = {
                t.ref_of[b.id] for b in objects
                if b is not a and a.box is not None and b.box is not None
                and not a.distinct and not b.distinct and iou(a.box, b.box) > threshold
            }
            assert partners[t.ref_of[a.id]] == expected, (seed, a.id)


@pytest.mark.parametrize("positions", [False, True])
@pytest.mark.parametrize("rules", GRID_RULES)
def test_referring_candidates_related_to_an_anchor_are_the_rules(
    positions: bool, rules: SpatialRules,
) -> None:
    """The candidates a reader may take as related to an anchor (decided True or undecided),
    read from the predicate's ordering and its bounds, are exactly those the rule does not
    decide False, on coarse grids (ties and margin-edge differences), for every anchor."""
    from scenesynth.generators.refer import _related

    for seed in range(4):
        graph = random_graph(seed, positions)
        t = SceneTables(graph, 0, rules)
        for name in ("cube", "cup", "dog"):
            candidates = t.by_name.get(name, [])
            for anchor in t.scene:
                for p in PREDICATES:
                    expected = [c for c in candidates if spatial_relation(
                        t.objects[c], t.objects[anchor], p, t.image, None, rules) is not False]
                    assert _related(t, candidates, name, [], anchor, p) == expected, (
                        seed, name, anchor, p)
