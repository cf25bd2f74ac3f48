"""Per-graph tables the program ops read: indexes built once per graph, and memoised decisions.

:class:`SceneTables` holds, for one scene graph, the lookups an op needs (objects by name,
attribute values by kind, annotated relations both ways, box coordinates) and remembers the
geometry it decided (spatial relations, measures, near-duplicate boxes). The rules themselves
live in :mod:`scenesynth.graph.geometry`; the tables only call them and remember the answers,
so executing a program is a handful of dict lookups.

Values: an object reference is ``"<image_index>:<object_id>"`` (:func:`ref`); a set is a sorted
list of references.
"""

from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections.abc import Iterable, Sequence
from typing import Any, Final, cast

from scenesynth.graph import (
    Camera,
    ImageInfo,
    SceneGraph,
    SceneObject,
    SpatialRules,
    spatial_relation,
)
from scenesynth.graph.decide import (
    distance_decision,
    iou_of_coords,
    planar_decision,
    projected_decision,
)
from scenesynth.graph.geometry import FAR, NEAR, direction_3d, planar_axis


def ref(image: int, object_id: str) -> str:
    return f"{image}:{object_id}"


def split_ref(reference: str) -> tuple[int, str]:
    image, _, object_id = reference.partition(":")
    return int(image), object_id


BoxCoords = tuple[float, float, float, float, float]  # x0, y0, x1, y1, area of a box
_NO_VALUES: Final[frozenset[str]] = frozenset()


class SceneTables:
    """Per-graph lookups used by the ops (built once per graph)."""

    __slots__ = (
        "_box_coords",
        "_box_overlaps",
        "_diagonal",
        "_directions",
        "_duplicates",
        "_eps_3d",
        "_geometry",
        "_kind_sets",
        "_masks",
        "_measures",
        "_missing_kind",
        "_orders",
        "_out_relations",
        "_planar",
        "_planar_axes",
        "_positions",
        "_prefer_3d",
        "_rel_by_object",
        "_rel_by_subject",
        "_rel_pairs",
        "_related",
        "_rounded",
        "_undecided",
        "all_boxes",
        "all_depth",
        "all_positions",
        "attr_by_kind",
        "attr_values",
        "by_name",
        "camera",
        "graph",
        "image",
        "image_index",
        "memo",
        "names",
        "objects",
        "order",
        "ref_of",
        "rules",
        "scene",
    )

    def __init__(self, graph: SceneGraph, image_index: int, rules: SpatialRules) -> None:
        self.graph = graph
        self.image_index = image_index
        self.image: ImageInfo = graph.image
        self.camera: Camera | None = graph.camera
        self.rules = rules
        # one pass over the objects, each model field read once (pydantic attribute reads
        # are not free)
        self.ref_of: dict[str, str] = {}
        self.objects: dict[str, SceneObject] = {}
        # graph order of each reference (relation descriptions follow graph order)
        self.order: dict[str, int] = {}
        self.names: dict[str, str] = {}
        self.attr_values: dict[str, frozenset[str]] = {}
        self.attr_by_kind: dict[str, dict[str, tuple[str, ...]]] = {}
        all_boxes = all_depth = all_positions = True
        prefix = ref(image_index, "")  # every reference of this graph starts with it
        for i, o in enumerate(graph.objects):
            object_id = o.id
            r = prefix + object_id
            self.ref_of[object_id] = r
            self.objects[r] = o
            self.order[r] = i
            self.names[r] = o.name
            attributes = o.attributes
            if not attributes:  # many objects state none
                self.attr_values[r] = _NO_VALUES
                self.attr_by_kind[r] = {}
            else:
                by_kind: dict[str, tuple[str, ...]] = {}  # kind -> its distinct values
                for a in attributes:
                    value = a.value
                    kind = str(a.kind)
                    of_kind = by_kind.get(kind)
                    if of_kind is None:
                        by_kind[kind] = (value,)
                    elif value not in of_kind:
                        by_kind[kind] = (*of_kind, value)
                self.attr_values[r] = frozenset([a.value for a in attributes])
                self.attr_by_kind[r] = by_kind
            if all_boxes and o.box is None:
                all_boxes = False
            if all_depth and o.depth is None:
                all_depth = False
            if all_positions and o.position is None:
                all_positions = False
        # whether every object has a box / a depth / a 3D position (generators ask per context)
        self.all_boxes = all_boxes
        self.all_depth = all_depth
        self.all_positions = all_positions
        self.scene: list[str] = sorted(self.objects)
        self.by_name: dict[str, list[str]] = {}
        for r in self.scene:
            name = self.names[r]
            named = self.by_name.get(name)
            if named is None:
                self.by_name[name] = [r]
            else:
                named.append(r)
        # the annotated relations' lookups are built on first use (_index_relations): the
        # multi-image and most geometric generators never read them
        self._rel_by_subject: dict[tuple[str, str], list[str]] | None = None
        self._rel_by_object: dict[tuple[str, str], list[str]] = {}
        self._rel_pairs: dict[tuple[str, str], list[str]] = {}
        self._out_relations: dict[str, list[tuple[str, str]]] = {}
        self._geometry: dict[tuple[str, str, str], bool | None] = {}
        self._related: dict[tuple[str, str, bool], list[str]] = {}
        self._undecided: dict[tuple[str, str, bool], list[str]] = {}
        # predicate -> its image-plane (axis, sign) (graph.geometry.planar_axis);
        # ref -> (box centre x, y, depth)
        self._planar_axes: dict[str, tuple[int, float] | None] = {}
        self._planar: dict[str, tuple[float | None, float | None, float | None]] | None = None
        self._measures: dict[str, dict[str, float | str]] = {}  # a str: the missing field
        self._duplicates: dict[float, dict[str, frozenset[str]]] = {}
        # predicate -> its 3D direction (graph.direction_3d), None when not directional
        self._directions: dict[str, tuple[float, float, float] | None] = {}
        self._positions: dict[str, tuple[float, float, float]] | None = None
        self._orders: dict[str, SpatialOrder | None] = {}
        self._prefer_3d = rules.prefer_3d
        self._eps_3d = rules.eps_3d
        self._diagonal = math.hypot(self.image.width, self.image.height)
        self._masks: dict[str, int] = {}
        self._box_coords: dict[str, BoxCoords | None] | None = None
        self._box_overlaps: BoxOverlaps | None = None
        self._rounded: dict[str, tuple[float, float, float, float]] = {}
        self._kind_sets: dict[str, dict[str, frozenset[str]]] = {}
        self._missing_kind: dict[str, frozenset[str]] = {}
        self.memo: dict[Any, Any] = {}  # generator-side memo (referring expressions, ...)

    # -- annotated relations, indexed on first use -------------------------------------------
    @property
    def rel_by_subject(self) -> dict[tuple[str, str], list[str]]:
        """(subject ref, predicate) -> the sorted refs of its annotated objects."""
        table = self._rel_by_subject
        if table is None:
            table = self._index_relations()
        return table

    @property
    def rel_by_object(self) -> dict[tuple[str, str], list[str]]:
        """(object ref, predicate) -> the sorted refs of its annotated subjects."""
        if self._rel_by_subject is None:
            self._index_relations()
        return self._rel_by_object

    @property
    def rel_pairs(self) -> dict[tuple[str, str], list[str]]:
        """(subject ref, object ref) -> its annotated predicates, in graph order."""
        if self._rel_by_subject is None:
            self._index_relations()
        return self._rel_pairs

    @property
    def out_relations(self) -> dict[str, list[tuple[str, str]]]:
        """subject ref -> its (predicate, object ref) pairs, in graph order, duplicates
        dropped."""
        if self._rel_by_subject is None:
            self._index_relations()
        return self._out_relations

    def _index_relations(self) -> dict[tuple[str, str], list[str]]:
        # dicts as insertion-ordered sets: first occurrence wins, duplicates dropped
        by_subject: dict[tuple[str, str], dict[str, None]] = {}
        by_object: dict[tuple[str, str], dict[str, None]] = {}
        pairs: dict[tuple[str, str], dict[str, None]] = {}
        out: dict[str, dict[tuple[str, str], None]] = {}
        ref_of = self.ref_of
        for rel in self.graph.relations:
            subj, obj, predicate = ref_of[rel.subject], ref_of[rel.object], rel.predicate
            # setdefault's spare {} costs less than a call per index (a CLEVR scene annotates
            # every pair of objects four times)
            out.setdefault(subj, {})[(predicate, obj)] = None
            by_subject.setdefault((subj, predicate), {})[obj] = None
            by_object.setdefault((obj, predicate), {})[subj] = None
            pairs.setdefault((subj, obj), {})[predicate] = None
        self._rel_by_object = {k: sorted(v) for k, v in by_object.items()}
        self._rel_pairs = {k: list(v) for k, v in pairs.items()}
        self._out_relations = {k: list(v) for k, v in out.items()}
        table = self._rel_by_subject = {k: sorted(v) for k, v in by_subject.items()}
        return table

    # -- geometry, decided by graph.geometry's rules and remembered per graph -----------------
    def spatial(self, a: str, b: str, predicate: str) -> bool | None:
        """``spatial_relation(a, b, predicate)`` for two objects of this graph, decided once.

        The directional predicates are decided from per-object numbers read once per graph
        (3D positions, box centres, depths) through graph.geometry's number-level rules; the
        others by ``spatial_relation`` itself."""
        key = (a, b, predicate)
        # a sentinel, not try/except KeyError: most lookups are misses
        cached: Any = self._geometry.get(key, _NOT_CACHED)
        if cached is not _NOT_CACHED:
            return cast(bool | None, cached)
        value = self._decide(a, b, predicate)
        self._geometry[key] = value
        return value

    def _decide(self, a: str, b: str, predicate: str) -> bool | None:
        positions = self._positions
        if positions is None:
            positions = self._positions = {
                r: o.position.as_tuple() for r, o in self.objects.items()
                if o.position is not None}
        pa = positions.get(a) if positions else None
        pb = positions.get(b) if pa is not None else None
        if pa is not None and pb is not None and self._prefer_3d:
            directions = self._directions
            if predicate not in directions:
                directions[predicate] = direction_3d(predicate, self.camera)
            d = directions[predicate]
            if d is not None:
                return projected_decision(pa, pb, d, self._eps_3d)
        else:
            axes = self._planar_axes
            if predicate in axes:
                axis_sign = axes[predicate]
            else:
                axis_sign = axes[predicate] = planar_axis(predicate)
            if axis_sign is None and predicate in (NEAR, FAR):
                # the box centres' distance over the image diagonal, from the centres read
                # once per graph (spatial_relation would read each box's centre per pair)
                ax, ay, _ = self.planar_values(a)
                bx, by, _ = self.planar_values(b)
                if ax is None or ay is None or bx is None or by is None:
                    return None
                rules = self.rules
                distance = math.hypot(ax - bx, ay - by) / self._diagonal
                return distance_decision(distance, predicate == NEAR, rules.near_max,
                                         rules.far_min)
            if axis_sign is not None:
                axis, sign = axis_sign
                planar = self._planar
                if planar is None:
                    self.planar_values(a)
                    planar = self._planar
                    assert planar is not None
                va, vb = planar[a][axis], planar[b][axis]
                if va is None or vb is None:
                    return None
                extent = self.image.width if axis == 0 else self.image.height
                return planar_decision(va, vb, axis, sign, extent, self.rules)
        return spatial_relation(self.objects[a], self.objects[b], predicate, self.image,
                                self.camera, self.rules)

    def spatial_order(self, predicate: str) -> SpatialOrder | None:
        """The objects ordered by the one number that decides the directional ``predicate``
        between any two of them (see :class:`SpatialOrder`), or None when no single number
        does (3D mixed with 2D, above / below in 3D, a non-directional predicate, a negative
        margin). Built once per graph and predicate."""
        if predicate in self._orders:
            return self._orders[predicate]
        order = self._build_order(predicate)
        self._orders[predicate] = order
        return order

    def _build_order(self, predicate: str) -> SpatialOrder | None:
        # mirrors _decide's choice between the 3D and the image-plane rule, for every pair
        positions = self._positions
        if positions is None:
            positions = self._positions = {
                r: o.position.as_tuple() for r, o in self.objects.items()
                if o.position is not None}
        rules = self.rules
        keys: dict[str, float] = {}
        largest = 0.0  # the magnitude the float rounding of a key difference scales with
        if self._prefer_3d and positions:
            if len(positions) != len(self.objects):
                return None  # positioned pairs decide in 3D, the others in the image
            directions = self._directions
            if predicate not in directions:
                directions[predicate] = direction_3d(predicate, self.camera)
            d = directions[predicate]
            if d is None:
                return None  # above / below: support-aware, not one projection
            # projected_decision thresholds (p_a - p_b) . d, i.e. key(a) - key(b)
            for r, p in positions.items():
                keys[r] = p[0] * d[0] + p[1] * d[1] + p[2] * d[2]
                scale = abs(p[0] * d[0]) + abs(p[1] * d[1]) + abs(p[2] * d[2])
                if scale > largest:
                    largest = scale
            margin = certain = self._eps_3d
        else:
            axes = self._planar_axes
            if predicate in axes:
                axis_sign = axes[predicate]
            else:
                axis_sign = axes[predicate] = planar_axis(predicate)
            if axis_sign is None:
                return None
            axis, sign = axis_sign
            # planar_decision thresholds sign * (value_b - value_a), i.e. key(a) - key(b)
            # with key = -sign * value; an object without the value is never decided
            for r in self.scene:
                value = self.planar_values(r)[axis]
                if value is not None:
                    keys[r] = -sign * value
                    if abs(value) > largest:
                        largest = abs(value)
            if axis == 0:
                margin = certain = rules.lr_margin * self.image.width
            elif axis == 1:
                margin = certain = rules.ab_margin * self.image.height
            else:  # relative to the larger depth of the pair: between the smallest depth's
                # and the largest's
                smallest = min((abs(v) for v in keys.values()), default=0.0)
                margin = rules.depth_margin * max(smallest, 1e-9)
                certain = rules.depth_margin * max(largest, 1e-9)
        if margin < 0:
            return None
        # the rule computes its difference in another order than key(a) - key(b) (3D), and a
        # bisection adds the margin to a key: a slack far above float rounding keeps every
        # decided pair inside the lower bound, and every pair past the upper one decided
        slack = 1e-9 * (1.0 + largest)
        return SpatialOrder(keys, margin - slack, certain + slack, self.scene)

    def planar_values(self, r: str) -> tuple[float | None, float | None, float | None]:
        """(box centre x, box centre y, depth) of an object, the values of graph.geometry's
        image-plane axes (None where the object lacks the field)."""
        planar = self._planar
        if planar is None:
            planar = self._planar = {}
            for ref_, o in self.objects.items():
                box = o.box
                if box is None:
                    planar[ref_] = (None, None, o.depth)
                else:
                    cx, cy = box.center
                    planar[ref_] = (cx, cy, o.depth)
        return planar[r]

    def measure_of(self, r: str, name: str) -> float:
        """:func:`measure` of one object, read once per (object, measure) and graph (raises
        KeyError naming the missing field, as ``measure`` does)."""
        table = self._measures.get(name)
        if table is None:
            table = self._measures[name] = {}
        value = table.get(r)
        if value is None:
            try:
                value = measure(self, r, name)
            except KeyError as exc:
                value = str(exc.args[0])  # the missing field, remembered
            table[r] = value
        if isinstance(value, str):
            raise KeyError(value)
        return value

    def related_by_geometry(self, o: str, predicate: str, inverse: bool) -> list[str]:
        """Objects x != o with ``spatial(x, o, predicate) is True`` (``inverse``: with
        ``spatial(o, x, predicate) is True``), in scene order; computed once per graph.
        The list is shared: callers must not change it."""
        key = (o, predicate, inverse)
        hit = self._related.get(key)
        if hit is None:
            spatial = self.spatial
            order = self.spatial_order(predicate)
            if order is None:
                if inverse:
                    hit = [x for x in self.scene if x != o and spatial(o, x, predicate) is True]
                else:
                    hit = [x for x in self.scene if x != o and spatial(x, o, predicate) is True]
            else:  # only the objects on the related side of o's number
                centre = order.key_of.get(o)
                if centre is None:
                    hit = []  # o is never decided against another object
                else:
                    scene = self.scene
                    positions, to_confirm = order.past(centre, below=inverse)
                    positions = positions + [
                        p for p in to_confirm if scene[p] != o and (
                            spatial(o, scene[p], predicate) if inverse
                            else spatial(scene[p], o, predicate)) is True]
                    positions.sort()
                    hit = [scene[p] for p in positions]
            self._related[key] = hit
        return hit

    def undecided_by_geometry(self, o: str, predicate: str, inverse: bool) -> list[str]:
        """Objects x != o for which ``spatial(x, o, predicate)`` (``inverse``: ``spatial(o, x,
        predicate)``) is undecided, in scene order; computed once per graph (shared list).
        A reader of the image may count any of them as related: a relation that must single
        out an object is only used when this list holds none of its rivals."""
        key = (o, predicate, inverse)
        hit = self._undecided.get(key)
        if hit is None:
            spatial = self.spatial
            if inverse:
                hit = [x for x in self.scene if x != o and spatial(o, x, predicate) is None]
            else:
                hit = [x for x in self.scene if x != o and spatial(x, o, predicate) is None]
            self._undecided[key] = hit
        return hit

    def box_coords(self) -> dict[str, BoxCoords | None]:
        """ref -> (x0, y0, x1, y1, area) of its box, or None without a box (built once)."""
        coords = self._box_coords
        if coords is None:
            coords = {}
            for r, o in self.objects.items():
                b = o.box
                if b is None:
                    coords[r] = None
                else:
                    coords[r] = (b.x0, b.y0, b.x1, b.y1, b.area)
            self._box_coords = coords
        return coords

    def boxes_overlapping(self, x0: float, y0: float, x1: float, y1: float) -> list[str]:
        """Objects whose box meets the box ``x0, y0, x1, y1`` (their edges interleave on
        both axes), in scene order. Every object whose IoU with that box (``iou_of_coords``)
        is above 0 is among them, so a caller asking for IoU >= t > 0 confirms these with the
        rule instead of every box of the graph. Served by an index built once per graph
        (:class:`BoxOverlaps`)."""
        index = self._box_overlaps
        if index is None:
            coords = self._box_coords if self._box_coords is not None else self.box_coords()
            index = self._box_overlaps = BoxOverlaps(coords, self.scene)
        scene = self.scene
        return [scene[p] for p in index.overlapping(x0, y0, x1, y1)]

    def rounded_box(self, r: str) -> list[float]:
        """``[x0, y0, x1, y1]`` of the object's box rounded to 0.1 px (how boxes are asked
        and answered), a new list per call; rounded once per object (``round(x, 1)`` is a
        decimal conversion, not cheap). ValueError when the object has no box."""
        rounded = self._rounded.get(r)
        if rounded is None:
            box = self.objects[r].box
            if box is None:
                raise ValueError(f"{r} has no box")
            rounded = (round(box.x0, 1), round(box.y0, 1), round(box.x1, 1), round(box.y1, 1))
            self._rounded[r] = rounded
        return list(rounded)

    def kind_value_sets(self, kind: str) -> dict[str, frozenset[str]]:
        """ref -> the set of its values of attribute ``kind`` (built once per kind)."""
        sets = self._kind_sets.get(kind)
        if sets is None:
            sets = {r: frozenset(by.get(kind, ())) for r, by in self.attr_by_kind.items()}
            self._kind_sets[kind] = sets
        return sets

    def names_missing_kind(self, kind: str) -> frozenset[str]:
        """The names of which some object states no value of attribute ``kind`` (built once
        per kind): of those, "no red X" does not follow from the annotations."""
        missing = self._missing_kind.get(kind)
        if missing is None:
            names = self.names
            missing = frozenset(names[r] for r, by in self.attr_by_kind.items()
                                if not by.get(kind))
            self._missing_kind[kind] = missing
        return missing

    def same_value_objects(self, r: str, kind: str) -> list[str]:
        """The other objects, in scene order, whose values of ``kind`` are those of ``r``
        (the rule of the ``same_attr`` op)."""
        values = self.kind_value_sets(kind)
        mine = values[r]
        return [x for x in self.scene if x != r and values[x] == mine]

    def duplicate_partners(self, threshold: float) -> dict[str, frozenset[str]]:
        """ref -> the objects whose box has IoU > ``threshold`` with its box, both having a
        box and neither marked ``distinct`` (empty for the others); built once per graph and
        threshold (``count_distinct`` reads it instead of comparing boxes per question)."""
        table = self._duplicates.get(threshold)
        if table is None:
            coords = self._box_coords if self._box_coords is not None else self.box_coords()
            eligible: list[tuple[str, BoxCoords]] = []
            for r in self.scene:
                c = coords[r]
                if c is not None and not self.objects[r].distinct:
                    eligible.append((r, c))
            # Boxes that do not overlap along x have IoU 0: with left edges ascending, the
            # pairs of a box end at the first box that starts where it ends (a negative
            # threshold takes every pair). IoU > t > 0 needs more: the intersection is at
            # most the overlap width times the box's height and above t times its area, so
            # the overlap width exceeds t times its width, and the pairs end at the first
            # box starting past its right edge less that. IoU <= smaller area / larger area
            # skips the others of too different sizes (the slacks keep the float rounding
            # of an exact IoU on the safe side: those pairs are computed).
            eligible.sort(key=lambda rc: rc[1][0])
            sweep = threshold >= 0
            bound = threshold * (1.0 - 1e-9)
            found: dict[str, list[str]] = {r: [] for r in self.scene}
            for i in range(len(eligible)):
                ra, ca = eligible[i]
                reach = ca[2]  # pairs of this box start left of it
                if bound > 0:
                    reach -= bound * (ca[2] - ca[0]) - 1e-9 * (1.0 + abs(ca[2]))
                for j in range(i + 1, len(eligible)):
                    rb, cb = eligible[j]
                    if sweep and cb[0] >= reach:
                        break
                    if bound > 0 and (ca[4] < bound * cb[4] if ca[4] <= cb[4]
                                      else cb[4] < bound * ca[4]):
                        continue
                    if iou_of_coords(ca[0], ca[1], ca[2], ca[3], ca[4],
                                     cb[0], cb[1], cb[2], cb[3], cb[4]) > threshold:
                        found[ra].append(rb)
                        found[rb].append(ra)
            table = {r: frozenset(v) for r, v in found.items()}
            self._duplicates[threshold] = table
        return table

    def distinct_count(self, refs: Iterable[str], threshold: float) -> int:
        """How many of ``refs`` (objects of this graph, in order) are counted when a
        near-duplicate (IoU above ``threshold``, see :meth:`duplicate_partners`) of an object
        already counted is not: the rule of the ``count_distinct`` op."""
        partners = self.duplicate_partners(threshold)
        kept: set[str] = set()
        n = 0
        for r in refs:
            mine = partners[r]
            if mine and not mine.isdisjoint(kept):
                continue
            kept.add(r)
            n += 1
        return n

    def mask_area(self, r: str) -> int:
        try:
            return self._masks[r]
        except KeyError:
            pass
        mask = self.objects[r].mask
        if mask is None:
            raise KeyError("mask")
        from pycocotools import mask as mask_utils  # imported lazily: only mask questions

        h, w = mask.size
        if isinstance(mask.counts, str):
            rle: Any = {"size": [h, w], "counts": mask.counts.encode("ascii")}
        else:
            rle = mask_utils.frPyObjects({"size": [h, w], "counts": list(mask.counts)}, h, w)
        area = int(mask_utils.area(rle))
        self._masks[r] = area
        return area


class SpatialOrder:
    """One graph's objects sorted by the number that decides a directional predicate.

    For any two objects ``a``, ``b`` of the graph: ``spatial(a, b, predicate)`` is True only
    when ``key_of[a] - key_of[b] > margin`` and False only when ``key_of[a] - key_of[b] <
    -margin``; an object missing from ``key_of`` is never decided against another. The
    margin is a lower bound of the rule's own (the rule stays the judge: a lookup here
    gives candidates, :meth:`SceneTables.spatial` confirms them). Past ``certain``, an upper
    bound of the rule's margin, there is nothing to confirm: a key difference above it is
    decided True (and below its negative, False) by the rule itself."""

    __slots__ = ("certain", "key_of", "keys", "margin", "positions")

    def __init__(
        self, key_of: dict[str, float], margin: float, certain: float, scene: list[str],
    ) -> None:
        self.key_of = key_of
        self.margin = margin
        self.certain = certain
        held = [position for position, r in enumerate(scene) if r in key_of]
        values = [key_of[scene[position]] for position in held]
        # indices sorted by key; the sort is stable, so equal keys stay in scene order
        ranked = sorted(range(len(values)), key=values.__getitem__)
        self.keys: list[float] = [values[i] for i in ranked]  # ascending
        self.positions: list[int] = [held[i] for i in ranked]  # in tables.scene

    def past(self, centre: float, below: bool) -> tuple[list[int], list[int]]:
        """Scene positions of the objects whose key exceeds ``centre`` by more than the margin
        (``below``: falls short of it by more), as (certain, to confirm): the first past
        ``certain``, decided by the rule without asking; the others between the bounds,
        whose decision the rule must give. Each list in order of key."""
        keys = self.keys
        positions = self.positions
        if below:
            sure = bisect_left(keys, centre - self.certain)
            return positions[:sure], positions[sure:bisect_left(keys, centre - self.margin)]
        sure = bisect_right(keys, centre + self.certain)
        return positions[sure:], positions[bisect_right(keys, centre + self.margin):sure]

    def falls_short(self, key: float, centre: float) -> bool | None:
        """Whether an object with ``key`` falls short of ``centre`` by more than the rule's
        margin (then the rule decides it False against an object at ``centre``): True past
        ``certain``, False within the margin's lower bound, None between the two, where
        only the rule can say."""
        if key >= centre - self.margin:
            return False
        if key < centre - self.certain:
            return True
        return None

    def between(self, low: float, high: float) -> list[int]:
        """Scene positions of the objects whose key lies strictly between ``low`` and
        ``high``, ascending."""
        keys = self.keys
        return sorted(self.positions[bisect_right(keys, low):bisect_left(keys, high)])


class BoxOverlaps:
    """One graph's boxes sorted by their left edge, to find the boxes that overlap a box.

    Two boxes have an intersection of positive area (``iou_of_coords`` above 0) only when
    each one's left edge lies left of the other's right edge, and likewise top and bottom.
    A box meeting ``x0 .. x1`` so has its left edge below ``x1`` and above ``x0`` minus the
    widest box: a bisection bounds those, the edge tests keep the ones that meet it."""

    __slots__ = ("edges", "lefts", "widest")

    def __init__(self, coords: dict[str, BoxCoords | None], scene: list[str]) -> None:
        ranked: list[tuple[float, int, float, float, float]] = []
        widest = largest = 0.0
        for position, r in enumerate(scene):
            c = coords[r]
            if c is not None:
                ranked.append((c[0], position, c[1], c[2], c[3]))
                if c[2] - c[0] > widest:
                    widest = c[2] - c[0]
                largest = max(largest, abs(c[0]), abs(c[2]))
        ranked.sort()
        self.lefts: list[float] = [entry[0] for entry in ranked]  # ascending
        # (scene position, y0, x1, y1) in the order of ``lefts``
        self.edges: list[tuple[int, float, float, float]] = [
            (position, top, right, bottom) for _, position, top, right, bottom in ranked]
        # the widths and the bound's subtraction round: a slack far above that rounding
        self.widest = widest + 1e-9 * (1.0 + widest + largest)

    def overlapping(self, x0: float, y0: float, x1: float, y1: float) -> list[int]:
        """Scene positions, ascending, of the boxes meeting the box ``x0, y0, x1, y1``:
        left edge < x1, right edge > x0, top < y1, bottom > y0."""
        lefts = self.lefts
        edges = self.edges
        found = []
        for i in range(bisect_right(lefts, x0 - self.widest), bisect_left(lefts, x1)):
            position, top, right, bottom = edges[i]
            if right > x0 and top < y1 and bottom > y0:
                found.append(position)
        found.sort()
        return found


_NOT_CACHED: Final[Any] = object()  # SceneTables.spatial: no decision cached yet


def build_tables(graphs: Sequence[SceneGraph], rules: SpatialRules) -> list[SceneTables]:
    return [SceneTables(g, i, rules) for i, g in enumerate(graphs)]


# -- measures ---------------------------------------------------------------------------------


def measure(tables: SceneTables, r: str, name: str) -> float:
    """The ``measure`` op on one object (raises KeyError naming the missing field)."""
    obj = tables.objects[r]
    if name == "depth":
        if obj.depth is None:
            raise KeyError("depth")
        return float(obj.depth)
    if name == "mask_area":
        return float(tables.mask_area(r))
    if name == "volume":
        if obj.size3d is None:
            raise KeyError("size3d")
        return obj.size3d.x * obj.size3d.y * obj.size3d.z
    if obj.box is None:
        raise KeyError("box")
    box = obj.box
    if name == "box_area":
        return box.area
    if name == "center_x":
        return box.center[0]
    if name == "center_y":
        return box.center[1]
    raise ValueError(f"unknown measure {name!r}")


REGION_NAMES = (
    ("top left", "top", "top right"),
    ("left", "center", "right"),
    ("bottom left", "bottom", "bottom right"),
)


def region_of(cx: float, cy: float, width: float, height: float, margin: float) -> str | None:
    """3x3 grid cell of a point, or None within ``margin`` cells of an inner grid line."""
    cells: list[int] = []
    for value, extent in ((cx, width), (cy, height)):
        cell = extent / 3
        for line in (cell, 2 * cell):
            if abs(value - line) < margin * cell:
                return None
        cells.append(min(2, max(0, int(value // cell))))
    return REGION_NAMES[cells[1]][cells[0]]
