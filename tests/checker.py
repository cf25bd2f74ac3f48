"""An independent interpreter of answer programs, written from the op table in generators/base.py.

It deliberately does not import the generators' executor: it re-implements every op in
``scenesynth.generators.base.OPS`` from its documented one-line semantics, re-executes a
sample's stored program against the sample's graphs and returns the final value. It also
enforces the ambiguity rule: every ``unique`` step must see exactly one object.

Values: an object reference is ``"<image_index>:<object_id>"``; a set is a sorted list of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scenesynth.graph import (
    DEFAULT_RULES,
    AnswerForm,
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


def _same(a: Any, b: Any) -> bool:
    """Equality that treats 1 and 1.0 alike but keeps bools apart from ints."""
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=0, abs_tol=1e-9)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def check_sample(
    sample: InstructionSample, graphs_by_id: dict[str, SceneGraph],
    rules: SpatialRules = DEFAULT_RULES,
) -> list[str]:
    """Problems with one sample (empty list = the checker agrees with everything stored).

    Re-executes the program on the sample's graphs (in ``provenance.image_ids`` order), compares
    every step's stored output and the final value with ``answer_value``, and checks the
    rendered form: MC answer is the option at ``answer_index``; yes/no answers are yes/no.
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
    if sample.form == AnswerForm.MULTIPLE_CHOICE:
        opts = sample.options or []
        if sample.answer_index is None or not 0 <= sample.answer_index < len(opts):
            problems.append(f"{sample.id}: MC answer_index {sample.answer_index} out of range")
        elif opts[sample.answer_index] != sample.answer:
            problems.append(f"{sample.id}: MC answer {sample.answer!r} is not the option at "
                            f"{sample.answer_index} ({opts[sample.answer_index]!r})")
        if len(set(opts)) != len(opts):
            problems.append(f"{sample.id}: MC options repeat: {opts}")
    if isinstance(result.value, bool) and sample.answer != ("yes" if result.value else "no"):
        problems.append(f"{sample.id}: boolean answer {result.value} rendered as {sample.answer!r}")
    if sample.form == AnswerForm.YES_NO and sample.answer not in ("yes", "no"):
        problems.append(f"{sample.id}: yes/no sample answers {sample.answer!r}")
    return problems
