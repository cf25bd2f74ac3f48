"""Comparison between two images: categories in common, categories only in one, same count,
more than, and how many more. Answers are executed programs over both images."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import ClassVar

from mypy_extensions import mypyc_attr

from scenesynth.generators.base import (
    AnswerType,
    GenContext,
    Generator,
    GeneratorSpec,
    Need,
    Question,
    register,
)
from scenesynth.generators.draws import first_shuffled
from scenesynth.generators.kit import (
    MultiScene,
    Planned,
    balancer_refuses,
    finish,
    list_distractors,
    offered_candidates,
    pick_template,
    plural,
)
from scenesynth.graph.keys import template_bucket
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.ops import image_label

FAMILY = "multi_comparison"
MAX_LIST_ANSWER = 6  # longer category lists make poor short answers


def _name_set_question(
    scene: MultiScene, a: int, b_image: int, op: str, templates: dict[str, str],
) -> Question | None:
    b = ProgramBuilder()
    names_a = b.add("query_names", [b.add("scene", image=a)])
    names_b = b.add("query_names", [b.add("scene", image=b_image)])
    b.add(op, [names_a, names_b])
    outputs = scene.run(b)
    if outputs is None:
        return None
    answer = outputs[-1]
    if not answer or len(answer) > MAX_LIST_ANSWER:
        return None
    # "a man" in one image and "a person" in the other are not told apart by names alone
    if any(scene.synonym_clash(n) for n in set(outputs[names_a]) | set(outputs[names_b])):
        return None
    universe = set(outputs[names_a]) | set(outputs[names_b])
    tid, template = pick_template(scene.ctx, templates)
    return finish(
        scene.ctx, b,
        text=template.format(a=image_label(a), b=image_label(b_image)),
        template=tid,
        answer_type=AnswerType.TEXT,
        distractors=list_distractors(answer, universe, scene.rng),
        objects=[],
        outputs=outputs,
    )


@register
class CommonCategories(Generator):
    spec = GeneratorSpec(
        name="multi_common_categories",
        family=FAMILY,
        description="Which object categories two images have in common.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.TEXT,
        example="Which kinds of objects appear in both Image 1 and Image 2? -> cube, sphere",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "common.appear": "Which kinds of objects appear in both {a} and {b}?",
        "common.share": "What types of objects do {a} and {b} have in common?",
        "common.name": "Name the object categories that {a} and {b} share.",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Question]:
        scene = MultiScene(ctx)
        for a, b in scene.pairs():
            if a > b:
                continue  # "in common" is symmetric
            q = _name_set_question(scene, a, b, "common_values", self.TEMPLATES)
            if q is not None:
                yield q


@register
class OnlyInOne(Generator):
    spec = GeneratorSpec(
        name="multi_only_in_one",
        family=FAMILY,
        description="Which object categories appear in one image but not in another.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.TEXT,
        example="Which kinds of objects appear in Image 1 but not in Image 2? -> cylinder",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "only.appear": "Which kinds of objects appear in {a} but not in {b}?",
        "only.missing": "What types of objects does {a} show that are missing from {b}?",
        "only.name": "Name the object categories present in {a} and absent from {b}.",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Question]:
        scene = MultiScene(ctx)
        for a, b in scene.pairs():
            q = _name_set_question(scene, a, b, "difference_values", self.TEMPLATES)
            if q is not None:
                yield q


def _pair_counts(
    scene: MultiScene, a: int, b_image: int, name: str
) -> tuple[ProgramBuilder, int, int]:
    b = ProgramBuilder()
    return b, scene.count(b, a, name), scene.count(b, b_image, name)


def _count_pair_question(
    scene: MultiScene, a: int, b_image: int, name: str, op: str, tid: str, text: str,
    answer_type: AnswerType, least_count: int,
) -> Question | None:
    """``op`` over the counts of ``name`` in images ``a`` and ``b_image``."""
    b, ca, cb = _pair_counts(scene, a, b_image, name)
    b.add(op, [ca, cb])
    return scene.finished(b, text=text, template=tid, answer_type=answer_type,
                          least_count=least_count)


def _count_pairs(scene: MultiScene, limit: int) -> list[tuple[int, int, str]]:
    """(image a, image b, category) with the category in at least one of the two images."""
    out: list[tuple[int, int, str]] = []
    for a, b in scene.pairs():
        for name in sorted(scene.names(a) | scene.names(b)):
            if not scene.synonym_clash(name) and not scene.is_stuff(name):
                out.append((a, b, name))
    return first_shuffled(scene.rng, out, limit * 4)


# each registration is a subclass made at import time (base.register), which a compiled
# class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class CompareCounts(Generator):
    """Yes/no questions comparing one category's count in two images with ``op`` (an op over
    two numbers); ``unordered`` asks each image pair once (a symmetric comparison).
    Registered once per comparison below."""

    op: ClassVar[str]
    unordered: ClassVar[bool]
    templates: ClassVar[dict[str, str]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        for a, b_image, name in _count_pairs(scene, ctx.config.max_per_generator):
            if self.unordered and a > b_image:
                continue
            answer = scene.predicted(self.op, [scene.counted(a, name),
                                               scene.counted(b_image, name)])
            tid, template = pick_template(ctx, self.templates)
            if balancer_refuses(ctx, self.spec.name, tid, answer):
                continue  # counts mostly differ: one answer soon has its share
            text = template.format(a=image_label(a), b=image_label(b_image), noun=plural(name))
            yield Planned(answer, functools.partial(
                _count_pair_question, scene, a, b_image, name, self.op, tid, text,
                AnswerType.YES_NO, 0), template_bucket(self.spec.name, tid))


register(CompareCounts, GeneratorSpec(
    name="multi_same_count",
    family=FAMILY,
    description="Whether two images contain the same number of objects of a category.",
    needs=frozenset({Need.NAMES}),
    answer_type=AnswerType.YES_NO,
    example="Do Image 1 and Image 2 contain the same number of cubes? -> no",
    multi_image=True,
), op="equal", unordered=True, templates={
    "same.contain": "Do {a} and {b} contain the same number of {noun}?",
    "same.as_many": "Are there as many {noun} in {a} as in {b}?",
    "same.equal": "Is the number of {noun} in {a} equal to the number in {b}?",
})
register(CompareCounts, GeneratorSpec(
    name="multi_more_than",
    family=FAMILY,
    description="Whether one image contains more objects of a category than another.",
    needs=frozenset({Need.NAMES}),
    answer_type=AnswerType.YES_NO,
    example="Are there more spheres in Image 2 than in Image 1? -> yes",
    multi_image=True,
), op="greater", unordered=False, templates={
    "more.are_there": "Are there more {noun} in {a} than in {b}?",
    "more.does_show": "Does {a} show more {noun} than {b}?",
    "more.greater": "Is the number of {noun} in {a} greater than in {b}?",
})


@register
class CountDifference(Generator):
    spec = GeneratorSpec(
        name="multi_count_difference",
        family=FAMILY,
        description="How many more objects of a category one image has than another.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.COUNT,
        example="How many more cubes are there in Image 1 than in Image 2? -> 2",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "diff.how_many_more": "How many more {noun} are there in {a} than in {b}?",
        "diff.by_how_many": "By how many does the number of {noun} in {a} exceed that in {b}?",
        "diff.more_than": "{a} has how many more {noun} than {b}?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        for a, b_image, name in _count_pairs(scene, ctx.config.max_per_generator):
            more = scene.predicted("subtract", [scene.counted(a, name),
                                                scene.counted(b_image, name)])
            if more <= 0:
                continue  # "how many more" presumes image a has more
            tid, template = pick_template(scene.ctx, self.TEMPLATES)
            if balancer_refuses(ctx, self.spec.name, tid, more):
                continue  # differences of 1 are the most common: they have their share soon
            text = template.format(a=image_label(a), b=image_label(b_image), noun=plural(name))
            yield Planned(more, functools.partial(
                _count_pair_question, scene, a, b_image, name, "subtract", tid, text,
                AnswerType.COUNT, 1),  # least_count: asked only when image a has more
                template_bucket(self.spec.name, tid))
