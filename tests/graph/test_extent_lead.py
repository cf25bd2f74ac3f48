"""Extremes by extent: "the rightmost" must lead by its right edge as well as its centre (in the
image, and along the camera's direction with 3D sizes); only objects of a visible size are
compared."""

from __future__ import annotations

import pytest

from scenesynth.graph import Box, ImageInfo, SceneObject, Vec3
from scenesynth.graph.geometry import DEFAULT_RULES, leads_by_extent, visible_size

IMAGE = ImageInfo(id="i", width=640, height=480)


def _boxed(x0: float, y0: float, x1: float, y1: float) -> SceneObject:
    return SceneObject(id=f"{x0}-{y0}", name="thing", box=Box(x0=x0, y0=y0, x1=x1, y1=y1))


def _placed(x: float, width: float | None) -> SceneObject:
    return SceneObject(id=str(x), name="thing", position=Vec3(x=x, y=0.5, z=5.0),
                       size3d=None if width is None else Vec3(x=width, y=1.0, z=1.0))


def test_leading_edge_and_centre_both_count_in_the_image() -> None:
    dog = _boxed(500, 300, 560, 380)  # centre 530, right edge 560
    wide_bus = _boxed(100, 100, 600, 400)  # centre 350, right edge 600
    narrow_bus = _boxed(100, 100, 500, 400)  # centre 300, right edge 500
    assert leads_by_extent(dog, narrow_bus, "right of", IMAGE) is True
    assert leads_by_extent(dog, wide_bus, "right of", IMAGE) is False  # edge passed
    assert leads_by_extent(wide_bus, dog, "right of", IMAGE) is False  # centre behind
    assert leads_by_extent(narrow_bus, dog, "to the left of", IMAGE) is True
    kite, tree = _boxed(300, 40, 380, 80), _boxed(100, 10, 200, 470)
    assert leads_by_extent(kite, tree, "above", IMAGE) is False  # the tree's top is higher
    assert leads_by_extent(tree, kite, "below", IMAGE) is True
    # within the 2 % margin (12.8 px of 640) is not a lead
    assert leads_by_extent(_boxed(110, 0, 210, 50), _boxed(100, 0, 200, 50), "right of",
                           IMAGE) is False
    assert leads_by_extent(_boxed(114, 0, 214, 50), _boxed(100, 0, 200, 50), "right of",
                           IMAGE) is True


def test_leading_edge_along_the_camera_direction_with_3d_sizes() -> None:
    small, wide = _placed(2.0, 0.7), _placed(1.5, 2.0)  # right edges 2.35 and 2.5
    assert leads_by_extent(small, wide, "right of") is False  # centre ahead, edge passed
    assert leads_by_extent(small, _placed(1.5, 0.7), "right of") is True
    assert leads_by_extent(wide, small, "left of") is True
    # no box and no 3D size (a CLEVR scene file): the extents are unknown
    assert leads_by_extent(_placed(2.0, None), _placed(1.5, None), "right of") is None


def test_extent_lead_is_only_for_image_directions() -> None:
    with pytest.raises(ValueError):
        leads_by_extent(_placed(2.0, 0.7), _placed(1.5, 0.7), "in front of")


def test_visible_size() -> None:
    side = DEFAULT_RULES.min_visible * (640 * 480) ** 0.5  # about 22 px
    assert visible_size(_boxed(0, 0, 12, 12), IMAGE) is False  # a 12 px bird
    assert visible_size(_boxed(0, 0, side + 1, side + 1), IMAGE) is True
    assert visible_size(_boxed(0, 0, 5, 200), IMAGE) is True  # a thin pole is seen
    assert visible_size(_placed(1.0, 1.0), IMAGE) is None
