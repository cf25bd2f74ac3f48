"""Model checks of synthesized images (the knowledge-to-data systems' "does the image show the
graph?"): a judge model is shown each image with the regions it is asked about marked, and
asked about each object ("Is there a NAME in the red box?") and each relation of the image's
graph. An image any question is denied on fails (reason ``judge_denied_object`` or
``judge_denied_relation``); a question without a usable answer fails it with
``judge_no_answer`` (an image nobody could check is not kept as checked).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from scenesynth.graph import SceneGraph
from scenesynth.models.roles import Ask, Judge, RoleError


@dataclass
class ImageVerdict:
    image_id: str
    passed: bool
    reasons: list[tuple[str, str]] = field(default_factory=list)  # (reason, detail)


def _questions(judge: Judge, graph: SceneGraph) -> list[tuple[str, str, Ask]]:
    """(kind, what, ask) for every object with a box and every relation of ``graph``."""
    out: list[tuple[str, str, Ask]] = []
    for o in graph.objects:
        if o.box is None:
            continue
        out.append(("object", f"{o.id} ({o.name})", judge.question_ask(
            graph, f"Is there a {o.name} in the red box?", [o.id])))
    for r in graph.relations:
        out.append(("relation", f"({r.subject}, {r.predicate}, {r.object})",
                    judge.relation_ask(graph, r.subject, r.predicate, r.object)))
    return out


def check_images(judge: Judge, graphs: Sequence[SceneGraph]) -> list[ImageVerdict]:
    """One verdict per graph; all questions of the batch are in flight together."""
    per_graph = [_questions(judge, g) for g in graphs]
    flat = [ask for qs in per_graph for _, _, ask in qs]
    answers = judge.verdicts(flat) if flat else []
    verdicts: list[ImageVerdict] = []
    i = 0
    for g, qs in zip(graphs, per_graph, strict=True):
        verdict = ImageVerdict(g.image.id, True)
        for kind, what, _ in qs:
            answer = answers[i]
            i += 1
            if isinstance(answer, RoleError):
                verdict.reasons.append(("judge_no_answer", f"{kind} {what}: {answer}"))
            elif answer.answer != "yes":
                verdict.reasons.append((f"judge_denied_{kind}", f"{kind} {what}"))
        verdict.passed = not verdict.reasons
        verdicts.append(verdict)
    return verdicts
