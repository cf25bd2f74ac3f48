"""Questions that compare or add up across images: a relation compared between two images
("Is the cube to the left of the sphere in both Image 1 and Image 3?") and the total of an
attributed category ("How many red cubes are there in all the images together?")."""

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
from scenesynth.generators.draws import lazy_shuffled
from scenesynth.generators.families.multi_relations import group_predicates, placed_alike
from scenesynth.generators.families.multi_select import SELECT_KINDS
from scenesynth.generators.kit import (
    MultiScene,
    finish,
    offered_candidates,
    pick_template,
    plural,
)
from scenesynth.generators.refer import GEOMETRY_PHRASES
from scenesynth.graph import SceneGraph
from scenesynth.graph.vocab import names_value
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.ops import image_label


def _descriptors(scene: MultiScene, i: int) -> dict[tuple[str, str | None], str]:
    """(name, attribute value or None) -> the one object of image ``i`` it describes ("the
    cube", "the red cube"), for descriptions that fit exactly one object there."""
    t = scene.tables[i]
    fits: dict[tuple[str, str | None], list[str]] = {}
    for name, refs in t.by_name.items():
        fits[(name, None)] = list(refs)
        for r in refs:
            for kind in SELECT_KINDS:
                for v in t.attr_by_kind[r].get(kind, ()):
                    if not names_value(name, v):
                        fits.setdefault((name, v), []).append(r)
    return {d: refs[0] for d, refs in fits.items() if len(refs) == 1}


# registered with parameters (base.register makes a subclass at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class RelationBothImages(Generator):
    """The X and the Y each describe exactly one object in two images ("the cube", "the red
    cube"); is the X <predicate> the Y in both? Both pairs must be decided by geometry; yes and
    no alternate."""

    templates: ClassVar[dict[str, str]]

    def applicable(self, graphs: Sequence[SceneGraph]) -> bool:
        return super().applicable(graphs) and placed_alike(graphs)

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Question]:
        scene = MultiScene(ctx)
        predicates = group_predicates(scene)
        wordlike = set(scene.all_names())
        described = [_descriptors(scene, i) for i in range(scene.k)]
        want = ctx.rng.random() < 0.5
        for i, j in scene.pairs():
            if i > j:
                continue  # each unordered pair once; "Image 1 and Image 3" in reading order
            shared = sorted((d for d in described[i].keys() & described[j].keys()
                             if d[0] in wordlike), key=lambda d: (d[0], d[1] or ""))
            for x, y in itertools.pairwise(lazy_shuffled(ctx.rng, shared)):
                if x[0] == y[0]:
                    continue  # "the red cube ... the cube" may name one object
                p = predicates[int(ctx.rng.random() * len(predicates))]
                decided = [scene.tables[k].spatial(described[k][x], described[k][y], p)
                           for k in (i, j)]
                if None in decided or all(decided) is not want:
                    continue
                b = ProgramBuilder()
                holds = []
                for k in (i, j):
                    xs = b.add("unique", [scene.object_set(b, k, *x)])
                    ys = b.add("unique", [scene.object_set(b, k, *y)])
                    holds.append(b.add("spatial", [xs, ys], predicate=p))
                b.add("and", holds)
                outputs = scene.run(b)
                if outputs is None:
                    continue
                tid, template = pick_template(ctx, self.templates)
                text = template.format(x=" ".join(w for w in (x[1], x[0]) if w),
                                       y=" ".join(w for w in (y[1], y[0]) if w),
                                       phrase=GEOMETRY_PHRASES[p], a=image_label(i),
                                       b=image_label(j))
                q = finish(ctx, b, text=text, template=tid, answer_type=AnswerType.YES_NO,
                           balance_key=f"{self.spec.name}/{scene.k}",
                           objects=scene.matched_objects(b, outputs), outputs=outputs)
                if q is not None:
                    yield q
                    want = not want


# registered with parameters (base.register makes a subclass at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class TotalWithAttribute(Generator):
    """How many <value> <name> are there in all the images together (every object of the name
    states the kind, so the count is certain)."""

    templates: ClassVar[dict[str, str]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(ctx))

    def _candidates(self, ctx: GenContext) -> Iterator[Question]:
        scene = MultiScene(ctx)
        candidates: list[tuple[str, str]] = []
        for name in scene.all_names():
            if scene.is_stuff(name):
                continue
            for kind in SELECT_KINDS:
                if not scene.kind_complete(kind, name):
                    continue
                values = sorted({
                    v for t in scene.tables for r in t.by_name.get(name, ())
                    for v in t.attr_by_kind[r].get(kind, ()) if not names_value(name, v)})
                candidates.extend((name, v) for v in values)
        for name, value in itertools.islice(lazy_shuffled(ctx.rng, candidates),
                                            ctx.config.max_per_generator):
            b = ProgramBuilder()
            counts = [scene.count(b, i, name, value) for i in range(scene.k)]
            b.add("sum", counts)
            outputs = scene.run(b)
            if outputs is None:
                continue
            tid, template = pick_template(ctx, self.templates)
            q = finish(ctx, b, text=template.format(noun=plural(f"{value} {name}")),
                       template=tid, answer_type=AnswerType.COUNT,
                       least_count=1,  # a value some object of that name has
                       balance_key=f"{self.spec.name}/{scene.k}",
                       objects=scene.matched_objects(b, outputs), outputs=outputs)
            if q is not None:
                yield q


register(RelationBothImages, GeneratorSpec(
    name="multi_relation_both", family="multi_relation", answer_type=AnswerType.YES_NO,
    needs=frozenset({Need.NAMES}), multi_image=True,
    description="Is the X <left of / behind / above ...> the Y in both of two images? (the X "
    "and the Y unique by name in each; geometry decides both pairs)",
    example="Is the cube to the left of the sphere in both Image 1 and Image 3? -> no",
), templates={
    "rel_both.is": "Is the {x} {phrase} the {y} in both {a} and {b}?",
    "rel_both.each": "In {a} and in {b} alike, is the {x} {phrase} the {y}?",
})
register(TotalWithAttribute, GeneratorSpec(
    name="multi_total_attribute_count", family="multi_aggregation", answer_type=AnswerType.COUNT,
    needs=frozenset({Need.NAMES, Need.ATTRIBUTES}), multi_image=True,
    description="How many objects of a category with a given colour / material / size are "
    "there in all the images together? (the kind stated by every object of the category)",
    example="How many red cubes are there in all the images together? -> 3",
), templates={
    "total_attr.together": "How many {noun} are there in all the images together?",
    "total_attr.in_total": "How many {noun} are there in total across the images?",
})
