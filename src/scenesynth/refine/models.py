"""Model refinement of scene graphs: dense relation completion (teacher + rule and model
filters) and editing (SG-EDIT), both as stored, revertible patches.

*complete*: for up to ``k`` subjects per image (the least related first) the teacher proposes
relations by category. A spatial proposal (its predicate is one geometry decides) is kept only
when the geometry rules agree (``check: geometry``); a contradiction is dropped with reason
``geometry``; an undecided pair is dropped (``undecided``) unless ``keep_undecided``. Any other
proposal is put to the judge as a yes/no question about the two marked regions and kept only
on "yes" (``check: judge``), else dropped with reason ``judge``. Kept relations carry
``source=model``, the proposed category, a confidence (the teacher's, times the judge's when
the judge decided) and the teacher's and judge's model ids and prompt versions in ``meta``.

*edit*: the editor returns a patch; each operation is validated (ids exist, the relation to
remove exists, an added relation does not contradict geometry) and applied, or rejected with
its reason.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from scenesynth.graph import (
    DEFAULT_RULES,
    RelationCategory,
    RelationSource,
    SceneGraph,
    SpatialRules,
    canonical_spatial,
)
from scenesynth.models.review import (
    Ask,
    Editor,
    EditorAnswer,
    Judge,
    JudgeAnswer,
    RoleError,
    Teacher,
    TeacherAnswer,
)
from scenesynth.refine.patch import (
    Operation,
    apply_operations,
    geometry_verdict,
    revert_operations,
    validate_operation,
)


@dataclass(frozen=True)
class RefineConfig:
    k: int = 3  # subjects per image the teacher completes
    per_subject: int = 2  # proposals asked per subject and category
    keep_undecided: bool = False  # keep spatial proposals geometry cannot decide
    rules: SpatialRules = DEFAULT_RULES


@dataclass
class RefineResult:
    """One image: the refined graph, its stored patches, its failures."""

    graph: SceneGraph
    patches: list[dict[str, Any]] = field(default_factory=list)
    failures: list[dict[str, Any]] = field(default_factory=list)
    kept: Counter[str] = field(default_factory=Counter)  # by check
    kept_by_category: Counter[str] = field(default_factory=Counter)


def pick_subjects(graph: SceneGraph, k: int) -> list[str]:
    """Up to ``k`` objects with a box, the ones in the fewest relations first (ties: order)."""
    degree: Counter[str] = Counter()
    for r in graph.relations:
        degree[r.subject] += 1
        degree[r.object] += 1
    boxed = [(degree[o.id], i, o.id) for i, o in enumerate(graph.objects) if o.box is not None]
    return [oid for _, _, oid in sorted(boxed)[:k]]


def _failure(graph: SceneGraph, stage: str, reason: str, detail: str,
             **extra: Any) -> dict[str, Any]:
    return {"image_id": graph.image.id, "stage": stage, "reason": reason,
            "detail": detail[:300], **extra}


def complete_graphs(graphs: Sequence[SceneGraph], teacher: Teacher, judge: Judge,
                    config: RefineConfig) -> list[RefineResult]:
    """Relation completion for a batch of graphs (the requests of a batch run concurrently)."""
    results = [RefineResult(g) for g in graphs]
    asks = [teacher.ask_for(g, pick_subjects(g, config.k), config.per_subject) for g in graphs]
    answers: list[TeacherAnswer | RoleError] = (
        teacher.propose([a for a, g in zip(asks, graphs, strict=True) if g.objects])
        if graphs else [])
    it = iter(answers)
    # candidates waiting for the judge: (result index, proposal dict)
    pending: list[tuple[int, dict[str, Any]]] = []
    accepted: list[list[dict[str, Any]]] = [[] for _ in graphs]
    for gi, g in enumerate(graphs):
        if not g.objects:
            continue
        answer = next(it)
        res = results[gi]
        if isinstance(answer, RoleError):
            res.failures.append(_failure(g, "teacher", answer.reason, str(answer)))
            continue
        ids = {o.id for o in g.objects}
        seen = {r.triplet() for r in g.relations}
        for rank, prop in enumerate(answer.relations):
            triplet = (prop.subject, " ".join(prop.predicate.lower().split()), prop.object)
            proposal = {"subject": prop.subject, "predicate": triplet[1], "object": prop.object,
                        "category": prop.category, "confidence": prop.confidence}
            if prop.subject not in ids or prop.object not in ids or prop.subject == prop.object:
                res.failures.append(_failure(g, "teacher", "missing_id",
                                             "proposal names an object the graph lacks",
                                             proposal=proposal))
                continue
            if triplet in seen:
                res.failures.append(_failure(g, "teacher", "duplicate",
                                             "relation already in the graph", proposal=proposal))
                continue
            seen.add(triplet)
            verdict = geometry_verdict(g, prop.subject, prop.predicate, prop.object, config.rules)
            spatial = verdict is not None or _geometric(prop.predicate)
            if spatial:
                if verdict is False:
                    res.failures.append(_failure(g, "complete", "geometry",
                                                 "geometry contradicts the proposal",
                                                 proposal=proposal))
                elif verdict is None and not config.keep_undecided:
                    res.failures.append(_failure(g, "complete", "undecided",
                                                 "geometry cannot decide", proposal=proposal))
                else:
                    accepted[gi].append({**proposal, "rank": rank,
                                         "check": "geometry" if verdict else "undecided_kept"})
            else:
                pending.append((gi, {**proposal, "rank": rank}))
    judge_asks: list[Ask] = [
        judge.relation_ask(graphs[gi], p["subject"], p["predicate"], p["object"])
        for gi, p in pending]
    votes: list[JudgeAnswer | RoleError] = judge.verdicts(judge_asks) if judge_asks else []
    for (gi, proposal), vote in zip(pending, votes, strict=True):
        g = graphs[gi]
        if isinstance(vote, RoleError):
            results[gi].failures.append(_failure(g, "judge", vote.reason, str(vote),
                                                 proposal=_public(proposal)))
        elif vote.answer != "yes":
            results[gi].failures.append(_failure(g, "complete", "judge",
                                                 "the judge denied the proposal",
                                                 proposal=_public(proposal)))
        else:
            accepted[gi].append({**proposal, "check": "judge",
                                 "judge_confidence": vote.confidence})
    # keep the teacher's order within an image, whichever check decided
    for gi in range(len(graphs)):
        if not accepted[gi]:
            continue
        ops: list[Operation] = []
        for p in sorted(accepted[gi], key=lambda q: q["rank"]):
            confidence = p["confidence"] * p.get("judge_confidence", 1.0)
            meta: dict[str, Any] = {"check": p["check"], "teacher": teacher.provenance}
            if p["check"] == "judge":
                meta["judge"] = judge.provenance
            ops.append({"op": "add_relation", "relation": {
                "subject": p["subject"], "predicate": p["predicate"], "object": p["object"],
                "category": p["category"], "source": RelationSource.MODEL.value,
                "confidence": round(confidence, 6), "meta": meta}})
        _apply(results[gi], "complete", ops, {"teacher": teacher.provenance,
                                              "judge": judge.provenance}, "")
        for p in accepted[gi]:
            results[gi].kept[p["check"]] += 1
            results[gi].kept_by_category[p["category"]] += 1
    return results


def _public(proposal: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in proposal.items() if k != "rank"}


def _geometric(predicate: str) -> bool:
    return canonical_spatial(predicate) is not None


def _apply(result: RefineResult, stage: str, ops: list[Operation],
           provenance: dict[str, Any], rationale: str) -> None:
    graph, applied = apply_operations(result.graph, ops)
    if applied:
        result.patches.append({"image_id": result.graph.image.id, "stage": stage,
                               "provenance": provenance, "rationale": rationale,
                               "applied": applied})
    result.graph = graph


def normal_operation(op: Any, editor: Editor) -> Operation:
    """An editor operation in the patch normal form (see :mod:`.patch`)."""
    if op.op == "add_relation":
        return {"op": "add_relation", "relation": {
            "subject": op.subject, "predicate": op.predicate or "", "object": op.object,
            "category": op.category or RelationCategory.OTHER.value,
            "source": RelationSource.MODEL.value, "confidence": 1.0,
            "meta": {"check": "editor", "editor": editor.provenance}}}
    if op.op == "remove_relation":
        return {"op": "remove_relation", "subject": op.subject,
                "predicate": " ".join((op.predicate or "").lower().split()), "object": op.object}
    return {"op": "refine_attribute", "object_id": op.object_id, "attribute": op.attribute}


def edit_graphs(results: Sequence[RefineResult], editor: Editor, config: RefineConfig) -> None:
    """Ask the editor for a patch per graph, validate each operation, apply the valid ones."""
    live = [r for r in results if r.graph.objects]
    answers: list[EditorAnswer | RoleError] = (
        editor.patches([editor.ask_for(r.graph) for r in live]) if live else [])
    for res, answer in zip(live, answers, strict=True):
        g = res.graph
        if isinstance(answer, RoleError):
            res.failures.append(_failure(g, "editor", answer.reason, str(answer)))
            continue
        ops: list[Operation] = []
        for raw in answer.operations:
            if raw.op == "add_relation" and (not raw.predicate or not raw.predicate.strip()):
                res.failures.append(_failure(g, "edit", "bad_operation", "no predicate",
                                             operation=raw.model_dump(exclude_none=True)))
                continue
            op = normal_operation(raw, editor)
            problem = validate_operation(g, op, config.rules)
            if problem is not None:
                res.failures.append(_failure(g, "edit", problem[0], problem[1], operation=op))
                continue
            ops.append(op)
        _apply(res, "edit", ops, {"editor": editor.provenance}, answer.rationale)


def revert_patches(graph: SceneGraph, patches: Iterable[dict[str, Any]]) -> SceneGraph:
    """Undo stored patches (as written to ``patches.jsonl``), last first."""
    for patch in reversed(list(patches)):
        graph = revert_operations(graph, patch["applied"])
    return graph
