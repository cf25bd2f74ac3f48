"""Attribute and relation questions that point at objects by their box, not their name:
"What color is the object in the box [x0, y0, x1, y1]?", "Is the object in the box [...] to the
left of the object in the box [...]?".

Boxes are written as in grounding questions (pixels, origin top-left, 0.1 px); a box is used
only when no other object's box has IoU >= 0.5 with it, so ``filter_box`` then ``unique``
picks exactly that object. A box says nothing about the attribute asked, so even the kind a
name would give away ("what shape is the cube") can be asked.
"""

from __future__ import annotations

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
from scenesynth.generators.draws import lazy_shuffled, pick
from scenesynth.generators.families.attributes import QUERY_TEMPLATES
from scenesynth.generators.kit import (
    QUERY_KINDS,
    attribute_distractors,
    finish,
    pick_template,
    single_value,
    single_values,
    spatial_pairs,
    tables,
)
from scenesynth.generators.refer import GEOMETRY_PHRASES
from scenesynth.graph.decide import iou_of_coords
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.tables import SceneTables

MIN_IOU = 0.5  # as grounding_identify: the box picks out the object it was taken from


def box_text(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


def _box_as_written_singles_out(t: SceneTables, r: str, min_iou: float) -> bool:
    """Whether the box a question states for ``r`` (its box rounded to 0.1 px, as written)
    has IoU >= ``min_iou`` with ``r``'s box and with no other object's: what the program's
    ``filter_box`` then ``unique`` select. Checked on the box as written, not the object's
    own: rounding can tip another box over the threshold (IoU 0.4999 with the true box,
    0.5001 with the written one), and the program would then find two objects."""
    x0, y0, x1, y1 = t.rounded_box(r)
    area = (x1 - x0) * (y1 - y0)
    coords = t.box_coords()
    found: list[str] = []
    for x in t.boxes_overlapping(x0, y0, x1, y1):
        c = coords[x]
        if c is not None and iou_of_coords(x0, y0, x1, y1, area, *c) >= min_iou:
            found.append(x)
    return found == [r]


def box_unique(t: SceneTables, r: str) -> bool:
    """No other object's box has IoU >= MIN_IOU with this object's box, nor with the box as
    the question writes it (memoised): the object a box question may be asked about, by box
    (here) and by name (``grounding_identify``)."""
    memo: dict[str, bool] | None = t.memo.get("box_unique")
    if memo is None:
        memo = t.memo["box_unique"] = {}
    known = memo.get(r)
    if known is None:
        coords = t.box_coords()
        own = coords[r]
        known = own is not None
        if own is not None:  # IoU >= MIN_IOU > 0 only with a box meeting it (tables' index)
            for x in t.boxes_overlapping(own[0], own[1], own[2], own[3]):
                c = coords[x]
                if x != r and c is not None and iou_of_coords(*own, *c) >= MIN_IOU:
                    known = False
                    break
        # the question writes the box rounded: that box must single the object out too
        known = known and _box_as_written_singles_out(t, r, MIN_IOU)
        memo[r] = known
    return known


def add_box_reference(b: ProgramBuilder, t: SceneTables, r: str) -> int:
    s = b.add("filter_box", [b.add("scene", image=t.image_index)], box=t.rounded_box(r),
              min_iou=MIN_IOU)
    return b.add("unique", [s])


BOX_QUERY_TEMPLATES = {
    kind: {f"box_{tid}": tpl for tid, tpl in templates.items()}
    for kind, templates in QUERY_TEMPLATES.items()
}


# registered with parameters (base.register makes a subclass at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class BoxAttribute(Generator):
    """"What color is the object in the box [...]?" for every kind the object has one value of."""

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if not t.all_boxes:
            return
        singles = single_values(t)
        if not any(k in own for own in singles.values() for k in QUERY_KINDS):
            return  # no object has a kind to ask: drawing them all in turn would find none
        for r in lazy_shuffled(ctx.rng, t.scene):
            own = singles[r]
            kinds = [k for k in QUERY_KINDS if k in own] if own else []
            if not kinds or not box_unique(t, r):
                continue
            kind = pick(ctx.rng, kinds)
            b = ProgramBuilder()
            b.add("query_attr", [add_box_reference(b, t, r)], kind=kind)
            tid, tpl = pick_template(ctx, BOX_QUERY_TEMPLATES[kind])
            ref = "the object in the box " + box_text(t.rounded_box(r))
            q = finish(ctx, b, text=tpl.format(ref=ref), template=tid,
                       answer_type=AnswerType.ATTRIBUTE, objects=[r],
                       distractors=attribute_distractors(t, kind, single_value(t, r, kind) or "",
                                                         ctx.source_values),
                       balance_key=f"{self.spec.name}:{kind}")
            if q is not None:
                yield q


# registered with parameters (base.register makes a subclass at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class BoxRelation(Generator):
    """"Is the object in the box A to the left of the object in the box B?" (geometry; pairs
    undecided are not asked; yes and no alternate)."""

    templates: ClassVar[dict[str, str]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if not t.all_boxes:
            return
        predicates: tuple[str, ...] = ("left of", "right of", "above", "below")
        if t.all_depth or t.all_positions:
            predicates += ("in front of", "behind")
        want = True
        for a, c in spatial_pairs(ctx, t, limit=200):
            p = pick(ctx.rng, predicates)
            if t.spatial(a, c, p) is not want or not box_unique(t, a) or not box_unique(t, c):
                continue
            b = ProgramBuilder()
            b.add("spatial", [add_box_reference(b, t, a), add_box_reference(b, t, c)],
                  predicate=p)
            tid, tpl = pick_template(ctx, self.templates)
            text = tpl.format(a=box_text(t.rounded_box(a)), phrase=GEOMETRY_PHRASES[p],
                              b=box_text(t.rounded_box(c)))
            q = finish(ctx, b, text=text,
                       template=tid, answer_type=AnswerType.YES_NO, objects=[a, c],
                       relations=[(a, p, c)])
            if q is not None:
                want = not want
                yield q


register(BoxAttribute, GeneratorSpec(
    name="box_query_attribute", family="by_box", answer_type=AnswerType.ATTRIBUTE,
    needs=frozenset({Need.NAMES, Need.BOXES, Need.ATTRIBUTES}),
    description="What color / material / shape / size / state is the object in box B? (the "
    "box, not a name, points at it; IoU >= 0.5 with its box only)",
    example="What color is the object in the box [12, 40, 200, 310]? -> red",
))
register(BoxRelation, GeneratorSpec(
    name="box_spatial_verify", family="by_box", answer_type=AnswerType.YES_NO,
    needs=frozenset({Need.NAMES, Need.BOXES}),
    description="Is the object in box A left of / above / in front of ... the object in box "
    "B? (geometry; undecided pairs are not asked)",
    example="Is the object in the box [12, 40, 60, 90] to the left of the object in the box "
    "[200, 30, 260, 120]? -> yes",
), templates={
    "box_spatial_is": "Is the object in the box {a} {phrase} the object in the box {b}?",
    "box_spatial_true": "Is it true that the object in the box {a} is {phrase} the object in "
    "the box {b}?",
})
