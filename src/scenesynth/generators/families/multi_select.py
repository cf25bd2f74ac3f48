"""Selection across images: which image has the most / fewest X, contains X, has a red X,
has the most objects. Answers are image labels ("Image 2"); ties make the question ambiguous
and it is skipped (the ``image_argmax`` / ``image_where`` ops fail on them)."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import ClassVar

from scenesynth.generators.base import (
    AnswerType,
    GenContext,
    Generator,
    GeneratorSpec,
    Need,
    Question,
    register,
)
from scenesynth.generators.draws import lazy_shuffled
from scenesynth.generators.kit import (
    MultiScene,
    Planned,
    article,
    offered_candidates,
    pick_template,
    plural,
)
from scenesynth.graph import AttributeKind
from scenesynth.graph.keys import template_bucket
from scenesynth.graph.vocab import names_value
from scenesynth.programs.builder import ProgramBuilder

FAMILY = "multi_selection"
# Attribute kinds that make a natural "which image has a <value> <name>" question.
SELECT_KINDS = (AttributeKind.COLOR, AttributeKind.MATERIAL, AttributeKind.SIZE)


def _count_extreme(
    scene: MultiScene, name: str | None, largest: bool, templates: dict[str, str],
    generator: str, noun: str,
) -> Planned | None:
    """Which image has the most (fewest) objects named ``name`` (or objects); None on a tie
    (no single image has the most / fewest)."""
    op = "image_argmax" if largest else "image_argmin"
    answer = scene.predicted(op, [scene.counted(i, name) for i in range(scene.k)])
    if answer is None:
        return None
    tid, template = pick_template(scene.ctx, templates)
    balance_key = f"{generator}/{scene.k}"
    return Planned(answer, functools.partial(
        _count_extreme_built, scene, name, op, tid, template.format(noun=noun), balance_key,
        noun), template_bucket(balance_key, tid))


def _count_extreme_built(
    scene: MultiScene, name: str | None, op: str, tid: str, text: str, balance_key: str,
    noun: str,
) -> Question | None:
    b = ProgramBuilder()
    counts = [scene.count(b, i, name) for i in range(scene.k)]
    b.add(op, counts)
    return scene.finished(
        b,
        text=text,
        template=tid,
        answer_type=AnswerType.IMAGE,
        distractors=scene.image_options(
            ["both have the same number", f"neither has any {noun}"] if scene.k == 2
            else ["they all have the same number", f"none of them has any {noun}"]),
        balance_key=balance_key,
    )


def _count_extreme_questions(
    ctx: GenContext, most: bool, templates: dict[str, str], generator: str
) -> Iterator[Planned]:
    """Which image has the most (fewest) objects of each countable category, ties skipped."""
    scene = MultiScene(ctx)
    for name in scene.shuffled_names(countable=True):
        plan = _count_extreme(scene, name, most, templates, generator, plural(name))
        if plan is not None:
            yield plan



@register
class MostCount(Generator):
    spec = GeneratorSpec(
        name="multi_most_count",
        family=FAMILY,
        description="Which image has the most objects of a category (ties skipped).",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.IMAGE,
        example="Which image has the most cubes? -> Image 2",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "most.which": "Which image has the most {noun}?",
        "most.largest_number": "Which image shows the largest number of {noun}?",
        "most.where": "In which of the images are there the most {noun}?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(
            ctx, _count_extreme_questions(ctx, True, self.TEMPLATES, self.spec.name))


@register
class FewestCount(Generator):
    spec = GeneratorSpec(
        name="multi_fewest_count",
        family=FAMILY,
        description="Which image has the fewest objects of a category (ties skipped).",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.IMAGE,
        example="Which image has the fewest spheres? -> Image 1",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "fewest.which": "Which image has the fewest {noun}?",
        "fewest.smallest_number": "Which image shows the smallest number of {noun}?",
        "fewest.where": "In which of the images are there the fewest {noun}?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(
            ctx, _count_extreme_questions(ctx, False, self.TEMPLATES, self.spec.name))


@register
class MostObjects(Generator):
    spec = GeneratorSpec(
        name="multi_most_objects",
        family=FAMILY,
        description="Which image has the most / the fewest objects overall (ties skipped).",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.IMAGE,
        example="Which image contains the most objects? -> Image 3",
        multi_image=True,
    )
    MOST: ClassVar[dict[str, str]] = {
        "objects_most.which": "Which image contains the most objects?",
        "objects_most.busiest": "Which of the images shows the largest number of objects?",
    }
    FEWEST: ClassVar[dict[str, str]] = {
        "objects_fewest.which": "Which image contains the fewest objects?",
        "objects_fewest.emptiest": "Which of the images shows the smallest number of objects?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        if scene.has_stuff():
            return  # "objects" would include the sky and the grass
        for largest, templates in ((True, self.MOST), (False, self.FEWEST)):
            plan = _count_extreme(scene, None, largest, templates, self.spec.name, "objects")
            if plan is not None:
                yield plan


def _contains_plan(
    scene: MultiScene, name: str, value: str | None, templates: dict[str, str], generator: str,
) -> Planned | None:
    """Which image has an object named ``name`` (with ``value``); None when several images
    have one, or none does."""
    answer = scene.predicted("image_where", [scene.has(i, name, value) for i in range(scene.k)])
    if answer is None:
        return None
    thing = scene.phrase(name) if value is None else article(f"{value} {name}")
    tid, template = pick_template(scene.ctx, templates)
    balance_key = f"{generator}/{scene.k}"
    return Planned(answer, functools.partial(
        _contains_built, scene, name, value, tid, template.format(thing=thing), balance_key),
        template_bucket(balance_key, tid))


def _contains_built(
    scene: MultiScene, name: str, value: str | None, tid: str, text: str, balance_key: str,
) -> Question | None:
    b = ProgramBuilder()
    exists = [scene.exist(b, i, name, value) for i in range(scene.k)]
    b.add("image_where", exists)
    return scene.finished(
        b,
        text=text,
        template=tid,
        answer_type=AnswerType.IMAGE,
        distractors=scene.image_options([scene.both_or_all(), scene.neither_or_none()]),
        balance_key=balance_key,
    )


@register
class WhichContains(Generator):
    spec = GeneratorSpec(
        name="multi_which_contains",
        family=FAMILY,
        description="Which image contains an object of a category found in exactly one image.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.IMAGE,
        example="Which image contains a horse? -> Image 1",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "contains.which": "Which image contains {thing}?",
        "contains.see": "In which image can you see {thing}?",
        "contains.shows": "Which of the images shows {thing}?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        for name in scene.shuffled_names():
            plan = _contains_plan(scene, name, None, self.TEMPLATES, self.spec.name)
            if plan is not None:
                yield plan


@register
class WhichHasAttribute(Generator):
    spec = GeneratorSpec(
        name="multi_which_attribute",
        family=FAMILY,
        description=(
            "Which image has an object of a category with a given colour / material / size, "
            "when the category is in several images but the attribute in only one"
        ),
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.IMAGE,
        example="Which image has a red cube? -> Image 2",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "attr.which_has": "Which image has {thing}?",
        "attr.where": "In which image is there {thing}?",
        "attr.shows": "Which of the images shows {thing}?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        candidates: list[tuple[str, str]] = []
        for name in scene.all_names():
            holders = [i for i in range(scene.k) if name in scene.tables[i].by_name]
            if len(holders) < 2:
                continue  # in one image only: the attribute would not be what selects it
            for kind in SELECT_KINDS:
                # a definite "no" needs every object of the category to state its `kind`
                if not scene.kind_complete(kind, name):
                    continue
                values = sorted({
                    v for i in holders for r in scene.tables[i].by_name[name]
                    for v in scene.tables[i].attr_by_kind[r].get(kind, ())
                    if not names_value(name, v)
                })
                candidates.extend((name, v) for v in values)
        for name, value in itertools.islice(lazy_shuffled(ctx.rng, candidates),
                                            ctx.config.max_per_generator):
            plan = _contains_plan(scene, name, value, self.TEMPLATES, self.spec.name)
            if plan is not None:
                yield plan
