"""Quality control for LLM-written questions (everything here is deterministic).

Checks, in the order the pipeline applies them (a question is counted under the first one
it fails; the labels are the card's drop reasons):

* ``writer_failed``: no valid ``{question, answer_type, code}`` within the retry budget.
* ``exec_<reason>``: the program did not run to an answer in the sandbox (``exec_forbidden``,
  ``exec_error``, ``exec_cpu_time``, ``exec_wall_time``, ``exec_memory`` ...).
* ``wrong_type``: the answer is not of the declared type (:func:`type_matches`).
* ``answer_in_question``: the rendered answer appears in the question's words.
* ``constant_answer``: run on the probe scenes too, the program gave one answer only (a
  trivial program, or one that hard-codes this scene's answer).
* ``template_disagreement``: the question maps onto a template family (:func:`template_answer`)
  and the template engine's answer differs.
* ``disagreement``: N independent programs for the same question (the first write plus N-1
  ``solve`` writes) did not all give the same answer.
* ``near_duplicate``: word-3-gram Jaccard similarity of at least the threshold with a question
  already kept for the same image (:func:`near_duplicate`).

Template mapping (c), documented here once: "how many / what number of [ATTRIBUTE] NAMEs ..."
maps to the counting family (``scene``, ``filter_name``, ``filter_attr``, ``count_distinct``),
and "is there / are there any / can you see [a|an] [ATTRIBUTE] NAME ..." to the existence
family (``exist``), where NAME and ATTRIBUTE are words of the input graphs' vocabulary. The
template engine's executor (:func:`scenesynth.programs.execute.execute`) gives the answer.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from typing import Any

from scenesynth.generators.base import GenConfig
from scenesynth.generators.kit import plural
from scenesynth.graph import SceneGraph
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.execute import execute
from scenesynth.quality.dedup import normalize_question

_WORD = re.compile(r"[a-z0-9]+(?:[.'][a-z0-9]+)*")


def type_matches(answer_type: str, value: Any) -> bool:
    kind = type(value)
    if answer_type == "count":
        return kind is int and value >= 0
    if answer_type == "yes_no":
        return kind is bool
    if answer_type == "number":
        return kind in (int, float) and math.isfinite(value)
    if answer_type in ("name", "attribute", "text"):
        return kind is str and bool(value.strip())
    return False


def render_answer(value: Any) -> str:
    """The answer text a trainer sees."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{round(value, 2):g}"
    return " ".join(str(value).split())


def answers_equal(a: Any, b: Any) -> bool:
    if type(a) is bool or type(b) is bool:
        return type(a) is type(b) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-9)
    if isinstance(a, str) and isinstance(b, str):
        return " ".join(a.lower().split()) == " ".join(b.lower().split())
    return bool(a == b)


def words(text: str) -> list[str]:
    return _WORD.findall(normalize_question(text))


def answer_in_question(question: str, value: Any) -> bool:
    """True when the rendered answer (not yes/no) occurs as whole words in the question."""
    if isinstance(value, bool):
        return False
    answer = words(render_answer(value))
    q = words(question)
    n = len(answer)
    return n > 0 and any(q[i:i + n] == answer for i in range(len(q) - n + 1))


def trigrams(text: str) -> set[tuple[str, ...]]:
    w = words(text)
    if len(w) < 3:
        return {tuple(w)}
    return {tuple(w[i:i + 3]) for i in range(len(w) - 2)}


def near_duplicate(question: str, kept: Iterable[str], threshold: float) -> bool:
    grams = trigrams(question)
    for other in kept:
        o = trigrams(other)
        union = len(grams | o)
        if union and len(grams & o) / union >= threshold:
            return True
    return False


def distinct_trigrams_per_1000(questions: Sequence[str]) -> float:
    """Distinct word 3-grams among (at most) the first 1,000 questions, scaled to 1,000
    questions: the diversity figure of the card."""
    sample = list(questions)[:1000]
    if not sample:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    for q in sample:
        seen |= trigrams(q)
    return round(len(seen) * 1000 / len(sample), 1)


class TemplateMapper:
    """Maps a question onto a template family and computes the template engine's answer."""

    def __init__(self, graphs: Sequence[SceneGraph], config: GenConfig | None = None) -> None:
        self.config = config or GenConfig()
        names: set[str] = set()
        values: set[str] = set()
        for g in graphs:
            for o in g.objects:
                names.add(o.name)
                values.update(a.value for a in o.attributes)
        self.noun_to_name: dict[str, str] = {}
        for name in names:
            self.noun_to_name[name] = name
            self.noun_to_name[plural(name)] = name
        self.values = values
        self._count = re.compile(
            r"^(?:how many|what number of) (.+?) (?:are there|are in the image|"
            r"are visible|can you see|do you see|are present)(?: in the image| in the scene)?$")
        self._exist = re.compile(
            r"^(?:is there|are there any|can you see|do you see) (?:a |an |any )?(.+?)"
            r"(?: in the image| in the scene)?$")

    def _concept(self, phrase: str) -> tuple[str, str | None] | None:
        parts = phrase.split()
        if len(parts) == 1 and parts[0] in self.noun_to_name:
            return self.noun_to_name[parts[0]], None
        if len(parts) == 2 and parts[0] in self.values and parts[1] in self.noun_to_name:
            return self.noun_to_name[parts[1]], parts[0]
        return None

    def family(self, question: str) -> tuple[str, tuple[str, str | None]] | None:
        text = normalize_question(question)
        for family, pattern in (("counting", self._count), ("existence", self._exist)):
            m = pattern.match(text)
            if m:
                concept = self._concept(m.group(1))
                if concept is not None:
                    return family, concept
        return None

    def answer(self, question: str, graph: SceneGraph) -> tuple[str, Any] | None:
        """(family, the template engine's answer) or None when the question maps onto none."""
        mapped = self.family(question)
        if mapped is None:
            return None
        family, (name, value) = mapped
        b = ProgramBuilder()
        s = b.add("scene", image=0)
        s = b.add("filter_name", [s], name=name)
        if value:
            s = b.add("filter_attr", [s], value=value)
        if family == "counting":
            b.add("count_distinct", [s], iou=self.config.duplicate_iou)
        else:
            b.add("exist", [s])
        outputs = execute(b.steps, [graph], self.config.rules)
        return family, outputs[-1]
