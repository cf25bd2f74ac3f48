"""An independent interpreter of answer programs, written from the op table in programs/ops.py.

It deliberately does not import the generators' executor: it re-implements every op in
``scenesynth.programs.ops.OPS`` from its documented one-line semantics, re-executes a
sample's stored program against the sample's graphs and returns the final value. It also
enforces the ambiguity rule: every ``unique`` step must see exactly one object.

Values: an object reference is ``"<image_index>:<object_id>"``; a set is a sorted list of them.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scenesynth.graph import (
    DEFAULT_RULES,
    AnswerForm,
    Box,
    InstructionSample,
    ProgramStep,
    SceneGraph,
    SceneObject,
    SpatialRules,
    canonical_spatial,
    canonical_value,
    spatial_relation,
)


class CheckError(Exception):
    """A program that cannot be executed as documented (bad input, ambiguous unique, ...)."""


@dataclass
class CheckResult:
    value: Any
    outputs: list[Any]
    step_mismatches: list[str] = field(default_factory=list)


def _box_iou(a: SceneObject, b: SceneObject) -> float:
    if a.box is None or b.box is None:
        return 0.0
    w = min(a.box.x1, b.box.x1) - max(a.box.x0, b.box.x0)
    h = min(a.box.y1, b.box.y1) - max(a.box.y0, b.box.y0)
    inter = w * h if w > 0 and h > 0 else 0.0
    area_a = (a.box.x1 - a.box.x0) * (a.box.y1 - a.box.y0)
    area_b = (b.box.x1 - b.box.x0) * (b.box.y1 - b.box.y0)
    union = area_a + area_b - inter
    return inter / union if union > 0 else 0.0


class Interpreter:
    """Executes programs over a fixed sequence of graphs (image index = position)."""

    def __init__(self, graphs: Sequence[SceneGraph], rules: SpatialRules = DEFAULT_RULES) -> None:
        self.graphs = list(graphs)
        self.rules = rules
        self.objects: list[dict[str, SceneObject]] = [
            {o.id: o for o in g.objects} for g in self.graphs
        ]
        self._decoded: dict[str, Any] = {}  # object reference -> its decoded mask
        self.ops: dict[str, Callable[[ProgramStep, list[Any]], Any]] = {
            "scene": self._scene,
            "filter_name": self._filter_name,
            "filter_attr": self._filter_attr,
            "unique": self._unique,
            "relate": self._relate,
            "count": lambda s, x: len(self._as_set(x[0])),
            "count_distinct": self._count_distinct,
            "exist": lambda s, x: len(self._as_set(x[0])) > 0,
            "query_name": lambda s, x: self._obj(x[0]).name,
            "query_attr": self._query_attr,
            "verify_attr": lambda s, x: self._obj(x[0]).has_attribute(str(s.args["value"])),
            "query_box": self._query_box,
            "spatial": self._spatial,
            "has_relation": self._has_relation,
            "equal": lambda s, x: x[0] == x[1],
            "greater": lambda s, x: x[0] > x[1],
            "less": lambda s, x: x[0] < x[1],
            "and": lambda s, x: self._as_bool(x[0]) and self._as_bool(x[1]),
            "or": lambda s, x: self._as_bool(x[0]) or self._as_bool(x[1]),
            "not": lambda s, x: not self._as_bool(x[0]),
            "union": lambda s, x: sorted(set(self._as_set(x[0])) | set(self._as_set(x[1]))),
            "intersect": lambda s, x: sorted(set(self._as_set(x[0])) & set(self._as_set(x[1]))),
            "relate_inv": self._relate_inv,
            "same_attr": self._same_attr,
            "query_relation": self._query_relation,
            "measure": lambda s, x: self._measure(x[0], str(s.args["measure"])),
            "argmin": lambda s, x: self._extreme(s, x, largest=False),
            "argmax": lambda s, x: self._extreme(s, x, largest=True),
            "sort_by": self._sort_by,
            "names_in_order": lambda s, x: [self._obj(r).name for r in x[0]],
            "query_names": lambda s, x: sorted({self._obj(r).name for r in self._as_set(x[0])}),
            "select": self._select,
            "region": self._region,
            "filter_box": self._filter_box,
            "describe_relations": self._describe_relations,
            "describe_objects": lambda s, x: [
                self._describe_ordered(r) for r in self._as_set(x[0])
            ],
            "image_argmax": lambda s, x: _image_pick(x, max),
            "image_argmin": lambda s, x: _image_pick(x, min),
            "image_where": _image_where,
            "sum": lambda s, x: sum(_numeric(v) for v in x),
            "count_true": lambda s, x: len([v for v in x if v is True]),
            "subtract": lambda s, x: _numeric(x[0]) - _numeric(x[1]),
            "common_values": lambda s, x: sorted(set.intersection(*(set(v) for v in x))),
            "difference_values": lambda s, x: sorted(set(x[0]) - set().union(*x[1:])),
            "relate_set": self._relate_set,
            "attr_values": lambda s, x: sorted({
                a.value for r in self._as_set(x[0]) for a in self._obj(r).attributes
                if a.kind == str(s.args["kind"])
            }),
            # -- the reference families (programs/ops.py, issue 18) --------------------------
            "collect": self._collect,
            "label_of": self._label_of,
            "extreme_spatial": self._extreme_spatial,
            "distance": self._distance,
            "object_at": self._object_at,
        }

    # -- value helpers ------------------------------------------------------------------------
    def _split(self, ref: Any) -> tuple[int, str]:
        if not isinstance(ref, str) or ":" not in ref:
            raise CheckError(f"not an object reference: {ref!r}")
        image, _, object_id = ref.partition(":")
        k = int(image)
        if not 0 <= k < len(self.graphs) or object_id not in self.objects[k]:
            raise CheckError(f"reference {ref!r} names no object of the sample's graphs")
        return k, object_id

    def _obj(self, ref: Any) -> SceneObject:
        k, object_id = self._split(ref)
        return self.objects[k][object_id]

    @staticmethod
    def _as_set(value: Any) -> list[str]:
        if not isinstance(value, list):
            raise CheckError(f"expected a set (list of references), got {value!r}")
        return value

    @staticmethod
    def _as_bool(value: Any) -> bool:
        if not isinstance(value, bool):
            raise CheckError(f"expected a bool, got {value!r}")
        return value

    # -- ops ---------------------------------------------------------------------------------
    def _scene(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        k = int(step.args.get("image", 0))
        if not 0 <= k < len(self.graphs):
            raise CheckError(f"scene: image {k} out of range ({len(self.graphs)} graphs)")
        return sorted(f"{k}:{o.id}" for o in self.graphs[k].objects)

    def _filter_name(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        name = " ".join(str(step.args["name"]).lower().split())
        return [r for r in self._as_set(inputs[0]) if self._obj(r).name == name]

    def _filter_attr(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        value = canonical_value(str(step.args["value"]))
        return [
            r for r in self._as_set(inputs[0])
            if any(a.value == value for a in self._obj(r).attributes)
        ]

    def _unique(self, step: ProgramStep, inputs: list[Any]) -> str:
        members = self._as_set(inputs[0])
        if len(members) != 1:
            raise CheckError(f"unique: expected exactly one object, got {len(members)}: {members}")
        return members[0]

    def _relate(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        anchor_ref = inputs[0]
        k, anchor_id = self._split(anchor_ref)
        predicate = " ".join(str(step.args["predicate"]).lower().split())
        mode = step.args.get("mode", "annotated")
        graph = self.graphs[k]
        if mode == "annotated":
            found = {
                r.subject for r in graph.relations
                if r.object == anchor_id and r.predicate == predicate
            }
        elif mode == "geometry":
            anchor = self.objects[k][anchor_id]
            found = {
                o.id for o in graph.objects
                if o.id != anchor_id
                and spatial_relation(o, anchor, predicate, graph.image, graph.camera, self.rules)
                is True
            }
        else:
            raise CheckError(f"relate: unknown mode {mode!r}")
        return sorted(f"{k}:{i}" for i in found)

    def _count_distinct(self, step: ProgramStep, inputs: list[Any]) -> int:
        threshold = float(step.args["iou"])
        counted: list[SceneObject] = []
        for ref in self._as_set(inputs[0]):
            obj = self._obj(ref)
            duplicate = any(
                not obj.distinct and not prev.distinct and _box_iou(obj, prev) > threshold
                for prev in counted
            )
            if not duplicate:
                counted.append(obj)
        return len(counted)

    def _query_attr(self, step: ProgramStep, inputs: list[Any]) -> str:
        kind = str(step.args["kind"])
        obj = self._obj(inputs[0])
        values = sorted({a.value for a in obj.attributes if a.kind == kind})
        if len(values) != 1:
            raise CheckError(f"query_attr: {inputs[0]} has {len(values)} {kind} values {values}")
        return values[0]

    def _query_box(self, step: ProgramStep, inputs: list[Any]) -> list[float]:
        box = self._obj(inputs[0]).box
        if box is None:
            raise CheckError(f"query_box: {inputs[0]} has no box")
        return [round(v, 1) for v in (box.x0, box.y0, box.x1, box.y1)]

    def _spatial(self, step: ProgramStep, inputs: list[Any]) -> bool | None:
        (ka, _), (kb, _) = self._split(inputs[0]), self._split(inputs[1])
        if canonical_spatial(str(step.args["predicate"])) is None:
            raise CheckError(f"spatial: not a spatial predicate {step.args['predicate']!r}")
        graph = self.graphs[ka]
        camera = graph.camera if ka == kb else None
        return spatial_relation(self._obj(inputs[0]), self._obj(inputs[1]),
                                str(step.args["predicate"]), graph.image, camera, self.rules)

    def _has_relation(self, step: ProgramStep, inputs: list[Any]) -> bool:
        (ka, a), (kb, b) = self._split(inputs[0]), self._split(inputs[1])
        if ka != kb:
            return False
        predicate = " ".join(str(step.args["predicate"]).lower().split())
        return any(
            r.subject == a and r.object == b and r.predicate == predicate
            for r in self.graphs[ka].relations
        )

    def _relate_inv(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        k, anchor_id = self._split(inputs[0])
        predicate = " ".join(str(step.args["predicate"]).lower().split())
        mode = step.args.get("mode", "annotated")
        graph = self.graphs[k]
        if mode == "annotated":
            found = {
                r.object for r in graph.relations
                if r.subject == anchor_id and r.predicate == predicate
            }
        elif mode == "geometry":
            anchor = self.objects[k][anchor_id]
            found = {
                o.id for o in graph.objects
                if o.id != anchor_id
                and spatial_relation(anchor, o, predicate, graph.image, graph.camera, self.rules)
                is True
            }
        else:
            raise CheckError(f"relate_inv: unknown mode {mode!r}")
        return sorted(f"{k}:{i}" for i in found)

    def _same_attr(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        k, anchor_id = self._split(inputs[0])
        kind = str(step.args["kind"])

        def values(o: SceneObject) -> set[str]:
            return {a.value for a in o.attributes if a.kind == kind}

        mine = values(self.objects[k][anchor_id])
        if not mine:
            raise CheckError(f"same_attr: {inputs[0]} has no {kind} value")
        return sorted(
            f"{k}:{o.id}" for o in self.graphs[k].objects
            if o.id != anchor_id and values(o) == mine
        )

    def _query_relation(self, step: ProgramStep, inputs: list[Any]) -> str:
        (ka, a), (kb, b) = self._split(inputs[0]), self._split(inputs[1])
        predicates = (
            {r.predicate for r in self.graphs[ka].relations if r.subject == a and r.object == b}
            if ka == kb else set()
        )
        if len(predicates) != 1:
            raise CheckError(f"query_relation: {len(predicates)} predicates {sorted(predicates)}")
        return predicates.pop()

    def _measure(self, ref: Any, name: str) -> float:
        obj = self._obj(ref)
        if name == "depth":
            if obj.depth is None:
                raise CheckError(f"measure: {ref} has no depth")
            return float(obj.depth)
        if name == "volume":
            if obj.size3d is None:
                raise CheckError(f"measure: {ref} has no size3d")
            return obj.size3d.x * obj.size3d.y * obj.size3d.z
        if name == "mask_area":
            if obj.mask is None:
                raise CheckError(f"measure: {ref} has no mask")
            return float(_rle_area(obj.mask.size, obj.mask.counts))
        if obj.box is None:
            raise CheckError(f"measure: {ref} has no box")
        b = obj.box
        if name == "box_area":
            return (b.x1 - b.x0) * (b.y1 - b.y0)
        if name == "center_x":
            return (b.x0 + b.x1) / 2
        if name == "center_y":
            return (b.y0 + b.y1) / 2
        raise CheckError(f"measure: unknown measure {name!r}")

    def _measured(self, step: ProgramStep, members: Any) -> list[tuple[float, str]]:
        name = str(step.args["measure"])
        return [(self._measure(r, name), r) for r in self._as_set(members)]

    def _extreme(self, step: ProgramStep, inputs: list[Any], largest: bool) -> str:
        pairs = self._measured(step, inputs[0])
        if not pairs:
            raise CheckError("empty set")
        best = max(v for v, _ in pairs) if largest else min(v for v, _ in pairs)
        winners = [r for v, r in pairs if v == best]
        if len(winners) != 1:
            raise CheckError(f"tie between {winners}")
        return winners[0]

    def _sort_by(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        pairs = self._measured(step, inputs[0])
        if len({v for v, _ in pairs}) != len(pairs):
            raise CheckError("tie in sort_by")
        return [r for _, r in sorted(pairs)]

    @staticmethod
    def _select(step: ProgramStep, inputs: list[Any]) -> Any:
        if not isinstance(inputs[0], bool):
            raise CheckError(f"select: input is {inputs[0]!r}, not a bool")
        return step.args["if_true"] if inputs[0] else step.args["if_false"]

    def _region(self, step: ProgramStep, inputs: list[Any]) -> str | None:
        k, _ = self._split(inputs[0])
        obj = self._obj(inputs[0])
        if obj.box is None:
            raise CheckError(f"region: {inputs[0]} has no box")
        margin = float(step.args["margin"])
        image = self.graphs[k].image
        cells = []
        for centre, extent in (((obj.box.x0 + obj.box.x1) / 2, image.width),
                               ((obj.box.y0 + obj.box.y1) / 2, image.height)):
            cell = extent / 3
            if abs(centre - cell) < margin * cell or abs(centre - 2 * cell) < margin * cell:
                return None
            cells.append(0 if centre < cell else 1 if centre < 2 * cell else 2)
        rows = [["top left", "top", "top right"], ["left", "center", "right"],
                ["bottom left", "bottom", "bottom right"]]
        return rows[cells[1]][cells[0]]

    def _filter_box(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        x0, y0, x1, y1 = (float(v) for v in step.args["box"])
        probe = SceneObject(id="probe", name="probe", box=Box(x0=x0, y0=y0, x1=x1, y1=y1))
        min_iou = float(step.args["min_iou"])
        return [
            r for r in self._as_set(inputs[0])
            if self._obj(r).box is not None and _box_iou(self._obj(r), probe) >= min_iou
        ]

    def _describe_ordered(self, ref: str) -> str:
        obj = self._obj(ref)
        kind_order = ["size", "color", "material", "shape", "state", "other"]
        first_kind: dict[str, int] = {}
        for a in obj.attributes:
            if a.value != obj.name and a.value not in obj.name.split():  # said by the name
                rank = kind_order.index(str(a.kind))
                first_kind[a.value] = min(rank, first_kind.get(a.value, rank))
        ordered = sorted(first_kind, key=lambda v: (first_kind[v], v))
        return " ".join([*ordered, obj.name])

    def _describe_relations(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        members = set(self._as_set(inputs[0]))
        resolvable = bool(step.args.get("resolvable", False))
        out: list[str] = []
        for k, graph in enumerate(self.graphs):
            names = Counter(o.name for o in graph.objects)
            for rel in graph.relations:
                if f"{k}:{rel.subject}" in members and f"{k}:{rel.object}" in members:
                    subject, obj = self.objects[k][rel.subject], self.objects[k][rel.object]
                    if resolvable:
                        if names[subject.name] != 1 or names[obj.name] != 1:
                            continue
                        spatial = canonical_spatial(rel.predicate)
                        if spatial is not None and spatial_relation(
                                subject, obj, spatial, graph.image, graph.camera,
                                self.rules) is not True:
                            continue
                    text = (f"{self.objects[k][rel.subject].name} {rel.predicate} "
                            f"{self.objects[k][rel.object].name}")
                    if text not in out:
                        out.append(text)
        return out

    def _relate_set(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        found: set[str] = set()
        for o in self._as_set(inputs[0]):
            found |= set(self._relate(step, [o]))
        return sorted(found)

    def _collect(self, step: ProgramStep, inputs: list[Any]) -> list[str]:
        for r in inputs:
            self._split(r)  # each must name an object
        return sorted(set(inputs))

    def _label_of(self, step: ProgramStep, inputs: list[Any]) -> str:
        labels = list(step.args["labels"])
        if len(labels) != len(inputs) - 1:
            raise CheckError(f"label_of: {len(labels)} labels for {len(inputs) - 1} objects")
        positions = [i for i, o in enumerate(inputs[1:]) if o == inputs[0]]
        if len(positions) != 1:
            raise CheckError(f"label_of: {inputs[0]} found {len(positions)} times")
        return str(labels[positions[0]])

    def _extreme_spatial(self, step: ProgramStep, inputs: list[Any]) -> str:
        members = self._as_set(inputs[0])
        if len(members) < 2:
            raise CheckError("extreme_spatial: fewer than two objects")
        images = {self._split(r)[0] for r in members}
        if len(images) != 1:
            raise CheckError("extreme_spatial: objects of several images")
        graph = self.graphs[images.pop()]
        predicate = str(step.args["predicate"])
        winners = [
            o for o in members
            if all(spatial_relation(self._obj(o), self._obj(x), predicate, graph.image,
                                    graph.camera, self.rules) is True
                   for x in members if x != o)
        ]
        if len(winners) != 1:
            raise CheckError(f"extreme_spatial: {len(winners)} objects qualify")
        return winners[0]

    def _distance(self, step: ProgramStep, inputs: list[Any]) -> float:
        if step.args.get("space") != "3d":
            raise CheckError(f"distance: unknown space {step.args.get('space')!r}")
        a, b = self._obj(inputs[0]).position, self._obj(inputs[1]).position
        if a is None or b is None:
            raise CheckError("distance: an object has no position")
        return math.sqrt((a.x - b.x) ** 2 + (a.y - b.y) ** 2 + (a.z - b.z) ** 2)

    def _object_at(self, step: ProgramStep, inputs: list[Any]) -> str:
        x, y = (int(v) for v in step.args["point"])
        hits = []
        for r in self._as_set(inputs[0]):
            mask = self._obj(r).mask
            if mask is None:
                raise CheckError(f"object_at: {r} has no mask")
            pixels = self._decoded.get(r)
            if pixels is None:
                pixels = self._decoded[r] = _rle_decode(mask.size, mask.counts)
            if 0 <= y < pixels.shape[0] and 0 <= x < pixels.shape[1] and pixels[y, x]:
                hits.append(r)
        if len(hits) != 1:
            raise CheckError(f"object_at: {len(hits)} masks cover ({x}, {y})")
        return hits[0]

    # -- programs ------------------------------------------------------------------------------
    def run(self, program: Sequence[ProgramStep]) -> CheckResult:
        outputs: list[Any] = []
        mismatches: list[str] = []
        for i, step in enumerate(program):
            fn = self.ops.get(step.op)
            if fn is None:
                raise CheckError(f"step {i}: op {step.op!r} is not implemented by the checker")
            for j in step.inputs:
                if not 0 <= j < i:
                    raise CheckError(f"step {i} ({step.op}): input {j} is not an earlier step")
            try:
                value = fn(step, [outputs[j] for j in step.inputs])
            except CheckError as err:
                raise CheckError(f"step {i} ({step.op}): {err}") from None
            except (KeyError, IndexError, TypeError, ValueError) as err:
                raise CheckError(f"step {i} ({step.op}): malformed step: {err!r}") from None
            if not _same(value, step.output):
                mismatches.append(f"step {i} ({step.op}): stored {step.output!r}, got {value!r}")
            outputs.append(value)
        if not outputs:
            raise CheckError("empty program")
        return CheckResult(value=outputs[-1], outputs=outputs, step_mismatches=mismatches)


def _numeric(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise CheckError(f"expected a number, got {value!r}")
    return value


def _image_pick(values: list[Any], pick: Callable[[list[float]], float]) -> str:
    numbers = [_numeric(v) for v in values]
    if len(numbers) < 2:
        raise CheckError("fewer than two images")
    best = pick(numbers)
    if numbers.count(best) != 1:
        raise CheckError(f"tie for {best} in {numbers}")
    return f"Image {numbers.index(best) + 1}"


def _image_where(step: ProgramStep, values: list[Any]) -> str:
    true_positions = [i for i, v in enumerate(values) if v is True]
    if len(true_positions) != 1:
        raise CheckError(f"image_where: {len(true_positions)} True inputs in {values}")
    return f"Image {true_positions[0] + 1}"


def _rle_area(size: Sequence[int], counts: str | list[int]) -> int:
    """Foreground pixels of a COCO RLE mask (pycocotools' own area of the RLE)."""
    from pycocotools import mask as mask_utils

    h, w = int(size[0]), int(size[1])
    if isinstance(counts, str):
        rle: Any = {"size": [h, w], "counts": counts.encode("ascii")}
    else:
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": list(counts)}, h, w)
    return int(mask_utils.area(rle))


def _rle_decode(size: Sequence[int], counts: str | list[int]) -> Any:
    """A COCO RLE mask as a (rows, columns) array of 0/1."""
    from pycocotools import mask as mask_utils

    h, w = int(size[0]), int(size[1])
    if isinstance(counts, str):
        rle: Any = {"size": [h, w], "counts": counts.encode("ascii")}
    else:
        rle = mask_utils.frPyObjects({"size": [h, w], "counts": list(counts)}, h, w)
    return mask_utils.decode(rle)


def _same(a: Any, b: Any) -> bool:
    """Equality that treats 1 and 1.0 alike but keeps bools apart from ints."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def expected_answer_text(value: Any) -> str:
    """How an answer value reads as text: yes/no, integers as digits, boxes as ``[x0, y0, x1,
    y1]``, other lists comma-separated."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        if len(value) == 4 and all(
            isinstance(v, int | float) and not isinstance(v, bool) for v in value
        ):
            return "[" + ", ".join(f"{float(v):g}" for v in value) + "]"
        return ", ".join(expected_answer_text(v) for v in value)
    raise CheckError(f"answer value {value!r} has no text form")


def final_answer(
    sample: InstructionSample, graphs_by_id: dict[str, SceneGraph],
    rules: SpatialRules = DEFAULT_RULES,
) -> Any:
    """Re-execute the sample's stored program on its graphs and return the final value
    (raises :class:`CheckError` on an ambiguous ``unique`` or any undefined step)."""
    graphs = [graphs_by_id[i] for i in sample.provenance.image_ids]
    return Interpreter(graphs, rules).run(sample.provenance.program).value


def _is_count_bin(options: list[str], count: int) -> bool:
    """Whether the options are, in any order, a bin that holds ``count``: ``len(options)``
    consecutive counts starting at a multiple of ``len(options)``, or one past it for a question
    that cannot be answered 0. Every count of a bin gets the same options, so they tell nothing
    beyond it."""
    k = len(options)
    if k == 0 or not all(o.isdigit() for o in options):
        return False
    values = sorted(int(o) for o in options)
    return values[0] % k in (0, 1) and values == list(range(values[0], values[0] + k)) and (
        values[0] <= count < values[0] + k)


def check_sample(
    sample: InstructionSample, graphs_by_id: dict[str, SceneGraph],
    rules: SpatialRules = DEFAULT_RULES,
) -> list[str]:
    """Problems with one sample (empty list = the checker agrees with everything stored).

    Re-executes the program on the sample's graphs (in ``provenance.image_ids`` order), compares
    every step's stored output and the final value with ``answer_value``, and checks the
    rendered form: MC answer is the option at ``answer_index``, a count's options are its bin;
    yes/no answers are yes/no.
    """
    problems: list[str] = []
    try:
        graphs = [graphs_by_id[i] for i in sample.provenance.image_ids]
    except KeyError as err:
        return [f"{sample.id}: graph {err} not available"]
    try:
        result = Interpreter(graphs, rules).run(sample.provenance.program)
    except CheckError as err:
        return [f"{sample.id} [{sample.provenance.generator}]: {err}"]
    problems += [f"{sample.id}: {m}" for m in result.step_mismatches]
    if not _same(result.value, sample.answer_value):
        problems.append(
            f"{sample.id} [{sample.provenance.generator}] {sample.question!r}: program gives "
            f"{result.value!r}, answer_value is {sample.answer_value!r}"
        )
    expected = expected_answer_text(result.value)
    if sample.answer != expected:
        problems.append(f"{sample.id}: answer text {sample.answer!r}, the value {result.value!r} "
                        f"reads {expected!r}")
    if sample.form == AnswerForm.MULTIPLE_CHOICE:
        opts = sample.options or []
        if sample.answer_index is None or not 0 <= sample.answer_index < len(opts):
            problems.append(f"{sample.id}: MC answer_index {sample.answer_index} out of range")
        elif opts[sample.answer_index] != sample.answer:
            problems.append(f"{sample.id}: MC answer {sample.answer!r} is not the option at "
                            f"{sample.answer_index} ({opts[sample.answer_index]!r})")
        if len(set(opts)) != len(opts):
            problems.append(f"{sample.id}: MC options repeat: {opts}")
        if type(result.value) is int and not _is_count_bin(opts, result.value):
            problems.append(f"{sample.id}: count {result.value} has options {opts}, not the "
                            f"{len(opts)} values of a bin")
    if isinstance(result.value, bool) and sample.answer != ("yes" if result.value else "no"):
        problems.append(f"{sample.id}: boolean answer {result.value} rendered as {sample.answer!r}")
    if sample.form == AnswerForm.YES_NO and sample.answer not in ("yes", "no"):
        problems.append(f"{sample.id}: yes/no sample answers {sample.answer!r}")
    return problems
