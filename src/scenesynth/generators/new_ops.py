"""Ops of the reference families (issue 18): extreme among named objects, distance to an
anchor, and objects under marked points.

Each op's one-line semantics is added to :data:`scenesynth.generators.base.OPS` here and its
implementation registered with the shared executor's ``op_impl`` hook, so ``execute`` (and the
independent checker, which reads the same table) run these programs like any other.

Points follow the box convention (``graph/``: pixels, origin top-left): a point ``[x, y]`` is
the pixel in column ``x``, row ``y``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from scenesynth.generators.base import OPS
from scenesynth.generators.program import SceneTables, op_impl
from scenesynth.graph import Mask

if TYPE_CHECKING:
    import numpy as np

OPS.update({
    "collect": "inputs[obj_1, ..., obj_k] -> set: the distinct objects, sorted",
    "label_of": (
        "args{labels (list of str)}; inputs[obj x, obj o_1, ..., obj o_k] -> labels[i-1] for "
        "the i with o_i == x; error unless exactly one o_i is x or len(labels) != k"
    ),
    "extreme_spatial": (
        "args{predicate}; inputs[set] -> the one object o of the set with spatial_relation(o, "
        "x, predicate) True for every other object x of the set (the leftmost for 'left of', "
        "the nearest for 'in front of'); error when no object or several qualify, or the set "
        "has fewer than two objects"
    ),
    "distance": (
        "args{space}; inputs[obj a, obj b] -> float: space '3d': Euclidean distance of the two "
        "objects' positions (world units); error when either lacks a position"
    ),
    "object_at": (
        "args{point [x, y] (int px: column x, row y, origin top-left)}; inputs[set] -> the one "
        "object of the set whose mask covers that pixel; error when none or several do, or a "
        "member has no mask"
    ),
})


def decode_mask(mask: Mask) -> np.ndarray:
    """The mask as a bool array (rows, columns); COCO RLE, column-major (graph/model.py)."""
    # lazily: only point questions need them (listing generators imports no numpy)
    import numpy as np
    from pycocotools import mask as mask_utils

    h, w = mask.size
    rle: Any = {"size": [h, w], "counts": mask.counts}
    if isinstance(mask.counts, str):
        rle["counts"] = mask.counts.encode("ascii")
    else:
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": list(mask.counts)}, h, w)
    return np.asarray(mask_utils.decode(rle), dtype=bool)


def mask_pixels(t: SceneTables, r: str) -> np.ndarray:
    """The object's decoded mask, memoised per graph (ValueError without a mask)."""
    key = ("mask_pixels", r)
    pixels: np.ndarray | None = t.memo.get(key)
    if pixels is None:
        mask = t.objects[r].mask
        if mask is None:
            raise ValueError(f"{r} has no mask")
        pixels = decode_mask(mask)
        t.memo[key] = pixels
    return pixels


def covers(t: SceneTables, r: str, x: int, y: int) -> bool:
    pixels = mask_pixels(t, r)
    return 0 <= y < pixels.shape[0] and 0 <= x < pixels.shape[1] and bool(pixels[y, x])


def _holding(env: Any, refs: list[str]) -> SceneTables:
    t = env.holding(refs)
    if t is None:
        raise ValueError("the objects are not all in one image")
    return t


@op_impl("collect")
def _collect(args: dict[str, Any], inputs: list[Any], env: Any) -> list[str]:
    for r in inputs:
        env.of(r)  # each input must be an object of the program's images
    return sorted(set(inputs))


@op_impl("label_of")
def _label_of(args: dict[str, Any], inputs: list[Any], env: Any) -> str:
    labels = [str(v) for v in args["labels"]]
    if len(inputs) < 2 or len(labels) != len(inputs) - 1:
        raise ValueError(f"{len(labels)} labels for {len(inputs) - 1} candidates")
    x, candidates = inputs[0], inputs[1:]
    hits = [i for i, o in enumerate(candidates) if o == x]
    if len(hits) != 1:
        raise ValueError(f"{x} is {len(hits)} of the candidates, not one")
    return labels[hits[0]]


@op_impl("extreme_spatial")
def _extreme_spatial(args: dict[str, Any], inputs: list[Any], env: Any) -> str:
    if len(inputs) != 1:
        raise ValueError(f"expected 1 input, got {len(inputs)}")
    members: list[str] = list(inputs[0])
    if len(members) < 2:
        raise ValueError(f"needs at least two objects, got {len(members)}")
    t = _holding(env, members)
    predicate = str(args["predicate"])
    winners = [o for o in members
               if all(t.spatial(o, x, predicate) is True for x in members if x != o)]
    if len(winners) != 1:
        raise ValueError(f"{len(winners)} objects are {predicate!r} every other, not one")
    return winners[0]


@op_impl("distance")
def _distance(args: dict[str, Any], inputs: list[Any], env: Any) -> float:
    if len(inputs) != 2:
        raise ValueError(f"expected 2 inputs, got {len(inputs)}")
    if args.get("space") != "3d":
        raise ValueError(f"unknown space {args.get('space')!r}")
    a, b = inputs
    pa, pb = env.of(a).objects[a].position, env.of(b).objects[b].position
    if pa is None or pb is None:
        raise ValueError(f"{a if pa is None else b} has no position")
    return math.dist(pa.as_tuple(), pb.as_tuple())


@op_impl("object_at")
def _object_at(args: dict[str, Any], inputs: list[Any], env: Any) -> str:
    if len(inputs) != 1:
        raise ValueError(f"expected 1 input, got {len(inputs)}")
    members: list[str] = list(inputs[0])
    if not members:
        raise ValueError("empty set")
    t = _holding(env, members)
    x, y = (int(v) for v in args["point"])
    hits = [r for r in members if covers(t, r, x, y)]
    if len(hits) != 1:
        raise ValueError(f"{len(hits)} masks cover pixel ({x}, {y}), not one")
    return hits[0]
