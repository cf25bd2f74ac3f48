"""Where things are, decided by geometry (``spatial_relation``; undecided pairs are skipped):
is the X left of the Y, is the X left or right of the Y, is the X higher than the Y, and where
in the image the X is (3x3 grid with margins)."""

from __future__ import annotations

from collections.abc import Iterator

from scenesynth.generators.base import (
    AnswerType,
    GenContext,
    Generator,
    GeneratorSpec,
    Need,
    Question,
    register,
)
from scenesynth.generators.draws import lazy_shuffled, pick
from scenesynth.generators.kit import (
    finish,
    pick_template,
    spatial_pairs,
    tables,
)
from scenesynth.generators.refer import GEOMETRY_PHRASES, refer
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.tables import REGION_NAMES, SceneTables


def _predicates(t: SceneTables) -> tuple[str, ...]:
    """Predicates with evidence in this graph: 3D positions give left/right/front/behind;
    boxes give left/right/above/below; depth gives front/behind."""
    if t.all_positions:
        return ("left of", "right of", "in front of", "behind")
    preds: tuple[str, ...] = ()
    if t.all_boxes:
        preds += ("left of", "right of", "above", "below")
    if t.all_depth:
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
        if t.all_positions:  # 3D 'above' is not image height
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
