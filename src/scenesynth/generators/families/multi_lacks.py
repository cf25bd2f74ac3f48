"""Negated selection across images: "Which image does not have a cube / a red cube / a cube to
the left of a sphere?". Asked only when exactly one image lacks it and that absence is certain:
every object of the category states the attribute kind asked (a cube with no colour might be
red), and every pair of the two categories is decided by geometry in every image (an undecided
pair might be the relation)."""

from __future__ import annotations

import functools
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
from scenesynth.generators.families.multi_relations import (
    group_predicates,
    holds_in_each_image,
    placed_alike,
    relation_candidates,
)
from scenesynth.generators.families.multi_select import SELECT_KINDS
from scenesynth.generators.kit import (
    MultiScene,
    Planned,
    article,
    offered_candidates,
    pick_template,
)
from scenesynth.generators.refer import GEOMETRY_PHRASES
from scenesynth.graph import SceneGraph
from scenesynth.graph.keys import template_bucket
from scenesynth.graph.vocab import names_value
from scenesynth.programs.builder import ProgramBuilder

FAMILY = "multi_selection"  # negated selection: which image lacks it

# (name, attribute value or None, predicate or None, second name or None)
Thing = tuple[str, str | None, str | None, str | None]


def _relation_things(relations: Iterator[tuple[str, str, str]]) -> Iterator[Thing]:
    # a generator function, not a generator expression: a compiled build may evaluate a
    # returned generator expression at once, which would draw every candidate's index
    # before the first question's template (and so change the stream)
    for x, predicate, y in relations:
        yield x, None, predicate, y


# registered with parameters (base.register makes a subclass at import time), which a
# compiled class allows only when it says so
@mypyc_attr(allow_interpreted_subclasses=True)
class WhichLacks(Generator):
    """Registered with ``what`` ('name' | 'attribute' | 'relation'), ``templates`` ({thing}: "a red
    cube", {bare}: "red cube" / "cube to the left of a sphere")."""

    what: ClassVar[str]
    templates: ClassVar[dict[str, str]]

    def applicable(self, graphs: Sequence[SceneGraph]) -> bool:
        if self.what != "relation":
            return super().applicable(graphs)
        return super().applicable(graphs) and placed_alike(graphs)

    def _things(self, scene: MultiScene) -> Iterator[Thing]:
        """What may be missing from one image, in seeded random order (drawn lazily: the
        relations are every ordered pair of names times every predicate)."""
        what = self.what
        rng = scene.ctx.rng
        limit = scene.config.max_per_generator * 4
        names = scene.all_names()
        in_images = {n: [i for i in range(scene.k) if n in scene.tables[i].by_name]
                     for n in names}
        if what == "name":
            return itertools.islice(lazy_shuffled(rng, [
                (n, None, None, None) for n in names if len(in_images[n]) == scene.k - 1]),
                limit)
        if what == "attribute":
            out: list[Thing] = []
            for name in names:
                for kind in SELECT_KINDS:
                    if not scene.kind_complete(kind, name):
                        continue
                    values = sorted({
                        v for i in in_images[name] for r in scene.tables[i].by_name[name]
                        for v in scene.tables[i].attr_by_kind[r].get(kind, ())
                        if not names_value(name, v)})
                    out.extend((name, v, None, None) for v in values)
            return itertools.islice(lazy_shuffled(rng, out), limit)
        predicates = group_predicates(scene)
        # both categories in all the images but at most one (in the order of `names`)
        present = [n for n in names if len(in_images[n]) >= scene.k - 1]
        return _relation_things(relation_candidates(rng, present, predicates, limit))

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        yield from offered_candidates(ctx, self._candidates(MultiScene(ctx)))

    def _candidates(self, scene: MultiScene) -> Iterator[Planned]:
        ctx = scene.ctx
        balance_key = f"{self.spec.name}/{scene.k}"  # image answers balanced per group size
        for name, value, predicate, other in self._things(scene):
            if predicate is not None:
                assert other is not None
                has = holds_in_each_image(scene, name, other, predicate)
                if has is None:
                    continue  # undecided in some image
            else:
                has = [scene.has(i, name, value) for i in range(scene.k)]
            answer = scene.predicted("image_where", [not h for h in has])
            if answer is None:  # several images lack it, or none does
                continue
            # the template is drawn now (the random stream's order); the text is written
            # only for a plan that is offered
            tid, template = pick_template(ctx, self.templates)
            yield Planned(answer, functools.partial(
                self._built, scene, name, value, predicate, other, tid, template, balance_key),
                template_bucket(balance_key, tid))

    def _built(
        self, scene: MultiScene, name: str, value: str | None, predicate: str | None,
        other: str | None, tid: str, template: str, balance_key: str,
    ) -> Question | None:
        bare = name if value is None else f"{value} {name}"
        thing = article(bare)
        if predicate is not None and other is not None:
            # the article goes with the phrase's head noun, the first name: "eggs to the left
            # of a kebab", not "an eggs ..."
            relation = f"{GEOMETRY_PHRASES[predicate]} {scene.phrase(other)}"
            bare = f"{name} {relation}"
            thing = f"{scene.phrase(name)} {relation}"
        b = ProgramBuilder()
        lacking = []
        for i in range(scene.k):
            if predicate is None or other is None:
                has = scene.exist(b, i, name, value)
            else:
                has = scene.relation_exists(b, i, name, predicate, other)
            lacking.append(b.add("not", [has]))
        b.add("image_where", lacking)
        return scene.finished(
            b, text=template.format(thing=thing, bare=bare), template=tid,
            answer_type=AnswerType.IMAGE,
            distractors=scene.image_options([scene.both_or_all(), scene.neither_or_none()]),
            balance_key=balance_key)


_LACKS = (
    ("multi_which_lacks", "name", frozenset({Need.NAMES}),
     "Which image does not have a cube? -> Image 3", {
         "lacks.which": "Which image does not have {thing}?",
         "lacks.no": "In which image is there no {bare}?"}),
    ("multi_which_lacks_attribute", "attribute", frozenset({Need.NAMES, Need.ATTRIBUTES}),
     "Which image does not have a red cube? -> Image 1", {
         "lacks_attr.which": "Which image does not have {thing}?",
         "lacks_attr.no": "In which image is there no {bare}?"}),
    ("multi_which_lacks_relation", "relation", frozenset({Need.NAMES}),
     "Which image does not show a cube to the left of a sphere? -> Image 2", {
         "lacks_rel.which": "Which image does not show {thing}?",
         "lacks_rel.no": "In which image is there no {bare}?"}),
)
for _name, _what, _needs, _example, _templates in _LACKS:
    register(WhichLacks, GeneratorSpec(
        name=_name, family=FAMILY, answer_type=AnswerType.IMAGE, needs=_needs,
        example=_example, multi_image=True,
        description="Which image does not have an object of a category"
        + {"name": "", "attribute": " with a given colour / material / size",
           "relation": " in a spatial relation to another (geometry)"}[_what]
        + ", when exactly one image lacks it (absence certain)",
    ), what=_what, templates=_templates)
