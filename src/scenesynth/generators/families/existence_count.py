"""Existence and counting: is there an X, how many X, how many red X, how many X or Y, how many
other objects share an attribute with the X. Counts use ``count_distinct`` so near-duplicate
boxes (IoU above ``config.duplicate_iou``) count once unless marked distinct."""

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
from scenesynth.generators.draws import lazy_shuffled, shuffled
from scenesynth.generators.kit import (
    QUERY_KINDS,
    article,
    balancer_refuses,
    concept_kind,
    concepts,
    countable_name,
    finish,
    is_mass_noun,
    names_value,
    pick_template,
    plural,
    single_values,
    stuff_region_name,
    tables,
    uncountable,
)
from scenesynth.generators.refer import refer
from scenesynth.programs.builder import ProgramBuilder

EXIST_TEMPLATES = {
    "exist_is_there": "Is there {a_phrase} in the image?",
    "exist_any": "Are there any {plural_phrase} in the image?",
    "exist_see": "Can you see {a_phrase}?",
}


EXIST_ANY_MASS = "Is there any {plural_phrase} in the image?"


def _phrase(concept: tuple[str, str | None]) -> str:
    name, value = concept
    return f"{value} {name}" if value else name


def _concept_program(builder: ProgramBuilder, concept: tuple[str, str | None]) -> int:
    name, value = concept
    s = builder.add("scene", image=0)
    s = builder.add("filter_name", [s], name=name)
    if value:
        s = builder.add("filter_attr", [s], value=value)
    return s


@register
class ExistObject(Generator):
    spec = GeneratorSpec(
        name="exist_object",
        family="existence",
        description="Is there an X (optionally with an attribute)? Negatives are absent names "
        "(graph.meta['absent_objects'] or other graphs of the source) or attribute combinations "
        "every object of that name contradicts.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.YES_NO,
        example="Is there a red cube in the image? -> yes",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        present, absent = concepts(ctx, t)
        positives = shuffled(ctx.rng, present)
        negatives = shuffled(ctx.rng, absent)
        # alternate so a run is balanced between yes and no
        for i in range(max(len(positives), len(negatives))):
            for pool in (positives, negatives) if i % 2 == 0 else (negatives, positives):
                if i < len(pool):
                    q = self._question(ctx, pool[i], pool is positives)
                    if q is not None:
                        yield q

    def _question(self, ctx: GenContext, concept: tuple[str, str | None],
                  present: bool) -> Question | None:
        tid, tpl = pick_template(ctx, EXIST_TEMPLATES)
        phrase = _phrase(concept)
        if stuff_region_name(tables(ctx), concept[0]):  # a region of trees: "any trees"
            tid, tpl = "exist_any", EXIST_TEMPLATES["exist_any"]
            ctx.wording.pop(tid, None)  # the template's own text, not a bank phrasing
        elif tid == "exist_any" and is_mass_noun(phrase):
            tpl = EXIST_ANY_MASS  # "Is there any gravel", not "Are there any gravel"
            ctx.wording.pop(tid, None)
        # yes balanced per wording: a bare CLEVR shape is nearly always there, a colour
        # combination (8 colours) often not, a size (2 sizes) mostly, so the kind of the
        # attribute named would otherwise tell the answer
        key = f"{self.spec.name}:{concept_kind(concept[1])}"
        if balancer_refuses(ctx, key, tid, present):
            return None
        b = ProgramBuilder()
        s = _concept_program(b, concept)
        b.add("exist", [s])
        return finish(
            ctx, b,
            text=tpl.format(a_phrase=article(phrase), plural_phrase=plural(phrase)),
            template=tid, answer_type=AnswerType.YES_NO, balance_key=key,
        )


COUNT_TEMPLATES = {
    "count_how_many": "How many {plural_phrase} are there?",
    "count_number": "What number of {plural_phrase} are in the image?",
    "count_in_image": "How many {plural_phrase} are in the image?",
}


def _count_question(
    ctx: GenContext, concept: tuple[str | None, str | None], key: str,
    expected: int | None = None,
) -> Question | None:
    """How many of ``concept``; ``expected``, the count when the caller predicts it, skips a
    question its template's balance bucket would refuse."""
    name, value = concept
    tid, tpl = pick_template(ctx, COUNT_TEMPLATES)
    if expected is not None and balancer_refuses(ctx, key, tid, expected):
        return None
    b = ProgramBuilder()
    s = b.add("scene", image=0)
    if name:
        s = b.add("filter_name", [s], name=name)
    if value:
        s = b.add("filter_attr", [s], value=value)
    b.add("count_distinct", [s], iou=ctx.config.duplicate_iou)
    noun = plural(name) if name else "objects"
    phrase = f"{value} {noun}" if value else noun
    return finish(
        ctx, b, text=tpl.format(plural_phrase=phrase), template=tid,
        answer_type=AnswerType.COUNT, balance_key=key,
        least_count=1,  # asked about names and values the scene holds: never 0
    )


@register
class CountObjects(Generator):
    spec = GeneratorSpec(
        name="count_objects",
        family="counting",
        description="How many X are there? (near-duplicate boxes count once)",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.COUNT,
        example="How many cubes are there? -> 3",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for name in lazy_shuffled(ctx.rng, sorted(t.by_name)):
            if not countable_name(t, name):  # "how many skies"
                continue
            q = _count_question(ctx, (name, None), self.spec.name)
            if q is not None:
                yield q


@register
class CountAttribute(Generator):
    spec = GeneratorSpec(
        name="count_attribute",
        family="counting",
        description="How many red X (or red objects) are there?",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.COUNT,
        example="How many large metal cylinders are there? -> 2",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        concepts: set[tuple[str | None, str | None]] = set()
        kind_of: dict[str, str] = {}
        stuff = uncountable(t)
        # values some stuff region has: "how many green objects" would count the grass
        stuff_values = {v for r in stuff for v in t.attr_values[r]}
        singles = single_values(t)
        for r in t.scene:
            own = singles[r]
            if not own:
                continue
            name = t.names[r]
            if r in stuff or not countable_name(t, name):
                continue
            own = singles[r]
            for kind in QUERY_KINDS:
                v = own.get(kind)
                if v is not None and not names_value(name, v):
                    kind_of.setdefault(v, kind)
                    concepts.add((name, v))
                    if kind != "state" and v not in stuff_values:
                        concepts.add((None, v))
        would_keep = ctx.would_keep
        for concept in lazy_shuffled(ctx.rng, sorted(concepts, key=lambda c: (c[0] or "", c[1]))):
            # counts balanced per kind of the value and with or without a name: "large
            # objects" are half a CLEVR scene, "brown cubes" one at most, so one bucket would
            # let the wording's specificity tell the count
            key = f"{self.spec.name}:{kind_of.get(concept[1] or '', 'other')}" + (
                "+name" if concept[0] else "")
            expected: int | None = None
            if would_keep is not None:
                # most concepts have the same small count; skip building the ones the
                # balancer would reject (the expected count ignores near-duplicate boxes: it
                # only steers which candidates are built)
                cname, cvalue = concept
                expected = sum(1 for r in (t.by_name[cname] if cname else t.scene)
                               if cvalue in t.attr_values[r])
                if not would_keep(key, expected):
                    continue
            q = _count_question(ctx, concept, key, expected)
            if q is not None:
                yield q


UNION_TEMPLATES = {
    "union_how_many": "How many objects are {a} or {b}?",
    "union_number": "What number of things are either {a} or {b}?",
}


@register
class CountUnion(Generator):
    spec = GeneratorSpec(
        name="count_union",
        family="logic",
        description="How many objects are X or have attribute V? (set union, counted once)",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.COUNT,
        example="How many objects are cubes or red? -> 4",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        values = sorted(
            {v for own in single_values(t).values() if own
             for k in ("color", "material", "size") if (v := own.get(k)) is not None}
        )
        stuff = uncountable(t)
        stuff_values = {v for r in stuff for v in t.attr_values[r]}
        pairs = [(n, v) for n in sorted(t.by_name) if countable_name(t, n)
                 for v in values if not names_value(n, v) and v not in stuff_values]
        for name, value in lazy_shuffled(ctx.rng, pairs):
            b = ProgramBuilder()
            s1 = b.add("filter_name", [b.add("scene", image=0)], name=name)
            s2 = b.add("filter_attr", [b.add("scene", image=0)], value=value)
            u = b.add("union", [s1, s2])
            b.add("count_distinct", [u], iou=ctx.config.duplicate_iou)
            tid, tpl = pick_template(ctx, UNION_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(a=plural(name), b=value), template=tid,
                       answer_type=AnswerType.COUNT)
            if q is not None:
                yield q


SAME_PHRASES = {
    "color": "the same color as",
    "size": "the same size as",
    "material": "made of the same material as",
    "shape": "the same shape as",
}
SAME_COUNT_TEMPLATES = {
    "same_count_how_many": "How many other objects are {same} {ref}?",
    "same_count_number": "What number of other things are {same} {ref}?",
}


@register
class CountSameAttribute(Generator):
    spec = GeneratorSpec(
        name="count_same_attribute",
        family="same_attribute",
        description="How many other objects are the same color/size/material/shape as the X?",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.COUNT,
        example="How many other objects are the same size as the red cube? -> 2",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        singles = single_values(t)
        cands = [(r, k) for r in t.scene if singles[r] for k in SAME_PHRASES
                 if k in singles[r]]
        stuff = uncountable(t)
        iou = ctx.config.duplicate_iou
        for r, kind in lazy_shuffled(ctx.rng, cands):
            same_objects = t.same_value_objects(r, kind)
            if stuff and not stuff.isdisjoint(same_objects):
                continue  # the counted objects must all be things, not stuff
            tid, tpl = pick_template(ctx, SAME_COUNT_TEMPLATES)
            # balanced per kind: "the same size" (2 CLEVR sizes) counts half the scene,
            # "the same color" (8 colors) few; one bucket would let the kind tell the count
            key = f"{self.spec.name}:{kind}"
            # the program's count, known before the reference (the costly part) is built
            if balancer_refuses(ctx, key, tid, t.distinct_count(same_objects, iou)):
                continue
            ref = refer(t, r, avoid_kinds=(kind,))
            if ref is None:
                continue
            b = ProgramBuilder()
            o = b.add_reference(ref)
            same = b.add("same_attr", [o], kind=kind)
            b.add("count_distinct", [same], iou=iou)
            q = finish(ctx, b, text=tpl.format(same=SAME_PHRASES[kind], ref=ref.text),
                       template=tid, answer_type=AnswerType.COUNT, objects=ref.objects,
                       relations=ref.relations, balance_key=key)
            if q is not None:
                yield q
