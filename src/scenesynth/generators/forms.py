"""Answer forms: render one :class:`~scenesynth.generators.base.Question` as short answer,
multiple choice or yes/no. Rendering never changes the answer: every form of a question carries
the same ``answer_value``.

* **short**: the question as written; the answer is the typed value as text.
* **multiple choice** (``config.mc_options`` options): the question with a lead-in
  ("Choose one of the following:"); the options are kept in ``options`` and listed, lettered,
  by the export, never in the question text. Distractors come from
  ``Question.distractors`` (same answer type, chosen by the generator to be plausible for the
  scene); count answers take the window of consecutive integers around the answer. The
  correct option's position is drawn uniformly with the seeded rng. Numeric options are listed
  in ascending order, so the position is the correct value's *rank*; the rank is chosen per
  question among the feasible ranks (a count of 0 can only be the lowest), preferring the rank
  used least so far in this renderer, so that over a run every rank is used about equally
  often; a question whose only feasible ranks are already ahead by more than ``rank_slack`` of
  the run gets no multiple-choice form.
* **yes/no**: for questions whose answer is a boolean (the natural case), with an explicit
  instruction to answer yes or no. Non-boolean questions have no yes/no form (turning "what
  color" into "is it red" would change the answer); boolean questions have no multiple choice.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
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
    """Renders questions in forms; keeps the numeric-rank tally of one run (one shard)."""

    def __init__(self, config: GenConfig | None = None) -> None:
        self.config = config if config is not None else GenConfig()
        self.rank_counts: list[int] = [0] * self.config.mc_options
        self.rank_slack = 0.02  # how far (share of the run) one rank may lead the least used

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
    ) -> tuple[list[str], int] | None:
        k = self.config.mc_options
        value = int(question.answer)
        below_pool = sorted(
            {int(d) for d in question.distractors if isinstance(d, int) and 0 <= d < value}
            | set(range(max(0, value - k), value))
        )
        above_pool = sorted(
            {int(d) for d in question.distractors if isinstance(d, int) and d > value}
            | set(range(value + 1, value + k + 1))
        )
        lo = max(0, k - 1 - len(above_pool))
        hi = min(k - 1, len(below_pool))
        if lo > hi:
            return None
        feasible = list(range(lo, hi + 1))
        least = min(self.rank_counts[r] for r in feasible)
        # Small counts can only take low ranks; when those ranks are already ahead of the
        # others, this question gets no multiple-choice form (its short form is unaffected),
        # which keeps the ranks of a run uniform.
        total = sum(self.rank_counts)
        if least > min(self.rank_counts) + max(2, self.rank_slack * total):
            return None
        candidates = [r for r in feasible if self.rank_counts[r] == least]
        rank = candidates[rng.randrange(len(candidates))]
        self.rank_counts[rank] += 1
        # the options are the window of k consecutive values around the answer at its rank:
        # nearest values are the plausible ones, and a window has no gap to tell the answer
        # by (sampled neighbours such as 1 2 3 6 put the answer next to the gap: a text-only
        # model read 63 % of CLEVR count answers off the options, against 25 % chance)
        below = below_pool[len(below_pool) - rank:] if rank else []
        above = above_pool[: k - 1 - rank]
        values = [*below, value, *above]
        return [str(v) for v in values], values.index(value)


def rank_of_answer(options: Sequence[str], answer_index: int) -> int:
    """Rank of the correct option's numeric value among the options (0 = lowest)."""
    values = [float(o) for o in options]
    return sorted(values).index(values[answer_index])
