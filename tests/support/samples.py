"""Hand-made instruction samples for balance and card tests."""

from __future__ import annotations

from scenesynth.graph.sample import AnswerForm, InstructionSample, Provenance


def make_sample(
    answer_value: object,
    generator: str = "gen",
    family: str = "fam",
    form: AnswerForm = AnswerForm.SHORT,
    question: str = "q?",
    image_ids: tuple[str, ...] = ("img",),
    options: list[str] | None = None,
    answer_index: int | None = None,
    answer_type: str = "text",
) -> InstructionSample:
    if isinstance(answer_value, bool):
        answer = "yes" if answer_value else "no"
    else:
        answer = str(answer_value)
    return InstructionSample(
        id="x", images=list(image_ids), question=question, answer=answer, form=form,
        options=options, answer_index=answer_index, answer_value=answer_value,
        answer_type=answer_type,
        provenance=Provenance(source="test", image_ids=list(image_ids), generator=generator,
                              generator_version="1", family=family),
    )
