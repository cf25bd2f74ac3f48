"""Geometry over the one box convention, and the derivation of spatial relations.

Every spatial predicate is decided by :func:`spatial_relation`, which answers ``True``,
``False`` or ``None`` (*undecided*). Borderline pairs are undecided by design: a question or a
relation is only ever built from a decided answer, so a margin converts "maybe wrong" into
"not asked". The layout solver, the relation filters and the generators all use these rules.

Rules (``a PRED b`` reads "a is PRED b"; margins come from :class:`SpatialRules`):

* **left of / right of** (2D): compare box centres along x. ``a left of b`` is True when
  ``cx_b - cx_a > lr_margin * image_width``, False when ``cx_a - cx_b > margin``, else undecided.
  Reproduces every GQA "to the left of / to the right of" annotation in the shared sample.
* **above / below** (2D): the same on box centres along y (y grows downwards, so above means
  a smaller centre y). Where 3D is known (both objects have ``position``) they need a real
  height difference as well: ``a above b`` is True only when a's lowest point is higher than
  b's highest by more than ``eps_3d`` along the camera's up direction (extents from
  ``size3d``), False when the reverse holds, and undecided when the height ranges overlap or
  an extent is unknown. Objects resting on one ground plane (CLEVR) are therefore never above
  or below each other: a larger object's higher centre is not "above". With boxes too, the
  image must agree (a decided 2D separation the same way), else undecided.
* **in front of / behind**: from ``depth`` (distance to camera): ``a in front of b`` when
  ``depth_b - depth_a > depth_margin * max(depth_a, depth_b)``.
* **3D** (when both objects have ``position``): ``a PRED b`` is True when
  ``(p_a - p_b) . d_PRED > eps``, False when ``< -eps``, else undecided, with ``d_PRED`` the
  camera's unit direction for PRED (CLEVR's ``directions``; default camera frame otherwise).
  This is CLEVR's rule: CLEVR lists j in ``relationships[rel][i]`` exactly when
  ``(p_j - p_i) . d_rel > 0.2``, i.e. when ``spatial_relation(obj_j, obj_i, rel)`` is True.
  3D evidence, when present, takes precedence over 2D for left/right/front/behind.
* **near / far from**: centre distance over the image diagonal (or 3D distance in scene units
  when both have positions): near below ``near_max``, far above ``far_min``, undecided between.
* **inside / contains**: ``a inside b`` when at least ``inside_min`` of a's box lies in b's box
  and a is smaller; False below ``inside_undecided``; undecided between.
* **on top of / under**: a's bottom edge lies within ``on_band`` (fraction of b's height) of
  b's top edge, a's centre is above b's, and a's box overlaps b's horizontally by at least
  ``on_overlap`` of a's width. With 3D positions and sizes: a's bottom touches b's top.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scenesynth.graph.box import Box
from scenesynth.graph.decide import (
    distance_decision,
    iou_of_coords,
    planar_decision,
    projected_decision,
)
from scenesynth.graph.model import (
    Camera,
    ImageInfo,
    Relation,
    RelationCategory,
    RelationSource,
    SceneGraph,
    SceneObject,
    Vec3,
)

# -- box measures ------------------------------------------------------------------------


def intersection_area(a: Box, b: Box) -> float:
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return w * h if w > 0 and h > 0 else 0.0


def iou(a: Box, b: Box) -> float:
    return iou_of_coords(a.x0, a.y0, a.x1, a.y1, a.area, b.x0, b.y0, b.x1, b.y1, b.area)





def containment(inner: Box, outer: Box) -> float:
    """Fraction of ``inner``'s area that lies inside ``outer`` (1.0 = fully inside)."""
    return intersection_area(inner, outer) / inner.area if inner.area > 0 else 0.0


def center_distance(a: Box, b: Box) -> float:
    (ax, ay), (bx, by) = a.center, b.center
    return math.hypot(ax - bx, ay - by)


def horizontal_overlap(a: Box, b: Box) -> float:
    """Length of the overlap of the two boxes' x-extents (0 when disjoint)."""
    return max(0.0, min(a.x1, b.x1) - max(a.x0, b.x0))


# -- predicates ----------------------------------------------------------------------------

LEFT, RIGHT, ABOVE, BELOW = "left of", "right of", "above", "below"
FRONT, BEHIND, NEAR, FAR = "in front of", "behind", "near", "far from"
INSIDE, CONTAINS, ON_TOP, UNDER = "inside", "contains", "on top of", "under"

SPATIAL_PREDICATES: tuple[str, ...] = (
    LEFT, RIGHT, ABOVE, BELOW, FRONT, BEHIND, NEAR, FAR, INSIDE, CONTAINS, ON_TOP, UNDER,
)

INVERSE: dict[str, str] = {
    LEFT: RIGHT, RIGHT: LEFT, ABOVE: BELOW, BELOW: ABOVE, FRONT: BEHIND, BEHIND: FRONT,
    NEAR: NEAR, FAR: FAR, INSIDE: CONTAINS, CONTAINS: INSIDE, ON_TOP: UNDER, UNDER: ON_TOP,
}

_ALIASES: dict[str, str] = {
    "left": LEFT, "to the left of": LEFT, "left of": LEFT,
    "right": RIGHT, "to the right of": RIGHT, "right of": RIGHT,
    "above": ABOVE, "over": ABOVE, "below": BELOW, "beneath": BELOW,
    "front": FRONT, "in front of": FRONT, "behind": BEHIND,
    "near": NEAR, "next to": NEAR, "close to": NEAR, "far": FAR, "far from": FAR,
    "inside": INSIDE, "in": INSIDE, "inside of": INSIDE, "contains": CONTAINS,
    "on top of": ON_TOP, "on": ON_TOP, "under": UNDER, "underneath": UNDER,
}

# Which 3D direction key each directional predicate uses, and the default camera frame
# (x right, y up, z away from the camera) used when a graph carries no camera.
_DIRECTION_KEY = {LEFT: "left", RIGHT: "right", ABOVE: "above", BELOW: "below",
                  FRONT: "front", BEHIND: "behind"}
DEFAULT_DIRECTIONS: dict[str, tuple[float, float, float]] = {
    "right": (1.0, 0.0, 0.0), "left": (-1.0, 0.0, 0.0),
    "above": (0.0, 1.0, 0.0), "below": (0.0, -1.0, 0.0),
    "behind": (0.0, 0.0, 1.0), "front": (0.0, 0.0, -1.0),
}


def canonical_spatial(predicate: str) -> str | None:
    """Map a dataset predicate to a canonical spatial predicate, or None if not spatial."""
    return _ALIASES.get(" ".join(predicate.lower().split()))


@dataclass(frozen=True)
class SpatialRules:
    """Margins that make borderline pairs undecided (see module docstring)."""

    lr_margin: float = 0.02  # fraction of image width
    ab_margin: float = 0.02  # fraction of image height
    depth_margin: float = 0.05  # relative depth difference
    eps_3d: float = 0.2  # CLEVR's threshold, scene units
    near_max: float = 0.25  # fraction of image diagonal (2D) ...
    far_min: float = 0.5
    near_max_3d: float = 2.0  # ... or scene units (3D)
    far_min_3d: float = 4.0
    inside_min: float = 0.9
    inside_undecided: float = 0.6
    on_band: float = 0.25
    on_overlap: float = 0.5
    prefer_3d: bool = True
    # the smallest object a question may single out as "the leftmost / largest / ..." of
    # several: its box's side (square root of its area) as a fraction of the image's; a 12 px
    # bird in a 640 x 480 photo (0.02) is hard to see at all, let alone compare
    min_visible: float = 0.04


DEFAULT_RULES = SpatialRules()


def _direction(camera: Camera | None, key: str) -> tuple[float, float, float]:
    if camera is not None and camera.directions:
        d = camera.directions.get(key)
        if d is not None:
            return d.as_tuple()
        opposite = {"left": "right", "right": "left", "above": "below", "below": "above",
                    "front": "behind", "behind": "front"}[key]
        o = camera.directions.get(opposite)
        if o is not None:
            return (-o.x, -o.y, -o.z)
    return DEFAULT_DIRECTIONS[key]


def _dot_diff(a: Vec3, b: Vec3, d: tuple[float, float, float]) -> float:
    return (a.x - b.x) * d[0] + (a.y - b.y) * d[1] + (a.z - b.z) * d[2]





# The directional rules' arithmetic on plain numbers lives in graph/decide.py (compiled in the
# fast build): spatial_relation decides through it, and so does the program executor's
# per-graph table of each object's numbers.

# Directional predicates decided in the image plane: (axis, sign). Axis 0 is the box centre x,
# 1 the box centre y (y grows downwards), 2 the depth; ``a PRED b`` holds when
# ``sign * (value_b - value_a)`` exceeds the margin.
PLANAR_AXES: dict[str, tuple[int, float]] = {
    LEFT: (0, 1.0), RIGHT: (0, -1.0), ABOVE: (1, 1.0), BELOW: (1, -1.0),
    FRONT: (2, 1.0), BEHIND: (2, -1.0),
}


def planar_axis(predicate: str) -> tuple[int, float] | None:
    """(axis, sign) of a directional predicate's image-plane rule (see :data:`PLANAR_AXES`);
    None for the other spatial predicates; ValueError for an unknown predicate."""
    pred = canonical_spatial(predicate)
    if pred is None:
        raise ValueError(f"not a spatial predicate: {predicate!r}")
    return PLANAR_AXES.get(pred)








def direction_3d(predicate: str, camera: Camera | None) -> tuple[float, float, float] | None:
    """The 3D direction :func:`spatial_relation` projects on for a directional predicate
    (left / right / above / below / in front of / behind, any alias) when it decides in 3D;
    None for other predicates (unknown ones raise ValueError, as there). For such a
    predicate and two positioned objects with ``rules.prefer_3d``, ``spatial_relation`` is
    exactly ``projected_decision(a.position, b.position, d, rules.eps_3d)``."""
    pred = canonical_spatial(predicate)
    if pred is None:
        raise ValueError(f"not a spatial predicate: {predicate!r}")
    if pred in (ABOVE, BELOW):
        return None  # support-aware: see _vertical
    key = _DIRECTION_KEY.get(pred)
    return None if key is None else _direction(camera, key)


def _extent(size: Vec3, d: tuple[float, float, float]) -> float:
    """An axis-aligned box's extent along unit direction ``d``."""
    return abs(size.x * d[0]) + abs(size.y * d[1]) + abs(size.z * d[2])


def visible_size(obj: SceneObject, image: ImageInfo, rules: SpatialRules = DEFAULT_RULES
                 ) -> bool | None:
    """Whether ``obj``'s box is large enough to see and compare (``rules.min_visible``);
    None without a box (a CLEVR scene file gives none: CLEVR's own generator already rejects
    scenes with an object under 200 visible pixels)."""
    if obj.box is None:
        return None
    return obj.box.area >= (rules.min_visible ** 2) * image.width * image.height


def leads_by_extent(
    a: SceneObject, b: SceneObject, predicate: str, image: ImageInfo | None = None,
    camera: Camera | None = None, rules: SpatialRules = DEFAULT_RULES,
) -> bool | None:
    """For left of / right of / above / below: whether ``a`` is PRED ``b`` by its whole extent,
    not only by its centre: its leading edge (the right edge for "right of") and its centre are
    both beyond ``b``'s by the predicate's margin (:func:`planar_decision`). "The rightmost of
    A, B, C" read by centres alone could name an object that a wide neighbour's right edge
    passes. Decided in the image where both boxes are known, and along the camera's direction
    with 3D positions and sizes (``eps_3d``) where both are known; every known view must agree.
    None when no extent is known (neither boxes nor 3D sizes): only centres can decide then.
    """
    pred = canonical_spatial(predicate)
    if pred not in (LEFT, RIGHT, ABOVE, BELOW):
        raise ValueError(f"not a left / right / above / below predicate: {predicate!r}")
    axis, sign = PLANAR_AXES[pred]
    decided: bool | None = None
    if a.box is not None and b.box is not None:
        if image is not None:
            extent = float(image.width if axis == 0 else image.height)
        else:
            extent = max(a.box.as_tuple()[2 + axis], b.box.as_tuple()[2 + axis])
        # x0 / y0 lead to the left and up, x1 / y1 to the right and down
        leading = axis if sign > 0 else 2 + axis
        edge = planar_decision(a.box.as_tuple()[leading], b.box.as_tuple()[leading], axis, sign,
                               extent, rules)
        centre = planar_decision(a.box.center[axis], b.box.center[axis], axis, sign, extent,
                                 rules)
        if edge is not True or centre is not True:
            return False
        decided = True
    if (a.position is not None and b.position is not None and a.size3d is not None
            and b.size3d is not None):
        d = _direction(camera, _DIRECTION_KEY[pred])
        lead = _dot_diff(a.position, b.position, d) + (
            _extent(a.size3d, d) - _extent(b.size3d, d)) / 2
        if not (lead > rules.eps_3d and projected_decision(
                a.position.as_tuple(), b.position.as_tuple(), d, rules.eps_3d) is True):
            return False
        decided = True
    return decided


def _vertical(
    a: SceneObject, b: SceneObject, pred: str, image: ImageInfo | None,
    camera: Camera | None, rules: SpatialRules,
) -> bool | None:
    """above / below: image separation, and with 3D a height gap beyond both extents."""
    in_image: bool | None = None
    if a.box is not None and b.box is not None:
        height = image.height if image is not None else max(a.box.y1, b.box.y1)
        in_image = planar_decision(a.box.center[1], b.box.center[1], 1,
                                   PLANAR_AXES[pred][1], height, rules)
    if not (rules.prefer_3d and a.position is not None and b.position is not None):
        return in_image
    if a.size3d is None or b.size3d is None:
        return None  # a higher centre may only be a larger object on the same floor
    up = _direction(camera, "above")
    ha, hb = _dot_diff(a.position, b.position, up), 0.0
    half_a, half_b = _extent(a.size3d, up) / 2, _extent(b.size3d, up) / 2
    if (ha - half_a) - (hb + half_b) > rules.eps_3d:
        in_3d: bool | None = pred == ABOVE
    elif (hb - half_b) - (ha + half_a) > rules.eps_3d:
        in_3d = pred == BELOW
    else:
        return None  # height ranges overlap: side by side, not one above the other
    if a.box is not None and b.box is not None and in_image != in_3d:
        return None
    return in_3d


def spatial_relation(
    a: SceneObject,
    b: SceneObject,
    predicate: str,
    image: ImageInfo | None = None,
    camera: Camera | None = None,
    rules: SpatialRules = DEFAULT_RULES,
) -> bool | None:
    """Decide whether ``a PREDICATE b`` holds: True, False, or None when undecided.

    ``predicate`` may be any alias (``"to the left of"``); unknown predicates raise ValueError.
    Missing evidence (no boxes, no depth, no positions) gives None.
    """
    pred = canonical_spatial(predicate)
    if pred is None:
        raise ValueError(f"not a spatial predicate: {predicate!r}")

    use_3d = rules.prefer_3d and a.position is not None and b.position is not None
    if pred in (ABOVE, BELOW):
        return _vertical(a, b, pred, image, camera, rules)
    if pred in _DIRECTION_KEY:  # left / right / in front of / behind
        if use_3d:
            assert a.position is not None and b.position is not None
            d = _direction(camera, _DIRECTION_KEY[pred])
            return projected_decision(a.position.as_tuple(), b.position.as_tuple(), d,
                                      rules.eps_3d)
        axis, sign = PLANAR_AXES[pred]
        if axis == 2:
            if a.depth is None or b.depth is None:
                return None
            return planar_decision(a.depth, b.depth, 2, sign, 0.0, rules)
        if a.box is None or b.box is None:
            return None
        width = image.width if image is not None else max(a.box.x1, b.box.x1)
        return planar_decision(a.box.center[0], b.box.center[0], 0, sign, width, rules)

    if pred in (NEAR, FAR):
        if use_3d:
            assert a.position is not None and b.position is not None
            dist = math.dist(a.position.as_tuple(), b.position.as_tuple())
            lo, hi = rules.near_max_3d, rules.far_min_3d
        elif a.box is not None and b.box is not None:
            if image is not None:
                diag = math.hypot(image.width, image.height)
            else:
                diag = math.hypot(max(a.box.x1, b.box.x1), max(a.box.y1, b.box.y1))
            dist = center_distance(a.box, b.box) / diag
            lo, hi = rules.near_max, rules.far_min
        else:
            return None
        return distance_decision(dist, pred == NEAR, lo, hi)

    if pred in (INSIDE, CONTAINS):
        inner, outer = (a, b) if pred == INSIDE else (b, a)
        if inner.box is None or outer.box is None:
            return None
        c = containment(inner.box, outer.box)
        if c >= rules.inside_min and inner.box.area < outer.box.area:
            return True
        if c < rules.inside_undecided or inner.box.area >= outer.box.area:
            return False
        return None

    # on top of / under
    top, bottom = (a, b) if pred == ON_TOP else (b, a)
    if (
        use_3d
        and top.size3d is not None
        and bottom.size3d is not None
        and camera is None
    ):
        assert top.position is not None and bottom.position is not None
        # default frame: y up; positions are object centres
        gap = (top.position.y - top.size3d.y / 2) - (bottom.position.y + bottom.size3d.y / 2)
        overlap_x = (top.size3d.x + bottom.size3d.x) / 2 - abs(top.position.x - bottom.position.x)
        overlap_z = (top.size3d.z + bottom.size3d.z) / 2 - abs(top.position.z - bottom.position.z)
        touching = abs(gap) <= rules.eps_3d * max(bottom.size3d.y, 1e-9)
        return touching and overlap_x > 0 and overlap_z > 0
    if top.box is None or bottom.box is None:
        return None
    tb, bb = top.box, bottom.box
    band = rules.on_band * bb.height
    if tb.width <= 0 or bb.height <= 0:
        return None
    bottom_near_top = bb.y0 - band <= tb.y1 <= bb.y0 + band
    above = tb.center[1] < bb.center[1]
    overlap_ok = horizontal_overlap(tb, bb) >= rules.on_overlap * tb.width
    return bottom_near_top and above and overlap_ok


def derive_relations(
    graph: SceneGraph,
    predicates: tuple[str, ...] = (LEFT, RIGHT, ABOVE, BELOW, FRONT, BEHIND),
    rules: SpatialRules = DEFAULT_RULES,
) -> list[Relation]:
    """All decided-True spatial relations between ordered object pairs, source ``derived``."""
    out: list[Relation] = []
    for a in graph.objects:
        for b in graph.objects:
            if a.id == b.id:
                continue
            for pred in predicates:
                if spatial_relation(a, b, pred, graph.image, graph.camera, rules) is True:
                    out.append(
                        Relation(
                            subject=a.id,
                            predicate=pred,
                            object=b.id,
                            category=RelationCategory.SPATIAL,
                            source=RelationSource.DERIVED,
                        )
                    )
    return out
