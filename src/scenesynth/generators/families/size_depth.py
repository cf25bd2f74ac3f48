"""How big and how far: which of two objects is closer, bigger, larger in area or volume, the
depth order of 2-4 objects, and which object of the image is closest, farthest or largest.
Measures come from the graph (depth, box area, mask area, 3D size); a comparison is asked only
when the values differ clearly (``config.compare_margin``)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
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
from scenesynth.generators.draws import pick_int, pick_k
from scenesynth.generators.kit import (
    bare,
    clearly_different,
    finish,
    name_distractors,
    pick_template,
    random_pairs,
    spatial_pairs,
    tables,
    uncountable,
)
from scenesynth.generators.refer import refer
from scenesynth.graph import SceneGraph
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.tables import SceneTables


def _choice_names(ra_text: str, rb_text: str, na: str, nb: str) -> tuple[str, str]:
    """Answer strings naming each object: the name when names differ, else the phrase."""
    if na != nb:
        return na, nb
    return bare(ra_text), bare(rb_text)


def _compare_choice(
    ctx: GenContext,
    t: SceneTables,
    measure_name: str,
    templates: dict[str, str],
    larger_wins: bool,
    key: str,
) -> Iterator[Question]:
    """Which of two objects has the larger (or smaller) measure, asked only when the two
    values differ by ``config.compare_margin``."""
    margin = ctx.config.compare_margin
    for a, c in spatial_pairs(ctx, t, limit=200):
        if a > c:  # each unordered pair once; the rng picks the order in the text
            continue
        try:
            va, vc = t.measure_of(a, measure_name), t.measure_of(c, measure_name)
        except KeyError:
            continue
        if not clearly_different(va, vc, margin):
            continue
        if ctx.rng.random() < 0.5:
            a, c = c, a
        ra = refer(t, a, avoid_objects=(c,))
        rc = refer(t, c, avoid_objects=(a,))
        if ra is None or rc is None:
            continue
        name_a, name_c = _choice_names(ra.text, rc.text, t.names[a], t.names[c])
        b = ProgramBuilder()
        ma = b.add("measure", [b.add_reference(ra)], measure=measure_name)
        mc = b.add("measure", [b.add_reference(rc)], measure=measure_name)
        g = b.add("greater" if larger_wins else "less", [ma, mc])
        b.add("select", [g], if_true=name_a, if_false=name_c)
        tid, tpl = pick_template(ctx, templates)
        q = finish(ctx, b, text=tpl.format(a=ra.text, b=rc.text), template=tid,
                   answer_type=AnswerType.NAME, objects=[*ra.objects, *rc.objects],
                   relations=[*ra.relations, *rc.relations], balance_key=key)
        if q is not None:
            yield q


ChoiceWording = tuple[dict[str, str], bool, str]  # templates, larger wins, balance key


def _compare_both_ways(
    ctx: GenContext, t: SceneTables, measure_name: str, first: ChoiceWording,
    second: ChoiceWording,
) -> Iterator[Question]:
    """Two :func:`_compare_choice` streams on one measure (closer / farther, bigger /
    smaller), alternated with ``first`` first, until either runs out."""
    streams = (_compare_choice(ctx, t, measure_name, *first),
               _compare_choice(ctx, t, measure_name, *second))
    for pair in zip(*streams, strict=False):
        yield from pair


DEPTH_TEMPLATES = {
    "depth_closer": "Which is closer to the camera, {a} or {b}?",
    "depth_nearer": "Which one is nearer to the viewer: {a} or {b}?",
}
FARTHER_TEMPLATES = {
    "depth_farther": "Which is farther from the camera, {a} or {b}?",
    "depth_further": "Which one is further away: {a} or {b}?",
}
SIZE_TEMPLATES = {
    "size_bigger": "Which is bigger in the image, {a} or {b}?",
    "size_larger": "Which one takes up more space in the picture: {a} or {b}?",
}
SMALLER_TEMPLATES = {
    "size_smaller": "Which is smaller in the image, {a} or {b}?",
    "size_less": "Which one takes up less space in the picture: {a} or {b}?",
}
MASK_TEMPLATES = {
    "mask_more": "Which covers more of the image, {a} or {b}?",
    "mask_area": "Which has the larger visible area: {a} or {b}?",
}


@mypyc_attr(allow_interpreted_subclasses=True)  # registered as subclasses (base.register)
class CompareMeasure(Generator):
    """Which of two objects has the larger (or smaller) ``measure`` (an op ``measure``: depth,
    box_area, mask_area), in each of ``wordings`` (templates, larger wins, balance key; two
    wordings alternate, e.g. closer / farther). Registered once per measure below."""

    measure: ClassVar[str]
    wordings: ClassVar[tuple[ChoiceWording, ...]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if self.measure == "depth" and not t.all_depth:
            return
        if len(self.wordings) == 1:
            yield from _compare_choice(ctx, t, self.measure, *self.wordings[0])
            return
        first, second = self.wordings
        yield from _compare_both_ways(ctx, t, self.measure, first, second)


register(CompareMeasure, GeneratorSpec(
    name="compare_depth",
    family="comparison",
    description="Which is closer to (farther from) the camera, the X or the Y? (depth, "
    "relative margin config.compare_margin)",
    needs=frozenset({Need.NAMES, Need.DEPTH}),
    answer_type=AnswerType.NAME,
    example="Which is closer to the camera, the cube or the sphere? -> cube",
), measure="depth", wordings=(
    (DEPTH_TEMPLATES, False, "compare_depth:closer"),
    (FARTHER_TEMPLATES, True, "compare_depth:farther"),
))
register(CompareMeasure, GeneratorSpec(
    name="compare_size",
    family="comparison",
    description="Which is bigger (smaller) in the image, the X or the Y? (box area)",
    needs=frozenset({Need.NAMES, Need.BOXES}),
    answer_type=AnswerType.NAME,
    example="Which is bigger in the image, the dog or the cat? -> dog",
), measure="box_area", wordings=(
    (SIZE_TEMPLATES, True, "compare_size:bigger"),
    (SMALLER_TEMPLATES, False, "compare_size:smaller"),
))
register(CompareMeasure, GeneratorSpec(
    name="compare_mask_area",
    family="comparison",
    description="Which covers more of the image, the X or the Y? (segmentation mask area)",
    needs=frozenset({Need.NAMES, Need.MASKS}),
    answer_type=AnswerType.NAME,
    example="Which covers more of the image, the grass or the horse? -> grass",
), measure="mask_area", wordings=(
    (MASK_TEMPLATES, True, "compare_mask_area"),
))


VOLUME_TEMPLATES = {
    "volume_larger": "Is {a} larger than {b}?",
    "volume_bigger": "Is {a} bigger than {b} in 3D?",
}
SMALLER_VOLUME_TEMPLATES = {
    "volume_smaller": "Is {a} smaller than {b}?",
    "volume_less": "Does {a} take up less volume than {b}?",
}


@register
class CompareVolume(Generator):
    spec = GeneratorSpec(
        name="compare_volume",
        family="comparison",
        description="Is the X larger (smaller) than the Y? (3D size: size3d volume)",
        needs=frozenset({Need.NAMES, Need.POSITIONS_3D}),
        answer_type=AnswerType.YES_NO,
        example="Is the cube larger than the sphere? -> no",
    )

    def applicable(self, graphs: Sequence[SceneGraph]) -> bool:
        return all(g.objects and all(o.size3d is not None for o in g.objects) for g in graphs)

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for a, c in random_pairs(ctx, t, limit=200):
            va, vc = t.measure_of(a, "volume"), t.measure_of(c, "volume")
            if not clearly_different(va, vc, ctx.config.compare_margin):
                continue
            ra = refer(t, a, avoid_objects=(c,), avoid_kinds=("size",))
            rc = refer(t, c, avoid_objects=(a,), avoid_kinds=("size",))
            if ra is None or rc is None:
                continue
            larger = ctx.rng.random() < 0.5
            b = ProgramBuilder()
            ma = b.add("measure", [b.add_reference(ra)], measure="volume")
            mc = b.add("measure", [b.add_reference(rc)], measure="volume")
            b.add("greater" if larger else "less", [ma, mc])
            tid, tpl = pick_template(ctx,
                                     VOLUME_TEMPLATES if larger else SMALLER_VOLUME_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(a=ra.text, b=rc.text), template=tid,
                       answer_type=AnswerType.YES_NO, objects=[*ra.objects, *rc.objects])
            if q is not None:
                yield q


def _depth_gaps_ok(values: list[float], margin: float) -> bool:
    values = sorted(values)
    return all(clearly_different(x, y, margin) for x, y in itertools.pairwise(values))


ORDER_TEMPLATES = {
    "order_closest_first": "Order these objects from closest to farthest from the camera: "
    "{items}.",
    "order_sort": "Sort the following by distance from the camera, nearest first: {items}.",
}


@register
class DepthOrder(Generator):
    spec = GeneratorSpec(
        name="depth_order",
        family="depth",
        description="Order 2-4 objects (each the only one of its name) from closest to farthest",
        needs=frozenset({Need.NAMES, Need.DEPTH}),
        answer_type=AnswerType.TEXT,
        example="Order these objects from closest to farthest: the sphere, the cube. -> cube, "
        "sphere",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if not t.all_depth:
            return
        named = [refs[0] for _, refs in sorted(t.by_name.items()) if len(refs) == 1]
        if len(named) < 2:
            return
        asked: set[tuple[str, ...]] = set()  # (template id, *objects) already asked
        for _ in range(20):
            k = pick_int(ctx.rng, 2, min(4, len(named)))
            chosen = pick_k(ctx.rng, named, k)
            tid, tpl = pick_template(ctx, ORDER_TEMPLATES)
            if (tid, *chosen) in asked:  # the same question again: dedup would drop it
                continue
            asked.add((tid, *chosen))
            depths = [t.measure_of(r, "depth") for r in chosen]
            if not _depth_gaps_ok(depths, ctx.config.compare_margin):
                continue
            if ctx.would_keep is not None:  # skip building an order the balancer would reject
                expected = [t.names[r] for _, r in sorted(zip(depths, chosen, strict=True))]
                if not ctx.would_keep(self.spec.name, expected):
                    continue
            b = ProgramBuilder()
            s = b.add("filter_name", [b.add("scene", image=0)], name=t.names[chosen[0]])
            for r in chosen[1:]:
                other = b.add("filter_name", [b.add("scene", image=0)], name=t.names[r])
                s = b.add("union", [s, other])
            b.add("names_in_order", [b.add("sort_by", [s], measure="depth")])
            names = [t.names[r] for r in chosen]
            perms = {tuple(pick_k(ctx.rng, names, k)) for _ in range(12)}
            q = finish(ctx, b, text=tpl.format(items=", ".join(f"the {n}" for n in names)),
                       template=tid, answer_type=AnswerType.TEXT, objects=chosen,
                       distractors=[list(p) for p in sorted(perms)])
            if q is not None:
                yield q


# each registration is a subclass made at import time (base.register), which a compiled
# class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class Extreme(Generator):
    """Which object of the image has the largest (``largest``) or smallest ``measure`` (an op
    ``measure``: depth, box_area, ...)? Asked only when it clearly beats the runner-up
    (``config.compare_margin``), so a reader of the image can tell, and when it is a thing,
    not stuff. Registered once per question below."""

    measure: ClassVar[str]
    largest: ClassVar[bool]
    templates: ClassVar[dict[str, str]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if len(t.scene) < 2:
            return
        try:
            ordered = sorted((t.measure_of(r, self.measure), r) for r in t.scene)
        except KeyError:  # an object lacks the measure's field
            return
        best, runner_up = (ordered[-1], ordered[-2]) if self.largest else (ordered[0], ordered[1])
        if not clearly_different(best[0], runner_up[0], ctx.config.compare_margin):
            return
        if best[1] in uncountable(t):
            return  # sky, grass, a region of trees: stuff, not "an object"
        b = ProgramBuilder()
        s = b.add("scene", image=0)
        o = b.add("argmax" if self.largest else "argmin", [s], measure=self.measure)
        b.add("query_name", [o])
        tid, tpl = pick_template(ctx, self.templates)
        q = finish(ctx, b, text=tpl, template=tid, answer_type=AnswerType.NAME,
                   objects=[best[1]], distractors=name_distractors(ctx, t, t.names[best[1]]),
                   balance_key=self.spec.name)
        if q is not None:
            yield q


register(Extreme, GeneratorSpec(
    name="closest_object",
    family="depth",
    description="Which object is closest to the camera? (asked when it is clearly closest)",
    needs=frozenset({Need.NAMES, Need.DEPTH}),
    answer_type=AnswerType.NAME,
    example="Which object is closest to the camera? -> cube",
), measure="depth", largest=False, templates={
    "closest_which": "Which object is closest to the camera?",
    "closest_nearest": "What is the nearest object to the viewer?",
})
register(Extreme, GeneratorSpec(
    name="farthest_object",
    family="depth",
    description="Which object is farthest from the camera? (asked when clearly farthest)",
    needs=frozenset({Need.NAMES, Need.DEPTH}),
    answer_type=AnswerType.NAME,
    example="Which object is farthest from the camera? -> cylinder",
), measure="depth", largest=True, templates={
    "farthest_which": "Which object is farthest from the camera?",
    "farthest_most": "What is the most distant object from the viewer?",
})
register(Extreme, GeneratorSpec(
    name="largest_object",
    family="size",
    description="Which object is the largest in the image? (box area; asked when clearly largest)",
    needs=frozenset({Need.NAMES, Need.BOXES}),
    answer_type=AnswerType.NAME,
    example="Which object is the largest? -> bus",
), measure="box_area", largest=True, templates={
    "largest_which": "Which object is the largest?",
    "largest_biggest": "What is the biggest object in the image?",
})
