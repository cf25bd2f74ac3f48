"""The shared program executor: every answer is the output of executing its program.

:func:`execute` runs a list of :class:`~scenesynth.graph.sample.ProgramStep` (or anything with
``op``, ``inputs`` and ``args``) against the graphs of a question and returns each step's
output. The semantics of every op are the one-line definitions in
:data:`scenesynth.generators.base.OPS`; this module is their single implementation, used both by
the generators (to compute answers) and by anyone re-checking a stored sample.

Values: an object reference is ``"<image_index>:<object_id>"``; a set is a sorted list of
references; scalars are bool / int / float / str.

Speed: the per-graph lookups the ops need are precomputed once in :class:`SceneTables`;
generators share them through :func:`tables_for`, so executing a program is a handful of dict
lookups.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar, cast

from pydantic import BaseModel

from scenesynth.generators.base import OPS, GenConfig, GenContext
from scenesynth.graph import (
    Camera,
    ImageInfo,
    ProgramStep,
    SceneGraph,
    SceneObject,
    SpatialRules,
    iou,
    spatial_relation,
)
from scenesynth.graph.geometry import (
    ABOVE,
    BEHIND,
    BELOW,
    FRONT,
    LEFT,
    RIGHT,
    canonical_spatial,
    direction_3d,
)
from scenesynth.graph.vocab import names_value


class ProgramError(ValueError):
    """A program cannot be executed (bad op, bad input, ambiguous ``unique`` ...)."""

    def __init__(self, step: int, op: str, message: str) -> None:
        super().__init__(f"step {step} ({op}): {message}")
        self.step = step
        self.op = op


class StepLike(Protocol):
    op: str
    inputs: list[int]
    args: dict[str, Any]


class ReferenceLike(Protocol):
    steps: list[Any]

    @property
    def outputs(self) -> list[Any] | None: ...


def ref(image: int, object_id: str) -> str:
    return f"{image}:{object_id}"


def split_ref(reference: str) -> tuple[int, str]:
    image, _, object_id = reference.partition(":")
    return int(image), object_id


BoxCoords = tuple[float, float, float, float, float]  # x0, y0, x1, y1, area of a box


class SceneTables:
    """Per-graph lookups used by the ops (built once per graph)."""

    __slots__ = (
        "_box_coords",
        "_directions",
        "_duplicates",
        "_eps_3d",
        "_geometry",
        "_kind_sets",
        "_masks",
        "_measures",
        "_planar",
        "_planar_rules",
        "_positions",
        "_prefer_3d",
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
        "out_relations",
        "ref_of",
        "rel_by_object",
        "rel_by_subject",
        "rel_pairs",
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
        for i, o in enumerate(graph.objects):
            r = ref(image_index, o.id)
            self.ref_of[o.id] = r
            self.objects[r] = o
            self.order[r] = i
            self.names[r] = o.name
            values: list[str] = []
            by_kind: dict[str, list[str]] = {}
            for a in o.attributes:
                value = a.value
                values.append(value)
                kind = str(a.kind)
                of_kind = by_kind.get(kind)
                if of_kind is None:
                    by_kind[kind] = [value]
                elif value not in of_kind:
                    of_kind.append(value)
            self.attr_values[r] = frozenset(values)
            self.attr_by_kind[r] = {k: tuple(v) for k, v in by_kind.items()}
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
        # annotated relations: (subject ref, predicate) -> object refs and the reverse
        # (dicts as insertion-ordered sets: first occurrence wins, duplicates dropped)
        by_subject: dict[tuple[str, str], dict[str, None]] = {}
        by_object: dict[tuple[str, str], dict[str, None]] = {}
        pairs: dict[tuple[str, str], dict[str, None]] = {}
        out: dict[str, dict[tuple[str, str], None]] = {}
        ref_of = self.ref_of
        for rel in graph.relations:
            subj, obj, predicate = ref_of[rel.subject], ref_of[rel.object], rel.predicate
            _set_add(out, subj, (predicate, obj))
            _set_add(by_subject, (subj, predicate), obj)
            _set_add(by_object, (obj, predicate), subj)
            _set_add(pairs, (subj, obj), predicate)
        # annotated relations: (subject ref, predicate) -> sorted object refs and the reverse
        self.rel_by_subject: dict[tuple[str, str], list[str]] = {
            k: sorted(v) for k, v in by_subject.items()}
        self.rel_by_object: dict[tuple[str, str], list[str]] = {
            k: sorted(v) for k, v in by_object.items()}
        # (subject ref, object ref) -> predicates in graph order
        self.rel_pairs: dict[tuple[str, str], list[str]] = {k: list(v) for k, v in pairs.items()}
        # subject ref -> [(predicate, object ref)] in graph order, duplicates dropped
        self.out_relations: dict[str, list[tuple[str, str]]] = {
            k: list(v) for k, v in out.items()}
        self._geometry: dict[tuple[str, str, str], bool | None] = {}
        self._related: dict[tuple[str, str, bool], list[str]] = {}
        self._undecided: dict[tuple[str, str, bool], list[str]] = {}
        # predicate -> its planar rule (see _planar_rule); ref -> (box centre x, y, depth)
        self._planar_rules: dict[str, tuple[int, float] | None] = {}
        self._planar: dict[str, tuple[float | None, float | None, float | None]] | None = None
        self._measures: dict[str, dict[str, float | str]] = {}  # a str: the missing field
        self._duplicates: dict[float, dict[str, frozenset[str]]] = {}
        # predicate -> its 3D direction (graph.direction_3d), None when not directional
        self._directions: dict[str, tuple[float, float, float] | None] = {}
        self._positions: dict[str, tuple[float, float, float]] | None = None
        self._prefer_3d = rules.prefer_3d
        self._eps_3d = rules.eps_3d
        self._masks: dict[str, int] = {}
        self._box_coords: dict[str, BoxCoords | None] | None = None
        self._rounded: dict[str, tuple[float, float, float, float]] = {}
        self._kind_sets: dict[str, dict[str, frozenset[str]]] = {}
        self.memo: dict[Any, Any] = {}  # generator-side memo (referring expressions, ...)

    # -- cached geometry --------------------------------------------------------------------
    def spatial(self, a: str, b: str, predicate: str) -> bool | None:
        key = (a, b, predicate)
        # a sentinel, not try/except KeyError: most calls are misses, and a caught exception
        # costs several times the whole decision (compiled)
        cached: Any = self._geometry.get(key, _NOT_CACHED)
        if cached is not _NOT_CACHED:
            return cast(bool | None, cached)
        positions = self._positions
        if positions is None:
            # (x, y, z) per positioned object, read off the models once per graph
            positions = self._positions = {
                r: (o.position.x, o.position.y, o.position.z)
                for r, o in self.objects.items() if o.position is not None}
        value: bool | None
        pa, pb = positions.get(a), positions.get(b)
        if pa is not None and pb is not None and self._prefer_3d:
            directions = self._directions
            if predicate not in directions:
                directions[predicate] = direction_3d(predicate, self.camera)
            d = directions[predicate]
            if d is not None:
                # spatial_relation's 3D directional rule, same arithmetic (hot on CLEVR)
                diff = (pa[0] - pb[0]) * d[0] + (pa[1] - pb[1]) * d[1] + (pa[2] - pb[2]) * d[2]
                eps = self._eps_3d
                value = True if diff > eps else (False if diff < -eps else None)
                self._geometry[key] = value
                return value
        else:
            # typed Any: _NOT_PLANAR is not a bool (compiled code checks declared types)
            planar: Any = self._spatial_planar(a, b, predicate)
            if planar is not _NOT_PLANAR:
                self._geometry[key] = planar
                return cast(bool | None, planar)
        value = spatial_relation(self.objects[a], self.objects[b], predicate, self.image,
                                 self.camera, self.rules)
        self._geometry[key] = value
        return value

    def _spatial_planar(self, a: str, b: str, predicate: str) -> Any:
        """spatial_relation's 2D rules for left / right / above / below (box centres) and in
        front of / behind (depth), same arithmetic, from per-object numbers read once;
        _NOT_PLANAR for other predicates."""
        rules = self._planar_rules
        if predicate in rules:
            rule = rules[predicate]
        else:
            rule = rules[predicate] = _planar_rule(predicate)
        if rule is None:
            return _NOT_PLANAR
        planar = self._planar
        if planar is None:  # box centres from the box coordinates the tables already read
            coords = self.box_coords()
            planar = self._planar = {}
            for r, o in self.objects.items():
                c = coords[r]
                planar[r] = (None, None, o.depth) if c is None else \
                    ((c[0] + c[2]) / 2, (c[1] + c[3]) / 2, o.depth)
        axis, sign = rule
        va, vb = planar[a][axis], planar[b][axis]
        if va is None or vb is None:
            return None
        diff = sign * (vb - va)
        if axis == 0:
            margin = self.rules.lr_margin * self.image.width
        elif axis == 1:
            margin = self.rules.ab_margin * self.image.height
        else:
            margin = self.rules.depth_margin * max(abs(va), abs(vb), 1e-9)
        return True if diff > margin else (False if diff < -margin else None)

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
            if inverse:
                hit = [x for x in self.scene if x != o and spatial(o, x, predicate) is True]
            else:
                hit = [x for x in self.scene if x != o and spatial(x, o, predicate) is True]
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
                    # Box.area's arithmetic (its property is interpreted code: a call each)
                    x0, y0, x1, y1 = b.x0, b.y0, b.x1, b.y1
                    coords[r] = (x0, y0, x1, y1, (x1 - x0) * (y1 - y0))
            self._box_coords = coords
        return coords

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
            # IoU <= smaller area / larger area, so with areas ascending the pairs of an
            # object end at the first area too large for the threshold (the slack keeps the
            # float rounding of an exact IoU on the safe side: those pairs are computed)
            eligible.sort(key=lambda rc: rc[1][4])
            bound = threshold * (1.0 - 1e-9)
            found: dict[str, list[str]] = {r: [] for r in self.scene}
            for i in range(len(eligible)):
                ra, ca = eligible[i]
                for j in range(i + 1, len(eligible)):
                    rb, cb = eligible[j]
                    if bound > 0 and ca[4] < bound * cb[4]:
                        break
                    if coords_iou(ca, cb) > threshold:
                        found[ra].append(rb)
                        found[rb].append(ra)
            table = {r: frozenset(v) for r, v in found.items()}
            self._duplicates[threshold] = table
        return table

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


def coords_iou(ca: BoxCoords, cb: BoxCoords) -> float:
    """graph.iou's arithmetic on two ``box_coords`` entries (x0, y0, x1, y1, area)."""
    w = (ca[2] if ca[2] < cb[2] else cb[2]) - (ca[0] if ca[0] > cb[0] else cb[0])
    h = (ca[3] if ca[3] < cb[3] else cb[3]) - (ca[1] if ca[1] > cb[1] else cb[1])
    inter = w * h if w > 0 and h > 0 else 0.0
    union = ca[4] + cb[4] - inter
    return inter / union if union > 0 else 0.0


_NOT_PLANAR: Final[Any] = object()  # SceneTables._spatial_planar: the predicate has no planar rule
_NOT_CACHED: Final[Any] = object()  # SceneTables.spatial: no decision cached yet
_PLANAR_RULES = {LEFT: (0, 1.0), RIGHT: (0, -1.0), ABOVE: (1, 1.0), BELOW: (1, -1.0),
                 FRONT: (2, 1.0), BEHIND: (2, -1.0)}


K = TypeVar("K")
V = TypeVar("V")


def _set_add(sets: dict[K, dict[V, None]], key: K, value: V) -> None:
    """Add ``value`` to the insertion-ordered set (a dict of None) at ``key``."""
    members = sets.get(key)
    if members is None:
        sets[key] = {value: None}
    else:
        members[value] = None


def _planar_rule(predicate: str) -> tuple[int, float] | None:
    """(axis, sign) of a directional predicate's 2D rule in spatial_relation: it holds when
    ``sign * (value of b - value of a)`` on the axis (0: box centre x, 1: box centre y,
    2: depth) exceeds the margin; None for the other predicates."""
    pred = canonical_spatial(predicate)
    if pred is None:
        raise ValueError(f"not a spatial predicate: {predicate!r}")
    return _PLANAR_RULES.get(pred)


def build_tables(graphs: Sequence[SceneGraph], rules: SpatialRules) -> list[SceneTables]:
    return [SceneTables(g, i, rules) for i, g in enumerate(graphs)]


def tables_for(ctx: GenContext) -> list[SceneTables]:
    """The context's tables, built on first use and memoised in ``ctx.cache``."""
    tables = ctx.cache.get("tables")
    if tables is None:
        tables = build_tables(ctx.graphs, ctx.config.rules)
        ctx.cache["tables"] = tables
    return tables


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
        return (box.x1 - box.x0) * (box.y1 - box.y0)
    if name == "center_x":
        return (box.x0 + box.x1) / 2
    if name == "center_y":
        return (box.y0 + box.y1) / 2
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


# -- op implementations --------------------------------------------------------------------------


class _Env:
    __slots__ = ("config", "single", "tables")

    def __init__(self, tables: Sequence[SceneTables], config: GenConfig) -> None:
        self.tables = tables
        self.config = config
        self.single = tables[0] if len(tables) == 1 else None

    def of(self, reference: str) -> SceneTables:
        single = self.single
        if single is not None and reference in single.objects:  # the common fast path
            return single
        if not isinstance(reference, str):
            raise ValueError(f"expected an object reference, got {reference!r}")
        image = int(reference.partition(":")[0])
        if not 0 <= image < len(self.tables):
            raise ValueError(f"reference {reference!r} names image {image}, not in the program")
        t = self.tables[image]
        if reference not in t.objects:
            raise ValueError(f"no object {reference!r}")
        return t

    def holding(self, refs: list[str]) -> SceneTables | None:
        """The one image's tables that hold every reference of ``refs`` (a set-valued step's
        output is almost always from one image), or None."""
        single = self.single
        if single is not None:
            objects = single.objects
            return single if all(r in objects for r in refs) else None
        for t in self.tables:
            objects = t.objects
            if all(r in objects for r in refs):
                return t
        return None

    def image(self, args: dict[str, Any]) -> SceneTables:
        image = args.get("image", 0)
        if type(image) is not int:  # int(int) is a call; programs almost always hold ints
            image = int(image)
        if not 0 <= image < len(self.tables):
            raise ValueError(f"image {image} is not in the program ({len(self.tables)} graphs)")
        return self.tables[image]


OpImpl = Callable[[dict[str, Any], list[Any], _Env], Any]
OP_IMPLS: Final[dict[str, OpImpl]] = {}


def op_impl(name: str) -> Callable[[OpImpl], OpImpl]:
    """Register the implementation of an op; the op must be defined in ``base.OPS`` first."""

    def deco(fn: OpImpl) -> OpImpl:
        if name not in OPS:
            raise ValueError(f"op {name!r} has no definition in generators.base.OPS")
        OP_IMPLS[name] = fn
        return fn

    return deco


def _one(inputs: list[Any], n: int = 1) -> None:
    if len(inputs) != n:
        raise ValueError(f"expected {n} input(s), got {len(inputs)}")


# Set-valued ops may return a list the tables keep (the scene, the objects of a name, the
# related objects): outputs are read-only values, shared rather than copied per program.


@op_impl("scene")
def _scene(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    return env.image(args).scene


def _objects_of(env: _Env, refs: list[str]) -> list[tuple[SceneTables, str]]:
    t = env.holding(refs)
    if t is not None:
        return [(t, r) for r in refs]
    return [(env.of(r), r) for r in refs]


@op_impl("filter_name")
def _filter_name(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs)
    name = args["name"]
    single = env.single
    if single is not None and (inputs[0] is single.scene or inputs[0] == single.scene):
        # the whole scene (the usual first filter): its objects of that name, in scene order
        return single.by_name.get(name) or []
    if single is not None:  # fast path; a foreign reference falls back to the checks
        names = single.names
        try:
            return [r for r in inputs[0] if names[r] == name]
        except (KeyError, TypeError):
            pass
    else:
        for t in env.tables:  # multi-image: the whole scene of one of the images
            if inputs[0] is t.scene:
                return t.by_name.get(name) or []
    return [r for t, r in _objects_of(env, inputs[0]) if t.names[r] == name]


@op_impl("filter_attr")
def _filter_attr(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs)
    value = args["value"]
    if env.single is not None:
        values = env.single.attr_values
        try:
            return [r for r in inputs[0] if value in values[r]]
        except (KeyError, TypeError):
            pass
    return [r for t, r in _objects_of(env, inputs[0]) if value in t.attr_values[r]]


@op_impl("unique")
def _unique(args: dict[str, Any], inputs: list[Any], env: _Env) -> str:
    _one(inputs)
    items = inputs[0]
    if len(items) != 1:
        raise ValueError(f"expected exactly one object, got {len(items)}")
    return str(items[0])


def _relate(args: dict[str, Any], inputs: list[Any], env: _Env, inverse: bool) -> list[str]:
    _one(inputs)
    o = inputs[0]
    t = env.of(o)
    predicate = args["predicate"]
    mode = args.get("mode", "annotated")
    if mode == "annotated":
        table = t.rel_by_subject if inverse else t.rel_by_object
        return table.get((o, predicate)) or []
    if mode == "geometry":
        return t.related_by_geometry(o, predicate, inverse)
    raise ValueError(f"unknown relate mode {mode!r}")


@op_impl("relate")
def _relate_op(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    return _relate(args, inputs, env, inverse=False)


@op_impl("relate_inv")
def _relate_inv_op(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    return _relate(args, inputs, env, inverse=True)


@op_impl("count")
def _count(args: dict[str, Any], inputs: list[Any], env: _Env) -> int:
    _one(inputs)
    return len(inputs[0])


@op_impl("count_distinct")
def _count_distinct(args: dict[str, Any], inputs: list[Any], env: _Env) -> int:
    _one(inputs)
    threshold = float(args["iou"])
    holder = env.holding(inputs[0]) if isinstance(inputs[0], list) else None
    if holder is not None:
        # fast path, objects of one image: their near-duplicates are found once per graph
        partners = holder.duplicate_partners(threshold)
        kept: set[str] = set()
        n = 0
        for r in inputs[0]:
            mine = partners[r]
            if mine and not mine.isdisjoint(kept):
                continue
            kept.add(r)
            n += 1
        return n
    counted: list[SceneObject] = []
    for t, r in _objects_of(env, inputs[0]):
        obj = t.objects[r]
        if obj.box is not None and not obj.distinct:
            box = obj.box
            if any(
                c.box is not None and not c.distinct and iou(box, c.box) > threshold
                for c in counted
            ):
                continue
        counted.append(obj)
    return len(counted)


@op_impl("exist")
def _exist(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    _one(inputs)
    return len(inputs[0]) > 0


@op_impl("query_name")
def _query_name(args: dict[str, Any], inputs: list[Any], env: _Env) -> str:
    _one(inputs)
    return env.of(inputs[0]).names[inputs[0]]


@op_impl("query_attr")
def _query_attr(args: dict[str, Any], inputs: list[Any], env: _Env) -> str:
    _one(inputs)
    r = inputs[0]
    values = env.of(r).attr_by_kind[r].get(str(args["kind"]), ())
    if len(values) != 1:
        raise ValueError(f"{r} has {len(values)} values of kind {args['kind']!r}, not one")
    return values[0]


@op_impl("verify_attr")
def _verify_attr(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    _one(inputs)
    r = inputs[0]
    return args["value"] in env.of(r).attr_values[r]


@op_impl("query_box")
def _query_box(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[float]:
    _one(inputs)
    r = inputs[0]
    return env.of(r).rounded_box(r)


def _pair(inputs: list[Any], env: _Env) -> tuple[SceneTables, str, str]:
    _one(inputs, 2)
    a, b = inputs
    t = env.of(a)
    if env.of(b) is not t:
        raise ValueError(f"{a} and {b} are in different images")
    return t, a, b


@op_impl("spatial")
def _spatial(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool | None:
    t, a, b = _pair(inputs, env)
    return t.spatial(a, b, args["predicate"])


@op_impl("has_relation")
def _has_relation(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    t, a, b = _pair(inputs, env)
    return args["predicate"] in t.rel_pairs.get((a, b), ())


@op_impl("query_relation")
def _query_relation(args: dict[str, Any], inputs: list[Any], env: _Env) -> str:
    t, a, b = _pair(inputs, env)
    predicates = t.rel_pairs.get((a, b), [])
    if len(predicates) != 1:
        raise ValueError(f"({a}, ?, {b}) has {len(predicates)} annotated predicates, not one")
    return predicates[0]


@op_impl("equal")
def _equal(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    _one(inputs, 2)
    return bool(inputs[0] == inputs[1])


@op_impl("greater")
def _greater(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    _one(inputs, 2)
    return bool(inputs[0] > inputs[1])


@op_impl("less")
def _less(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    _one(inputs, 2)
    return bool(inputs[0] < inputs[1])


def _bools(inputs: list[Any], n: int) -> list[bool]:
    _one(inputs, n)
    for v in inputs:
        if not isinstance(v, bool):
            raise ValueError(f"expected a bool input, got {v!r}")
    return inputs


@op_impl("and")
def _and(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    a, b = _bools(inputs, 2)
    return a and b


@op_impl("or")
def _or(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    a, b = _bools(inputs, 2)
    return a or b


@op_impl("not")
def _not(args: dict[str, Any], inputs: list[Any], env: _Env) -> bool:
    (a,) = _bools(inputs, 1)
    return not a


@op_impl("union")
def _union(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs, 2)
    return sorted(set(inputs[0]) | set(inputs[1]))


@op_impl("intersect")
def _intersect(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs, 2)
    return sorted(set(inputs[0]) & set(inputs[1]))


@op_impl("same_attr")
def _same_attr(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs)
    o = inputs[0]
    t = env.of(o)
    kind = str(args["kind"])
    values = t.kind_value_sets(kind)
    mine = values[o]
    if not mine:
        raise ValueError(f"{o} has no attribute of kind {kind!r}")
    return [x for x in t.scene if x != o and values[x] == mine]


def _measure_all(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[tuple[float, str]]:
    _one(inputs)
    name = args["measure"]
    try:
        return [(t.measure_of(r, name), r) for t, r in _objects_of(env, inputs[0])]
    except KeyError as exc:
        raise ValueError(f"an object lacks {exc.args[0]} for measure {name!r}") from None


@op_impl("measure")
def _measure(args: dict[str, Any], inputs: list[Any], env: _Env) -> float:
    _one(inputs)
    r = inputs[0]
    try:
        return env.of(r).measure_of(r, args["measure"])
    except KeyError as exc:
        raise ValueError(f"{r} lacks {exc.args[0]} for measure {args['measure']!r}") from None


def _extreme(args: dict[str, Any], inputs: list[Any], env: _Env, largest: bool) -> str:
    values = sorted(_measure_all(args, inputs, env), reverse=largest)
    if not values:
        raise ValueError("empty set")
    if len(values) > 1 and values[0][0] == values[1][0]:
        raise ValueError(f"tie between {values[0][1]} and {values[1][1]}")
    return values[0][1]


@op_impl("argmin")
def _argmin(args: dict[str, Any], inputs: list[Any], env: _Env) -> str:
    return _extreme(args, inputs, env, largest=False)


@op_impl("argmax")
def _argmax(args: dict[str, Any], inputs: list[Any], env: _Env) -> str:
    return _extreme(args, inputs, env, largest=True)


@op_impl("sort_by")
def _sort_by(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    values = sorted(_measure_all(args, inputs, env))
    for (va, ra), (vb, rb) in itertools.pairwise(values):
        if va == vb:
            raise ValueError(f"tie between {ra} and {rb}")
    return [r for _, r in values]


@op_impl("names_in_order")
def _names_in_order(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs)
    return [t.names[r] for t, r in _objects_of(env, inputs[0])]


@op_impl("query_names")
def _query_names(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs)
    return sorted({t.names[r] for t, r in _objects_of(env, inputs[0])})


@op_impl("select")
def _select(args: dict[str, Any], inputs: list[Any], env: _Env) -> Any:
    _one(inputs)
    if inputs[0] is None:
        raise ValueError("undecided (None) input")
    return args["if_true"] if inputs[0] else args["if_false"]


@op_impl("region")
def _region(args: dict[str, Any], inputs: list[Any], env: _Env) -> str | None:
    _one(inputs)
    r = inputs[0]
    t = env.of(r)
    box = t.objects[r].box
    if box is None:
        raise ValueError(f"{r} has no box")
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return region_of(cx, cy, t.image.width, t.image.height, float(args["margin"]))


@op_impl("filter_box")
def _filter_box(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    from scenesynth.graph import Box

    _one(inputs)
    x0, y0, x1, y1 = (float(v) for v in args["box"])
    min_iou = float(args["min_iou"])
    single = env.single
    if single is not None and all(r in single.objects for r in inputs[0]):
        # fast path: graph.iou's arithmetic, inlined over the boxes' coordinates
        target_area = (x1 - x0) * (y1 - y0)
        coords = single.box_coords()
        out = []
        for r in inputs[0]:
            c = coords[r]
            if c is None:
                continue
            bx0, by0, bx1, by1, area = c
            w = min(bx1, x1) - max(bx0, x0)
            h = min(by1, y1) - max(by0, y0)
            inter = w * h if w > 0 and h > 0 else 0.0
            union = area + target_area - inter
            if (inter / union if union > 0 else 0.0) >= min_iou:
                out.append(r)
        return out
    target = Box.model_construct(x0=x0, y0=y0, x1=x1, y1=y1)
    out = []
    for t, r in _objects_of(env, inputs[0]):
        box = t.objects[r].box
        if box is not None and iou(box, target) >= min_iou:
            out.append(r)
    return out


_KIND_RANK = {"size": 0, "color": 1, "material": 2, "shape": 3, "state": 4, "other": 5}


def describe_phrase(tables: SceneTables, r: str) -> str:
    """'large blue rubber cube': attribute values by kind order, then the name."""
    name = tables.names[r]
    values = sorted(
        {(_KIND_RANK.get(k, 5), v) for k, vs in tables.attr_by_kind[r].items() for v in vs
         if not names_value(name, v)}
    )
    return " ".join([*(v for _, v in values), name])


@op_impl("describe_objects")
def _describe_objects(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs)
    return [describe_phrase(t, r) for t, r in _objects_of(env, inputs[0])]


@op_impl("describe_relations")
def _describe_relations(args: dict[str, Any], inputs: list[Any], env: _Env) -> list[str]:
    _one(inputs)
    members = set(inputs[0])
    resolvable = bool(args.get("resolvable", False))
    out: list[str] = []
    seen: set[str] = set()
    for t in env.tables:
        for rel in t.graph.relations:
            s, o = t.ref_of[rel.subject], t.ref_of[rel.object]
            if s in members and o in members:
                if resolvable and not _resolvable(t, s, rel.predicate, o):
                    continue
                text = f"{t.names[s]} {rel.predicate} {t.names[o]}"
                if text not in seen:
                    seen.add(text)
                    out.append(text)
    return out


def _resolvable(t: SceneTables, s: str, predicate: str, o: str) -> bool:
    """Whether a reader of the image can check 'subject predicate object' from the names
    alone: each name is unique in the image, and a spatial predicate holds by geometry."""
    if len(t.by_name[t.names[s]]) != 1 or len(t.by_name[t.names[o]]) != 1:
        return False
    spatial = canonical_spatial(predicate)
    return spatial is None or t.spatial(s, o, spatial) is True


# -- the executor -----------------------------------------------------------------------------


def execute(
    program: Sequence[StepLike | ProgramStep],
    graphs: Sequence[SceneGraph],
    config: GenConfig | None = None,
    tables: Sequence[SceneTables] | None = None,
    known: dict[int, Any] | None = None,
) -> list[Any]:
    """Execute ``program`` on ``graphs``; returns every step's output, in step order.

    ``tables`` (from :func:`build_tables` / :func:`tables_for`) may be passed to reuse the
    per-graph lookups; otherwise they are built here. ``known`` maps step indices to outputs
    already obtained by executing the very same steps (a memoised referring-expression
    prefix, see :class:`ProgramBuilder`); those steps are not run again. Raises
    :class:`ProgramError` naming the failing step.
    """
    cfg = config if config is not None else _DEFAULT_CONFIG
    if tables is None:
        tables = build_tables(graphs, cfg.rules)
    outputs: list[Any] = [_UNKNOWN] * len(program)
    if known:
        for i, out in known.items():
            if 0 <= i < len(outputs):
                outputs[i] = out
    return _run(program, outputs, _Env(tables, cfg))


def missing_ops() -> list[str]:
    """Ops defined in OPS without an implementation (an empty list is the invariant)."""
    return sorted(set(OPS) - set(OP_IMPLS))


# -- building programs --------------------------------------------------------------------------


class Step:
    """A light program step used while a question is being built (no validation cost)."""

    __slots__ = ("args", "inputs", "op")

    def __init__(self, op: str, inputs: list[int], args: dict[str, Any]) -> None:
        self.op = op
        self.inputs = inputs
        self.args = args

    def __repr__(self) -> str:
        return f"Step({self.op!r}, {self.inputs!r}, {self.args!r})"


_UNKNOWN: Final[Any] = object()  # marks a step whose output the builder does not know yet
_OPS: Final = OPS  # read on every step added (a C static, compiled)


class ProgramBuilder:
    """Appends steps and hands back their indices; ``extend`` splices in a sub-program.

    Steps spliced from a memoised reference carry their outputs (obtained by executing
    exactly those steps on the same graphs) and their prebuilt ProgramSteps, so
    :meth:`run` executes only the question's own steps and :meth:`to_program` builds only
    their ProgramSteps."""

    __slots__ = ("_built", "_outputs", "steps")

    def __init__(self) -> None:
        self.steps: list[StepLike] = []
        self._outputs: list[Any] = []  # per step: its known output or _UNKNOWN
        self._built: list[ProgramStep | None] = []  # per step: its prebuilt ProgramStep

    @property
    def known(self) -> dict[int, Any]:
        """step index -> output of a memoised sub-program (for :func:`execute`)."""
        return {i: out for i, out in enumerate(self._outputs) if out is not _UNKNOWN}

    @property
    def built(self) -> dict[int, ProgramStep]:
        """step index -> its prebuilt ProgramStep."""
        return {i: step for i, step in enumerate(self._built) if step is not None}

    def add(self, op: str, inputs: Sequence[int] = (), **args: Any) -> int:
        if op not in _OPS:
            raise ValueError(f"op {op!r} has no definition in generators.base.OPS")
        steps = self.steps
        steps.append(Step(op, list(inputs), args))
        self._outputs.append(_UNKNOWN)
        self._built.append(None)
        return len(steps) - 1

    def extend(self, steps: Sequence[StepLike], outputs: Sequence[Any] | None = None) -> int:
        """Append ``steps`` (whose inputs index into ``steps``); returns the last new index.

        ``outputs``: the outputs of executing exactly these steps on the same graphs (a
        memoised reference); :meth:`run` then reuses them instead of re-running."""
        offset = len(self.steps)
        for s in steps:
            self.steps.append(Step(s.op, [j + offset for j in s.inputs], s.args))
        if outputs is not None:
            if len(outputs) != len(steps):
                raise ValueError(f"{len(outputs)} outputs for {len(steps)} steps")
            self._outputs.extend(outputs)
        else:
            self._outputs.extend([_UNKNOWN] * len(steps))
        self._built.extend([None] * len(steps))
        return len(self.steps) - 1

    def add_reference(self, reference: ReferenceLike) -> int:
        """Splice in a referring expression's steps (with its memoised outputs); returns the
        index of its final ``unique`` step."""
        offset = len(self.steps)
        program_steps = getattr(reference, "program_steps", None)
        prebuilt = program_steps(offset) if program_steps is not None else None
        if prebuilt is None:
            return self.extend(reference.steps, reference.outputs)
        # prebuilt steps hold the offset inputs, the args and the outputs already
        self.steps.extend(prebuilt)
        self._outputs.extend([step.output for step in prebuilt])
        self._built.extend(prebuilt)
        return len(self.steps) - 1

    def run(
        self,
        graphs: Sequence[SceneGraph],
        config: GenConfig | None,
        tables: Sequence[SceneTables],
    ) -> list[Any]:
        """Execute the program (the same as :func:`execute` with ``known``): steps with
        known outputs are reused, every other step is executed."""
        return _run(self.steps, list(self._outputs),
                    _Env(tables, config if config is not None else _DEFAULT_CONFIG))

    def to_program(self, outputs: Sequence[Any]) -> list[ProgramStep]:
        steps = self.steps
        n = len(steps)
        if len(outputs) != n:
            raise ValueError(f"{len(outputs)} outputs for {n} steps")
        built = self._built
        program: list[ProgramStep] = []
        append = program.append
        for i in range(n):
            prebuilt = built[i]
            if prebuilt is None:
                s = steps[i]
                if isinstance(s, Step):  # native field reads compiled
                    prebuilt = new_step(s.op, s.inputs, s.args, outputs[i])
                else:
                    prebuilt = new_step(s.op, s.inputs, s.args, outputs[i])
            append(prebuilt)
        return program


_DEFAULT_CONFIG: Final = GenConfig()


def _run(program: Sequence[StepLike], outputs: list[Any], env: _Env) -> list[Any]:
    """Execute the steps whose entry in ``outputs`` is _UNKNOWN, in order (fills it in)."""
    impls = OP_IMPLS
    for i, out in enumerate(outputs):
        if out is not _UNKNOWN:
            continue
        step = program[i]
        op: str
        step_inputs: list[int]
        args: dict[str, Any]
        if isinstance(step, Step):  # the builder's own steps: native field reads compiled
            op, step_inputs, args = step.op, step.inputs, step.args
        else:
            op, step_inputs, args = step.op, step.inputs, step.args
        fn = impls.get(op)
        if fn is None:
            raise ProgramError(i, op, "unknown op (not implemented by the executor)")
        inputs = []
        for j in step_inputs:
            if not 0 <= j < i:
                raise ProgramError(i, op, f"inputs {step_inputs} must be earlier steps")
            inputs.append(outputs[j])
        try:
            outputs[i] = fn(args, inputs, env)
        except ProgramError:
            raise
        except (ValueError, KeyError, TypeError) as exc:
            raise ProgramError(i, op, str(exc)) from exc
    return outputs


M = TypeVar("M", bound=BaseModel)

# ``object.__new__`` looked up once. Compiled with mypyc, a literal ``object.__new__(cls)``
# is a method lookup on ``object`` at every call, while a literal ``object.__setattr__``
# becomes a direct C call: hence the alias for the one and not the other. ``Final`` module
# names compile to C statics; other module names are a dict lookup per use.
new_instance: Final[Callable[[type], Any]] = object.__new__
_PROGRAM_STEP: Final = ProgramStep


def fields_set(cls: type[BaseModel]) -> set[str]:
    """The set of all of ``cls``'s field names, for :func:`construct` to share between the
    models it builds: every field is set, so pydantic's only change to such a set (adding a
    field name on attribute assignment) never changes it."""
    return set(cls.model_fields)


def construct(cls: type[M], values: dict[str, Any], fields: set[str]) -> M:
    """Build a pydantic model from already-valid parts without validation (the hot path).

    Like ``model_construct`` but without its per-field default handling: ``values`` must
    hold every field of ``cls``, and ``fields`` is ``fields_set(cls)`` (shared, see there)."""
    # object.__setattr__ spelled out (not aliased): compiled, a direct C call
    model = new_instance(cls)
    object.__setattr__(model, "__dict__", values)
    object.__setattr__(model, "__pydantic_fields_set__", fields)
    object.__setattr__(model, "__pydantic_extra__", None)
    object.__setattr__(model, "__pydantic_private__", None)
    return model


def new_step(op: str, inputs: list[int], args: dict[str, Any], output: Any) -> ProgramStep:
    """``ProgramStep(op, inputs, args, output)`` from already-valid parts: the four slots are
    set directly (compiled, this is cheaper than running the dataclass ``__init__``)."""
    step = new_instance(_PROGRAM_STEP)
    object.__setattr__(step, "op", op)
    object.__setattr__(step, "inputs", inputs)
    object.__setattr__(step, "args", args)
    object.__setattr__(step, "output", output)
    return cast(ProgramStep, step)
