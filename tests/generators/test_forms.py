"""Answer forms: the answer never changes across forms; multiple-choice positions are uniform
over a run; count options are the answer's bin; yes/no only for boolean questions."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from scenesynth.generators.base import AnswerType, GenConfig, GenContext, Question, registered
from scenesynth.generators.forms import (
    FormRenderer,
    answer_text,
    count_option_set,
    natural_forms,
)
from scenesynth.graph import AnswerForm, SceneGraph
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.sources import load


@pytest.fixture(scope="module")
def clevr(shared_data: Path) -> list[SceneGraph]:
    return list(itertools.islice(load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"),
                                 200))


def _questions(name: str, graphs: list[SceneGraph], limit: int = 6) -> list[Question]:
    out: list[Question] = []
    for g in graphs:
        ctx = GenContext(graphs=[g], rng=random.Random(g.image.id), config=GenConfig())
        out.extend(itertools.islice(registered()[name]().generate(ctx), limit))
    return out


def test_answer_text() -> None:
    assert answer_text(True) == "yes" and answer_text(False) == "no"
    assert answer_text(3) == "3"
    assert answer_text([104.0, 1.0, 121.5, 168.0], AnswerType.BOX) == "[104, 1, 121.5, 168]"
    assert answer_text(["cube", "sphere"]) == "cube, sphere"


def test_forms_never_change_the_answer(clevr: list[SceneGraph]) -> None:
    renderer = FormRenderer(GenConfig())
    rng = random.Random(7)
    rendered_mc = 0
    for name in ("count_objects", "query_attribute", "exist_object", "compare_depth"):
        for q in _questions(name, clevr[:30]):
            texts = {}
            for form in AnswerForm:
                r = renderer.render(q, form, rng)
                if r is None:
                    assert form not in natural_forms(q) or form == AnswerForm.MULTIPLE_CHOICE
                    continue
                texts[form] = r.answer
                assert r.answer == answer_text(q.answer, q.answer_type)
                if form == AnswerForm.MULTIPLE_CHOICE:
                    rendered_mc += 1
                    assert r.options is not None and r.answer_index is not None
                    assert len(r.options) == 4 and len(set(r.options)) == 4
                    assert r.options[r.answer_index] == r.answer
                    # the export lists the options (export/records.render_question)
                    assert not any(line.startswith(f"{letter}. ") for letter in "ABCD"
                                   for line in r.question.split("\n"))
            assert len(set(texts.values())) == 1
            if isinstance(q.answer, bool):
                assert set(texts) == {AnswerForm.SHORT, AnswerForm.YES_NO}
                assert texts[AnswerForm.YES_NO] in ("yes", "no")
            else:
                assert AnswerForm.YES_NO not in texts
    assert rendered_mc > 100


def test_count_options_are_the_answer_bin_and_letters_uniform(clevr: list[SceneGraph]) -> None:
    renderer = FormRenderer(GenConfig())
    rng = random.Random(1)
    counts = _questions("count_objects", clevr) + _questions("count_attribute", clevr)
    answers = Counter(q.answer for q in counts)
    assert answers[1] > answers[5] > 0  # CLEVR counts are mostly small, some reach the next bin
    letters: Counter[int] = Counter()
    option_sets: dict[int, set[tuple[int, ...]]] = {}
    for q in counts:
        r = renderer.render(q, AnswerForm.MULTIPLE_CHOICE, rng)
        assert r is not None, q  # every count has a multiple-choice form
        assert r.options is not None and r.answer_index is not None
        values = [int(o) for o in r.options]
        assert values[r.answer_index] == q.answer
        # the options are the answer's bin of 4 in some order, counted from 1 (1-4, 5-8, ...):
        # these questions count what the scene holds, so 0 would be wrong by its words alone
        assert q.least_count == 1
        low = (q.answer - 1) // 4 * 4 + 1
        assert sorted(values) == list(range(low, low + 4)), values
        option_sets.setdefault(q.answer, set()).add(tuple(sorted(values)))
        letters[r.answer_index] += 1
    # within a bin every answer gets the same option set: the options tell nothing beyond it
    for low in (1, 5):
        in_bin = {s for a, sets in option_sets.items() if low <= a < low + 4 for s in sets}
        assert len(in_bin) == 1, in_bin
    assert len([a for a in option_sets if a <= 4]) == 4
    n = sum(letters.values())
    assert n > 800
    shares = [letters[k] / n for k in range(4)]
    print(f"count MC letters over {n} questions: {shares}")
    assert all(0.22 <= s <= 0.28 for s in shares), shares
    # the letter is uniform for each answer too, not only on average over the skewed counts
    for value in (1, 2, 3):
        by_letter: Counter[int] = Counter()
        for q in counts:
            if q.answer == value:
                r = renderer.render(q, AnswerForm.MULTIPLE_CHOICE, rng)
                assert r is not None and r.answer_index is not None
                by_letter[r.answer_index] += 1
        m = sum(by_letter.values())
        assert m >= 100 and all(0.15 <= by_letter[k] / m <= 0.35 for k in range(4)), by_letter


def test_count_option_set() -> None:
    assert count_option_set(0, 4) == count_option_set(3, 4) == [0, 1, 2, 3]
    assert count_option_set(4, 4) == count_option_set(7, 4) == [4, 5, 6, 7]
    assert count_option_set(8, 3) == [6, 7, 8]
    assert count_option_set(1, 4, least=1) == count_option_set(4, 4, least=1) == [1, 2, 3, 4]
    assert count_option_set(5, 4, least=1) == count_option_set(8, 4, least=1) == [5, 6, 7, 8]
    with pytest.raises(ValueError):
        count_option_set(-1, 4)
    with pytest.raises(ValueError):
        count_option_set(0, 4, least=1)


def test_count_that_may_be_zero_offers_zero() -> None:
    b = ProgramBuilder()
    b.add("scene", image=0)
    for answer, expected in ((0, {0, 1, 2, 3}), (3, {0, 1, 2, 3}), (6, {4, 5, 6, 7})):
        q = Question(text="How many objects are left of the cube?", answer=answer,
                     answer_type=AnswerType.COUNT, program=b.to_program([[]]), template="t")
        r = FormRenderer().render(q, AnswerForm.MULTIPLE_CHOICE, random.Random(answer))
        assert r is not None and r.options is not None and r.answer_index is not None
        assert {int(o) for o in r.options} == expected and r.options[r.answer_index] == str(answer)


def test_mc_position_uniform(clevr: list[SceneGraph]) -> None:
    renderer = FormRenderer(GenConfig())
    rng = random.Random(1)
    # non-numeric answers: the correct option's position is uniform
    positions: Counter[int] = Counter()
    for q in _questions("query_attribute", clevr):
        r = renderer.render(q, AnswerForm.MULTIPLE_CHOICE, rng)
        if r is not None:
            assert r.answer_index is not None
            positions[r.answer_index] += 1
    m = sum(positions.values())
    assert m > 400
    assert all(0.2 <= positions[k] / m <= 0.3 for k in range(4)), positions


def test_mc_needs_enough_distractors() -> None:
    b = ProgramBuilder()
    b.add("scene", image=0)
    q = Question(text="What is it?", answer="red", answer_type=AnswerType.ATTRIBUTE,
                 program=b.to_program([[]]), template="t", distractors=["blue"])
    assert FormRenderer().render(q, AnswerForm.MULTIPLE_CHOICE, random.Random(0)) is None
    assert FormRenderer().render(q, AnswerForm.YES_NO, random.Random(0)) is None
    short = FormRenderer().render(q, AnswerForm.SHORT, random.Random(0))
    assert short is not None and short.answer == "red" and short.question == "What is it?"
