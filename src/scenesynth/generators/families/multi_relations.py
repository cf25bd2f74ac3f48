"""Relation present in which image: "In which image is there a cube to the left of a sphere?".

Relations are geometric (:func:`~scenesynth.graph.spatial_relation`, 3D positions or boxes), so
they mean the same thing in every image. The question is only asked when exactly one image has a
pair decided True and, in every other image, every pair of the two categories is decided False:
an undecided pair could make a second image a valid answer.
"""

from __future__ import annotations

import itertools
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
from scenesynth.generators.kit import MultiScene, finish, interleave, pick_template
from scenesynth.generators.refer import GEOMETRY_PHRASES
from scenesynth.graph import SceneGraph
from scenesynth.programs.builder import ProgramBuilder

FAMILY = "multi_relation"
PREDICATES_3D = ("left of", "right of", "in front of", "behind")
PREDICATES_2D = ("left of", "right of", "above", "below")


def _decided_everywhere(scene: MultiScene, x_name: str, y_name: str, predicate: str) -> bool:
    """Every (x, y) pair of the two categories, in every image, is decided True or False."""
    for t in scene.tables:
        for x in t.by_name.get(x_name, ()):
            for y in t.by_name.get(y_name, ()):
                if t.spatial(x, y, predicate) is None:
                    return False
    return True


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
        return all(
            has_needs(g, frozenset({Need.POSITIONS_3D})) or has_needs(g, frozenset({Need.BOXES}))
            for g in graphs
        )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        scene = MultiScene(ctx)
        use_3d = all(has_needs(g, frozenset({Need.POSITIONS_3D})) for g in ctx.graphs)
        predicates = PREDICATES_3D if use_3d else PREDICATES_2D
        names = scene.all_names()
        n, n_predicates = len(names), len(predicates)
        # candidates (x, predicate, y), x != y, in seeded random order, decoded from indices
        # drawn lazily: the full list grows with the square of the group's vocabulary
        total = n * (n - 1) * n_predicates
        out: list[Question] = []
        for index in itertools.islice(random_order(ctx.rng, total),
                                      ctx.config.max_per_generator * 4):
            if scene.full(out):
                break
            pair, p = divmod(index, n_predicates)
            xi, yi = divmod(pair, n - 1)
            x_name, predicate, y_name = names[xi], predicates[p], names[yi + (yi >= xi)]
            if not _decided_everywhere(scene, x_name, y_name, predicate):
                continue
            b = ProgramBuilder()
            found = []
            for i in range(scene.k):
                xs = scene.object_set(b, i, x_name)
                ys = scene.object_set(b, i, y_name)
                related = b.add("relate_set", [ys], predicate=predicate, mode="geometry")
                found.append(b.add("exist", [b.add("intersect", [xs, related])]))
            b.add("image_where", found)
            outputs = scene.run(b)
            if outputs is None:  # the relation holds in several images or in none
                continue
            tid, template = pick_template(scene.ctx, self.TEMPLATES)
            text = template.format(x=scene.phrase(x_name), phrase=GEOMETRY_PHRASES[predicate],
                                   y=scene.phrase(y_name))
            # the witnesses: pairs of the answer image for which the relation holds
            image = int(outputs[-1].split()[-1]) - 1
            t = scene.tables[image]
            witnesses = [
                (x, predicate, y)
                for x in t.by_name.get(x_name, ()) for y in t.by_name.get(y_name, ())
                if t.spatial(x, y, predicate) is True
            ]
            q = finish(
                scene.ctx, b,
                text=text,
                template=tid,
                answer_type=AnswerType.IMAGE,
                distractors=scene.image_distractors(
                    outputs[-1], [scene.both_or_all(), scene.neither_or_none()]),
                relations=witnesses,
                objects=sorted({r for w in witnesses for r in (w[0], w[2])}),
                balance_key=f"{self.spec.name}/{scene.k}",
                outputs=outputs,
            )
            if q is not None:
                out.append(q)
        yield from interleave(out, ctx.rng)
