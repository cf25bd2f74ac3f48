"""Answer forms: render one :class:`~scenesynth.generators.base.Question` as short answer,
multiple choice or yes/no. Rendering never changes the answer: every form of a question carries
the same ``answer_value``.

* **short**: the question as written; the answer is the typed value as text.
* **multiple choice** (``config.mc_options`` options): the question with a lead-in
  ("Choose one of the following:"); the options are kept in ``options`` and listed, lettered,
  by the export, never in the question text. Distractors come from
  ``Question.distractors`` (same answer type, chosen by the generator to be plausible for the
  scene). The correct option's position is drawn uniformly with the seeded rng.
  Count answers take the *bin* of the answer as options: the k consecutive values
  ``[j*k, (j+1)*k)`` that hold it, counted from 1 instead of 0 for a question that cannot
  be answered 0 (``Question.least_count``; "how many cubes" asked because there is one), where
  0 would be an option wrong by the question's words alone (:func:`count_option_set`). Within
  a bin the option set is the same whatever the answer, so the options tell a text-only reader
  nothing beyond which bin the answer lies in (a window around the answer told it by its
  position: with CLEVR counts mostly 1-3, "0 1 2 3" meant 1 or 2, "1 2 3 4" meant 2 or 3). The
  bin's values are listed in a drawn order, so the correct letter is uniform whatever the
  answer; ascending order would put the letter at the answer's place in the bin, as skewed as
  the counts themselves.
* **yes/no**: for questions whose answer is a boolean (the natural case), with an explicit
  instruction to answer yes or no. Non-boolean questions have no yes/no form (turning "what
  color" into "is it red" would change the answer); boolean questions have no multiple choice.
"""

from __future__ import annotations

import random
from typing import Any

from scenesynth.generators.base import AnswerType, GenConfig, Question
from scenesynth.graph import AnswerForm

# The question and its lead-in only: the lettered options are listed by the export
# (export/records.render_question), their one home, so that every format lists them once.
MC_TEMPLATES: dict[str, str] = {
    "mc_options": "{question}\nOptions:",
    "mc_choose": "{question}\nChoose one of the following:",
    "mc_select": "{question} Select the correct answer.",
}
YES_NO_TEMPLATES: dict[str, str] = {
    "yn_plain": "{question} Answer yes or no.",
    "yn_please": "{question} Please answer with yes or no.",
    "yn_reply": "{question} Reply with a single word: yes or no.",
}
_MC_IDS = sorted(MC_TEMPLATES)
_YN_IDS = sorted(YES_NO_TEMPLATES)


def answer_text(value: Any, answer_type: AnswerType | str | None = None) -> str:
    """The answer as text: yes/no for booleans, ``[x0, y0, x1, y1]`` for boxes, lists joined."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:g}"
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        if answer_type == AnswerType.BOX or (
            len(value) == 4 and all(isinstance(v, (int, float)) for v in value)
        ):
            return "[" + ", ".join(f"{float(v):g}" for v in value) + "]"
        return ", ".join(answer_text(v) for v in value)
    raise ValueError(f"cannot render answer value {value!r} as text")


class RenderedForm:
    """One question rendered in one form.

    A plain class rather than a dataclass: one is built per sample, and compiled (mypyc)
    a dataclass keeps its interpreted ``__init__``, several times slower than this one."""

    __slots__ = ("answer", "answer_index", "form", "options", "question", "template")

    def __init__(
        self,
        form: AnswerForm,
        question: str,
        answer: str,
        template: str,  # form template id ("short" for the short form)
        options: list[str] | None = None,
        answer_index: int | None = None,
    ) -> None:
        self.form = form
        self.question = question
        self.answer = answer
        self.template = template
        self.options = options
        self.answer_index = answer_index

    def __repr__(self) -> str:
        return (f"RenderedForm({self.form!r}, {self.question!r}, {self.answer!r}, "
                f"{self.template!r}, {self.options!r}, {self.answer_index!r})")


def natural_forms(question: Question) -> tuple[AnswerForm, ...]:
    """The forms a question can take without changing its answer."""
    if isinstance(question.answer, bool):
        return (AnswerForm.SHORT, AnswerForm.YES_NO)
    return (AnswerForm.SHORT, AnswerForm.MULTIPLE_CHOICE)


def _is_count(question: Question) -> bool:
    return question.answer_type == AnswerType.COUNT and isinstance(question.answer, int)


class FormRenderer:
    """Renders questions in forms."""

    def __init__(self, config: GenConfig | None = None) -> None:
        self.config = config if config is not None else GenConfig()

    def render(
        self, question: Question, form: AnswerForm, rng: random.Random
    ) -> RenderedForm | None:
        """Render ``question`` in ``form``; None when that form is not available for it."""
        if form not in natural_forms(question):
            return None
        answer = answer_text(question.answer, question.answer_type)
        if form == AnswerForm.SHORT:
            return RenderedForm(form, question.text, answer, "short")
        if form == AnswerForm.YES_NO:
            tid = _YN_IDS[rng.randrange(len(_YN_IDS))]
            return RenderedForm(
                form, YES_NO_TEMPLATES[tid].format(question=question.text), answer, tid
            )
        options = self._options(question, answer, rng)
        if options is None:
            return None
        texts, index = options
        tid = _MC_IDS[rng.randrange(len(_MC_IDS))]
        return RenderedForm(
            form,
            MC_TEMPLATES[tid].format(question=question.text),
            answer,
            tid,
            texts,
            index,
        )

    # -- options ----------------------------------------------------------------------------
    def _options(
        self, question: Question, answer: str, rng: random.Random
    ) -> tuple[list[str], int] | None:
        k = self.config.mc_options
        if _is_count(question):
            return self._numeric_options(question, rng)
        pool: list[str] = []
        seen = {answer}  # a set: a list's `in` made long distractor lists quadratic
        for d in question.distractors:
            text = answer_text(d, question.answer_type)
            if text not in seen:
                seen.add(text)
                pool.append(text)
        if len(pool) < k - 1:
            return None
        chosen = rng.sample(pool, k - 1)
        index = rng.randrange(k)
        chosen.insert(index, answer)
        return chosen, index

    def _numeric_options(
        self, question: Question, rng: random.Random
    ) -> tuple[list[str], int]:
        value = int(question.answer)
        values = count_option_set(value, self.config.mc_options, question.least_count)
        order = rng.sample(values, len(values))
        return [str(v) for v in order], order.index(value)


def count_option_set(value: int, k: int, least: int = 0) -> list[int]:
    """The multiple-choice options of count answer ``value`` with ``k`` options, ascending: the
    bin ``[least + j*k, least + (j+1)*k)`` that holds it, ``least`` the smallest count the
    question admits. Every answer of a bin gets the same options."""
    if value < least:
        raise ValueError(f"count {value} is below the question's least count {least}")
    start = value - (value - least) % k
    return list(range(start, start + k))
