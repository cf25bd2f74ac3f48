"""CPU renderer: exact masks, boxes re-measured from masks, depth order, determinism."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
from kgs import random_kg
from pycocotools import mask as mask_utils

from scenesynth.graph import Attribute, AttributeKind, Box, ImageInfo, SceneGraph, SceneObject
from scenesynth.layout import solve_layout
from scenesynth.render import CpuRenderer, Renderer, RenderError
from scenesynth.render.cpu import SKY_DEPTH
from scenesynth.render.palette import COLOR_RGB
from scenesynth.render.shapes import DRAW, VARIANTS


def _laid_out(seeds: range) -> list[SceneGraph]:
    graphs = []
    for seed in seeds:
        result = solve_layout(random_kg(seed), seed)
        if result.graph is not None:
            graphs.append(result.graph)
    return graphs


def _decode(obj: SceneObject) -> np.ndarray:
    assert obj.mask is not None
    rle = {"size": list(obj.mask.size), "counts": obj.mask.counts.encode()}  # type: ignore[union-attr]
    return mask_utils.decode(rle).astype(bool)


def _solo(graph: SceneGraph, k: int, seed: int) -> np.ndarray:
    """The full silhouette of object k: the same graph rendered with only that object."""
    alone = graph.model_copy(update={"objects": [graph.objects[k]], "relations": []})
    return _decode(CpuRenderer().render(alone, seed).graph.objects[0])


def test_renderer_implements_the_contract() -> None:
    renderer: Renderer = CpuRenderer()
    graph = _laid_out(range(1))[0]
    result = renderer.render(graph, 0)
    assert result.exact is True
    assert result.image.size == (512, 512) and result.image.mode == "RGB"
    assert result.depth_map is not None
    assert result.depth_map.dtype == np.float32 and result.depth_map.shape == (512, 512)
    assert [o.id for o in result.graph.objects] == [o.id for o in graph.objects]
    assert result.graph.relations == graph.relations


def test_boxes_equal_the_bbox_of_the_visible_mask_and_masks_are_disjoint() -> None:
    renderer = CpuRenderer()
    checked = 0
    for graph in _laid_out(range(60)):
        result = renderer.render(graph, 5)
        union = np.zeros((512, 512), dtype=np.int32)
        for laid, obj in zip(graph.objects, result.graph.objects, strict=True):
            if obj.meta["visible_pixels"] == 0:
                assert obj.box is None and obj.mask is None
                continue
            visible = _decode(obj)
            assert int(visible.sum()) == obj.meta["visible_pixels"]
            rows, cols = np.flatnonzero(visible.any(1)), np.flatnonzero(visible.any(0))
            assert obj.box is not None
            measured = (cols[0], rows[0], cols[-1] + 1, rows[-1] + 1)
            assert np.allclose(obj.box.as_tuple(), measured, atol=1.0)
            # an unoccluded object fills its layout box: every form reaches the four edges
            if obj.meta["visible_fraction"] == 1.0:
                assert laid.box is not None
                assert np.allclose(obj.box.as_tuple(), laid.box.as_tuple(), atol=1.0)
            union += visible
            checked += 1
        assert union.max() <= 1  # each pixel belongs to at most one instance
    assert checked > 250


def test_depth_order_of_overlapping_objects_follows_the_layout() -> None:
    renderer = CpuRenderer()
    overlapping_pairs = 0
    for seed, graph in enumerate(_laid_out(range(25))):
        result = renderer.render(graph, seed)
        depth = result.depth_map
        assert depth is not None
        solos = [_solo(graph, k, seed) for k in range(len(graph.objects))]
        visible = [
            _decode(o) if o.mask is not None else np.zeros((512, 512), bool)
            for o in result.graph.objects
        ]
        for k, obj in enumerate(graph.objects):
            # the depth map carries the object's depth on every pixel it shows
            assert obj.depth is not None
            assert np.all(depth[visible[k]] == np.float32(obj.depth))
            # what it shows is its silhouette minus the silhouettes of nearer objects
            nearer = np.zeros((512, 512), bool)
            for j, other in enumerate(graph.objects):
                assert other.depth is not None
                if (other.depth, j) < (obj.depth, k):
                    nearer |= solos[j]
                    if (solos[j] & solos[k]).any():
                        overlapping_pairs += 1
            assert np.array_equal(visible[k], solos[k] & ~nearer)
    assert overlapping_pairs >= 20


@pytest.mark.parametrize(
    ("form", "placement"), [(f, "any") for f in sorted(DRAW)] + sorted(VARIANTS))
@pytest.mark.parametrize("size", [(7, 7), (14, 40), (40, 14), (23, 61), (180, 120)])
def test_every_form_reaches_all_four_edges_of_its_box(
    form: str, placement: str, size: tuple[int, int]
) -> None:
    w, h = size
    obj = SceneObject(id="o0", name="thing", attributes=[Attribute(value="blue")],
                      box=Box(x0=10, y0=20, x1=10 + w, y1=20 + h), depth=3.0,
                      meta={"form": form, "placement": placement})
    graph = SceneGraph(image=ImageInfo(id="forms", width=256, height=256), objects=[obj])
    for seed in range(3):  # animals and vehicles face either way
        rendered = CpuRenderer().render(graph, seed).graph.objects[0]
        assert rendered.box == Box(x0=10, y0=20, x1=10 + w, y1=20 + h)


def test_colour_and_backdrop_follow_attributes_and_scene() -> None:
    ball = SceneObject(
        id="o0", name="ball",
        attributes=[Attribute(value="red", kind=AttributeKind.COLOR)],
        box=Box(x0=200, y0=300, x1=300, y1=400), depth=4.0,
        meta={"form": "round", "placement": "ground"},
    )
    park = SceneGraph(image=ImageInfo(id="park", width=512, height=512), objects=[ball],
                      meta={"scene": "park", "layout": {"horizon": 220.0,
                                                        "floor_ref_depth": 3.5}})
    result = CpuRenderer().render(park, 0)
    pixels = np.asarray(result.image)
    # the ball's most common colour is its attribute's colour (highlight and edge aside)
    visible = _decode(result.graph.objects[0])
    colours, counts = np.unique(pixels[visible], axis=0, return_counts=True)
    assert tuple(colours[counts.argmax()]) == COLOR_RGB["red"]
    sky, grass = pixels[5, 5].astype(int), pixels[500, 5].astype(int)
    assert sky[2] > sky[0] and sky[2] > 200  # blue sky above the horizon
    assert grass[1] > grass[0] and grass[1] > grass[2]  # green ground in a park
    assert result.depth_map is not None
    assert result.depth_map[5, 5] == SKY_DEPTH
    # ground depth decreases towards the bottom of the image (nearer)
    assert result.depth_map[300, 5] > result.depth_map[500, 5]
    kitchen = park.model_copy(update={"meta": {**park.meta, "scene": "kitchen"}})
    kitchen.objects[0].meta["placement"] = "floor"
    wall = np.asarray(CpuRenderer().render(kitchen, 0).image)[5, 5].astype(int)
    assert not (wall[2] > wall[0] + 40)  # no sky indoors


def test_rendering_is_deterministic_per_seed() -> None:
    graph = _laid_out(range(3, 4))[0]
    a, b, c = (CpuRenderer().render(graph, s) for s in (1, 1, 2))

    def digest(result) -> str:  # type: ignore[no-untyped-def]
        return hashlib.sha256(result.image.tobytes()).hexdigest()

    assert digest(a) == digest(b)
    assert a.graph.model_dump_json() == b.graph.model_dump_json()
    assert a.depth_map is not None and b.depth_map is not None
    assert np.array_equal(a.depth_map, b.depth_map)
    assert digest(a) != digest(c)  # another seed gives another backdrop and styling
    assert [o.box for o in a.graph.objects] == [o.box for o in c.graph.objects]


def test_missing_box_is_reported_with_image_and_object() -> None:
    graph = SceneGraph(image=ImageInfo(id="img7", width=64, height=64),
                       objects=[SceneObject(id="o3", name="cup")])
    with pytest.raises(RenderError, match=r"image 'img7': objects\[0\] \('o3'\)\.box"):
        CpuRenderer().render(graph, 0)
