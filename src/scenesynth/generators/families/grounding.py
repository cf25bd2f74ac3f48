"""Grounding, referring expressions, scene description and logic combinations."""

from __future__ import annotations

import itertools
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
from scenesynth.generators.draws import (
    lazy_shuffled,
    pick_int,
    pick_k,
    random_pairs_of,
    shuffled,
)
from scenesynth.generators.families.by_box import MIN_IOU, box_text, box_unique
from scenesynth.generators.kit import (
    article,
    balancer_refuses,
    concept_kind,
    concepts,
    countable_name,
    finish,
    name_distractors,
    pick_template,
    plural,
    stuff_region_name,
    tables,
)
from scenesynth.generators.refer import refer
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.tables import SceneTables


def _other_boxes(t: SceneTables, r: str, limit: int = 8) -> list[list[float]]:
    """Boxes of the first ``limit`` other objects in scene order (distractors)."""
    # the first limit + 1 objects cover every r; their rounded boxes are memoised per graph
    return [t.rounded_box(x) for x in t.scene[: limit + 1] if x != r][:limit]


BOX_TEMPLATES = {
    "box_what": "What is the bounding box of {ref}?",
    "box_give": "Give the bounding box coordinates [x0, y0, x1, y1] of {ref}.",
    "box_where": "Where exactly is {ref}? Answer with a box [x0, y0, x1, y1] in pixels.",
}


@register
class GroundingBox(Generator):
    spec = GeneratorSpec(
        name="grounding_box",
        family="grounding",
        description="Box of the X (pixels, x0 y0 x1 y1, origin top-left)",
        needs=frozenset({Need.NAMES, Need.BOXES}),
        answer_type=AnswerType.BOX,
        example="What is the bounding box of the dog? -> [12, 40, 200, 310]",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for r in lazy_shuffled(ctx.rng, t.scene):
            ref = refer(t, r)
            if ref is None:
                continue
            b = ProgramBuilder()
            b.add("query_box", [b.add_reference(ref)])
            tid, tpl = pick_template(ctx, BOX_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(ref=ref.text), template=tid,
                       answer_type=AnswerType.BOX, objects=ref.objects,
                       relations=ref.relations, distractors=_other_boxes(t, r))
            if q is not None:
                yield q


REFER_TEMPLATES = {
    "refer_locate": "Locate {ref} and give its bounding box.",
    "refer_find": "Find the object described as \"{ref}\". What is its bounding box?",
}


@register
class ReferringExpression(Generator):
    spec = GeneratorSpec(
        name="referring_expression",
        family="grounding",
        description="Referring-expression comprehension: objects whose name alone is "
        "ambiguous, picked out by attributes or a relation; answer is the box",
        needs=frozenset({Need.NAMES, Need.BOXES}),
        answer_type=AnswerType.BOX,
        example="Locate the small cube to the left of the sphere and give its bounding box.",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        ambiguous = [r for r in t.scene if len(t.by_name[t.names[r]]) > 1]
        for r in lazy_shuffled(ctx.rng, ambiguous):
            ref = refer(t, r)
            if ref is None:
                continue
            b = ProgramBuilder()
            b.add("query_box", [b.add_reference(ref)])
            tid, tpl = pick_template(ctx, REFER_TEMPLATES)
            same_name = [t.rounded_box(x) for x in t.by_name[t.names[r]] if x != r]
            q = finish(ctx, b, text=tpl.format(ref=ref.text), template=tid,
                       answer_type=AnswerType.BOX, objects=ref.objects,
                       relations=ref.relations, distractors=[*same_name, *_other_boxes(t, r)])
            if q is not None:
                yield q


IDENTIFY_TEMPLATES = {
    "identify_what": "What object is in the region {box}?",
    "identify_which": "Which object does the box {box} contain?",
}


@register
class GroundingIdentify(Generator):
    spec = GeneratorSpec(
        name="grounding_identify",
        family="grounding",
        description="Which object is in box B? (asked when only that object's box has IoU >= "
        "0.5 with B)",
        needs=frozenset({Need.NAMES, Need.BOXES}),
        answer_type=AnswerType.NAME,
        example="What object is in the region [12, 40, 200, 310]? -> dog",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for r in lazy_shuffled(ctx.rng, t.scene):
            if not box_unique(t, r):  # the box would pick out another object too
                continue
            target = t.rounded_box(r)
            b = ProgramBuilder()
            s = b.add("filter_box", [b.add("scene", image=0)], box=target, min_iou=MIN_IOU)
            b.add("query_name", [b.add("unique", [s])])
            tid, tpl = pick_template(ctx, IDENTIFY_TEMPLATES)
            text = tpl.format(box=box_text(target))
            q = finish(ctx, b, text=text, template=tid, answer_type=AnswerType.NAME,
                       objects=[r], distractors=name_distractors(ctx, t, t.names[r]))
            if q is not None:
                yield q


DESCRIBE_TEMPLATES = {
    "describe_objects": "Describe the objects in the image.",
    "describe_list": "List every object you can see, with its attributes.",
}


@register
class SceneDescription(Generator):
    spec = GeneratorSpec(
        name="scene_description",
        family="description",
        description="Dense description from the graph: every object with its attributes",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.TEXT,
        example="Describe the objects in the image. -> large blue rubber cube, ...",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        b = ProgramBuilder()
        b.add("describe_objects", [b.add("scene", image=0)])
        tid, tpl = pick_template(ctx, DESCRIBE_TEMPLATES)
        q = finish(ctx, b, text=tpl, template=tid, answer_type=AnswerType.TEXT,
                   objects=list(tables(ctx).scene))
        if q is not None:
            yield q


RELATION_CAPTION_TEMPLATES = {
    "relcap_describe": "Describe the relationships between the objects in the image.",
    "relcap_list": "List the relations between objects in this scene.",
}


@register
class RelationCaption(Generator):
    spec = GeneratorSpec(
        name="relation_caption",
        family="description",
        description="Dense relation caption: the annotated relations as 'subject predicate "
        "object' whose subject and object names are unique in the image and whose spatial "
        "predicates hold by geometry (graphs with non-geometric annotations)",
        needs=frozenset({Need.NAMES, Need.RELATIONS}),
        answer_type=AnswerType.TEXT,
        example="Describe the relationships between the objects. -> man riding horse, ...",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if all(o.position is not None for o in t.objects.values()):
            return  # CLEVR-style all-pairs spatial lists are not captions
        b = ProgramBuilder()
        # only relations a reader can resolve: both names unique in the image, and a spatial
        # predicate true by geometry ("crate on top of crate" names no particular crate)
        b.add("describe_relations", [b.add("scene", image=0)], resolvable=True)
        tid, tpl = pick_template(ctx, RELATION_CAPTION_TEMPLATES)
        q = finish(ctx, b, text=tpl, template=tid, answer_type=AnswerType.TEXT,
                   objects=list(t.scene))
        if q is not None and q.answer:
            yield q


def _exist_steps(b: ProgramBuilder, concept: tuple[str, str | None]) -> int:
    name, value = concept
    s = b.add("filter_name", [b.add("scene", image=0)], name=name)
    if value:
        s = b.add("filter_attr", [s], value=value)
    return b.add("exist", [s])


def _phrase(concept: tuple[str, str | None]) -> str:
    return article(f"{concept[1]} {concept[0]}" if concept[1] else concept[0])


# each registration is a subclass made at import time (base.register), which a compiled
# class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class Logic(Generator):
    """Two existence tests joined by ``op`` ('and' / 'or'); half the questions are true.
    Registered once per op below."""

    op: ClassVar[str]
    templates: ClassVar[dict[str, str]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        op = self.op
        t = tables(ctx)
        present, absent = concepts(ctx, t)
        if len(present) < 2 and not absent:
            return
        for i in range(30):
            # half the questions are true: 'and' needs both present, 'or' needs one present
            want = i % 2 == 0
            n_present = (2 if want else pick_int(ctx.rng, 0, 1)) if op == "and" else (
                pick_int(ctx.rng, 1, 2) if want else 0)
            if n_present > len(present) or 2 - n_present > len(absent):
                continue
            chosen = shuffled(ctx.rng, pick_k(ctx.rng, present, n_present)
                              + pick_k(ctx.rng, absent, 2 - n_present))
            if chosen[0][0] == chosen[1][0]:
                continue
            if stuff_region_name(t, chosen[0][0]) or stuff_region_name(t, chosen[1][0]):
                continue  # "Is there a tree" of a region of trees: no article fits the template
            tid, tpl = pick_template(ctx, self.templates)
            # yes balanced per wording: a bare CLEVR shape is nearly always there, a colour
            # combination often not, so the kinds of the attributes named would otherwise tell
            # the answer
            first, second = concept_kind(chosen[0][1]), concept_kind(chosen[1][1])
            kinds = f"{first}+{second}" if first <= second else f"{second}+{first}"
            key = f"logic_{op}:{kinds}"
            if balancer_refuses(ctx, key, tid, want):
                continue
            b = ProgramBuilder()
            e1 = _exist_steps(b, chosen[0])
            e2 = _exist_steps(b, chosen[1])
            b.add(op, [e1, e2])
            q = finish(ctx, b, text=tpl.format(a=_phrase(chosen[0]), b=_phrase(chosen[1])),
                       template=tid, answer_type=AnswerType.YES_NO, balance_key=key)
            if q is not None:
                yield q


register(Logic, GeneratorSpec(
    name="logic_and",
    family="logic",
    description="Are there both an X and a Y? (two existence tests joined by 'and')",
    needs=frozenset({Need.NAMES}),
    answer_type=AnswerType.YES_NO,
    example="Are there both a red cube and a sphere in the image? -> yes",
), op="and", templates={
    "and_both": "Are there both {a} and {b} in the image?",
    "and_is": "Is there {a} and also {b}?",
})
register(Logic, GeneratorSpec(
    name="logic_or",
    family="logic",
    description="Is there an X or a Y? (two existence tests joined by 'or')",
    needs=frozenset({Need.NAMES}),
    answer_type=AnswerType.YES_NO,
    example="Is there a dog or a cat in the image? -> no",
), op="or", templates={
    "or_either": "Is there {a} or {b} in the image?",
    "or_any": "Does the image contain {a} or {b}?",
})


COMPARE_COUNT_TEMPLATES = {
    "more_are_there": "Are there more {a} than {b}?",
    "more_greater": "Is the number of {a} greater than the number of {b}?",
}
FEWER_COUNT_TEMPLATES = {
    "fewer_are_there": "Are there fewer {a} than {b}?",
    "fewer_less": "Is the number of {a} smaller than the number of {b}?",
}


@register
class CompareCount(Generator):
    spec = GeneratorSpec(
        name="compare_count",
        family="comparison",
        description="Are there more (fewer) X than Y? (count_distinct on both sides)",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.YES_NO,
        example="Are there more cubes than spheres? -> yes",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        would_keep = ctx.would_keep
        for a, c in itertools.islice(random_pairs_of(ctx.rng, sorted(t.by_name)), 60):
            more = ctx.rng.random() < 0.5
            if not (countable_name(t, a) and countable_name(t, c)):
                continue  # "fewer people than sky": stuff is not counted
            # skip building a comparison the balancer would reject (most pairs of names have
            # equal counts: "no"); the answer still comes from the program
            na, nc = len(t.by_name[a]), len(t.by_name[c])
            expected = na > nc if more else na < nc
            if would_keep is not None and not would_keep(self.spec.name, expected):
                continue
            templates = COMPARE_COUNT_TEMPLATES if more else FEWER_COUNT_TEMPLATES
            tid, tpl = pick_template(ctx, templates)
            if balancer_refuses(ctx, self.spec.name, tid, expected):
                continue
            b = ProgramBuilder()
            ca = b.add("count_distinct", [b.add("filter_name", [b.add("scene", image=0)],
                                                name=a)], iou=ctx.config.duplicate_iou)
            cc = b.add("count_distinct", [b.add("filter_name", [b.add("scene", image=0)],
                                                name=c)], iou=ctx.config.duplicate_iou)
            b.add("greater" if more else "less", [ca, cc])
            q = finish(ctx, b, text=tpl.format(a=plural(a), b=plural(c)), template=tid,
                       answer_type=AnswerType.YES_NO)
            if q is not None:
                yield q
