"""Annotated-relation questions: what is the X on, what is on the Y, what is the relation
between X and Y, is the X on the Y, and multi-hop chains ("what is left of the thing on the
table"). Geometric chains use relations decided by ``spatial_relation``."""

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
from scenesynth.generators.program import ProgramBuilder, SceneTables, tables_for
from scenesynth.generators.refer import (
    GEOMETRY_PHRASES,
    is_speakable,
    predicate_phrase,
    refer,
)
from scenesynth.generators.single._common import (
    attribute_distractors,
    finish,
    has_positions,
    name_distractors,
    pick_template,
    single_value,
    tables,
)

# Relations whose reverse is false whenever the relation holds (safe negatives).
ASYMMETRIC = frozenset(
    {"on", "on top of", "in", "inside", "inside of", "under", "underneath", "beneath",
     "wearing", "holding", "riding", "carrying", "sitting on", "standing on", "lying on",
     "hanging on", "parked on", "eating", "above", "below", "behind", "in front of",
     "left of", "right of", "to the left of", "to the right of", "contains"}
)


def _annotated(t: SceneTables) -> list[tuple[str, str, str]]:
    return [(s, p, o) for s, rels in sorted(t.out_relations.items()) for p, o in rels if s != o]


OBJECT_TEMPLATES = {
    "rel_object_what": "What is {s} {p}?",
    "rel_object_which": "Which object is {s} {p}?",
}


@register
class RelationObjectQuery(Generator):
    spec = GeneratorSpec(
        name="relation_object_query",
        family="relation",
        description="What is the X [predicate]? (the unique object of an annotated relation)",
        needs=frozenset({Need.NAMES, Need.RELATIONS}),
        answer_type=AnswerType.NAME,
        example="What is the cup on? -> table",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for s, p, o in lazy_shuffled(ctx.rng, _annotated(t)):
            if not is_speakable(p) or len(t.rel_by_subject.get((s, p), ())) != 1:
                continue
            ref = refer(t, s, avoid_objects=(o,), relations=False)
            if ref is None:
                continue
            b = ProgramBuilder()
            rel = b.add("relate_inv", [b.add_reference(ref)], predicate=p, mode="annotated")
            b.add("query_name", [b.add("unique", [rel])])
            tid, tpl = pick_template(ctx.rng, OBJECT_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(s=ref.text, p=predicate_phrase(p)), template=tid,
                       answer_type=AnswerType.NAME, objects=[*ref.objects, o],
                       relations=[*ref.relations, (s, p, o)],
                       distractors=name_distractors(ctx, t, t.names[o]))
            if q is not None:
                yield q


SUBJECT_TEMPLATES = {
    "rel_subject_what": "What is {p} {o}?",
    "rel_subject_which": "Which object is {p} {o}?",
}


@register
class RelationSubjectQuery(Generator):
    spec = GeneratorSpec(
        name="relation_subject_query",
        family="relation",
        description="What is [predicate] the Y? (the unique subject of an annotated relation)",
        needs=frozenset({Need.NAMES, Need.RELATIONS}),
        answer_type=AnswerType.NAME,
        example="What is on the table? -> cup",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for s, p, o in lazy_shuffled(ctx.rng, _annotated(t)):
            if not is_speakable(p) or len(t.rel_by_object.get((o, p), ())) != 1:
                continue
            ref = refer(t, o, avoid_objects=(s,), relations=False)
            if ref is None:
                continue
            b = ProgramBuilder()
            rel = b.add("relate", [b.add_reference(ref)], predicate=p, mode="annotated")
            b.add("query_name", [b.add("unique", [rel])])
            tid, tpl = pick_template(ctx.rng, SUBJECT_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(o=ref.text, p=predicate_phrase(p)), template=tid,
                       answer_type=AnswerType.NAME, objects=[s, *ref.objects],
                       relations=[(s, p, o), *ref.relations],
                       distractors=name_distractors(ctx, t, t.names[s]))
            if q is not None:
                yield q


PREDICATE_TEMPLATES = {
    "rel_pred_between": "What is the relationship between {s} and {o}?",
    "rel_pred_how": "How is {s} related to {o}?",
}


@register
class RelationPredicateQuery(Generator):
    spec = GeneratorSpec(
        name="relation_predicate_query",
        family="relation",
        description="What is the relationship between the X and the Y? (single annotated "
        "predicate)",
        needs=frozenset({Need.NAMES, Need.RELATIONS}),
        answer_type=AnswerType.RELATION,
        example="What is the relationship between the man and the horse? -> riding",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        predicates = sorted({p for (_, _), ps in t.rel_pairs.items() for p in ps})
        pairs = sorted(k for k, ps in t.rel_pairs.items() if len(ps) == 1 and k[0] != k[1])
        for s, o in lazy_shuffled(ctx.rng, pairs):
            # the reverse direction must not carry a relation too (the question is symmetric)
            if t.rel_pairs.get((o, s)):
                continue
            rs = refer(t, s, avoid_objects=(o,), relations=False)
            ro = refer(t, o, avoid_objects=(s,), relations=False)
            if rs is None or ro is None:
                continue
            b = ProgramBuilder()
            a = b.add_reference(rs)
            c = b.add_reference(ro)
            b.add("query_relation", [a, c])
            p = t.rel_pairs[(s, o)][0]
            tid, tpl = pick_template(ctx.rng, PREDICATE_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(s=rs.text, o=ro.text), template=tid,
                       answer_type=AnswerType.RELATION, objects=[*rs.objects, *ro.objects],
                       relations=[(s, p, o)],
                       distractors=[x for x in predicates if x != p])
            if q is not None:
                yield q


VERIFY_TEMPLATES = {
    "rel_verify_is": "Is {s} {p} {o}?",
    "rel_verify_true": "Is it true that {s} is {p} {o}?",
}


@register
class RelationVerify(Generator):
    spec = GeneratorSpec(
        name="relation_verify",
        family="relation",
        description="Is the X [predicate] the Y? Negatives reverse an asymmetric annotated "
        "relation (the cup is on the table, so the table is not on the cup).",
        needs=frozenset({Need.NAMES, Need.RELATIONS}),
        answer_type=AnswerType.YES_NO,
        example="Is the cup on the table? -> yes",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for i, (s, p, o) in enumerate(lazy_shuffled(ctx.rng, _annotated(t))):
            if not is_speakable(p):
                continue
            if i % 2 == 1:
                if p not in ASYMMETRIC or p in t.rel_pairs.get((o, s), ()):
                    continue
                s, o = o, s
            rs = refer(t, s, avoid_objects=(o,), relations=False)
            ro = refer(t, o, avoid_objects=(s,), relations=False)
            if rs is None or ro is None:
                continue
            b = ProgramBuilder()
            b.add("has_relation", [b.add_reference(rs), b.add_reference(ro)], predicate=p)
            tid, tpl = pick_template(ctx.rng, VERIFY_TEMPLATES)
            text = tpl.format(s=rs.text, p=predicate_phrase(p), o=ro.text)
            q = finish(ctx, b, text=text, template=tid,
                       answer_type=AnswerType.YES_NO, objects=[*rs.objects, *ro.objects],
                       relations=[(s, p, o)])
            if q is not None:
                yield q


def _related(t: SceneTables, o: str, predicate: str, mode: str) -> list[str]:
    """Candidates x with (x predicate o), for screening chains (answers come from execute);
    shared lists, not to be changed."""
    if mode == "annotated":
        return t.rel_by_object.get((o, predicate), [])
    return t.related_by_geometry(o, predicate, False)


HOP_NAME_TEMPLATES = {
    "hop_what": "What is {p2} the {nx} {p1} {o}?",
    "hop_which": "Which object is {p2} the {nx} {p1} {o}?",
}
HOP_ATTR_TEMPLATES = {
    "hop_attr_what": "What {kind} is the {ny} {p2} the {nx} {p1} {o}?",
    "hop_attr_the": "What is the {kind} of the {ny} {p2} the {nx} {p1} {o}?",
}


Chain = tuple[str, str, str, tuple[str, str], tuple[str, str]]  # o, x, y, hop 1, hop 2


@register
class MultiHopRelation(Generator):
    spec = GeneratorSpec(
        name="multi_hop_relation",
        family="multi_hop",
        description="Two-hop relation chains: what is [p2] the X [p1] the Y; when the second "
        "hop is not a single object, ask an attribute of the unique Z of a given name there.",
        needs=frozenset({Need.NAMES}),
        answer_type=AnswerType.TEXT,
        example="What color is the sphere left of the cube behind the cylinder? -> red",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        chains = self._geometry_chains(ctx, t) if has_positions(t) else self._annotated_chains(
            ctx, t)
        misses = 0
        for o, x, y, hop1, hop2 in chains:
            q = self._question(ctx, t, o, x, y, hop1, hop2)
            if q is not None:
                misses = 0
                yield q
            else:
                misses += 1
                if misses > 40:  # most chains are ambiguous in dense scenes: stop searching
                    return

    @staticmethod
    def _annotated_chains(ctx: GenContext, t: SceneTables) -> Iterator[Chain]:
        hops = [(s, p, o) for s, p, o in _annotated(t) if is_speakable(p)]
        by_anchor: dict[str, list[tuple[str, str, str]]] = {}
        for h in hops:
            by_anchor.setdefault(h[2], []).append(h)
        for x, p1, o in lazy_shuffled(ctx.rng, hops):
            second = [h for h in by_anchor.get(x, ()) if h[0] not in (o, x)]
            if second:
                y, p2, _ = pick(ctx.rng, second)
                yield o, x, y, ("annotated", p1), ("annotated", p2)

    @staticmethod
    def _geometry_chains(ctx: GenContext, t: SceneTables) -> Iterator[Chain]:
        """3D scenes (CLEVR): hop along geometry (which CLEVR's annotated relations copy),
        drawing pairs lazily instead of deciding every pair up front."""
        preds = ("left of", "right of", "in front of", "behind")
        scene = t.scene
        pairs = [(x, o) for x in scene for o in scene if x != o]
        for x, o in lazy_shuffled(ctx.rng, pairs):
            p1 = pick(ctx.rng, preds)
            if t.spatial(x, o, p1) is not True:
                continue
            # the first hop must single out x among the objects of its name
            if [z for z in _related(t, o, p1, "geometry") if t.names[z] == t.names[x]] != [x]:
                continue
            p2 = pick(ctx.rng, preds)
            second = _related(t, x, p2, "geometry")
            # the second hop must give one object, or one object of a given name
            if len(second) == 1:
                usable = [y for y in second if y != o]
            else:
                name_counts: dict[str, int] = {}
                for z in second:
                    name_counts[t.names[z]] = name_counts.get(t.names[z], 0) + 1
                usable = [y for y in second if y != o and name_counts[t.names[y]] == 1]
            if usable:
                y = pick(ctx.rng, usable)
                yield o, x, y, ("geometry", p1), ("geometry", p2)

    def _question(
        self, ctx: GenContext, t: SceneTables, o: str, x: str, y: str,
        hop1: tuple[str, str], hop2: tuple[str, str],
    ) -> Question | None:
        (mode1, p1), (mode2, p2) = hop1, hop2
        nx, ny = t.names[x], t.names[y]
        # cheap screen before building anything: the first hop must single out x by name
        if [z for z in _related(t, o, p1, mode1) if t.names[z] == nx] != [x]:
            return None
        ro = refer(t, o, relations=False, geometry=False)
        if ro is None:
            return None
        b = ProgramBuilder()
        r1 = b.add("relate", [b.add_reference(ro)], predicate=p1, mode=mode1)
        ux = b.add("unique", [b.add("filter_name", [r1], name=nx)])
        r2 = b.add("relate", [ux], predicate=p2, mode=mode2)
        # executing the prefix tells whether the chain is unique at each hop
        try:
            outs = b.run(ctx.graphs, ctx.config, tables_for(ctx))
        except ValueError:
            return None
        second = outs[r2]
        phrase1 = GEOMETRY_PHRASES.get(p1, p1)
        phrase2 = GEOMETRY_PHRASES.get(p2, p2)
        fields = {"p1": phrase1, "p2": phrase2, "nx": nx, "o": ro.text}
        rels = [(x, p1, o), (y, p2, x)]
        if len(second) == 1:
            b.add("query_name", [b.add("unique", [r2])])
            tid, tpl = pick_template(ctx.rng, HOP_NAME_TEMPLATES)
            return finish(ctx, b, text=tpl.format(**fields), template=tid,
                          answer_type=AnswerType.NAME, objects=[o, x, y], relations=rels,
                          distractors=name_distractors(ctx, t, ny),
                          balance_key=f"{self.spec.name}:name")
        if sum(1 for r in second if t.names[r] == ny) != 1:
            return None
        kinds = [k for k in ("color", "material", "size") if single_value(t, y, k)]
        if not kinds:
            return None
        kind = pick(ctx.rng, kinds)
        uy = b.add("unique", [b.add("filter_name", [r2], name=ny)])
        b.add("query_attr", [uy], kind=kind)
        tid, tpl = pick_template(ctx.rng, HOP_ATTR_TEMPLATES)
        return finish(ctx, b, text=tpl.format(kind=kind, ny=ny, **fields), template=tid,
                      answer_type=AnswerType.ATTRIBUTE, objects=[o, x, y], relations=rels,
                      distractors=attribute_distractors(
                          t, kind, single_value(t, y, kind) or "", ctx.source_values),
                      balance_key=f"{self.spec.name}:{kind}")
