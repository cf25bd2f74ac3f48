"""Relation questions: what is the X on, what is on the Y, what is the relation between X and
Y, is the X on the Y, and multi-hop chains ("what is left of the thing on the table").

What the image shows decides (the policy of :mod:`scenesynth.generators.refer`): an annotated
*spatial* relation is asked only when :func:`~scenesynth.graph.spatial_relation` decides it True,
and an open question ("What is in front of the hat?") only when geometry gives exactly one
answer with every other object decided False; the program then relates by geometry. A
*non-spatial* annotated relation (holding, wearing) is asked as a yes/no verification of one
given pair, and in open questions or references only when the graph marks the relations as
exhaustive."""

from __future__ import annotations

from collections.abc import Iterator
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
from scenesynth.generators.draws import lazy_shuffled, pick, random_pairs_of
from scenesynth.generators.kit import (
    attribute_distractors,
    background_regions,
    balancer_refuses,
    finish,
    name_distractors,
    pick_template,
    single_value,
    tables,
    tables_for,
)
from scenesynth.generators.refer import (
    GEOMETRY_PHRASES,
    NOT_DECIDED,
    is_speakable,
    name_kinds,
    predicate_phrase,
    refer,
    relations_exhaustive,
    sole_by_geometry,
    sole_by_geometry_if_decided,
    spatial_predicate,
)
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.tables import SceneTables


def _annotated(t: SceneTables) -> list[tuple[str, str, str]]:
    """The graph's annotated (subject, predicate, object) triples, subjects sorted; memoised
    per graph for the relation generators (a shared list: not to be changed)."""
    triples: list[tuple[str, str, str]] | None = t.memo.get("annotated_triples")
    if triples is None:
        triples = [(s, p, o) for s, rels in sorted(t.out_relations.items()) for p, o in rels
                   if s != o]
        t.memo["annotated_triples"] = triples
    return triples


def _open_hop(
    t: SceneTables, s: str, p: str, o: str, inverse: bool
) -> tuple[str, str] | None:
    """(mode, program predicate) for an open question on the annotated ``(s, p, o)`` whose
    answer is ``o`` (``inverse``: "What is the X p?") or ``s`` ("What is p the Y?"), or None
    when a reader of the image could give a second answer (module docstring)."""
    spatial = spatial_predicate(p)
    if spatial is None:
        asked_about = s if inverse else o
        if not relations_exhaustive(t, asked_about):
            return None
        table = t.rel_by_subject.get((s, p), ()) if inverse else t.rel_by_object.get((o, p), ())
        return ("annotated", p) if len(table) == 1 else None
    anchor, answer = (s, o) if inverse else (o, s)
    # the one object geometry relates to the anchor must be the annotated one (no rival). It
    # is memoised per anchor: once decided it settles most candidates of a crowded image;
    # until then the pair test comes first (the cheap refusal of annotations that geometry
    # contradicts), and the sole object, when it is the answer, implies it
    sole = sole_by_geometry_if_decided(t, anchor, spatial, inverse)
    if sole is NOT_DECIDED:
        if t.spatial(s, o, spatial) is not True:
            return None  # the annotation must agree with geometry
        sole = sole_by_geometry(t, anchor, spatial, inverse)
    # between things (checked last: most relations of a crowded image have a rival)
    return ("geometry", spatial) if sole == answer and not _has_stuff(t, s, o) else None


def _hop(t: SceneTables, s: str, p: str, o: str) -> tuple[str, str] | None:
    """(mode, program predicate) for a hop along the annotated ``(s, p, o)`` inside a longer
    question: by geometry when spatial (and only when geometry decides it True), annotated
    when both ends have exhaustive relations, else None."""
    spatial = spatial_predicate(p)
    if spatial is None:
        if relations_exhaustive(t, s) and relations_exhaustive(t, o):
            return "annotated", p
        return None
    if _has_stuff(t, s, o):
        return None
    return ("geometry", spatial) if t.spatial(s, o, spatial) is True else None


def _has_stuff(t: SceneTables, *objects: str) -> bool:
    """Whether one of ``objects`` is a background region (sky, ground, wall): a region
    spanning the image is never a spatial anchor or subject ("left of the sky" misdescribes
    the picture)."""
    regions = background_regions(t)
    return bool(regions) and any(r in regions for r in objects)


def _relation_negative(t: SceneTables, s: str, p: str, o: str) -> str | None:
    """An object ``x`` for which "is the s p x?" is a certain and sensible "no", for the
    annotated non-spatial ``(s, p, o)``: ``s`` has exhaustive relations (so an absent relation
    is false), and ``x`` is what another subject is ``p`` here (someone holds the cup, so
    "is the man holding the cup?" is a fair question). Never the reversed pair: "is the
    plate holding the man?" is answered by the words alone."""
    if not relations_exhaustive(t, s):
        return None
    for x in sorted({x for (other, predicate), objects in t.rel_by_subject.items()
                     if predicate == p and other != s for x in objects}):
        if x not in (s, o) and p not in t.rel_pairs.get((s, x), ()):
            return x
    return None


OBJECT_TEMPLATES = {
    "rel_object_what": "What is {named} {p}?",
    "rel_object_which": "Which object is {named} {p}?",
}
SUBJECT_TEMPLATES = {
    "rel_subject_what": "What is {p} {named}?",
    "rel_subject_which": "Which object is {p} {named}?",
}


@mypyc_attr(allow_interpreted_subclasses=True)  # registered as subclasses (base.register)
class RelationEndQuery(Generator):
    """The unique object at one end of an annotated relation, the other end named: "What is
    the X on?" (``inverse``: the answer is the relation's object) or "What is on the Y?" (the
    answer is its subject). Registered once per end below."""

    inverse: ClassVar[bool]
    templates: ClassVar[dict[str, str]]

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for s, p, o in lazy_shuffled(ctx.rng, _annotated(t)):
            if not is_speakable(p):
                continue
            hop = _open_hop(t, s, p, o, inverse=self.inverse)
            if hop is None:
                continue
            named, answer = (s, o) if self.inverse else (o, s)
            ref = refer(t, named, avoid_objects=(answer,), relations=False)
            if ref is None:
                continue
            b = ProgramBuilder()
            op = "relate_inv" if self.inverse else "relate"
            rel = b.add(op, [b.add_reference(ref)], predicate=hop[1], mode=hop[0])
            b.add("query_name", [b.add("unique", [rel])])
            tid, tpl = pick_template(ctx, self.templates)
            text = tpl.format(named=ref.text, p=predicate_phrase(p))
            # objects and relations in the order of the sentence: subject first
            if self.inverse:
                objects, relations = [*ref.objects, o], [*ref.relations, (s, p, o)]
            else:
                objects, relations = [s, *ref.objects], [(s, p, o), *ref.relations]
            q = finish(ctx, b, text=text, template=tid, answer_type=AnswerType.NAME,
                       objects=objects, relations=relations,
                       distractors=name_distractors(ctx, t, t.names[answer]))
            if q is not None:
                yield q


register(RelationEndQuery, GeneratorSpec(
    name="relation_object_query",
    family="relation",
    description="What is the X [predicate]? (the unique object of an annotated relation)",
    needs=frozenset({Need.NAMES, Need.RELATIONS}),
    answer_type=AnswerType.NAME,
    example="What is the cup on? -> table",
), inverse=True, templates=OBJECT_TEMPLATES)
register(RelationEndQuery, GeneratorSpec(
    name="relation_subject_query",
    family="relation",
    description="What is [predicate] the Y? (the unique subject of an annotated relation)",
    needs=frozenset({Need.NAMES, Need.RELATIONS}),
    answer_type=AnswerType.NAME,
    example="What is on the table? -> cup",
), inverse=False, templates=SUBJECT_TEMPLATES)


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
            # one predicate is the answer only when it is the pair's only relation: never a
            # spatial one (a pair left of each other is often behind or near too), and a
            # non-spatial one only on exhaustively annotated objects
            if spatial_predicate(t.rel_pairs[(s, o)][0]) is not None or not (
                    relations_exhaustive(t, s) and relations_exhaustive(t, o)):
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
            tid, tpl = pick_template(ctx, PREDICATE_TEMPLATES)
            q = finish(ctx, b, text=tpl.format(s=rs.text, o=ro.text), template=tid,
                       answer_type=AnswerType.RELATION, objects=[*rs.objects, *ro.objects],
                       relations=[(s, p, o)],
                       distractors=[x for x in predicates if x != p and _surely_false(
                           t, s, x, o)])
            if q is not None:
                yield q


def _surely_false(t: SceneTables, s: str, p: str, o: str) -> bool:
    """Whether ``(s, p, o)`` is false for a reader: a spatial predicate decided False by
    geometry, or a non-spatial one not annotated (callers hold exhaustive relations)."""
    spatial = spatial_predicate(p)
    if spatial is None:
        return p not in t.rel_pairs.get((s, o), ())
    return t.spatial(s, o, spatial) is False


VERIFY_TEMPLATES = {
    "rel_verify_is": "Is {s} {p} {o}?",
    "rel_verify_true": "Is it true that {s} is {p} {o}?",
}


@register
class RelationVerify(Generator):
    spec = GeneratorSpec(
        name="relation_verify",
        family="relation",
        description="Is the X [predicate] the Y? Spatial negatives reverse a pair geometry "
        "decides; non-spatial ones keep the subject and take an object another subject has "
        "that relation with (never 'is the plate holding the man?').",
        needs=frozenset({Need.NAMES, Need.RELATIONS}),
        answer_type=AnswerType.YES_NO,
        example="Is the cup on the table? -> yes",
    )

    def generate(self, ctx: GenContext) -> Iterator[Question]:
        t = tables(ctx)
        for i, (s, p, o) in enumerate(lazy_shuffled(ctx.rng, _annotated(t))):
            if not is_speakable(p):
                continue
            spatial = spatial_predicate(p)
            if spatial is not None:
                # asked about what the image shows: the annotation must agree with geometry,
                # and the reversed pair is a negative only when geometry decides it False
                if t.spatial(s, o, spatial) is not True or _has_stuff(t, s, o):
                    continue
                if i % 2 == 1:
                    s, o = o, s
                    if t.spatial(s, o, spatial) is not False:
                        continue
            elif i % 2 == 1:
                negative = _relation_negative(t, s, p, o)
                if negative is None:
                    continue
                o = negative
            tid, tpl = pick_template(ctx, VERIFY_TEMPLATES)
            # spatial and non-spatial predicates balanced apart: without exhaustive relations
            # a non-spatial one has no certain negative, and "holding" must not mean "yes"
            key = f"{self.spec.name}:{'spatial' if spatial is not None else 'semantic'}"
            if balancer_refuses(ctx, key, tid, i % 2 == 0):  # even: the annotated pair, yes
                continue
            rs = refer(t, s, avoid_objects=(o,), relations=False)
            ro = refer(t, o, avoid_objects=(s,), relations=False)
            if rs is None or ro is None:
                continue
            b = ProgramBuilder()
            a, c = b.add_reference(rs), b.add_reference(ro)
            if spatial is not None:
                b.add("spatial", [a, c], predicate=spatial)
            else:
                b.add("has_relation", [a, c], predicate=p)
            text = tpl.format(s=rs.text, p=predicate_phrase(p), o=ro.text)
            q = finish(ctx, b, text=text, template=tid,
                       answer_type=AnswerType.YES_NO, objects=[*rs.objects, *ro.objects],
                       relations=[(s, p, o)], balance_key=key)
            if q is not None:
                yield q


def _related(t: SceneTables, o: str, predicate: str, mode: str) -> list[str]:
    """Candidates x with (x predicate o), for screening chains (answers come from execute);
    shared lists, not to be changed."""
    if mode == "annotated":
        return t.rel_by_object.get((o, predicate), [])
    return t.related_by_geometry(o, predicate, False)


def _undecided(t: SceneTables, o: str, predicate: str, mode: str) -> list[str]:
    """Objects a reader may count as (x predicate o) though the program does not: undecided
    by geometry (none for annotated hops, which need exhaustive relations)."""
    if mode == "annotated":
        return []
    return t.undecided_by_geometry(o, predicate, False)


def _named_hop(t: SceneTables, o: str, predicate: str, mode: str, name: str) -> list[str] | None:
    """The objects named ``name`` that are (x predicate o), in scene order, or None when a
    reader may count another object of that name (undecided by geometry): :func:`_related`
    and :func:`_undecided` read for one name, deciding only that name's objects (in a
    crowded image most chains fail here, so the whole image is not decided for them)."""
    if mode == "annotated":
        return [z for z in t.rel_by_object.get((o, predicate), []) if t.names[z] == name]
    spatial = t.spatial
    related: list[str] = []
    for z in t.by_name.get(name, ()):
        if z == o:
            continue
        decided = spatial(z, o, predicate)
        if decided is None:
            return None
        if decided:
            related.append(z)
    return related


HOP_NAME_TEMPLATES = {
    "hop_what": "What is {p2} the {nx} {p1} {o}?",
    "hop_which": "Which object is {p2} the {nx} {p1} {o}?",
}
HOP_ATTR_TEMPLATES = {
    "hop_attr_what": "What {kind} is the {ny} {p2} the {nx} {p1} {o}?",
    "hop_attr_the": "What is the {kind} of the {ny} {p2} the {nx} {p1} {o}?",
}


Hop = tuple[str, str, str]  # mode, program predicate, phrase in the question
Chain = tuple[str, str, str, Hop, Hop]  # o, x, y, hop 1, hop 2


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
        chains = self._geometry_chains(ctx, t) if t.all_positions else self._annotated_chains(
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
        """Chains along annotated relations that a reader can follow (see :func:`_hop`)."""
        hops: list[tuple[str, Hop, str]] = []
        for s, p, o in _annotated(t):
            if not is_speakable(p):
                continue
            hop = _hop(t, s, p, o)
            if hop is not None:
                hops.append((s, (hop[0], hop[1], predicate_phrase(p)), o))
        by_anchor: dict[str, list[tuple[str, Hop, str]]] = {}
        for h in hops:
            by_anchor.setdefault(h[2], []).append(h)
        for x, hop1, o in lazy_shuffled(ctx.rng, hops):
            second = [h for h in by_anchor.get(x, ()) if h[0] not in (o, x)]
            if second:
                y, hop2, _ = pick(ctx.rng, second)
                yield o, x, y, hop1, hop2

    @staticmethod
    def _geometry_chains(ctx: GenContext, t: SceneTables) -> Iterator[Chain]:
        """3D scenes (CLEVR): hop along geometry (which CLEVR's annotated relations copy),
        drawing pairs lazily instead of deciding every pair up front."""
        preds = ("left of", "right of", "in front of", "behind")
        for x, o in random_pairs_of(ctx.rng, t.scene):
            p1 = pick(ctx.rng, preds)
            if t.spatial(x, o, p1) is not True:
                continue
            # the first hop must single out x among the objects of its name, with no object of
            # that name undecided (both lists are computed once per anchor and predicate)
            nx = t.names[x]
            if [z for z in _related(t, o, p1, "geometry") if t.names[z] == nx] != [x] or any(
                    t.names[z] == nx for z in _undecided(t, o, p1, "geometry")):
                continue
            p2 = pick(ctx.rng, preds)
            second = _related(t, x, p2, "geometry")
            undecided = {t.names[z] for z in _undecided(t, x, p2, "geometry")}
            # the second hop must give one object, or one object of a given name, with no
            # undecided rival
            if len(second) == 1 and not undecided:
                usable = [y for y in second if y != o]
            else:
                name_counts: dict[str, int] = {}
                for z in second:
                    name_counts[t.names[z]] = name_counts.get(t.names[z], 0) + 1
                usable = [y for y in second if y != o and name_counts[t.names[y]] == 1
                          and t.names[y] not in undecided]
            if usable:
                y = pick(ctx.rng, usable)
                yield (o, x, y, ("geometry", p1, GEOMETRY_PHRASES[p1]),
                       ("geometry", p2, GEOMETRY_PHRASES[p2]))

    def _question(
        self, ctx: GenContext, t: SceneTables, o: str, x: str, y: str, hop1: Hop, hop2: Hop,
    ) -> Question | None:
        (mode1, p1, phrase1), (mode2, p2, phrase2) = hop1, hop2
        nx, ny = t.names[x], t.names[y]
        # cheap screen before building anything: the first hop must single out x by name,
        # with no object of that name undecided
        if _named_hop(t, o, p1, mode1, nx) != [x]:
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
            outs = b.run(tables_for(ctx))
        except ValueError:
            return None
        second = outs[r2]
        undecided = _undecided(t, x, p2, mode2)
        fields = {"p1": phrase1, "p2": phrase2, "nx": nx, "o": ro.text}
        rels = [(x, p1, o), (y, p2, x)]
        if len(second) == 1 and not undecided:
            b.add("query_name", [b.add("unique", [r2])])
            tid, tpl = pick_template(ctx, HOP_NAME_TEMPLATES)
            return finish(ctx, b, text=tpl.format(**fields), template=tid,
                          answer_type=AnswerType.NAME, objects=[o, x, y], relations=rels,
                          distractors=name_distractors(ctx, t, ny),
                          balance_key=f"{self.spec.name}:name")
        if sum(1 for r in second if t.names[r] == ny) != 1 or any(
                t.names[r] == ny for r in undecided):
            return None
        said = name_kinds(t, y)  # "What material is the paper stack ...?" is not asked
        kinds = [k for k in ("color", "material", "size")
                 if single_value(t, y, k) and k not in said]
        if not kinds:
            return None
        kind = pick(ctx.rng, kinds)
        uy = b.add("unique", [b.add("filter_name", [r2], name=ny)])
        b.add("query_attr", [uy], kind=kind)
        tid, tpl = pick_template(ctx, HOP_ATTR_TEMPLATES)
        return finish(ctx, b, text=tpl.format(kind=kind, ny=ny, **fields), template=tid,
                      answer_type=AnswerType.ATTRIBUTE, objects=[o, x, y], relations=rels,
                      distractors=attribute_distractors(
                          t, kind, single_value(t, y, kind) or "", ctx.source_values),
                      balance_key=f"{self.spec.name}:{kind}")
