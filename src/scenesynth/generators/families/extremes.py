"""Which of 3-4 named objects is the leftmost / rightmost / topmost / bottommost / closest /
farthest / largest / smallest, and which of two objects is closer to (farther from) an anchor.

Direction and depth extremes are decided by geometry (``extreme_spatial``: the answer is the one
object that ``spatial_relation`` puts left of / in front of ... every other named object), so an
undecided pair leaves the question unasked and there is never a second right answer. Left /
right / top / bottom are asked only when the winner also leads every other by its extent
(``leads_by_extent``: "the rightmost" has the right edge too, not only the centre, where boxes
or 3D sizes tell the extents; a CLEVR scene file gives neither, and its centres decide). Size
and anchor distances are measures asked only when the winner beats the runner-up by
``config.compare_margin``. Only objects of a visible size (``visible_size``) are compared. A
reference never says the kind compared ("the large cube" in "which is the largest").
"""

from __future__ import annotations

import math
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
    background_regions,
    bare,
    clearly_different,
    finish,
    pick_template,
    random_pairs,
    tables,
)
from scenesynth.generators.refer import Reference, refer
from scenesynth.graph import SceneGraph
from scenesynth.graph.geometry import ABOVE, BELOW, LEFT, RIGHT, leads_by_extent, visible_size
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.tables import SceneTables

# The image directions whose extreme must lead by its whole extent, not only its centre
# (graph.geometry.leads_by_extent); depth order has no extent in the image.
BY_EXTENT = frozenset({LEFT, RIGHT, ABOVE, BELOW})


def option_labels(t: SceneTables, refs: Sequence[Reference]) -> list[str]:
    """How answers name each option: its name when the options' names all differ, else its
    reference without the article ("red cube", "cube left of the sphere")."""
    names = [t.names[r.target] for r in refs]
    if len(set(names)) == len(names):
        return names
    return [bare(r.text) for r in refs]


def listed(refs: Sequence[Reference]) -> str:
    """"the cube, the red sphere or the cylinder"."""
    texts = [r.text for r in refs]
    return f"{', '.join(texts[:-1])} or {texts[-1]}"


def choice_distractors(labels: Sequence[str]) -> list[str]:
    """The multiple-choice options of a question that lists its candidates: exactly the
    candidates it names. Any other name among the options would be wrong by its words alone
    ("Of the child, the house or the truck...? A. sign B. fish C. house ..."), so a question
    naming fewer candidates than a multiple-choice form has options gets no such form."""
    return list(labels)


def references(
    t: SceneTables, chosen: Sequence[str], avoid_kinds: tuple[str, ...]
) -> list[Reference] | None:
    refs = []
    for r in chosen:
        ref = refer(t, r, avoid_objects=tuple(x for x in chosen if x != r),
                    avoid_kinds=avoid_kinds)
        if ref is None:
            return None
        refs.append(ref)
    return refs


# registered with parameters (base.register makes a subclass at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class ExtremeAmong(Generator):
    """Registered with ``predicate`` (a spatial predicate, decided by geometry) or ``largest``
    (size: 3D volume where known, else box area with ``image_templates``); ``templates``
    ({items} is the list of options); ``avoid_kinds``."""

    predicate: ClassVar[str | None] = None
    largest: ClassVar[bool] = False
    avoid_kinds: ClassVar[tuple[str, ...]] = ()
    templates: ClassVar[dict[str, str]]
    image_templates: ClassVar[dict[str, str]] = {}

    def applicable(self, graphs: Sequence[SceneGraph]) -> bool:
        if self.predicate is not None:
            return super().applicable(graphs)
        return all(g.objects and (all(o.size3d is not None for o in g.objects)
                                  or all(o.box is not None for o in g.objects)) for g in graphs)

    def _winner(
        self, ctx: GenContext, t: SceneTables, chosen: list[str], measure: str
    ) -> str | None:
        """The expected answer object (the program decides; this only filters candidates)."""
        predicate = self.predicate
        if predicate is not None:
            winners = [o for o in chosen
                       if all(t.spatial(o, x, predicate) is True for x in chosen if x != o)]
            if len(winners) != 1:
                return None
            winner = winners[0]
            if predicate in BY_EXTENT and not all(
                    leads_by_extent(t.objects[winner], t.objects[x], predicate, t.image,
                                    t.camera, t.rules) is not False
                    for x in chosen if x != winner):
                return None
            return winner
        values = sorted(((t.measure_of(r, measure), r) for r in chosen),
                        reverse=self.largest)
        if not clearly_different(values[0][0], values[1][0], ctx.config.compare_margin):
            return None
        return values[0][1]

    @staticmethod
    def _measure(t: SceneTables) -> str:
        # 3D size where the graph knows it, else the size the object takes up in the image
        return "volume" if all(o.size3d is not None for o in t.objects.values()) else "box_area"

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        # background regions (sky, ground, wall) span the image: never "the leftmost" of k
        regions = background_regions(t)
        # and only objects large enough to see are compared (a 12 px bird is not "the
        # leftmost" of anything a reader can check)
        things = [x for x in t.scene if x not in regions
                  and visible_size(t.objects[x], t.image, t.rules) is not False]
        if len(things) < 3:
            return
        avoid_kinds = self.avoid_kinds
        measure = self._measure(t)  # a scan of every object: once per graph, not per question
        templates = self.templates
        if self.predicate is None and measure == "box_area":
            templates = self.image_templates  # a far tent is small in the image
        asked: set[tuple[str, ...]] = set()
        for _ in range(24):
            chosen = pick_k(ctx.rng, things, pick_int(ctx.rng, 3, min(4, len(things))))
            key = tuple(sorted(chosen))
            if key in asked:
                continue
            asked.add(key)
            if self._winner(ctx, t, chosen, measure) is None:
                continue
            refs = references(t, chosen, avoid_kinds)
            if refs is None:
                continue
            labels = option_labels(t, refs)
            if len(set(labels)) != len(labels):
                continue
            b = ProgramBuilder()
            steps = [b.add_reference(ref) for ref in refs]
            s = b.add("collect", steps)
            if self.predicate is not None:
                w = b.add("extreme_spatial", [s], predicate=self.predicate)
            else:
                w = b.add("argmax" if self.largest else "argmin", [s], measure=measure)
            b.add("label_of", [w, *steps], labels=labels)
            tid, tpl = pick_template(ctx, templates)
            q = finish(ctx, b, text=tpl.format(items=listed(refs)), template=tid,
                       answer_type=AnswerType.NAME,
                       objects=[o for ref in refs for o in ref.objects],
                       relations=[rel for ref in refs for rel in ref.relations],
                       distractors=choice_distractors(labels))
            if q is not None:
                yield q


def _extreme(name: str, axis: str, example: str, **params: object) -> None:
    decided_by = ("geometry: spatial_relation" if "predicate" in params
                  else "measure, winner ahead by config.compare_margin")
    register(ExtremeAmong, GeneratorSpec(
        name=name, family="extreme", answer_type=AnswerType.NAME, example=example,
        needs=frozenset({Need.NAMES}),
        description=f"Which of 3-4 named objects is the {axis}? ({decided_by}; no second "
        "right answer)",
    ), **params)


_extreme("extreme_leftmost", "leftmost",
         "Which is the leftmost: the cube, the red sphere or the cylinder? -> cube",
         predicate="left of", templates={
             "among_leftmost_which": "Which is the leftmost: {items}?",
             "among_leftmost_of": "Of {items}, which one is farthest to the left?"})
_extreme("extreme_rightmost", "rightmost",
         "Which is the rightmost: the cube, the red sphere or the cylinder? -> cylinder",
         predicate="right of", templates={
             "among_rightmost_which": "Which is the rightmost: {items}?",
             "among_rightmost_of": "Of {items}, which one is farthest to the right?"})
_extreme("extreme_topmost", "topmost (above every other)",
         "Which is highest up in the image: the lamp, the cup or the chair? -> lamp",
         predicate="above", templates={
             "among_topmost_which": "Which is highest up in the image: {items}?",
             "among_topmost_of": "Of {items}, which one is above all the others?"})
_extreme("extreme_bottommost", "bottommost (below every other)",
         "Which is lowest in the image: the lamp, the cup or the chair? -> chair",
         predicate="below", templates={
             "among_bottommost_which": "Which is lowest in the image: {items}?",
             "among_bottommost_of": "Of {items}, which one is below all the others?"})
_extreme("extreme_closest", "closest to the camera",
         "Which is closest to the camera: the cube, the sphere or the cylinder? -> sphere",
         predicate="in front of", templates={
             "among_closest_among": "Which is closest to the camera: {items}?",
             "among_closest_nearest": "Of {items}, which one is nearest to the viewer?"})
_extreme("extreme_farthest", "farthest from the camera",
         "Which is farthest from the camera: the cube, the sphere or the cylinder? -> cube",
         predicate="behind", templates={
             "among_farthest_among": "Which is farthest from the camera: {items}?",
             "among_farthest_most": "Of {items}, which one is the most distant from the viewer?"})
_extreme("extreme_largest", "largest (3D volume, else image area)",
         "Which takes up the most space in the image: the tent, the cup or the dog? -> tent",
         largest=True, avoid_kinds=("size",), templates={
             "among_largest_which": "Which is the largest: {items}?",
             "among_largest_biggest": "Of {items}, which one is the biggest?"}, image_templates={
             "among_largest_image": "Which takes up the most space in the image: {items}?",
             "among_largest_area": "Of {items}, which one covers the largest area of the picture?"})
_extreme("extreme_smallest", "smallest (3D volume, else image area)",
         "Which takes up the least space in the image: the tent, the cup or the dog? -> cup",
         largest=False, avoid_kinds=("size",), templates={
             "among_smallest_which": "Which is the smallest: {items}?",
             "among_smallest_least": "Of {items}, which one is the smallest in size?"},
         image_templates={
             "among_smallest_image": "Which takes up the least space in the image: {items}?",
             "among_smallest_area": "Of {items}, which one covers the smallest area of the "
             "picture?"})


# registered with parameters (base.register makes a subclass at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class CloserToAnchor(Generator):
    """"Which is closer to the X, the Y or the Z?" by 3D distance (world positions), asked when
    the two distances differ by ``config.compare_margin``. Registered with ``closer``, ``templates``
    ({anchor}, {a}, {b})."""

    closer: ClassVar[bool]
    templates: ClassVar[dict[str, str]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        if len(t.scene) < 3 or not t.all_positions:
            return
        closer = self.closer
        for anchor, a in random_pairs(ctx, t, limit=120):
            others = [x for x in t.scene if x not in (anchor, a)]
            c = others[int(ctx.rng.random() * len(others))]
            pa, pc, pz = (t.objects[r].position for r in (a, c, anchor))
            assert pa is not None and pc is not None and pz is not None
            da = math.dist(pa.as_tuple(), pz.as_tuple())
            dc = math.dist(pc.as_tuple(), pz.as_tuple())
            if not clearly_different(da, dc, ctx.config.compare_margin):
                continue
            refs = references(t, [anchor, a, c], ())
            if refs is None:
                continue
            rz, ra, rc = refs
            label_a, label_c = option_labels(t, [ra, rc])
            if label_a == label_c:
                continue
            b = ProgramBuilder()
            z = b.add_reference(rz)
            d_a = b.add("distance", [b.add_reference(ra), z], space="3d")
            d_c = b.add("distance", [b.add_reference(rc), z], space="3d")
            wins = b.add("less" if closer else "greater", [d_a, d_c])
            b.add("select", [wins], if_true=label_a, if_false=label_c)
            tid, tpl = pick_template(ctx, self.templates)
            q = finish(ctx, b, text=tpl.format(anchor=rz.text, a=ra.text, b=rc.text),
                       template=tid, answer_type=AnswerType.NAME,
                       objects=[*rz.objects, *ra.objects, *rc.objects],
                       relations=[*rz.relations, *ra.relations, *rc.relations],
                       distractors=choice_distractors([label_a, label_c]))
            if q is not None:
                yield q


for _name, _closer, _templates, _example in (
    ("closer_to_anchor", True, {
        "anchor_closer": "Which is closer to {anchor}, {a} or {b}?",
        "anchor_nearer": "Which one is nearer to {anchor}: {a} or {b}?"},
     "Which is closer to the red cube, the sphere or the cylinder? -> sphere"),
    ("farther_from_anchor", False, {
        "anchor_farther": "Which is farther from {anchor}, {a} or {b}?",
        "anchor_further": "Which one is further away from {anchor}: {a} or {b}?"},
     "Which is farther from the red cube, the sphere or the cylinder? -> cylinder"),
):
    register(CloserToAnchor, GeneratorSpec(
        name=_name, family="anchor_distance", answer_type=AnswerType.NAME, example=_example,
        needs=frozenset({Need.NAMES, Need.POSITIONS_3D}),
        description="Which of two objects is " + ("closer to" if _closer else "farther from")
        + " a third (3D distance, config.compare_margin)",
    ), closer=_closer, templates=_templates)
