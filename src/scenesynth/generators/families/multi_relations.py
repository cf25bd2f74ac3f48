"""Relation present in which image: "In which image is there a cube to the left of a sphere?".

Relations are geometric (:func:`~scenesynth.graph.spatial_relation`, 3D positions or boxes), so
they mean the same thing in every image. The question is only asked when exactly one image has a
pair decided True and, in every other image, every pair of the two categories is decided False:
an undecided pair could make a second image a valid answer.
"""

from __future__ import annotations

import functools
import itertools
import random
from collections.abc import Iterator, Sequence
from typing import ClassVar

from scenesynth.generators.base import (
    AnswerType,
    GenContext,
    Generator,
    GeneratorSpec,
    Need,
    Question,
    has_needs,
    register,
)
from scenesynth.generators.draws import random_order
from scenesynth.generators.kit import (
    MultiScene,
    Planned,
    finish,
    offered_candidates,
    pick_template,
)
from scenesynth.generators.refer import GEOMETRY_PHRASES
from scenesynth.graph import SceneGraph
from scenesynth.graph.keys import template_bucket
from scenesynth.programs.builder import ProgramBuilder

FAMILY = "multi_relation"
_POSITIONS = frozenset({Need.POSITIONS_3D})
_BOXES = frozenset({Need.BOXES})
PREDICATES_3D = ("left of", "right of", "in front of", "behind")
PREDICATES_2D = ("left of", "right of", "above", "below")


def placed_alike(graphs: Sequence[SceneGraph]) -> bool:
    """Every object of every graph has a 3D position, or every one has a box: geometric
    relations then mean the same thing in each image of the group."""
    return (all(all(o.position is not None for o in g.objects) for g in graphs)
            or all(all(o.box is not None for o in g.objects) for g in graphs))


def group_predicates(scene: MultiScene) -> tuple[str, ...]:
    """The geometric predicates a group is asked about: in front of / behind when every
    object of every image has a 3D position, above / below (the image plane) otherwise."""
    return PREDICATES_3D if all(t.all_positions for t in scene.tables) else PREDICATES_2D


def holds_in_each_image(
    scene: MultiScene, x_name: str, y_name: str, predicate: str
) -> list[bool] | None:
    """Per image, whether some x of the first category is ``predicate`` some y of the second
    (what the question's program computes, ``exist(intersect(xs, relate_set(ys)))``); None
    when some pair, in some image, is undecided: it might be the relation, and the answer
    would not be definite. Read from the per-graph decisions before a program is built, so
    a candidate whose answer would not be one image costs no program."""
    holds: list[bool] = []
    for t in scene.tables:
        found = False
        for x in t.by_name.get(x_name, ()):
            for y in t.by_name.get(y_name, ()):
                decided = t.spatial(x, y, predicate)
                if decided is None:
                    return None
                found = found or decided
        holds.append(found)
    return holds


def relation_candidates(
    rng: random.Random, names: Sequence[str], predicates: Sequence[str], limit: int
) -> Iterator[tuple[str, str, str]]:
    """Up to ``limit`` of the (x, predicate, y) with x != y, in seeded random order, each
    decoded from an index drawn lazily: the whole list grows with the square of a group's
    vocabulary, and a context asks only a few of them."""
    n, n_predicates = len(names), len(predicates)
    for index in itertools.islice(random_order(rng, n * (n - 1) * n_predicates), limit):
        pair, p = divmod(index, n_predicates)
        xi, yi = divmod(pair, n - 1)
        yield names[xi], predicates[p], names[yi + (yi >= xi)]


@register
class RelationWhere(Generator):
    spec = GeneratorSpec(
        name="multi_relation_where",
        family=FAMILY,
        description=(
            "Which image shows an object of one category in a spatial relation to an object of "
            "another category (geometric relations, decided pairs only)"
        ),
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.IMAGE,
        example="In which image is there a cube to the left of a sphere? -> Image 2",
        multi_image=True,
    )
    TEMPLATES: ClassVar[dict[str, str]] = {
        "rel_where.is_there": "In which image is there {x} {phrase} {y}?",
        "rel_where.shows": "Which image shows {x} {phrase} {y}?",
        "rel_where.can_see": "In which of the images can you see {x} {phrase} {y}?",
    }

    def applicable(self, graphs: Sequence[SceneGraph]) -> bool:
        return all(has_needs(g, _POSITIONS) or has_needs(g, _BOXES) for g in graphs)

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(MultiScene(ctx)))

    def _candidates(self, scene: MultiScene) -> Iterator[Planned]:
        ctx = scene.ctx
        predicates = group_predicates(scene)
        balance_key = f"{self.spec.name}/{scene.k}"  # image answers balanced per group size
        for x_name, predicate, y_name in relation_candidates(
                ctx.rng, scene.all_names(), predicates, ctx.config.max_per_generator * 4):
            holds = holds_in_each_image(scene, x_name, y_name, predicate)
            answer = None if holds is None else scene.predicted("image_where", holds)
            if answer is None:
                continue  # undecided, or the relation is in several images or in none
            # the template is drawn now (the random stream's order); the text is written
            # only for a plan that is offered
            tid, template = pick_template(scene.ctx, self.TEMPLATES)
            yield Planned(answer, functools.partial(
                self._built, scene, x_name, predicate, y_name, tid, template, balance_key),
                template_bucket(balance_key, tid))

    def _built(
        self, scene: MultiScene, x_name: str, predicate: str, y_name: str, tid: str,
        template: str, balance_key: str,
    ) -> Question | None:
        b = ProgramBuilder()
        found = []
        for i in range(scene.k):
            found.append(scene.relation_exists(b, i, x_name, predicate, y_name))
        b.add("image_where", found)
        outputs = scene.run(b)
        if outputs is None:  # the relation holds in several images or in none
            return None
        # the witnesses: pairs of the answer image for which the relation holds
        image = int(outputs[-1].split()[-1]) - 1
        t = scene.tables[image]
        witnesses = [
            (x, predicate, y)
            for x in t.by_name.get(x_name, ()) for y in t.by_name.get(y_name, ())
            if t.spatial(x, y, predicate) is True
        ]
        return finish(
            scene.ctx, b,
            text=template.format(x=scene.phrase(x_name), phrase=GEOMETRY_PHRASES[predicate],
                                 y=scene.phrase(y_name)),
            template=tid,
            answer_type=AnswerType.IMAGE,
            distractors=scene.image_options([scene.both_or_all(), scene.neither_or_none()]),
            relations=witnesses,
            objects=sorted({r for w in witnesses for r in (w[0], w[2])}),
            balance_key=balance_key,
            outputs=outputs,
        )
