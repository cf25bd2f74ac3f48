"""Attribute questions: what color is the X, is the X red, which objects are red, do the X and
the Y have the same color. The referring expression never uses the attribute kind asked about
("what color is the red cube" would give the answer away)."""

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
    QUERY_KINDS,
    attribute_distractors,
    balancer_refuses,
    finish,
    names_value,
    pick_template,
    random_pairs,
    single_value,
    single_values,
    tables,
)
from scenesynth.generators.refer import Reference, refer
from scenesynth.graph.attribute_rules import value_conflict
from scenesynth.programs.builder import ProgramBuilder

QUERY_TEMPLATES: dict[str, dict[str, str]] = {
    "color": {
        "color_what": "What color is {ref}?",
        "color_the": "What is the color of {ref}?",
        "color_which": "Which color does {ref} have?",
    },
    "material": {
        "material_what": "What material is {ref} made of?",
        "material_the": "What is the material of {ref}?",
    },
    "shape": {
        "shape_what": "What shape is {ref}?",
        "shape_the": "What is the shape of {ref}?",
    },
    "size": {
        "size_what": "What size is {ref}?",
        "size_the": "What is the size of {ref}?",
    },
    "state": {
        "state_what": "What is the state of {ref}?",
        "state_describe": "Which state is {ref} in?",
    },
}


def _queryable(ctx: GenContext) -> Iterator[tuple[str, str]]:
    """(object, kind) pairs with a single value of kind, in seeded random order (lazily)."""
    t = tables(ctx)
    out: list[tuple[str, str]] | None = t.memo.get("queryable")
    if out is None:  # a pure function of the graph: memoised per graph
        out = []
        singles = single_values(t)
        for r in t.scene:
            own = singles[r]
            if not own:
                continue
            for kind in QUERY_KINDS:
                v = own.get(kind)
                # "what shape is the cube" is answered by the name itself
                if v is not None and not names_value(t.names[r], v):
                    out.append((r, kind))
        t.memo["queryable"] = out
    return lazy_shuffled(ctx.rng, out)


@register
class QueryAttribute(Generator):
    spec = GeneratorSpec(
        name="query_attribute",
        family="attribute",
        description="What color / material / shape / size / state is the X?",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.ATTRIBUTE,
        example="What color is the large cube? -> blue",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for r, kind in _queryable(ctx):
            ref = refer(t, r, avoid_kinds=(kind,))
            if ref is None:
                continue
            b = ProgramBuilder()
            o = b.add_reference(ref)
            b.add("query_attr", [o], kind=kind)
            tid, tpl = pick_template(ctx, QUERY_TEMPLATES[kind])
            value = single_value(t, r, kind) or ""
            q = finish(ctx, b, text=tpl.format(ref=ref.text), template=tid,
                       answer_type=AnswerType.ATTRIBUTE, objects=ref.objects,
                       relations=ref.relations,
                       distractors=attribute_distractors(t, kind, value, ctx.source_values),
                       balance_key=f"{self.spec.name}:{kind}")
            if q is not None:
                yield q


VERIFY_TEMPLATES = {
    "verify_is": "Is {ref} {value}?",
    "verify_does": "Does {ref} look {value}?",
}
# a state reads as a predicate, not a look ("Is the person sitting?", not "Does the person look
# sitting?")
VERIFY_STATE_TEMPLATES = {
    "verify_is": "Is {ref} {value}?",
}
VERIFY_MATERIAL_TEMPLATES = {
    "verify_made": "Is {ref} made of {value}?",
    "verify_material": "Is the material of {ref} {value}?",
}


@register
class VerifyAttribute(Generator):
    spec = GeneratorSpec(
        name="verify_attribute",
        family="attribute",
        description="Is the X red? Negatives use another value of the same kind, only when "
        "the object has exactly one value of that kind (so 'no' is certain).",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.YES_NO,
        example="Is the sphere metal? -> yes",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for i, (r, kind) in enumerate(_queryable(ctx)):
            true_value = single_value(t, r, kind) or ""
            value = true_value
            if i % 2 == 1:
                # a wrong value the object's name rules out ("Is the person open?") would
                # be answered by the words, so only values the attribute rules allow
                name = t.names[r]
                color, material = single_value(t, r, "color"), single_value(t, r, "material")
                wrong = [v for v in attribute_distractors(t, kind, true_value, ctx.source_values)
                         if value_conflict(name, kind, v, color, material) is None][:4]
                if not wrong:
                    continue
                value = pick(ctx.rng, wrong)
            ref = refer(t, r, avoid_kinds=(kind,))
            if ref is None:
                continue
            b = ProgramBuilder()
            o = b.add_reference(ref)
            b.add("verify_attr", [o], value=value)
            templates = VERIFY_MATERIAL_TEMPLATES if kind == "material" else (
                VERIFY_STATE_TEMPLATES if kind == "state" else VERIFY_TEMPLATES)
            tid, tpl = pick_template(ctx, templates)
            q = finish(ctx, b, text=tpl.format(ref=ref.text, value=value), template=tid,
                       answer_type=AnswerType.YES_NO, objects=ref.objects,
                       relations=ref.relations)
            if q is not None:
                yield q


WITH_ATTRIBUTE_TEMPLATES = {
    "with_which": "Which objects are {value}?",
    "with_what": "What kinds of objects in the image are {value}?",
    "with_list": "List the types of objects that are {value}.",
}
# a material is what a thing is made of ("Which objects are made of wood?", not "are wood?")
WITH_MATERIAL_TEMPLATES = {
    "with_which": "Which objects are made of {value}?",
    "with_what": "What kinds of objects in the image are made of {value}?",
    "with_list": "List the types of objects that are made of {value}.",
}


@register
class ObjectsWithAttribute(Generator):
    spec = GeneratorSpec(
        name="objects_with_attribute",
        family="attribute",
        description="Which kinds of objects are red? (sorted distinct names)",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.TEXT,
        example="Which objects are red? -> cube, sphere",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        kind_of: dict[str, str] = {}
        singles = single_values(t)
        for r in t.scene:  # scene order: a value's kind is the first one seen
            own = singles[r]
            if not own:
                continue
            for k in QUERY_KINDS:
                v = own.get(k)
                if v is not None:
                    kind_of.setdefault(v, k)
        values = sorted(kind_of)
        answers: dict[str, list[str]] = {
            v: sorted({t.names[r] for r in t.scene if v in t.attr_values[r]}) for v in values
        }
        for value in lazy_shuffled(ctx.rng, values):
            if value in t.by_name:  # "which objects are cube" is not a question
                continue
            b = ProgramBuilder()
            s = b.add("filter_attr", [b.add("scene", image=0)], value=value)
            b.add("query_names", [s])
            tid, tpl = pick_template(ctx, WITH_MATERIAL_TEMPLATES
                                     if kind_of[value] == "material" else WITH_ATTRIBUTE_TEMPLATES)
            distractors = [a for v, a in sorted(answers.items()) if v != value]
            q = finish(ctx, b, text=tpl.format(value=value), template=tid,
                       answer_type=AnswerType.TEXT, distractors=distractors)
            if q is not None:
                yield q


SAME_TEMPLATES = {
    "same_have": "Do {a} and {b} have the same {kind}?",
    "same_is": "Is {a} the same {kind} as {b}?",
}
SAME_MATERIAL_TEMPLATES = {
    "same_made": "Are {a} and {b} made of the same material?",
    "same_have_material": "Do {a} and {b} have the same material?",
}


@register
class SameAttribute(Generator):
    spec = GeneratorSpec(
        name="same_attribute",
        family="same_attribute",
        description="Do the X and the Y have the same color / size / material / shape?",
        needs=frozenset({Need.NAMES, Need.ATTRIBUTES}),
        answer_type=AnswerType.YES_NO,
        example="Do the cube and the sphere have the same color? -> no",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        kinds = ("color", "size", "material", "shape")
        want_same = True  # alternate so a run is balanced between yes and no
        singles = single_values(t)
        if not any(sum(kind in own for own in singles.values()) >= 2 for kind in kinds):
            return  # no two objects with one value of a kind: every pair drawn would fail
        for a, c in random_pairs(ctx, t):
            kind = pick(ctx.rng, kinds)
            va, vc = singles[a].get(kind), singles[c].get(kind)
            if va is None or vc is None or (va == vc) != want_same:
                continue
            if kind == "shape" and t.names[a] == t.names[c]:
                continue
            templates = SAME_MATERIAL_TEMPLATES if kind == "material" else SAME_TEMPLATES
            tid, tpl = pick_template(ctx, templates)
            # yes balanced per kind: two CLEVR sizes make "same size" likely, eight colors
            # make "same color" rare, so one bucket per template would let the kind tell the
            # answer
            key = f"{self.spec.name}:{kind}"
            if balancer_refuses(ctx, key, tid, want_same):
                want_same = not want_same  # the balancer wants the other answer now
                continue
            ra = refer(t, a, avoid_kinds=(kind,), avoid_objects=(c,))
            rc = refer(t, c, avoid_kinds=(kind,), avoid_objects=(a,))
            if ra is None or rc is None:
                continue
            q = self._question(ctx, ra, rc, kind, key, tid, tpl)
            if q is not None:
                want_same = not want_same
                yield q

    def _question(self, ctx: GenContext, ra: Reference, rc: Reference, kind: str, key: str,
                  tid: str, tpl: str) -> Question | None:
        b = ProgramBuilder()
        va = b.add("query_attr", [b.add_reference(ra)], kind=kind)
        vc = b.add("query_attr", [b.add_reference(rc)], kind=kind)
        b.add("equal", [va, vc])
        return finish(ctx, b, text=tpl.format(a=ra.text, b=rc.text, kind=kind), template=tid,
                      answer_type=AnswerType.YES_NO, objects=[*ra.objects, *rc.objects],
                      relations=[*ra.relations, *rc.relations], balance_key=key)
