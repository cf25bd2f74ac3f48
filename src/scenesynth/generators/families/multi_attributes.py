"""Attribute comparison across images: same colour/material of two uniquely described objects,
colours (or other attribute values) two images share, and which image has the most objects of
an attribute value."""

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
from scenesynth.generators.draws import lazy_shuffled, random_order
from scenesynth.generators.kit import (
    MultiScene,
    Planned,
    balancer_refuses,
    finish,
    list_distractors,
    offered_candidates,
    pick_template,
)
from scenesynth.generators.refer import Reference, refer
from scenesynth.graph import AttributeKind
from scenesynth.graph.keys import template_bucket
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.ops import image_label
from scenesynth.programs.tables import SceneTables

FAMILY = "multi_attribute"
COMPARE_KINDS = (AttributeKind.COLOR, AttributeKind.MATERIAL, AttributeKind.SIZE,
                 AttributeKind.SHAPE)
KIND_WORDS = {AttributeKind.COLOR: ("color", "colors"),
              AttributeKind.MATERIAL: ("material", "materials"),
              AttributeKind.SIZE: ("size", "sizes"),
              AttributeKind.SHAPE: ("shape", "shapes")}
MAX_PAIRS_PER_IMAGE_PAIR = 12


def _comparable(t: SceneTables, kind: str) -> list[str]:
    """The objects with one value of ``kind`` that their name does not state (a "cube" with
    shape cube would give the answer away), in scene order."""
    return [r for r in t.scene
            if len(t.attr_by_kind[r].get(kind, ())) == 1
            and t.attr_by_kind[r][kind][0] != t.names[r]]


@register
class SameAttribute(Generator):
    spec = GeneratorSpec(
        name="multi_same_attribute",
        family=FAMILY,
        description=(
            "Whether a uniquely described object in one image has the same colour / material / "
            "size / shape as a uniquely described object in another image"
        ),
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.YES_NO,
        example="Does the sphere in Image 1 have the same color as the cube in Image 2? -> yes",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "same_attr.have": "Does {x} in {a} have the same {kind} as {y} in {b}?",
        "same_attr.is": "Is {x} in {a} the same {kind} as {y} in {b}?",
        "same_attr.match": "Do {x} in {a} and {y} in {b} match in {kind}?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Planned]:
        scene = MultiScene(ctx)
        limit = ctx.config.max_per_generator
        candidates: list[tuple[int, int, str, str, str]] = []
        for a, b_image in scene.pairs():
            if a > b_image:
                continue
            ta, tb = scene.tables[a], scene.tables[b_image]
            # per kind, the objects of each image with one value of it; the pairs are every
            # x of the first image with every y of the second, kind by kind, of which 12
            # are drawn: each built from its position (the pairs grow with the square of
            # the objects)
            per_kind: list[tuple[str, list[str], list[str]]] = []
            for kind in COMPARE_KINDS:
                xs, ys = _comparable(ta, kind), _comparable(tb, kind)
                if xs and ys:
                    per_kind.append((str(kind), xs, ys))
            total = sum(len(xs) * len(ys) for _, xs, ys in per_kind)
            for index in itertools.islice(random_order(ctx.rng, total),
                                          MAX_PAIRS_PER_IMAGE_PAIR):
                for kind_name, xs, ys in per_kind:
                    if index < len(xs) * len(ys):
                        xi, yi = divmod(index, len(ys))
                        candidates.append((a, b_image, kind_name, xs[xi], ys[yi]))
                        break
                    index -= len(xs) * len(ys)
        for a, b_image, kind_name, x, y in itertools.islice(
                lazy_shuffled(ctx.rng, candidates), limit * 2):
            kind = AttributeKind(kind_name)
            # what query_attr gives each (its one value of the kind), compared
            same = (scene.tables[a].attr_by_kind[x][kind][0]
                    == scene.tables[b_image].attr_by_kind[y][kind][0])
            tid, template = pick_template(scene.ctx, self.TEMPLATES)
            # "same colour" is rare among eight colours: most candidates are "no", which the
            # balancer refuses once it has its share; those are not built, and their
            # referring expressions (the costly part) are not even looked for
            if balancer_refuses(ctx, self.spec.name, tid, same):
                continue
            # the phrases must not use the compared kind, or the answer would be given away
            ref_x = refer(scene.tables[a], x, avoid_kinds=(str(kind),))
            ref_y = refer(scene.tables[b_image], y, avoid_kinds=(str(kind),))
            if ref_x is None or ref_y is None:
                continue
            text = template.format(x=ref_x.text, y=ref_y.text, a=image_label(a),
                                   b=image_label(b_image), kind=KIND_WORDS[kind][0])
            yield Planned(same, functools.partial(
                self._built, scene, ref_x, ref_y, str(kind), tid, text),
                template_bucket(self.spec.name, tid))

    def _built(
        self, scene: MultiScene, ref_x: Reference, ref_y: Reference, kind: str, tid: str,
        text: str,
    ) -> Question | None:
        b = ProgramBuilder()
        qx = b.add("query_attr", [b.extend(ref_x.steps)], kind=kind)
        qy = b.add("query_attr", [b.extend(ref_y.steps)], kind=kind)
        b.add("equal", [qx, qy])
        return scene.finished(b, text=text, template=tid, answer_type=AnswerType.YES_NO,
                              relations=[*ref_x.relations, *ref_y.relations],
                              objects=sorted({*ref_x.objects, *ref_y.objects}))


@register
class CommonAttributeValues(Generator):
    spec = GeneratorSpec(
        name="multi_common_attribute_values",
        family=FAMILY,
        description="Which colours / materials / sizes / shapes occur in both of two images.",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.TEXT,
        example="Which colors appear in both Image 1 and Image 3? -> blue, red",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "common_attr.appear": "Which {kinds} appear in both {a} and {b}?",
        "common_attr.share": "What {kinds} do the objects of {a} and {b} have in common?",
        "common_attr.occur": "List the object {kinds} that occur in {a} as well as in {b}.",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Question]:
        scene = MultiScene(ctx)
        for a, b_image in scene.pairs():
            if a > b_image:
                continue
            for kind in COMPARE_KINDS:
                # an image where some object's value is unknown could hide a shared value
                if not scene.kind_complete(kind, images=(a, b_image)):
                    continue
                if all(scene.tables[i].attr_by_kind[r][kind] == (scene.tables[i].names[r],)
                       for i in (a, b_image) for r in scene.tables[i].scene):
                    continue  # the value is the name (CLEVR shapes): multi_common_categories
                b = ProgramBuilder()
                va = b.add("attr_values", [b.add("scene", image=a)], kind=str(kind))
                vb = b.add("attr_values", [b.add("scene", image=b_image)], kind=str(kind))
                b.add("common_values", [va, vb])
                outputs = scene.run(b)
                if outputs is None or not outputs[-1] or len(outputs[-1]) > 6:
                    continue
                tid, template = pick_template(scene.ctx, self.TEMPLATES)
                text = template.format(kinds=KIND_WORDS[kind][1], a=image_label(a),
                                       b=image_label(b_image))
                universe = set(outputs[va]) | set(outputs[vb])
                q = finish(
                    scene.ctx, b,
                    text=text,
                    template=tid,
                    answer_type=AnswerType.TEXT,
                    distractors=list_distractors(outputs[-1], universe, ctx.rng),
                    objects=[],
                    balance_key=f"{self.spec.name}/{kind}",
                    outputs=outputs,
                )
                if q is not None:
                    yield q


@register
class MostWithAttribute(Generator):
    spec = GeneratorSpec(
        name="multi_most_with_attribute",
        family=FAMILY,
        description="Which image has the most objects with a given attribute value.",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.IMAGE,
        example="Which image has the most red objects? -> Image 2",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "most_attr.which": "Which image has the most {value} objects?",
        "most_attr.largest": "Which image shows the largest number of {value} objects?",
        "most_attr.where": "In which of the images are there the most {value} objects?",
    }

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Question]:
        scene = MultiScene(ctx)
        candidates: list[str] = []
        for kind in (AttributeKind.COLOR, AttributeKind.MATERIAL, AttributeKind.SIZE):
            if not scene.kind_complete(kind):
                continue  # unannotated objects would make the counts unreliable
            candidates.extend(sorted({
                v for t in scene.tables for r in t.scene for v in t.attr_by_kind[r].get(kind, ())
            }))
        for value in itertools.islice(lazy_shuffled(ctx.rng, candidates),
                                      ctx.config.max_per_generator):
            b = ProgramBuilder()
            counts = [scene.count(b, i, None, value) for i in range(scene.k)]
            b.add("image_argmax", counts)
            outputs = scene.run(b)
            if outputs is None:
                continue
            tid, template = pick_template(scene.ctx, self.TEMPLATES)
            extra = (["both have the same number", f"neither has any {value} objects"]
                     if scene.k == 2 else
                     ["they all have the same number", f"none of them has any {value} objects"])
            q = finish(
                scene.ctx, b,
                text=template.format(value=value),
                template=tid,
                answer_type=AnswerType.IMAGE,
                distractors=scene.image_options(extra),  # finish drops the answer
                balance_key=f"{self.spec.name}/{scene.k}",
                objects=scene.matched_objects(b, outputs),
                outputs=outputs,
            )
            if q is not None:
                yield q
