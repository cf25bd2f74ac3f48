"""Support-aware above / below: on a ground plane (CLEVR) a larger object's higher centre is
not "above"; with 3D, only a height gap beyond both extents decides, and the image must agree."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import scenesynth.generators  # noqa: F401  (fills the registry)
from scenesynth.generators.base import GenConfig, GenContext, registered
from scenesynth.graph import Box, ImageInfo, SceneObject, Vec3, spatial_relation
from scenesynth.graph.geometry import DEFAULT_RULES
from scenesynth.programs.tables import build_tables
from scenesynth.sources import load


def _o(i: str, y: float, size: float | None, box: tuple[float, float, float, float] | None
       = None) -> SceneObject:
    return SceneObject(
        id=i, name="box", position=Vec3(x=0.0, y=y, z=5.0),
        size3d=None if size is None else Vec3(x=size, y=size, z=size),
        box=None if box is None else Box(x0=box[0], y0=box[1], x1=box[2], y1=box[3]))


def test_ground_plane_objects_are_never_above_each_other() -> None:
    big, small = _o("b", 1.0, 2.0), _o("s", 0.35, 0.7)  # both rest on y = 0
    for a, b in ((big, small), (small, big)):
        assert spatial_relation(a, b, "above") is None
        assert spatial_relation(a, b, "below") is None
    # a centre higher by 0.65 decided "above" before, from size alone


def test_stacked_objects_are_decided_and_unknown_extents_are_not() -> None:
    lamp, table = _o("l", 2.5, 1.0), _o("t", 0.5, 1.0)  # gap of 1.0 between them
    assert spatial_relation(lamp, table, "above") is True
    assert spatial_relation(table, lamp, "above") is False
    assert spatial_relation(table, lamp, "below") is True
    assert spatial_relation(_o("l", 2.5, None), table, "above") is None


def test_the_image_must_agree_with_3d() -> None:
    lamp = _o("l", 2.5, 1.0, box=(10, 10, 50, 50))
    table = _o("t", 0.5, 1.0, box=(10, 200, 50, 240))
    image = ImageInfo(id="i", width=300, height=300, source="test")
    assert spatial_relation(lamp, table, "above", image) is True
    swapped = _o("t", 0.5, 1.0, box=(10, 0, 50, 20))  # drawn higher than the lamp
    assert spatial_relation(lamp, swapped, "above", image) is None
    same_row = _o("t", 0.5, 1.0, box=(60, 12, 100, 52))  # no separation in the image
    assert spatial_relation(lamp, same_row, "above", image) is None


def test_tables_cache_agrees_with_the_rule(shared_data: Path) -> None:
    graphs = list(itertools.islice(
        load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"), 20))
    for t in build_tables(graphs, DEFAULT_RULES):
        ids = list(t.objects)
        for a, b in itertools.permutations(ids, 2):
            for p in ("above", "below", "under", "on top of", "left of", "behind"):
                assert t.spatial(a, b, p) == spatial_relation(
                    t.objects[a], t.objects[b], p, t.image, t.camera, DEFAULT_RULES)
            assert t.spatial(a, b, "above") is None


def test_no_vertical_question_on_shared_clevr(shared_data: Path) -> None:
    graphs = list(itertools.islice(
        load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"), 30))
    asked = 0
    for name, cls in sorted(registered().items()):
        if cls.spec.multi_image:
            continue
        for g in graphs:
            if not cls().applicable([g]):
                continue
            ctx = GenContext(graphs=[g], rng=random.Random(0), config=GenConfig())
            for q in itertools.islice(cls().generate(ctx), 60):
                asked += 1
                words = q.text.lower()
                assert not any(w in words for w in (" above", " below", " under", " on top")), \
                    f"{name}: {q.text}"
    assert asked > 1000
