"""The independent checker itself: it covers every op in OPS, computes known values on real
CLEVR / COCO graphs, and catches wrong answers, ambiguous references and bad renderings."""

from __future__ import annotations

from pathlib import Path

import pytest
from checker import CheckError, Interpreter, check_sample, expected_answer_text, final_answer

from scenesynth.graph import AnswerForm, InstructionSample, ProgramStep, Provenance, SceneGraph
from scenesynth.programs.ops import OPS
from scenesynth.sources import load


def step(
    op: str, inputs: list[int] | None = None, output: object = None, **args: object
) -> ProgramStep:
    return ProgramStep(op=op, inputs=inputs or [], args=args, output=output)


@pytest.fixture(scope="module")
def clevr(shared_data: Path) -> list[SceneGraph]:
    graphs = []
    for g in load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"):
        graphs.append(g)
        if len(graphs) == 3:
            break
    return graphs


@pytest.fixture(scope="module")
def coco(shared_data: Path) -> list[SceneGraph]:
    return list(load(shared_data / "coco_panoptic"))


def test_checker_implements_every_documented_op() -> None:
    assert set(Interpreter([]).ops) == set(OPS)


def test_known_values_on_clevr(clevr: list[SceneGraph]) -> None:
    it = Interpreter(clevr)
    program = [
        step("scene", image=0),                          # 0
        step("filter_name", [0], name="cube"),           # 1: 3 cubes
        step("count", [1]),                              # 2
        step("filter_attr", [1], value="blue"),          # 3: the blue cube
        step("unique", [3]),                             # 4
        step("query_attr", [4], kind="size"),            # 5
        step("scene", image=1),                          # 6
        step("filter_name", [6], name="sphere"),         # 7: 5 spheres
        step("count_distinct", [7], iou=0.9),            # 8
        step("image_argmax", [2, 8]),                    # 9
        step("query_names", [6]),                        # 10
        step("query_names", [0]),                        # 11
        step("difference_values", [11, 10]),             # 12
        step("relate_set", [1], predicate="left of", mode="geometry"),  # 13
    ]
    out = it.run(program).outputs
    assert out[2] == 3 and out[4] == "0:0" and out[5] == "large"
    assert out[8] == 5 and out[9] == "Image 2"
    assert out[12] == []  # scene 1 has cubes, cylinders and spheres too
    # the geometric relation agrees with CLEVR's own annotations ("left" lists)
    annotated = sorted({f"0:{r.subject}" for r in clevr[0].relations
                        if r.predicate == "left of" and clevr[0].object(r.object).name == "cube"})
    assert out[13] == annotated


def test_count_distinct_on_coco_instances(coco: list[SceneGraph]) -> None:
    graph = coco[0]
    sky = next(o for o in graph.objects if o.name == "sky")
    person = next(o for o in graph.objects if o.name == "person")
    assert not sky.distinct and person.distinct  # stuff vs thing segments
    # a second copy of each: the stuff copy is a near-duplicate, the person copy a new instance
    doubled = graph.model_copy(update={"objects": [
        *graph.objects,
        sky.model_copy(update={"id": "sky-copy"}),
        person.model_copy(update={"id": "person-copy"}),
    ]})
    it = Interpreter([doubled])
    for name, plain, distinct in (("person", 15, 15), ("sky", 2, 1)):
        out = it.run([step("scene"), step("filter_name", [0], name=name), step("count", [1]),
                      step("count_distinct", [1], iou=0.9)]).outputs
        assert (out[2], out[3]) == (plain, distinct), name


def test_ambiguous_unique_is_an_error(clevr: list[SceneGraph]) -> None:
    with pytest.raises(CheckError, match="exactly one object, got 3"):
        Interpreter(clevr).run([step("scene"), step("filter_name", [0], name="cube"),
                                step("unique", [1])])


def test_ties_and_bad_references_are_errors(clevr: list[SceneGraph]) -> None:
    it = Interpreter(clevr)
    with pytest.raises(CheckError, match="tie"):
        it.run([step("scene", image=0), step("filter_name", [0], name="cube"), step("count", [1]),
                step("scene", image=1), step("filter_name", [3], name="cube"), step("count", [4]),
                step("image_argmax", [2, 5])])
    with pytest.raises(CheckError, match="image 5 out of range"):
        it.run([step("scene", image=5)])
    with pytest.raises(CheckError, match="not an earlier step"):
        it.run([step("scene"), step("count", [1])])
    with pytest.raises(CheckError, match="not implemented"):
        it.run([step("teleport")])


def _sample(graphs: list[SceneGraph], program: list[ProgramStep], value: object, answer: str,
            form: AnswerForm = AnswerForm.SHORT, options: list[str] | None = None,
            index: int | None = None) -> InstructionSample:
    return InstructionSample(
        id="s", images=[g.image.id for g in graphs], question="q", answer=answer, form=form,
        options=options, answer_index=index, answer_value=value,
        provenance=Provenance(source="clevr", image_ids=[g.image.id for g in graphs],
                              generator="g", generator_version="1", family="f",
                              program=program),
    )


def test_check_sample_catches_wrong_answers_and_renderings(clevr: list[SceneGraph]) -> None:
    by_id = {g.image.id: g for g in clevr}
    program = [step("scene", output=[f"0:{i}" for i in "012345"]),
               step("filter_name", [0], name="cube", output=["0:0", "0:2", "0:4"]),
               step("count", [1], output=3)]
    pair = clevr[:1]
    assert check_sample(_sample(pair, program, 3, "3"), by_id) == []
    assert final_answer(_sample(pair, program, 3, "3"), by_id) == 3
    wrong = check_sample(_sample(pair, program, 4, "4"), by_id)
    assert any("answer_value is 4" in p for p in wrong)
    assert any("reads '3'" in p for p in check_sample(_sample(pair, program, 3, "three"), by_id))
    mc = _sample(pair, program, 3, "3", AnswerForm.MULTIPLE_CHOICE, ["2", "4", "1", "3"], 2)
    assert any("not the option" in p for p in check_sample(mc, by_id))
    good_mc = _sample(pair, program, 3, "3", AnswerForm.MULTIPLE_CHOICE, ["2", "4", "1", "3"], 3)
    assert check_sample(good_mc, by_id) == []
    zero_bin = _sample(pair, program, 3, "3", AnswerForm.MULTIPLE_CHOICE, ["3", "0", "2", "1"], 0)
    assert check_sample(zero_bin, by_id) == []
    # a window around the answer is not a bin: its position among the counts tells the answer
    window = _sample(pair, program, 3, "3", AnswerForm.MULTIPLE_CHOICE, ["2", "3", "4", "5"], 1)
    assert any("not the 4 values of a bin" in p for p in check_sample(window, by_id))
    other_bin = _sample(pair, program, 3, "3", AnswerForm.MULTIPLE_CHOICE, ["5", "3", "7", "6"], 1)
    assert any("not the 4 values of a bin" in p for p in check_sample(other_bin, by_id))
    tampered = [*program[:2], step("count", [1], output=2)]
    assert any("stored 2, got 3" in p for p in check_sample(_sample(pair, tampered, 3, "3"), by_id))


def test_answer_text_conventions() -> None:
    assert expected_answer_text(True) == "yes"
    assert expected_answer_text(7) == "7"
    assert expected_answer_text([1, 2.5, 3, 4]) == "[1, 2.5, 3, 4]"
    assert expected_answer_text(["cube", "sphere"]) == "cube, sphere"
