"""The spatial rules' arithmetic on plain numbers: one home for it, compiled in the fast build.

:func:`scenesynth.graph.geometry.spatial_relation` decides through these functions, reading the
numbers off the models; the program executor's per-graph tables
(:mod:`scenesynth.programs.tables`) call the same functions on numbers they read once per
graph. The rules themselves are described in :mod:`scenesynth.graph.geometry`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from scenesynth.graph.geometry import SpatialRules


def tri(value: float, margin: float) -> bool | None:
    """True when value > margin, False when value < -margin, else undecided."""
    if value > margin:
        return True
    if value < -margin:
        return False
    return None


def iou_of_coords(
    ax0: float, ay0: float, ax1: float, ay1: float, area_a: float,
    bx0: float, by0: float, bx1: float, by1: float, area_b: float,
) -> float:
    """Intersection over union of two boxes given as coordinates and areas
    (:func:`scenesynth.graph.geometry.iou` of two ``Box`` models is this)."""
    w = (ax1 if ax1 < bx1 else bx1) - (ax0 if ax0 > bx0 else bx0)
    h = (ay1 if ay1 < by1 else by1) - (ay0 if ay0 > by0 else by0)
    inter = w * h if w > 0 and h > 0 else 0.0
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


def planar_decision(
    value_a: float, value_b: float, axis: int, sign: float, extent: float, rules: SpatialRules,
) -> bool | None:
    """The image-plane rule of a directional predicate (its ``axis`` and ``sign`` from
    :data:`scenesynth.graph.geometry.PLANAR_AXES`) on two objects' values along ``axis``;
    ``extent`` is the image width (axis 0) or height (axis 1), unused for depth (axis 2),
    whose margin is relative to the larger depth."""
    if axis == 0:
        margin = rules.lr_margin * extent
    elif axis == 1:
        margin = rules.ab_margin * extent
    else:
        margin = rules.depth_margin * max(abs(value_a), abs(value_b), 1e-9)
    return tri(sign * (value_b - value_a), margin)


def distance_decision(distance: float, near: bool, near_max: float, far_min: float) -> bool | None:
    """The rule of "near" (``near``) or "far from": near below ``near_max``, far above
    ``far_min``, undecided between (the distance and both bounds in one unit)."""
    if distance < near_max:
        return near
    if distance > far_min:
        return not near
    return None


def projected_decision(
    a: tuple[float, float, float], b: tuple[float, float, float],
    d: tuple[float, float, float], eps: float,
) -> bool | None:
    """CLEVR's 3D rule: True when ``(a - b) . d > eps``, False when ``< -eps``, else undecided
    (``d`` from :func:`scenesynth.graph.geometry.direction_3d`)."""
    return tri((a[0] - b[0]) * d[0] + (a[1] - b[1]) * d[1] + (a[2] - b[2]) * d[2], eps)
