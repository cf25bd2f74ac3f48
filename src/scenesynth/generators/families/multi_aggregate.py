"""Aggregation over all images of a group: total count of a category, how many images contain
it, and whether every image contains it."""

from __future__ import annotations

import functools
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
from scenesynth.generators.kit import (
    MultiScene,
    Planned,
    balancer_refuses,
    offered_candidates,
    pick_template,
    plural,
)
from scenesynth.graph.keys import template_bucket
from scenesynth.programs.builder import ProgramBuilder

FAMILY = "multi_aggregation"


@register
class TotalCount(Generator):
    spec = GeneratorSpec(
        name="multi_total_count",
        family=FAMILY,
        description="Total number of objects of a category across all images of the group.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.COUNT,
        example="How many cubes are there in all the images together? -> 5",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "total.together": "How many {noun} are there in all the images together?",
        "total.counting": "Counting across all the images, how many {noun} are there?",
        "total.number": "What is the total number of {noun} in these images?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        for name in scene.shuffled_names(countable=True):
            if sum(1 for i in range(scene.k) if name in scene.tables[i].by_name) < 2:
                continue  # in one image only it is a plain single-image count
            total = scene.predicted("sum", [scene.counted(i, name) for i in range(scene.k)])
            tid, template = pick_template(scene.ctx, self.TEMPLATES)
            yield Planned(total, functools.partial(
                self._built, scene, name, tid, template.format(noun=plural(name))),
                template_bucket(self.spec.name, tid))

    def _built(self, scene: MultiScene, name: str, tid: str, text: str) -> Question | None:
        b = ProgramBuilder()
        counts = [scene.count(b, i, name) for i in range(scene.k)]
        b.add("sum", counts)
        return scene.finished(b, text=text, template=tid, answer_type=AnswerType.COUNT,
                              least_count=1)  # the name is in two images at least


@register
class ImagesContaining(Generator):
    spec = GeneratorSpec(
        name="multi_images_containing",
        family=FAMILY,
        description="In how many images of the group a category appears.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.COUNT,
        example="In how many of the images is there a sphere? -> 2",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "images.how_many": "In how many of the images is there {thing}?",
        "images.contain": "How many of the images contain {thing}?",
        "images.show": "How many images show {thing}?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        for name in scene.shuffled_names():
            images = scene.predicted("count_true", [scene.has(i, name) for i in range(scene.k)])
            tid, template = pick_template(scene.ctx, self.TEMPLATES)
            if balancer_refuses(ctx, self.spec.name, tid, images):
                continue  # most categories are in one image: that answer has its share soon
            yield Planned(images, functools.partial(
                self._built, scene, name, tid, template.format(thing=scene.phrase(name))),
                template_bucket(self.spec.name, tid))

    def _built(self, scene: MultiScene, name: str, tid: str, text: str) -> Question | None:
        b = ProgramBuilder()
        exists = [scene.exist(b, i, name) for i in range(scene.k)]
        b.add("count_true", exists)
        return scene.finished(b, text=text, template=tid, answer_type=AnswerType.COUNT,
                              distractors=range(scene.k + 1))


@register
class InEveryImage(Generator):
    spec = GeneratorSpec(
        name="multi_in_every_image",
        family=FAMILY,
        description="Whether every image of the group contains a category.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.YES_NO,
        example="Is there a cylinder in every image? -> no",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "every.is_there": "Is there {thing} in {every}?",
        "every.does_each": "Does {each} contain {thing}?",
        "every.can_see": "Can you see {thing} in {every}?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        every = "both images" if scene.k == 2 else "every image"
        each = "each of the two images" if scene.k == 2 else "each of the images"
        for name in scene.shuffled_names():
            in_every = all(scene.has(i, name) for i in range(scene.k))  # the "and" chain
            tid, template = pick_template(scene.ctx, self.TEMPLATES)
            if balancer_refuses(ctx, self.spec.name, tid, in_every):
                continue  # most categories are not in every image: "no" has its share soon
            text = template.format(thing=scene.phrase(name), every=every, each=each)
            yield Planned(in_every, functools.partial(self._built, scene, name, tid, text),
                          template_bucket(self.spec.name, tid))

    def _built(self, scene: MultiScene, name: str, tid: str, text: str) -> Question | None:
        b = ProgramBuilder()
        last = scene.exist(b, 0, name)
        for i in range(1, scene.k):
            last = b.add("and", [last, scene.exist(b, i, name)])
        return scene.finished(b, text=text, template=tid, answer_type=AnswerType.YES_NO)
