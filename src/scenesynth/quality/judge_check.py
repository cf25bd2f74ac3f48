"""Model checks of synthesized images (the knowledge-to-data systems' "does the image show the
graph?"): a judge model is shown each image with the regions it is asked about marked, and
asked about each object ("Is there a NAME in the red box?") and each relation of the image's
graph. An image any question is denied on fails (reason ``judge_denied_object`` or
``judge_denied_relation``); a question without a usable answer fails it with
``judge_no_answer`` (an image nobody could check is not kept as checked).

The answer check: the judge answers each yes/no question of the appearance families
(attributes, relations) from the image alone; a disagreement drops the sample or flags it
(``provenance.extra["judge_agrees"] = False``), and agreement is counted per family.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from scenesynth.graph import AnswerForm, InstructionSample, SceneGraph
from scenesynth.models.review import Ask, Judge, RoleError


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


# -- answer check ---------------------------------------------------------------------------------

# families whose answers depend on how things look (not on counting or the program alone)
APPEARANCE_FAMILIES: tuple[str, ...] = ("attribute", "same_attribute", "relation")


@dataclass
class AnswerCheck:
    """Per family: yes/no samples asked, and those the judge answered the same."""

    asked: dict[str, int] = field(default_factory=dict)
    agreed: dict[str, int] = field(default_factory=dict)
    no_answer: int = 0

    def rates(self) -> dict[str, float]:
        return {f: round(self.agreed.get(f, 0) / n, 4) for f, n in sorted(self.asked.items())
                if n}


def check_answers(judge: Judge, samples: Sequence[InstructionSample],
                  graphs: dict[str, SceneGraph], families: Sequence[str] = APPEARANCE_FAMILIES
                  ) -> tuple[list[bool | None], AnswerCheck]:
    """The judge answers each single-image yes/no sample of ``families`` from the image alone
    (no marks: the question must be answerable from what is seen). Returns per sample True
    (agrees), False (disagrees) or None (not checked: another form or family, or no usable
    answer), and the agreement counts per family."""
    picked: list[tuple[int, Ask]] = []
    for i, s in enumerate(samples):
        image_id = s.provenance.image_ids[0] if len(s.provenance.image_ids) == 1 else None
        if (s.provenance.family not in families or s.form != AnswerForm.YES_NO
                or not isinstance(s.answer_value, bool) or image_id not in graphs):
            continue
        assert image_id is not None
        picked.append((i, judge.question_ask(graphs[image_id], s.question, [])))
    answers = judge.verdicts([a for _, a in picked]) if picked else []
    out: list[bool | None] = [None] * len(samples)
    tally = AnswerCheck()
    for (i, _), answer in zip(picked, answers, strict=True):
        family = samples[i].provenance.family
        if isinstance(answer, RoleError):
            tally.no_answer += 1
            continue
        agrees = (answer.answer == "yes") == samples[i].answer_value
        out[i] = agrees
        tally.asked[family] = tally.asked.get(family, 0) + 1
        tally.agreed[family] = tally.agreed.get(family, 0) + int(agrees)
    return out, tally
