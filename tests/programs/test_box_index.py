"""The per-graph box index (SceneTables.boxes_overlapping) gives exactly the boxes a scan of
the edges gives, never misses a box with IoU above 0, and so every lookup built on it (the
``filter_box`` op, the box-pointed and grounding questions' uniqueness) answers as a scan of
every box with the rule does."""

from __future__ import annotations

import random

import pytest
from dense_graphs import dense_graph

from scenesynth.generators.families.by_box import MIN_IOU, box_unique
from scenesynth.graph import DEFAULT_RULES, Box, SceneGraph
from scenesynth.graph import ProgramStep as Step
from scenesynth.graph.decide import iou_of_coords
from scenesynth.programs.execute import execute
from scenesynth.programs.tables import SceneTables


def graphs() -> list[SceneGraph]:
    return [dense_graph(seed, "none", n_objects=n) for seed in range(3) for n in (5, 60, 160)]


def query_boxes(t: SceneTables, seed: int) -> list[tuple[float, float, float, float]]:
    """Every object's own box, its box rounded as questions write it, and random boxes on
    the same coarse grid (touching edges, shared edges) and off it (fractions), some of them
    degenerate (zero width or height)."""
    rng = random.Random(seed)
    out: list[tuple[float, float, float, float]] = []
    for r in t.scene:
        c = t.box_coords()[r]
        if c is not None:
            out.append((c[0], c[1], c[2], c[3]))
            x0, y0, x1, y1 = t.rounded_box(r)
            out.append((x0, y0, x1, y1))
    for _ in range(200):
        x0, y0 = rng.randrange(0, 700, 8) + rng.choice((0, 0, 0.5)), rng.randrange(0, 500, 8)
        w, h = rng.choice((0, 8, 16, 80, 300)), rng.randrange(0, 200, 8) + rng.random()
        out.append((x0, y0, x0 + w, y0 + h))
    return out


@pytest.mark.parametrize("graph", graphs())
def test_boxes_overlapping_equals_the_scan(graph: SceneGraph) -> None:
    t = SceneTables(graph, 0, DEFAULT_RULES)
    coords = t.box_coords()
    with_iou = 0
    for x0, y0, x1, y1 in query_boxes(t, len(graph.objects)):
        found = t.boxes_overlapping(x0, y0, x1, y1)
        scanned = [r for r in t.scene if (c := coords[r]) is not None
                   and c[0] < x1 and c[2] > x0 and c[1] < y1 and c[3] > y0]
        assert found == scanned, (x0, y0, x1, y1)
        area = (x1 - x0) * (y1 - y0)
        positive = [r for r in t.scene if (c := coords[r]) is not None
                    and iou_of_coords(*c, x0, y0, x1, y1, area) > 0]
        assert set(positive) <= set(found)
        with_iou += len(positive)
    assert with_iou > len(graph.objects)  # overlapping boxes are exercised


@pytest.mark.parametrize("graph", graphs())
def test_filter_box_equals_the_scan(graph: SceneGraph) -> None:
    t = SceneTables(graph, 0, DEFAULT_RULES)
    coords = t.box_coords()
    cups = t.by_name.get("cup", [])
    matched = 0
    for x0, y0, x1, y1 in query_boxes(t, 7)[::3]:
        area = (x1 - x0) * (y1 - y0)
        for min_iou in (0.5, 0.1, 1e-9, 0.0, -1.0):
            box_args = {"box": [x0, y0, x1, y1], "min_iou": min_iou}
            # from the whole scene, and from the cups only
            for members, steps in (
                (t.scene, [Step("scene", [], {"image": 0}),
                           Step("filter_box", [0], box_args)]),
                (cups, [Step("scene", [], {"image": 0}),
                        Step("filter_name", [0], {"name": "cup"}),
                        Step("filter_box", [1], box_args)]),
            ):
                scanned = [r for r in members if (c := coords[r]) is not None
                           and iou_of_coords(*c, x0, y0, x1, y1, area) >= min_iou]
                assert execute(steps, [graph], None, [t])[-1] == scanned
                matched += len(scanned) if min_iou > 0 else 0
    assert matched > 0


@pytest.mark.parametrize("graph", graphs())
def test_box_uniqueness_equals_the_scan(graph: SceneGraph) -> None:
    t = SceneTables(graph, 0, DEFAULT_RULES)
    coords = t.box_coords()
    verdicts = []
    for r in t.scene:
        own = coords[r]
        scanned = own is not None and not any(
            x != r and c is not None and iou_of_coords(*own, *c) >= MIN_IOU
            for x, c in coords.items())
        assert box_unique(t, r) == scanned, r
        verdicts.append(scanned)
    if len(t.scene) > 100:
        assert True in verdicts and False in verdicts  # both answers are exercised


def test_grounding_program_picks_the_object_of_a_unique_box() -> None:
    graph = dense_graph(5, "none", n_objects=160)
    t = SceneTables(graph, 0, DEFAULT_RULES)
    checked = 0
    for r in t.scene:
        if not box_unique(t, r):
            continue
        steps = [Step("scene", [], {"image": 0}),
                 Step("filter_box", [0], {"box": t.rounded_box(r), "min_iou": MIN_IOU}),
                 Step("unique", [1], {})]
        assert execute(steps, [graph], None, [t])[-1] == r
        checked += 1
    assert checked > 10


def with_near_duplicates(graph: SceneGraph, seed: int) -> SceneGraph:
    """The graph with a shifted, resized or trimmed copy of a third of its boxes (a
    detector's double detections: IoU from exactly 1 down past 0.9), some marked distinct.
    A copy trimmed on the left keeps a share of the box, its IoU: just above a threshold
    the overlap width is barely above the threshold times the width, the sweep's bound."""
    rng = random.Random(seed)
    copies = []
    for o in graph.objects:
        if o.box is None or rng.random() < 0.66:
            continue
        if rng.random() < 0.5:
            kept = rng.choice((0.31, 0.51, 0.91, 0.951, 0.96))
            box = Box(x0=o.box.x1 - kept * o.box.width, y0=o.box.y0, x1=o.box.x1,
                      y1=o.box.y1)
        else:
            dx, dy = rng.choice((0, 0.5, 1, 2, 4)), rng.choice((0, 1, 8))
            grow = rng.choice((0, 0, 1, 3))
            box = Box(x0=o.box.x0 + dx, y0=o.box.y0 + dy, x1=o.box.x1 + dx + grow,
                      y1=o.box.y1 + dy)
        copies.append(o.model_copy(update={"id": f"{o.id}d", "box": box,
                                           "distinct": rng.random() < 0.1}))
    return graph.model_copy(update={"objects": [*graph.objects, *copies]})


@pytest.mark.parametrize("threshold", [0.0, 0.3, 0.5, 0.9, 0.95])
def test_duplicate_partners_of_dense_graphs_equal_all_pairs(threshold: float) -> None:
    """The sweep's reach (overlap width above the threshold times the box's width) keeps
    every pair above the threshold on graphs with many nested, shifted and copied boxes."""
    found = 0
    for seed in range(3):
        graph = with_near_duplicates(dense_graph(seed, "none", n_objects=120), seed)
        t = SceneTables(graph, 0, DEFAULT_RULES)
        coords = t.box_coords()
        partners = t.duplicate_partners(threshold)
        for r in t.scene:
            own = coords[r]
            expected = {x for x in t.scene if x != r and own is not None
                        and (c := coords[x]) is not None and not t.objects[r].distinct
                        and not t.objects[x].distinct and iou_of_coords(*own, *c) > threshold}
            assert partners[r] == expected, (seed, r)
            found += len(expected)
    assert found > 0
