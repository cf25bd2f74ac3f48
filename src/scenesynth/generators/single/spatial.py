"""Spatial questions decided by geometry (``spatial_relation``; undecided pairs are skipped):
is the X left of the Y, is the X left or right of the Y, is the X higher than the Y, which is
closer to the camera, depth order of 2-4 objects, closest / farthest object, and where in the
image the X is (3x3 grid with margins)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence

from scenesynth.generators.base import (
    AnswerType,
    GenContext,
    Generator,
    GeneratorSpec,
    Need,
    Question,
    register,
)
from scenesynth.generators.draws import lazy_shuffled, pick, pick_int, pick_k
from scenesynth.generators.program import REGION_NAMES, ProgramBuilder, SceneTables
from scenesynth.generators.refer import GEOMETRY_PHRASES, refer
from scenesynth.generators.single._common import (
    bare,
    clearly_different,
    finish,
    has_boxes,
    has_depth,
    has_positions,
    name_distractors,
    pick_template,
    random_pairs,
    spatial_pairs,
    tables,
)
from scenesynth.graph import SceneGraph


def _predicates(t: SceneTables) -> tuple[str, ...]:
    """Predicates with evidence in this graph: 3D positions give left/right/front/behind;
    boxes give left/right/above/below; depth gives front/behind."""
    if has_positions(t):
        return ("left of", "right of", "in front of", "behind")
    preds: tuple[str, ...] = ()
    if has_boxes(t):
        preds += ("left of", "right of", "above", "below")
    if has_depth(t):
        preds += ("in front of", "behind")
    return preds


SPATIAL_VERIFY_TEMPLATES = {
    "spatial_is": "Is {a} {phrase} {b}?",
    "spatial_true": "Is it true that {a} is {phrase} {b}?",
}


@register
class SpatialVerify(Generator):
    spec = GeneratorSpec(
        name="spatial_verify",
        family="spatial",
        description="Is the X left of / right of / above / below / in front of / behind the Y? "
        "(geometry; undecided pairs are not asked)",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.YES_NO,
        example="Is the cube to the left of the sphere? -> yes",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        preds = _predicates(t)
        if not preds:
            return
        want = True
        for a, c in spatial_pairs(ctx, t):
            p = pick(ctx.rng, preds)
            decided = t.spatial(a, c, p)
            if decided is None or decided is not want:
                continue
            ra = refer(t, a, avoid_objects=(c,))
            rc = refer(t, c, avoid_objects=(a,))
            if ra is None or rc is None:
                continue
            b = ProgramBuilder()
            b.add("spatial", [b.add_reference(ra), b.add_reference(rc)], predicate=p)
            tid, tpl = pick_template(ctx, SPATIAL_VERIFY_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(a=ra.text, b=rc.text, phrase=GEOMETRY_PHRASES[p]),
                       template=tid, answer_type=AnswerType.YES_NO,
                       objects=[*ra.objects, *rc.objects],
                       relations=[*ra.relations, *rc.relations, (a, p, c)])
            if q is not None:
                want = not want  # alternate yes / no
                yield q


CHOICE_AXES = {
    "left of": ("left", "right", "to the left or to the right of"),
    "above": ("above", "below", "above or below"),
    "in front of": ("in front", "behind", "in front of or behind"),
}
CHOICE_TEMPLATES = {
    "choice_is": "Is {a} {axis} {b}?",
    "choice_where": "Where is {a} relative to {b}: {axis} it?",
}


@register
class SpatialChoice(Generator):
    spec = GeneratorSpec(
        name="spatial_choice",
        family="spatial",
        description="Is the X to the left or to the right of the Y? (also above/below, in "
        "front/behind)",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.RELATION,
        example="Is the cube to the left or to the right of the sphere? -> left",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        preds = [p for p in _predicates(t) if p in CHOICE_AXES]
        if not preds:
            return
        for a, c in spatial_pairs(ctx, t):
            p = pick(ctx.rng, preds)
            if t.spatial(a, c, p) is None:
                continue
            ra = refer(t, a, avoid_objects=(c,))
            rc = refer(t, c, avoid_objects=(a,))
            if ra is None or rc is None:
                continue
            yes, no, axis = CHOICE_AXES[p]
            b = ProgramBuilder()
            s = b.add("spatial", [b.add_reference(ra), b.add_reference(rc)], predicate=p)
            b.add("select", [s], if_true=yes, if_false=no)
            tid, tpl = pick_template(ctx, CHOICE_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(a=ra.text, b=rc.text, axis=axis), template=tid,
                       answer_type=AnswerType.RELATION, objects=[*ra.objects, *rc.objects],
                       relations=[*ra.relations, *rc.relations],
                       balance_key=f"{self.spec.name}:{p}")
            if q is not None:
                yield q


HEIGHT_TEMPLATES = {
    "height_higher": "Is {a} higher up in the image than {b}?",
    "height_above": "Is {a} positioned above {b}?",
}
LOWER_TEMPLATES = {
    "height_lower": "Is {a} lower in the image than {b}?",
    "height_below": "Is {a} positioned below {b}?",
}


@register
class CompareHeight(Generator):
    spec = GeneratorSpec(
        name="compare_height",
        family="comparison",
        description="Is the X higher (lower) than the Y? (2D boxes, above/below with image "
        "margins)",
        needs=frozenset({Need.NAMES, Need.BOXES}),
        answer_type=AnswerType.YES_NO,
        example="Is the lamp higher up in the image than the sofa? -> yes",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if has_positions(t):  # 3D 'above' is not image height
            return
        want = True
        for a, c in spatial_pairs(ctx, t):
            predicate = "above" if ctx.rng.random() < 0.5 else "below"  # higher / lower
            if t.spatial(a, c, predicate) is not want:
                continue
            ra = refer(t, a, avoid_objects=(c,))
            rc = refer(t, c, avoid_objects=(a,))
            if ra is None or rc is None:
                continue
            b = ProgramBuilder()
            b.add("spatial", [b.add_reference(ra), b.add_reference(rc)], predicate=predicate)
            templates = HEIGHT_TEMPLATES if predicate == "above" else LOWER_TEMPLATES
            tid, tpl = pick_template(ctx, templates)
            q = finish(ctx, b, text=tpl.format(a=ra.text, b=rc.text), template=tid,
                       answer_type=AnswerType.YES_NO, objects=[*ra.objects, *rc.objects],
                       relations=[*ra.relations, *rc.relations])
            if q is not None:
                want = not want
                yield q


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


@register
class CompareDepth(Generator):
    spec = GeneratorSpec(
        name="compare_depth",
        family="comparison",
        description="Which is closer to (farther from) the camera, the X or the Y? (depth, "
        "relative margin config.compare_margin)",
        needs=frozenset({Need.NAMES, Need.DEPTH}),
        answer_type=AnswerType.NAME,
        example="Which is closer to the camera, the cube or the sphere? -> cube",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if not has_depth(t):
            return
        yield from _compare_both_ways(ctx, t, "depth",
                                      (DEPTH_TEMPLATES, False, "compare_depth:closer"),
                                      (FARTHER_TEMPLATES, True, "compare_depth:farther"))


SIZE_TEMPLATES = {
    "size_bigger": "Which is bigger in the image, {a} or {b}?",
    "size_larger": "Which one takes up more space in the picture: {a} or {b}?",
}


@register
class CompareSize(Generator):
    spec = GeneratorSpec(
        name="compare_size",
        family="comparison",
        description="Which is bigger (smaller) in the image, the X or the Y? (box area)",
        needs=frozenset({Need.NAMES, Need.BOXES}),
        answer_type=AnswerType.NAME,
        example="Which is bigger in the image, the dog or the cat? -> dog",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        yield from _compare_both_ways(ctx, t, "box_area",
                                      (SIZE_TEMPLATES, True, "compare_size:bigger"),
                                      (SMALLER_TEMPLATES, False, "compare_size:smaller"))


SMALLER_TEMPLATES = {
    "size_smaller": "Which is smaller in the image, {a} or {b}?",
    "size_less": "Which one takes up less space in the picture: {a} or {b}?",
}
MASK_TEMPLATES = {
    "mask_more": "Which covers more of the image, {a} or {b}?",
    "mask_area": "Which has the larger visible area: {a} or {b}?",
}


@register
class CompareMaskArea(Generator):
    spec = GeneratorSpec(
        name="compare_mask_area",
        family="comparison",
        description="Which covers more of the image, the X or the Y? (segmentation mask area)",
        needs=frozenset({Need.NAMES, Need.MASKS}),
        answer_type=AnswerType.NAME,
        example="Which covers more of the image, the grass or the horse? -> grass",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from _compare_choice(ctx, tables(ctx), "mask_area", MASK_TEMPLATES, True,
                                   self.spec.name)


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
        if not has_depth(t):
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


EXTREME_TEMPLATES = {
    True: {
        "closest_which": "Which object is closest to the camera?",
        "closest_nearest": "What is the nearest object to the viewer?",
    },
    False: {
        "farthest_which": "Which object is farthest from the camera?",
        "farthest_most": "What is the most distant object from the viewer?",
    },
}


def _extreme(ctx: GenContext, closest: bool, key: str) -> Iterator[Question]:
    t = tables(ctx)
    if not has_depth(t) or len(t.scene) < 2:
        return
    ordered = sorted((t.measure_of(r, "depth"), r) for r in t.scene)
    best, runner_up = (ordered[0], ordered[1]) if closest else (ordered[-1], ordered[-2])
    if not clearly_different(best[0], runner_up[0], ctx.config.compare_margin):
        return
    b = ProgramBuilder()
    s = b.add("scene", image=0)
    o = b.add("argmin" if closest else "argmax", [s], measure="depth")
    b.add("query_name", [o])
    tid, tpl = pick_template(ctx, EXTREME_TEMPLATES[closest])
    q = finish(ctx, b, text=tpl, template=tid, answer_type=AnswerType.NAME,
               objects=[best[1]], distractors=name_distractors(ctx, t, t.names[best[1]]),
               balance_key=key)
    if q is not None:
        yield q


@register
class ClosestObject(Generator):
    spec = GeneratorSpec(
        name="closest_object",
        family="depth",
        description="Which object is closest to the camera? (asked when it is clearly closest)",
        needs=frozenset({Need.NAMES, Need.DEPTH}),
        answer_type=AnswerType.NAME,
        example="Which object is closest to the camera? -> cube",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from _extreme(ctx, True, self.spec.name)


@register
class FarthestObject(Generator):
    spec = GeneratorSpec(
        name="farthest_object",
        family="depth",
        description="Which object is farthest from the camera? (asked when clearly farthest)",
        needs=frozenset({Need.NAMES, Need.DEPTH}),
        answer_type=AnswerType.NAME,
        example="Which object is farthest from the camera? -> cylinder",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from _extreme(ctx, False, self.spec.name)


REGION_TEMPLATES = {
    "region_where": "Where in the image is {ref}?",
    "region_part": "In which part of the image is {ref} located?",
    "region_grid": "Which region of the image (top left, top, ..., bottom right) contains "
    "{ref}?",
}
ALL_REGIONS = [name for row in REGION_NAMES for name in row]


@register
class RegionPosition(Generator):
    spec = GeneratorSpec(
        name="region_position",
        family="region",
        description="In which part of the image (3x3 grid) is the X? Centres near a grid line "
        "are not asked.",
        needs=frozenset({Need.NAMES, Need.BOXES}),
        answer_type=AnswerType.REGION,
        example="Where in the image is the dog? -> bottom left",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for r in lazy_shuffled(ctx.rng, t.scene):
            ref = refer(t, r)
            if ref is None:
                continue
            b = ProgramBuilder()
            b.add("region", [b.add_reference(ref)], margin=ctx.config.region_margin)
            tid, tpl = pick_template(ctx, REGION_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(ref=ref.text), template=tid,
                       answer_type=AnswerType.REGION, objects=ref.objects,
                       relations=ref.relations, distractors=ALL_REGIONS)
            if q is not None:
                yield q
