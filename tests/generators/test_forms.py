"""Answer forms: the answer never changes across forms; multiple-choice positions and numeric
ranks are uniform over a run; yes/no only for boolean questions."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from pathlib import Path

import pytest

from scenesynth.generators.base import AnswerType, GenConfig, GenContext, Question, registered
from scenesynth.generators.forms import FormRenderer, answer_text, natural_forms, rank_of_answer
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


def test_mc_position_uniform_and_numeric_rank_uniform(clevr: list[SceneGraph]) -> None:
    renderer = FormRenderer(GenConfig())
    rng = random.Random(1)
    counts = _questions("count_objects", clevr) + _questions("count_attribute", clevr)
    answers = Counter(q.answer for q in counts)
    assert answers[1] > answers[4]  # CLEVR counts are mostly small: the hard case for ranks
    ranks: Counter[int] = Counter()
    declined = 0
    for q in counts:
        r = renderer.render(q, AnswerForm.MULTIPLE_CHOICE, rng)
        if r is None:  # only small counts whose feasible ranks are already ahead
            declined += 1
            assert q.answer <= 2
            continue
        assert r.options is not None and r.answer_index is not None
        values = [int(o) for o in r.options]
        # a window of consecutive values: no gap next to the answer to tell it by
        assert values == list(range(values[0], values[0] + 4)) and min(values) >= 0
        assert values[r.answer_index] == q.answer
        ranks[rank_of_answer(r.options, r.answer_index)] += 1
    n = sum(ranks.values())
    assert n > 800 and declined < n
    shares = [ranks[k] / n for k in range(4)]
    print(f"numeric MC ranks over {n} questions: {shares} ({declined} without an MC form)")
    assert all(0.22 <= s <= 0.28 for s in shares), shares
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
