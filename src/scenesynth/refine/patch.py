"""Graph patches: the one way model roles change a graph, so that every change can be
validated, stored, diffed and reverted.

A patch is a list of operations in a normal form:

* ``{"op": "add_relation", "relation": {...Relation...}}``
* ``{"op": "remove_relation", "subject": ID, "predicate": TEXT, "object": ID}``
* ``{"op": "refine_attribute", "object_id": ID, "attribute": TEXT}``

:func:`apply_operations` applies the operations that still change the graph (so applying a
patch twice equals applying it once) and returns each applied one with where it acted
(``index``; a removal keeps every relation it removed); :func:`revert_operations` undoes
exactly those, in reverse order, so the reverted graph serialises to the input's bytes.
"""

from __future__ import annotations

from typing import Any

from scenesynth.graph import (
    DEFAULT_RULES,
    Attribute,
    Relation,
    SceneGraph,
    SpatialRules,
    canonical_spatial,
    spatial_relation,
)

Operation = dict[str, Any]


def _find(relations: list[Relation], subject: str, predicate: str, obj: str) -> int | None:
    pred = " ".join(predicate.lower().split())
    for i, r in enumerate(relations):
        if r.subject == subject and r.predicate == pred and r.object == obj:
            return i
    return None


def geometry_verdict(graph: SceneGraph, subject: str, predicate: str, obj: str,
                     rules: SpatialRules = DEFAULT_RULES) -> bool | None:
    """What geometry says about ``(subject, predicate, obj)``: True, False, or None when the
    predicate is not spatial or the evidence is missing."""
    pred = canonical_spatial(predicate)
    if pred is None:
        return None
    by_id = {o.id: o for o in graph.objects}
    return spatial_relation(by_id[subject], by_id[obj], pred, graph.image, graph.camera, rules)


def validate_operation(graph: SceneGraph, op: Operation,
                       rules: SpatialRules = DEFAULT_RULES) -> tuple[str, str] | None:
    """``(reason, detail)`` when ``op`` cannot apply to ``graph``, else None. Reasons:
    ``missing_id`` (an object id the graph lacks), ``missing_relation`` (removing a relation
    the graph does not have), ``geometry`` (an added relation geometry contradicts),
    ``empty_attribute``, ``bad_operation``."""
    ids = {o.id for o in graph.objects}
    kind = op.get("op")
    if kind == "add_relation":
        rel = op.get("relation") or {}
        for role in ("subject", "object"):
            if rel.get(role) not in ids:
                return "missing_id", f"{role} {rel.get(role)!r} is no object of the graph"
        if geometry_verdict(graph, rel["subject"], rel["predicate"], rel["object"],
                            rules) is False:
            return "geometry", (f"geometry contradicts ({rel['subject']}, {rel['predicate']}, "
                                f"{rel['object']})")
        return None
    if kind == "remove_relation":
        for role in ("subject", "object"):
            if op.get(role) not in ids:
                return "missing_id", f"{role} {op.get(role)!r} is no object of the graph"
        if _find(graph.relations, op["subject"], str(op.get("predicate") or ""),
                 op["object"]) is None:
            return "missing_relation", (f"no relation ({op['subject']}, {op.get('predicate')}, "
                                        f"{op['object']})")
        return None
    if kind == "refine_attribute":
        if op.get("object_id") not in ids:
            return "missing_id", f"object_id {op.get('object_id')!r} is no object of the graph"
        if not str(op.get("attribute") or "").strip():
            return "empty_attribute", "no attribute value"
        return None
    return "bad_operation", f"unknown operation {kind!r}"


def apply_operations(graph: SceneGraph, ops: list[Operation]
                     ) -> tuple[SceneGraph, list[Operation]]:
    """Apply the (validated) operations that still change ``graph``; return the new graph and
    the applied operations, each with the ``index`` it acted at."""
    relations = list(graph.relations)
    objects = list(graph.objects)
    applied: list[Operation] = []
    for op in ops:
        kind = op["op"]
        if kind == "add_relation":
            rel = Relation.model_validate(op["relation"])
            if _find(relations, rel.subject, rel.predicate, rel.object) is not None:
                continue
            relations.append(rel)
            applied.append({**op, "index": len(relations) - 1})
        elif kind == "remove_relation":
            # every copy of the triplet goes (sources list some twice), so that applying the
            # patch again finds nothing left to remove
            at = [i for i, r in enumerate(relations)
                  if r.triplet() == (op["subject"], op["predicate"], op["object"])]
            if not at:
                continue
            removed = [{"index": i, "relation": relations[i].model_dump(mode="json")}
                       for i in at]
            relations = [r for i, r in enumerate(relations) if i not in set(at)]
            applied.append({**op, "index": at[0], "removed": removed})
        elif kind == "refine_attribute":
            pos = next(k for k, o in enumerate(objects) if o.id == op["object_id"])
            obj = objects[pos]
            value = Attribute.model_validate(op["attribute"])
            if obj.has_attribute(value.value):
                continue
            objects[pos] = obj.model_copy(update={"attributes": [*obj.attributes, value]})
            applied.append({**op, "index": len(obj.attributes)})
    out = graph.model_copy(update={"relations": relations, "objects": objects})
    return out, applied


def revert_operations(graph: SceneGraph, applied: list[Operation]) -> SceneGraph:
    """Undo ``applied`` (as returned by :func:`apply_operations`), last first."""
    relations = list(graph.relations)
    objects = list(graph.objects)
    for op in reversed(applied):
        kind, index = op["op"], int(op["index"])
        if kind == "add_relation":
            del relations[index]
        elif kind == "remove_relation":
            for item in op["removed"]:  # ascending indices: each lands where it was
                relations.insert(int(item["index"]), Relation.model_validate(item["relation"]))
        elif kind == "refine_attribute":
            pos = next(k for k, o in enumerate(objects) if o.id == op["object_id"])
            obj = objects[pos]
            attrs = list(obj.attributes)
            del attrs[index]
            objects[pos] = obj.model_copy(update={"attributes": attrs})
    return graph.model_copy(update={"relations": relations, "objects": objects})
