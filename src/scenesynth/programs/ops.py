"""The program ops: each op's semantics and its implementation, side by side (CLEVR-style).

An op is one function ``(args, inputs, env) -> output`` registered with :func:`op` together
with its one-line definition. :data:`OPS` (op name -> definition) is the vocabulary
generators may emit and the specification the independent checker in the tests re-implements;
:data:`OP_IMPLS` is what the executor (:mod:`scenesynth.programs.execute`) runs. Both are filled
by the same decorator, so every defined op is implemented.

Values flowing between steps: an object reference is ``"<image_index>:<object_id>"``; a set is a
sorted list of such references; scalars are bool / int / float / str. Unless stated, ops take
``args["image"]`` (int, default 0) where they touch a graph.

Set-valued ops may return a list the tables keep (the scene, the objects of a name, the related
objects): outputs are read-only values, shared rather than copied per program.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Sequence
from typing import Any, Final

from scenesynth.graph import Box, Mask, SceneObject, iou
from scenesynth.graph.decide import iou_of_coords
from scenesynth.graph.geometry import canonical_spatial
from scenesynth.graph.vocab import names_value
from scenesynth.programs.tables import SceneTables, region_of


class Env:
    """What an op sees of the program's images: their tables (one per graph, in input order)."""

    __slots__ = ("single", "tables")

    def __init__(self, tables: Sequence[SceneTables]) -> None:
        self.tables = tables
        # most programs ask about one image: its tables, checked first
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


OpImpl = Callable[[dict[str, Any], list[Any], Env], Any]
OPS: Final[dict[str, str]] = {}  # op name -> its definition (the checker's specification)
OP_IMPLS: Final[dict[str, OpImpl]] = {}  # op name -> its implementation (the executor's)


def op(name: str, definition: str) -> Callable[[OpImpl], OpImpl]:
    """Define the op ``name``: its one-line semantics and the function implementing them."""

    def register(fn: OpImpl) -> OpImpl:
        if name in OPS:
            raise ValueError(f"op {name!r} defined twice")
        OPS[name] = definition
        OP_IMPLS[name] = fn
        return fn

    return register


def _one(inputs: list[Any], n: int = 1) -> None:
    if len(inputs) != n:
        raise ValueError(f"expected {n} input(s), got {len(inputs)}")


def _objects_of(env: Env, refs: list[str]) -> list[tuple[SceneTables, str]]:
    t = env.holding(refs)
    if t is not None:
        return [(t, r) for r in refs]
    return [(env.of(r), r) for r in refs]


def _relate(args: dict[str, Any], inputs: list[Any], env: Env, inverse: bool) -> list[str]:
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


def _pair(inputs: list[Any], env: Env) -> tuple[SceneTables, str, str]:
    _one(inputs, 2)
    a, b = inputs
    t = env.of(a)
    if env.of(b) is not t:
        raise ValueError(f"{a} and {b} are in different images")
    return t, a, b


def _bools(inputs: list[Any], n: int) -> list[bool]:
    _one(inputs, n)
    for v in inputs:
        if not isinstance(v, bool):
            raise ValueError(f"expected a bool input, got {v!r}")
    return inputs


def _measure_all(args: dict[str, Any], inputs: list[Any], env: Env) -> list[tuple[float, str]]:
    _one(inputs)
    name = args["measure"]
    try:
        return [(t.measure_of(r, name), r) for t, r in _objects_of(env, inputs[0])]
    except KeyError as exc:
        raise ValueError(f"an object lacks {exc.args[0]} for measure {name!r}") from None


def _extreme(args: dict[str, Any], inputs: list[Any], env: Env, largest: bool) -> str:
    values = sorted(_measure_all(args, inputs, env), reverse=largest)
    if not values:
        raise ValueError("empty set")
    if len(values) > 1 and values[0][0] == values[1][0]:
        raise ValueError(f"tie between {values[0][1]} and {values[1][1]}")
    return values[0][1]


_KIND_RANK = {"size": 0, "color": 1, "material": 2, "shape": 3, "state": 4, "other": 5}


def describe_phrase(tables: SceneTables, r: str) -> str:
    """'large blue rubber cube': attribute values by kind order, then the name."""
    name = tables.names[r]
    values = sorted(
        {(_KIND_RANK.get(k, 5), v) for k, vs in tables.attr_by_kind[r].items() for v in vs
         if not names_value(name, v)}
    )
    return " ".join([*(v for _, v in values), name])


def _resolvable(t: SceneTables, s: str, predicate: str, o: str) -> bool:
    """Whether a reader of the image can check 'subject predicate object' from the names
    alone: each name is unique in the image, and a spatial predicate holds by geometry."""
    if len(t.by_name[t.names[s]]) != 1 or len(t.by_name[t.names[o]]) != 1:
        return False
    spatial = canonical_spatial(predicate)
    return spatial is None or t.spatial(s, o, spatial) is True


def image_label(position: int) -> str:
    """``"Image 3"`` for 0-based position 2: the name images carry in question text."""
    return f"Image {position + 1}"


# Numbers are typed ``int | float``, never ``float``: compiled (mypyc), a ``float`` annotation
# converts the counts it carries to floats, and a count answer must stay an int.
Number = int | float


def _numbers(inputs: list[Any]) -> list[Number]:
    for v in inputs:
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ValueError(f"expected a number, got {v!r}")
    return inputs


def where_position(values: list[Any]) -> int | None:
    """The 0-based position of the only True of ``values`` (None is not True); None unless
    exactly one is (the rule of ``image_where``)."""
    position: int | None = None
    for i, v in enumerate(values):
        if v is True:
            if position is not None:
                return None
            position = i
    return position


def extreme_position(values: list[Number], largest: bool) -> int | None:
    """The 0-based position of the only largest (smallest) of ``values``; None on a tie or
    fewer than two values (the rule of ``image_argmax`` / ``image_argmin``)."""
    if len(values) < 2:
        return None
    best = max(values) if largest else min(values)
    return where_position([v == best for v in values])


def _image_extreme(inputs: list[Any], largest: bool) -> str:
    values = _numbers(inputs)
    position = extreme_position(values, largest)
    if position is None:
        if len(values) < 2:
            raise ValueError(f"needs at least two inputs, got {len(values)}")
        best = max(values) if largest else min(values)
        raise ValueError(
            f"tie between {[image_label(i) for i, v in enumerate(values) if v == best]}")
    return image_label(position)


def _string_lists(inputs: list[Any]) -> list[set[str]]:
    if not inputs:
        raise ValueError("expected at least one input")
    out = []
    for v in inputs:
        if not isinstance(v, list) or not all(isinstance(s, str) for s in v):
            raise ValueError(f"expected a list of strings, got {v!r}")
        out.append(set(v))
    return out


@op("scene", "args{image}: all objects of graph `image` -> set")
def _scene(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    return env.image(args).scene


@op("filter_name", "args{name}; inputs[set] -> objects whose name equals `name`")
def _filter_name(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
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


@op("filter_attr", "args{value}; inputs[set] -> objects having attribute `value`")
def _filter_attr(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    _one(inputs)
    value = args["value"]
    if env.single is not None:
        values = env.single.attr_values
        try:
            return [r for r in inputs[0] if value in values[r]]
        except (KeyError, TypeError):
            pass
    return [r for t, r in _objects_of(env, inputs[0]) if value in t.attr_values[r]]


@op("unique", "inputs[set] -> the single object; error unless the set has exactly one")
def _unique(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    _one(inputs)
    items = inputs[0]
    if len(items) != 1:
        raise ValueError(f"expected exactly one object, got {len(items)}")
    return str(items[0])


@op(
    "relate",
    "args{predicate, mode}; inputs[obj o] -> set of x with (x predicate o). mode "
    "'annotated' uses graph relations; 'geometry' uses spatial_relation(x, o) is True",
)
def _relate_op(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    return _relate(args, inputs, env, inverse=False)


@op("count", "inputs[set] -> int size")
def _count(args: dict[str, Any], inputs: list[Any], env: Env) -> int:
    _one(inputs)
    return len(inputs[0])


@op(
    "count_distinct",
    "args{iou}; inputs[set] -> int: objects minus those whose box has IoU > iou with an "
    "earlier (in set order) counted object, unless either is marked distinct",
)
def _count_distinct(args: dict[str, Any], inputs: list[Any], env: Env) -> int:
    _one(inputs)
    threshold = float(args["iou"])
    holder = env.holding(inputs[0]) if isinstance(inputs[0], list) else None
    if holder is not None:
        # fast path, objects of one image: their near-duplicates are found once per graph
        return holder.distinct_count(inputs[0], threshold)
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


@op("exist", "inputs[set] -> bool non-empty")
def _exist(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    _one(inputs)
    return len(inputs[0]) > 0


@op("query_name", "inputs[obj] -> str name")
def _query_name(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    _one(inputs)
    return env.of(inputs[0]).names[inputs[0]]


@op("query_attr", "args{kind}; inputs[obj] -> str: the object's single attribute of `kind`")
def _query_attr(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    _one(inputs)
    r = inputs[0]
    values = env.of(r).attr_by_kind[r].get(str(args["kind"]), ())
    if len(values) != 1:
        raise ValueError(f"{r} has {len(values)} values of kind {args['kind']!r}, not one")
    return values[0]


@op("verify_attr", "args{value}; inputs[obj] -> bool")
def _verify_attr(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    _one(inputs)
    r = inputs[0]
    return args["value"] in env.of(r).attr_values[r]


@op("query_box", "inputs[obj] -> [x0, y0, x1, y1] rounded to 1 decimal")
def _query_box(args: dict[str, Any], inputs: list[Any], env: Env) -> list[float]:
    _one(inputs)
    r = inputs[0]
    return env.of(r).rounded_box(r)


@op(
    "spatial",
    "args{predicate}; inputs[obj a, obj b] -> bool|None spatial_relation(a, b, predicate)",
)
def _spatial(args: dict[str, Any], inputs: list[Any], env: Env) -> bool | None:
    t, a, b = _pair(inputs, env)
    return t.spatial(a, b, args["predicate"])


@op("has_relation", "args{predicate}; inputs[obj a, obj b] -> bool: (a, predicate, b) annotated")
def _has_relation(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    t, a, b = _pair(inputs, env)
    return args["predicate"] in t.rel_pairs.get((a, b), ())


@op("equal", "inputs[x, y] -> bool x == y")
def _equal(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    _one(inputs, 2)
    return bool(inputs[0] == inputs[1])


@op("greater", "inputs[x, y] -> bool x > y")
def _greater(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    _one(inputs, 2)
    return bool(inputs[0] > inputs[1])


@op("less", "inputs[x, y] -> bool x < y")
def _less(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    _one(inputs, 2)
    return bool(inputs[0] < inputs[1])


@op("and", "inputs[bool, bool] -> bool")
def _and(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    a, b = _bools(inputs, 2)
    return a and b


@op("or", "inputs[bool, bool] -> bool")
def _or(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    a, b = _bools(inputs, 2)
    return a or b


@op("not", "inputs[bool] -> bool")
def _not(args: dict[str, Any], inputs: list[Any], env: Env) -> bool:
    (a,) = _bools(inputs, 1)
    return not a


@op("union", "inputs[set, set] -> set")
def _union(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    _one(inputs, 2)
    return sorted(set(inputs[0]) | set(inputs[1]))


@op("intersect", "inputs[set, set] -> set")
def _intersect(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    _one(inputs, 2)
    return sorted(set(inputs[0]) & set(inputs[1]))


@op(
    "relate_inv",
    "args{predicate, mode}; inputs[obj o] -> set of y with (o predicate y); modes as in "
    "relate ('geometry': spatial_relation(o, y) is True)",
)
def _relate_inv_op(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    return _relate(args, inputs, env, inverse=True)


@op(
    "same_attr",
    "args{kind}; inputs[obj o] -> set of objects x != o in o's image whose set of `kind` "
    "values equals o's (o must have at least one value of `kind`)",
)
def _same_attr(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    _one(inputs)
    o = inputs[0]
    t = env.of(o)
    kind = str(args["kind"])
    if not t.kind_value_sets(kind)[o]:
        raise ValueError(f"{o} has no attribute of kind {kind!r}")
    return t.same_value_objects(o, kind)


@op(
    "query_relation",
    "inputs[obj a, obj b] -> str: the annotated predicate of (a, ?, b); error unless "
    "exactly one distinct predicate is annotated",
)
def _query_relation(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    t, a, b = _pair(inputs, env)
    predicates = t.rel_pairs.get((a, b), [])
    if len(predicates) != 1:
        raise ValueError(f"({a}, ?, {b}) has {len(predicates)} annotated predicates, not one")
    return predicates[0]


@op(
    "measure",
    "args{measure}; inputs[obj] -> float: 'depth' (SceneObject.depth), 'box_area' (px^2), "
    "'mask_area' (pixels of the RLE mask), 'volume' (size3d x*y*z), 'center_x' / "
    "'center_y' (box centre, px); error when the field is missing",
)
def _measure(args: dict[str, Any], inputs: list[Any], env: Env) -> float:
    _one(inputs)
    r = inputs[0]
    try:
        return env.of(r).measure_of(r, args["measure"])
    except KeyError as exc:
        raise ValueError(f"{r} lacks {exc.args[0]} for measure {args['measure']!r}") from None


@op(
    "argmin",
    "args{measure}; inputs[set] -> the object with the smallest measure; error on "
    "an empty set or a tie",
)
def _argmin(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    return _extreme(args, inputs, env, largest=False)


@op(
    "argmax",
    "args{measure}; inputs[set] -> the object with the largest measure; error on "
    "an empty set or a tie",
)
def _argmax(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    return _extreme(args, inputs, env, largest=True)


@op(
    "sort_by",
    "args{measure}; inputs[set] -> list of the objects by ascending measure; error "
    "on a tie",
)
def _sort_by(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    values = sorted(_measure_all(args, inputs, env))
    for (va, ra), (vb, rb) in itertools.pairwise(values):
        if va == vb:
            raise ValueError(f"tie between {ra} and {rb}")
    return [r for _, r in values]


@op("names_in_order", "inputs[list] -> list[str]: the objects' names in list order")
def _names_in_order(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    _one(inputs)
    return [t.names[r] for t, r in _objects_of(env, inputs[0])]


@op("query_names", "inputs[set] -> list[str]: the distinct names of the objects, sorted")
def _query_names(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    _one(inputs)
    return sorted({t.names[r] for t, r in _objects_of(env, inputs[0])})


@op(
    "select",
    "args{if_true, if_false}; inputs[bool] -> if_true when True, if_false when "
    "False; error on None",
)
def _select(args: dict[str, Any], inputs: list[Any], env: Env) -> Any:
    _one(inputs)
    if inputs[0] is None:
        raise ValueError("undecided (None) input")
    return args["if_true"] if inputs[0] else args["if_false"]


@op(
    "region",
    "args{margin}; inputs[obj] -> str|None: cell of the box centre in a 3x3 grid of the "
    "image ('top left', 'top', 'top right', 'left', 'center', 'right', 'bottom left', "
    "'bottom', 'bottom right'); None when the centre lies within margin * cell size of an "
    "inner grid line",
)
def _region(args: dict[str, Any], inputs: list[Any], env: Env) -> str | None:
    _one(inputs)
    r = inputs[0]
    t = env.of(r)
    box = t.objects[r].box
    if box is None:
        raise ValueError(f"{r} has no box")
    cx, cy = box.center
    return region_of(cx, cy, t.image.width, t.image.height, float(args["margin"]))


@op(
    "filter_box",
    "args{box, min_iou}; inputs[set] -> objects whose box has IoU >= min_iou with `box` "
    "([x0, y0, x1, y1] px)",
)
def _filter_box(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    _one(inputs)
    x0, y0, x1, y1 = (float(v) for v in args["box"])
    area = Box.model_construct(x0=x0, y0=y0, x1=x1, y1=y1).area
    min_iou = float(args["min_iou"])
    members = inputs[0]
    candidates: list[tuple[SceneTables, str]] | None = None
    if min_iou > 0:
        # IoU above 0 needs the boxes to meet: only the boxes the tables' index finds
        # meeting the asked one are decided by the rule
        for t in env.tables:
            if members is t.scene:  # a whole image (scene, then filter_box): scene order
                candidates = [(t, r) for r in t.boxes_overlapping(x0, y0, x1, y1)]
                break
        else:
            meeting: dict[int, frozenset[str]] = {}  # image index -> those boxes' objects
            candidates = []
            for t, r in _objects_of(env, members):
                near = meeting.get(t.image_index)
                if near is None:
                    near = meeting[t.image_index] = frozenset(
                        t.boxes_overlapping(x0, y0, x1, y1))
                if r in near:
                    candidates.append((t, r))
    out = []
    for t, r in _objects_of(env, members) if candidates is None else candidates:
        c = t.box_coords()[r]
        if c is not None and iou_of_coords(c[0], c[1], c[2], c[3], c[4],
                                            x0, y0, x1, y1, area) >= min_iou:
            out.append(r)
    return out


@op(
    "describe_relations",
    "args{resolvable (bool, default false)}; inputs[set] -> list[str]: for each annotated "
    "relation in graph order whose subject and object are both in the set, 'subject-name "
    "predicate object-name' (duplicates dropped). resolvable: only relations whose "
    "subject name and object name each belong to one object of the image, and whose "
    "predicate, when canonical_spatial maps it, spatial_relation decides True",
)
def _describe_relations(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
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


@op(
    "describe_objects",
    "inputs[set] -> list[str]: per object in set order, its distinct attribute values "
    "ordered by kind (size, color, material, shape, state, other; alphabetical within a "
    "kind) leaving out values its name already says (the name itself or one of its "
    "words: 'paper' of a 'paper stack'), then its name, space-joined",
)
def _describe_objects(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    _one(inputs)
    return [describe_phrase(t, r) for t, r in _objects_of(env, inputs[0])]


# -- multi-image ops: inputs are positional, input i comes from image i, so "Image i+1" names
# -- the image of input i -----------------------------------------------------------------


@op(
    "image_argmax",
    "inputs[x_1, ..., x_k numbers] -> str 'Image i' for the 1-based position i of the "
    "largest input; error on a tie for the largest or fewer than two inputs",
)
def _image_argmax(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    return _image_extreme(inputs, largest=True)


@op(
    "image_argmin",
    "inputs[x_1, ..., x_k numbers] -> str 'Image i' for the 1-based position i of the "
    "smallest input; error on a tie for the smallest or fewer than two inputs",
)
def _image_argmin(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    return _image_extreme(inputs, largest=False)


@op(
    "image_where",
    "inputs[b_1, ..., b_k bools] -> str 'Image i' for the 1-based position i of the only "
    "True input; error unless exactly one input is True (None is not True)",
)
def _image_where(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    position = where_position(inputs)
    if position is None:
        raise ValueError(
            f"expected exactly one True input, got {sum(1 for v in inputs if v is True)}")
    return image_label(position)


@op("sum", "inputs[x_1, ..., x_k numbers] -> their sum")
def _sum(args: dict[str, Any], inputs: list[Any], env: Env) -> Number:
    return sum(_numbers(inputs))


@op("count_true", "inputs[b_1, ..., b_k] -> int: how many inputs are True")
def _count_true(args: dict[str, Any], inputs: list[Any], env: Env) -> int:
    return sum(1 for v in inputs if v is True)


@op("subtract", "inputs[x, y numbers] -> x - y")
def _subtract(args: dict[str, Any], inputs: list[Any], env: Env) -> Number:
    if len(inputs) != 2:
        raise ValueError(f"expected 2 inputs, got {len(inputs)}")
    x, y = _numbers(inputs)
    return x - y


@op(
    "common_values",
    "inputs[l_1, ..., l_k lists of str] -> sorted list of the distinct strings present "
    "in every input",
)
def _common_values(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    first, *rest = _string_lists(inputs)
    return sorted(first.intersection(*rest))


@op(
    "difference_values",
    "inputs[l_1, l_2, ..., l_k lists of str] -> sorted list of the distinct strings of "
    "l_1 present in none of l_2 ... l_k",
)
def _difference_values(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    first, *rest = _string_lists(inputs)
    return sorted(first.difference(*rest))


@op(
    "relate_set",
    "args{predicate, mode}; inputs[set s] -> set: the union of relate(o) (same args) over "
    "every object o in s (empty for an empty s)",
)
def _relate_set(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    if len(inputs) != 1:
        raise ValueError(f"expected 1 input, got {len(inputs)}")
    found: set[str] = set()
    for o in inputs[0]:
        found.update(_relate(args, [o], env, inverse=False))
    return sorted(found)


@op(
    "attr_values",
    "args{kind}; inputs[set] -> sorted list of the distinct attribute values of `kind` "
    "over the objects of the set",
)
def _attr_values(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    if len(inputs) != 1:
        raise ValueError(f"expected 1 input, got {len(inputs)}")
    kind = str(args["kind"])
    values: set[str] = set()
    for r in inputs[0]:
        values.update(env.of(r).attr_by_kind[r].get(kind, ()))
    return sorted(values)



# -- the reference families (issue 18): extreme among named objects, distance to an anchor,
# -- objects under marked points. A point ``[x, y]`` follows the box convention (graph/: pixels,
# -- origin top-left): the pixel in column x, row y.


def decode_mask(mask: Mask) -> Any:
    """The mask as a bool array (rows, columns); COCO RLE, column-major (graph/model.py)."""
    # lazily: only point questions need them (listing generators imports no numpy)
    import numpy as np
    from pycocotools import mask as mask_utils

    h, w = mask.size
    rle: Any
    if isinstance(mask.counts, str):
        rle = {"size": [h, w], "counts": mask.counts.encode("ascii")}
    else:
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": list(mask.counts)}, h, w)
    return np.asarray(mask_utils.decode(rle), dtype=bool)


def mask_pixels(t: SceneTables, r: str) -> Any:
    """The object's decoded mask, memoised per graph (ValueError without a mask)."""
    key = ("mask_pixels", r)
    pixels = t.memo.get(key)
    if pixels is None:
        mask = t.objects[r].mask
        if mask is None:
            raise ValueError(f"{r} has no mask")
        pixels = decode_mask(mask)
        t.memo[key] = pixels
    return pixels


def covers(t: SceneTables, r: str, x: int, y: int) -> bool:
    """Whether the object's mask covers the pixel in column x, row y."""
    pixels = mask_pixels(t, r)
    rows, columns = pixels.shape
    return 0 <= y < rows and 0 <= x < columns and bool(pixels[y, x])


def _one_image(env: Env, refs: list[str]) -> SceneTables:
    t = env.holding(refs)
    if t is None:
        raise ValueError("the objects are not all in one image")
    return t


@op("collect", "inputs[obj_1, ..., obj_k] -> set: the distinct objects, sorted")
def _collect(args: dict[str, Any], inputs: list[Any], env: Env) -> list[str]:
    for r in inputs:
        env.of(r)  # each input must be an object of the program's images
    return sorted(set(inputs))


@op(
    "label_of",
    "args{labels (list of str)}; inputs[obj x, obj o_1, ..., obj o_k] -> labels[i-1] for the "
    "i with o_i == x; error unless exactly one o_i is x or len(labels) != k",
)
def _label_of(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    labels = [str(v) for v in args["labels"]]
    if len(inputs) < 2 or len(labels) != len(inputs) - 1:
        raise ValueError(f"{len(labels)} labels for {len(inputs) - 1} candidates")
    x = inputs[0]
    hits = [i for i, o in enumerate(inputs[1:]) if o == x]
    if len(hits) != 1:
        raise ValueError(f"{x} is {len(hits)} of the candidates, not one")
    return labels[hits[0]]


@op(
    "extreme_spatial",
    "args{predicate}; inputs[set] -> the one object o of the set with spatial_relation(o, x, "
    "predicate) True for every other object x of the set (the leftmost for 'left of', the "
    "nearest for 'in front of'); error when no object or several qualify, or the set has "
    "fewer than two objects",
)
def _extreme_spatial(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    _one(inputs)
    members: list[str] = list(inputs[0])
    if len(members) < 2:
        raise ValueError(f"needs at least two objects, got {len(members)}")
    t = _one_image(env, members)
    predicate = str(args["predicate"])
    winners = [o for o in members
               if all(t.spatial(o, x, predicate) is True for x in members if x != o)]
    if len(winners) != 1:
        raise ValueError(f"{len(winners)} objects are {predicate!r} every other, not one")
    return winners[0]


@op(
    "distance",
    "args{space}; inputs[obj a, obj b] -> float: space '3d': Euclidean distance of the two "
    "objects' positions (world units); error when either lacks a position",
)
def _distance(args: dict[str, Any], inputs: list[Any], env: Env) -> float:
    _one(inputs, 2)
    if args.get("space") != "3d":
        raise ValueError(f"unknown space {args.get('space')!r}")
    a, b = inputs
    pa, pb = env.of(a).objects[a].position, env.of(b).objects[b].position
    if pa is None or pb is None:
        raise ValueError(f"{a if pa is None else b} has no position")
    return math.dist(pa.as_tuple(), pb.as_tuple())


@op(
    "object_at",
    "args{point [x, y] (int px: column x, row y, origin top-left)}; inputs[set] -> the one "
    "object of the set whose mask covers that pixel; error when none or several do, or a "
    "member has no mask",
)
def _object_at(args: dict[str, Any], inputs: list[Any], env: Env) -> str:
    _one(inputs)
    members: list[str] = list(inputs[0])
    if not members:
        raise ValueError("empty set")
    t = _one_image(env, members)
    x, y = (int(v) for v in args["point"])
    hits = [r for r in members if covers(t, r, x, y)]
    if len(hits) != 1:
        raise ValueError(f"{len(hits)} masks cover pixel ({x}, {y}), not one")
    return hits[0]
