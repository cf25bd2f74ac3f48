"""Unique referring expressions: a phrase and a program that pick out exactly one object.

:func:`refer` builds the reference in the order a person would: the name alone ("the cube"),
then attributes until unique ("the large red cube"), then one relation to another object that is
itself uniquely named by name and attributes ("the cup on the table", "the cube to the left of
the sphere"). The returned program ends in ``unique``; executing it yields the target, and the
builder guarantees the filter chain before ``unique`` has exactly one member. When no such
expression exists, :func:`refer` returns None and the caller skips the question.

Relations are read the way a reader of the image reads them (the policy every relation
question follows, see also ``generators/README.md``):

* a **spatial** predicate (one :func:`~scenesynth.graph.canonical_spatial` maps, annotated or
  not) is decided by :func:`~scenesynth.graph.spatial_relation`: an annotated one is used only
  when geometry decides it True, and the program relates by geometry, so no unannotated object
  that the image shows in the same relation can make a second answer. A relation that must
  single out an object is used only when every rival is decided False: an undecided rival
  might fit too;
* a **non-spatial** annotated predicate (holding, wearing, ...) cannot be checked against the
  image and human annotations are sparse, so it is used in a reference or an open question only
  when the graph marks the relations of the object as exhaustive (:func:`relations_exhaustive`);
  verification questions (yes/no about one given pair) may use it without that mark.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Iterator
from typing import Any, Final, cast

from scenesynth.graph import AttributeKind, canonical_spatial
from scenesynth.graph.vocab import names_value
from scenesynth.programs.builder import Executed
from scenesynth.programs.execute import Step, execute
from scenesynth.programs.tables import SceneTables, SpatialOrder

# Attribute order in a phrase: "the large red metal cube".
KIND_ORDER: Final[dict[str, int]] = {
    AttributeKind.SIZE: 0,
    AttributeKind.COLOR: 1,
    AttributeKind.MATERIAL: 2,
    AttributeKind.SHAPE: 3,
    AttributeKind.STATE: 4,
    AttributeKind.OTHER: 5,
}

# Geometric predicates usable in a reference, with their phrase.
GEOMETRY_PHRASES: Final[dict[str, str]] = {
    "left of": "to the left of",
    "right of": "to the right of",
    "in front of": "in front of",
    "behind": "behind",
    "above": "above",
    "below": "below",
}


# Annotated predicates that read naturally inside a noun phrase ("the cup on the table").
PREPOSITIONS: Final = frozenset(
    {"on", "in", "inside", "under", "behind", "above", "below", "beside", "near", "by", "at",
     "along", "against", "across", "over", "beneath", "underneath", "on top of", "in front of",
     "next to", "inside of", "left of", "right of", "to the left of", "to the right of",
     "close to", "far from"}
)
# Verb predicates rewritten for a noun phrase ("the car that has a headlight" -> "with").
_VERB_PHRASES: Final = {
    "has": "with", "have": "with", "with": "with", "wears": "wearing", "wear": "wearing",
    "holds": "holding", "hold": "holding", "rides": "riding", "carries": "carrying",
    "eats": "eating",
}


def predicate_phrase(predicate: str) -> str:
    """How a predicate reads in a question: geometric ones get their phrase ("to the left
    of"), others are used as annotated."""
    return GEOMETRY_PHRASES.get(predicate, predicate)


def is_speakable(predicate: str) -> bool:
    """Whether "What is the X <predicate>?" / "Is the X <predicate> the Y?" read naturally:
    prepositions and -ing verbs ("wearing"), not bare verbs ("has") or "of"."""
    return predicate in PREPOSITIONS or predicate.split(" ")[0].endswith("ing")


# graph.meta / object.meta key: True when every relation of the graph (of the object) is
# annotated, so a non-spatial annotated relation may answer an open question.
EXHAUSTIVE_RELATIONS: Final = "relations_exhaustive"


def relations_exhaustive(tables: SceneTables, r: str) -> bool:
    """Whether the relations of object ``r`` are marked complete (graph-wide or per object)."""
    if tables.graph.meta.get(EXHAUSTIVE_RELATIONS) is True:
        return True
    return tables.objects[r].meta.get(EXHAUSTIVE_RELATIONS) is True


def spatial_predicate(predicate: str) -> str | None:
    """The canonical spatial predicate geometry decides ``predicate`` by, or None when it is
    not spatial (memoised: predicates repeat)."""
    if predicate in _SPATIAL_MEMO:
        return _SPATIAL_MEMO[predicate]
    spatial = canonical_spatial(predicate)
    if len(_SPATIAL_MEMO) < 10_000:
        _SPATIAL_MEMO[predicate] = spatial
    return spatial


_SPATIAL_MEMO: Final[dict[str, str | None]] = {}
# sole_by_geometry: no answer memoised yet for an anchor (None is an answer)
NOT_DECIDED: Final[Any] = object()


def sole_by_geometry(
    tables: SceneTables, anchor: str, predicate: str, inverse: bool,
    among: Collection[str] | None = None,
) -> str | None:
    """The one object related to ``anchor`` by geometry (``x predicate anchor``; ``inverse``:
    ``anchor predicate x``), among ``among`` (default: the whole image), when every other
    object there is decided not related; else None. ``predicate`` is canonical. Stops at
    the first rival: most relations in a crowded image have one. Memoised per graph for the
    whole image (every relation of an anchor asks it again)."""
    key: tuple[str, str, str, bool] | None = None
    if among is None:
        key = ("sole_by_geometry", anchor, predicate, inverse)
        # typed Any: the sentinel is not a str | None (a compiled build checks the type)
        cached: Any = tables.memo.get(key, NOT_DECIDED)
        if cached is not NOT_DECIDED:
            return cast(str | None, cached)
    spatial = tables.spatial
    found: str | None = None
    for x in (tables.scene if among is None else among):
        if x == anchor:
            continue
        value = spatial(anchor, x, predicate) if inverse else spatial(x, anchor, predicate)
        if value is False:
            continue
        if value is None or found is not None:
            found = None  # an undecided or a second related object: a reader may pick it
            break
        found = x
    if key is not None:
        tables.memo[key] = found
    return found


def sole_by_geometry_if_decided(
    tables: SceneTables, anchor: str, predicate: str, inverse: bool
) -> Any:
    """:func:`sole_by_geometry` over the whole image when this graph has decided it already
    (an object or None), else the ``NOT_DECIDED`` marker: nothing is computed."""
    return tables.memo.get(("sole_by_geometry", anchor, predicate, inverse), NOT_DECIDED)


def noun_phrase_relation(predicate: str) -> str | None:
    """The predicate as used after a noun ("the man *wearing* the hat"), or None."""
    if is_speakable(predicate):
        return predicate_phrase(predicate)
    return _VERB_PHRASES.get(predicate)


class Reference:
    """A unique reference: ``text`` ("the red cube") and ``steps`` ending in ``unique``.

    Plain classes here rather than dataclasses: compiled (mypyc), a dataclass keeps its
    interpreted ``__init__``, and references are built on the hot path."""

    __slots__ = ("_executed", "kinds_used", "objects", "relations",
                 "steps", "tables", "target", "text")

    def __init__(
        self,
        text: str,
        steps: list[Step],  # inputs index into this list
        target: str,
        objects: list[str] | None = None,
        relations: list[tuple[str, str, str]] | None = None,
        kinds_used: frozenset[str] = frozenset(),
        tables: SceneTables | None = None,
    ) -> None:
        self.text = text
        self.steps = steps
        self.target = target
        self.objects: list[str] = objects if objects is not None else []
        self.relations: list[tuple[str, str, str]] = relations if relations is not None else []
        self.kinds_used = kinds_used
        self.tables = tables
        self._executed: Executed | None = None  # on first use: most only name an anchor

    def __repr__(self) -> str:
        return (f"Reference({self.text!r}, {self.steps!r}, {self.target!r}, {self.objects!r}, "
                f"{self.relations!r}, {self.kinds_used!r})")

    def executed(self) -> Executed | None:
        """The steps with their outputs, executed on first use and then spliced whole into
        every question built on this reference (``ProgramBuilder.add_reference``); None
        without tables."""
        if self._executed is None and self.tables is not None:
            t = self.tables
            # padding puts the tables at their image index (multi-image references)
            padded = [t] * (t.image_index + 1)
            outputs = execute(self.steps, [t.graph] * len(padded), None, padded)
            if outputs[-1] != self.target:
                raise AssertionError(f"reference {self.text!r} resolves to {outputs[-1]}, "
                                     f"not {self.target}")
            self._executed = Executed(self.steps, outputs)
        return self._executed


def _ordered_attributes(
    tables: SceneTables, target: str, avoid_kinds: Collection[str]
) -> list[tuple[str, str]]:
    """(kind, value) of the target in phrase order, skipping avoided kinds and the name."""
    key = ("ordered_attributes", target)
    ordered: list[tuple[str, str]] | None = tables.memo.get(key)
    if ordered is None:  # sorted once per object and graph, filtered per call
        name = tables.names[target]
        ordered = [(kind, v) for kind, values in tables.attr_by_kind[target].items()
                   for v in values if not names_value(name, v)]
        ordered.sort(key=lambda kv: (KIND_ORDER.get(kv[0], 9), kv[1]))
        tables.memo[key] = ordered
    if not avoid_kinds:
        return ordered  # the memo's own list: read-only
    return [kv for kv in ordered if kv[0] not in avoid_kinds]


def name_kinds(tables: SceneTables, target: str) -> frozenset[str]:
    """Attribute kinds the target's name already says (a CLEVR "cube" says its shape, a
    "paper stack" its material): a reference by that name uses those kinds."""
    key = ("name_kinds", target)
    kinds: frozenset[str] | None = tables.memo.get(key)
    if kinds is None:
        name = tables.names[target]
        kinds = frozenset(kind for kind, values in tables.attr_by_kind[target].items()
                          if any(names_value(name, v) for v in values))
        tables.memo[key] = kinds
    return kinds


def _by_name_and_attributes(
    tables: SceneTables, target: str, avoid_kinds: Collection[str]
) -> tuple[list[Step], list[str], list[str], set[str]]:
    """Name then attributes until unique; returns (steps, candidates, words, kinds used)."""
    name = tables.names[target]
    steps = [
        Step("scene", [], {"image": tables.image_index}),
        Step("filter_name", [0], {"name": name}),
    ]
    candidates = tables.by_name[name]
    words: list[str] = []
    kinds: set[str] = set(name_kinds(tables, target))
    for kind, value in _ordered_attributes(tables, target, avoid_kinds):
        if len(candidates) == 1:
            break
        narrowed = [c for c in candidates if value in tables.attr_values[c]]
        if len(narrowed) < len(candidates):
            steps.append(Step("filter_attr", [len(steps) - 1], {"value": value}))
            candidates = narrowed
            words.append(value)
            kinds.add(kind)
    return steps, candidates, words, kinds


def _phrase(words: list[str], name: str) -> str:
    return "the " + " ".join([*words, name])


def refer(
    tables: SceneTables,
    target: str,
    *,
    avoid_kinds: Collection[str] = (),
    relations: bool = True,
    geometry: bool = True,
    avoid_objects: Collection[str] = (),
) -> Reference | None:
    """A unique reference to ``target`` in ``tables``' image, or None.

    ``avoid_kinds``: attribute kinds the phrase must not use (the kind a question asks about
    or compares); None when the target's name itself says one of them ("Is the sphere the
    same shape as the cylinder?" is answered by its wording).
    ``relations`` / ``geometry``: whether annotated / geometric relations may be used.
    ``avoid_objects``: objects that must not serve as the relation's anchor.
    """
    memo = tables.memo
    kinds_key = tuple(sorted(avoid_kinds)) if avoid_kinds else ()
    # a reference by name and attributes alone does not depend on the relation options
    simple_key = ("refer_simple", target, kinds_key)
    simple: Reference | None = memo.get(simple_key)
    if simple is not None:
        return simple
    # Avoiding anchors only removes options from the same ordered search, so the
    # reference found with none avoided stands unless an anchor it depended on is avoided:
    # every pair of objects in a question asks with the other one avoided.
    free_key = ("refer_free", target, kinds_key, relations, geometry)
    free: tuple[Reference | None, frozenset[str]] | None = memo.get(free_key)
    if free is None:
        free = _found(tables, target, avoid_kinds, relations, geometry, ())
        memo[free_key] = free
        if free[0] is not None and not free[0].relations:
            memo[simple_key] = free[0]
    if not avoid_objects or free[1].isdisjoint(avoid_objects):
        return free[0]
    key = ("refer", target, kinds_key, relations, geometry, tuple(sorted(avoid_objects)))
    if key in memo:
        cached: Reference | None = memo[key]
        return cached
    result = _found(tables, target, avoid_kinds, relations, geometry, avoid_objects)[0]
    memo[key] = result
    return result


def _found(
    tables: SceneTables,
    target: str,
    avoid_kinds: Collection[str],
    relations: bool,
    geometry: bool,
    avoid_objects: Collection[str],
) -> tuple[Reference | None, frozenset[str]]:
    """:func:`_refer`'s reference (bound to the tables) and the anchors it depended on."""
    found = _refer(tables, target, avoid_kinds, relations, geometry, avoid_objects)
    if found[0] is not None:
        found[0].tables = tables
    return found


def _refer(
    tables: SceneTables,
    target: str,
    avoid_kinds: Collection[str],
    relations: bool,
    geometry: bool,
    avoid_objects: Collection[str],
) -> tuple[Reference | None, frozenset[str]]:
    """The reference, and the anchors whose avoidance could change it: the anchor of a
    one-relation reference; every option kept for pairing when two relations were tried
    (none of them avoided, the same options pair in the same order); none for a reference
    by name and attributes or a refusal that no anchor decides."""
    if avoid_kinds and not name_kinds(tables, target).isdisjoint(avoid_kinds):
        return None, _NO_ANCHORS  # the name gives away the kind asked about
    name = tables.names[target]
    memo = tables.memo
    steps, candidates, words, kinds = _by_name_and_attributes(tables, target, avoid_kinds)
    if len(candidates) == 1:
        steps.append(Step("unique", [len(steps) - 1], {}))
        return (Reference(_phrase(words, name), steps, target, [target], [], frozenset(kinds)),
                _NO_ANCHORS)
    if not (relations or geometry):
        return None, _NO_ANCHORS
    base = _phrase(words, name)
    filtered = len(steps) - 1

    # one relation to a uniquely named anchor; failing that, two such relations together
    usable: list[_Option] = []
    # Anchors that can be named without a relation, per graph and avoided kinds: an anchor
    # that cannot is skipped before any geometry is decided against it.
    anchors_key = ("anchor_refs", tuple(sorted(avoid_kinds)) if avoid_kinds else ())
    anchor_refs: dict[str, Reference | None] | None = memo.get(anchors_key)
    if anchor_refs is None:
        anchor_refs = memo[anchors_key] = {}
    for mode, predicate, anchor, phrase in _annotated_options(
        tables, target, relations, avoid_objects, anchor_refs, avoid_kinds
    ):
        if mode == "annotated":  # non-spatial, on a subject with exhaustive relations
            chosen = [c for c in candidates
                      if c in tables.rel_by_object.get((anchor, predicate), ())]
        else:
            chosen = _related(tables, candidates, name, words, anchor, predicate)
        option = _Option(mode, predicate, anchor, phrase, _anchor_ref(anchor_refs, anchor),
                         frozenset(chosen))
        if chosen == [target]:
            return (_with_relations(steps, filtered, base, target, kinds, [option]),
                    frozenset((anchor,)))
        if len(usable) < _MAX_PAIRED_OPTIONS and target in option.members:
            usable.append(option)
    if geometry:
        # the first geometric option (anchors in scene order, then predicates) that singles
        # the target out, found by lookup; the options before it are the ones that do not
        sole = _first_sole_geometry(tables, target, candidates, (name, *words),
                                    avoid_objects, anchor_refs, avoid_kinds)
        if sole is not None:
            anchor, predicate, phrase = sole
            option = _Option("geometry", predicate, anchor, phrase,
                             _anchor_ref(anchor_refs, anchor), frozenset((target,)))
            return (_with_relations(steps, filtered, base, target, kinds, [option]),
                    frozenset((anchor,)))
        kinds_key = tuple(sorted(avoid_kinds)) if avoid_kinds else ()
        # none does: the first options in that order pair up (each holds the target)
        if len(usable) < _MAX_PAIRED_OPTIONS:
            stream_key = ("geometry_options", target, kinds_key)
            stream: _OptionStream | None = memo.get(stream_key)
            if stream is None:
                stream = memo[stream_key] = _OptionStream(
                    _geometry_options(tables, target, (), anchor_refs, avoid_kinds))
            seen = 0
            while len(usable) < _MAX_PAIRED_OPTIONS:
                if seen == len(stream.found):
                    following = next(stream.pending, None)
                    if following is None:
                        break
                    predicate, anchor, phrase = following
                    chosen = _related(tables, candidates, name, words, anchor, predicate)
                    stream.found.append(_Option(
                        "geometry", predicate, anchor, phrase,
                        _anchor_ref(anchor_refs, anchor), frozenset(chosen)))
                option = stream.found[seen]
                seen += 1
                if option.anchor not in avoid_objects:
                    usable.append(option)
    paired = frozenset(option.anchor for option in usable)
    for i, first in enumerate(usable):
        for second in usable[i + 1:]:
            if first.anchor == second.anchor:
                continue
            if first.members & second.members == {target}:
                return (_with_relations(steps, filtered, base, target, kinds, [first, second]),
                        paired)
    return None, paired


_NO_ANCHORS: Final[frozenset[str]] = frozenset()


# Options kept for two-relation references ("the person left of the horse and below the
# sky"): bounded, so crowded scenes stay cheap.
_MAX_PAIRED_OPTIONS: Final = 12


class _Option:
    """One relation that may narrow a reference: ``target`` (mode) ``predicate`` ``anchor``."""

    __slots__ = ("anchor", "anchor_ref", "members", "mode", "phrase", "predicate")

    def __init__(self, mode: str, predicate: str, anchor: str, phrase: str,
                 anchor_ref: Reference, members: frozenset[str]) -> None:
        self.mode = mode
        self.predicate = predicate
        self.anchor = anchor
        self.phrase = phrase
        self.anchor_ref = anchor_ref
        self.members = members  # candidates related to the anchor this way


def _with_relations(
    steps: list[Step],
    filtered: int,
    base: str,
    target: str,
    kinds: set[str],
    options: list[_Option],
) -> Reference:
    """Extend the name/attribute filter with one or two relation filters, then ``unique``."""
    out = list(steps)
    current = filtered
    phrases: list[str] = []
    used_kinds = set(kinds)
    for option in options:
        anchor_ref = option.anchor_ref
        offset = len(out)
        out.extend(Step(s.op, [j + offset for j in s.inputs], s.args)
                   for s in anchor_ref.steps)
        out.append(Step("relate", [len(out) - 1],
                        {"predicate": option.predicate, "mode": option.mode}))
        out.append(Step("intersect", [current, len(out) - 1], {}))
        current = len(out) - 1
        phrases.append(f"{option.phrase} {anchor_ref.text}")
        used_kinds |= anchor_ref.kinds_used
    out.append(Step("unique", [current], {}))
    return Reference(
        f"{base} {' and '.join(phrases)}",
        out,
        target,
        [target, *(o.anchor for o in options)],
        [(target, o.predicate, o.anchor) for o in options],
        frozenset(used_kinds),
    )


_GEOMETRY_ITEMS: Final = tuple(GEOMETRY_PHRASES.items())


def _annotated_options(
    tables: SceneTables, target: str, relations: bool, avoid_objects: Collection[str],
    anchor_refs: dict[str, Reference | None], avoid_kinds: Collection[str],
) -> Iterator[tuple[str, str, str, str]]:
    """(mode, predicate, anchor, phrase) options from the target's annotated relations, in
    graph order. An annotated spatial relation becomes a geometric option (kept only when
    geometry decides it True, worded as annotated); a non-spatial one needs exhaustive
    relations (module docstring). Only anchors other than ``target``, not in
    ``avoid_objects`` and with a reference by name and attributes (``anchor_refs``, filled
    here) are offered."""
    if not relations:
        return
    exhaustive = relations_exhaustive(tables, target)
    for predicate, anchor in tables.out_relations.get(target, ()):
        phrase = noun_phrase_relation(predicate)
        if phrase is None or not _nameable(tables, anchor, target, avoid_objects,
                                           anchor_refs, avoid_kinds):
            continue
        spatial = spatial_predicate(predicate)
        if spatial is None:
            if exhaustive:
                yield "annotated", predicate, anchor, phrase
        elif tables.spatial(target, anchor, spatial) is True:
            yield "geometry", spatial, anchor, phrase


def _geometry_options(
    tables: SceneTables, target: str, avoid_objects: Collection[str],
    anchor_refs: dict[str, Reference | None], avoid_kinds: Collection[str],
) -> Iterator[tuple[str, str, str]]:
    """(predicate, anchor, phrase) geometric options of the target: anchors in scene order,
    then predicates in phrase order, each decided True; decided lazily (callers stop early)."""
    for anchor in tables.scene:
        if not _nameable(tables, anchor, target, avoid_objects, anchor_refs, avoid_kinds):
            continue
        for predicate, phrase in _GEOMETRY_ITEMS:
            if tables.spatial(target, anchor, predicate) is True:
                yield predicate, anchor, phrase


def _first_sole_geometry(
    tables: SceneTables, target: str, candidates: list[str], wording: tuple[str, ...],
    avoid_objects: Collection[str], anchor_refs: dict[str, Reference | None],
    avoid_kinds: Collection[str],
) -> tuple[str, str, str] | None:
    """(anchor, predicate, phrase) of the first geometric option in :func:`_geometry_options`
    order under which the target is the only candidate a reader may take as related, or None.

    Where one number decides a predicate for the whole graph (``SceneTables.spatial_order``),
    an anchor can single out the target only when its number lies between the largest of
    the other candidates' and the target's (each widened by the margin): a bisection gives
    those anchors and the rule itself confirms them. Other predicates are scanned."""
    scene = tables.scene
    best_position = len(scene)
    best: tuple[str, str, str] | None = None
    for predicate, phrase in _GEOMETRY_ITEMS:
        order = tables.spatial_order(predicate)
        if order is None:
            positions: list[int] | range = range(best_position)
        else:
            bounds = _sole_bounds(tables, order, target, candidates, wording, predicate)
            if bounds is None:
                continue
            positions = order.between(bounds[0], bounds[1])
        for position in positions:
            if position >= best_position:
                break
            anchor = scene[position]
            if (_singles_out(tables, target, candidates, anchor, predicate)
                    and _nameable(tables, anchor, target, avoid_objects, anchor_refs,
                                  avoid_kinds)):
                best_position = position
                best = (anchor, predicate, phrase)
                break
    return best


class _OptionStream:
    """A target's geometric options in :func:`_geometry_options` order: those decided so
    far (``found``) and the generator of the rest (``pending``)."""

    __slots__ = ("found", "pending")

    def __init__(self, pending: Iterator[tuple[str, str, str]]) -> None:
        self.found: list[_Option] = []
        self.pending = pending


def _sole_bounds(
    tables: SceneTables, order: SpatialOrder, target: str, candidates: list[str],
    wording: tuple[str, ...], predicate: str,
) -> tuple[float, float] | None:
    """The open key interval of the anchors that may relate the target alone among
    ``candidates`` (named by ``wording``: name and attribute words) by ``predicate``
    (``order``: the predicate's ordering), or None when no
    anchor can: the target True needs ``key(target) - key(anchor) > margin``, every other
    candidate False needs ``key(anchor) - key(other) > margin``."""
    key_of = order.key_of
    target_key = key_of.get(target)
    if target_key is None:
        return None
    # the two largest keys of the candidates, per candidate group (targets share them)
    top_key = ("sole_top", predicate, wording)
    top: tuple[str, float, float] | None = tables.memo.get(top_key)
    if top is None:
        first_ref, first, second = "", -math.inf, -math.inf
        for c in candidates:
            key = key_of.get(c)
            if key is None:  # never decided: a reader may always take it as related
                first_ref, first, second = "", math.inf, math.inf
                break
            if key > first:
                first_ref, first, second = c, key, first
            elif key > second:
                second = key
        top = (first_ref, first, second)
        tables.memo[top_key] = top
    other = top[2] if top[0] == target else top[1]
    low, high = other + order.margin, target_key - order.margin
    if not low < high:
        return None
    return low, high


def _singles_out(
    tables: SceneTables, target: str, candidates: list[str], anchor: str, predicate: str,
) -> bool:
    """Whether ``target predicate anchor`` is decided True and every other candidate is
    decided not so (the rule itself, as :func:`_related` reads it)."""
    spatial = tables.spatial
    if spatial(target, anchor, predicate) is not True:
        return False
    return all(c == target or spatial(c, anchor, predicate) is False for c in candidates)


def _related(
    tables: SceneTables, candidates: list[str], name: str, words: list[str], anchor: str,
    predicate: str,
) -> list[str]:
    """The candidates a reader may take as ``predicate`` the anchor: decided True, or
    undecided. They depend on the candidates (name and attribute words), not on the target,
    so every same-named target of a crowded image reads one memo entry per anchor and
    predicate instead of deciding the whole group again."""
    related_key = ("related", name, tuple(words), anchor, predicate)
    related: list[str] | None = tables.memo.get(related_key)
    if related is None:
        spatial = tables.spatial
        order = tables.spatial_order(predicate)
        anchor_key = None if order is None else order.key_of.get(anchor)
        if order is None or anchor_key is None:
            related = [c for c in candidates if spatial(c, anchor, predicate) is not False]
        else:
            # the rule says False only of a candidate falling short of the anchor's number;
            # it is asked only where the order's bounds cannot tell
            key_of = order.key_of
            related = []
            for c in candidates:
                key = key_of.get(c)
                if key is not None:  # without one, never decided against another object
                    short = order.falls_short(key, anchor_key)
                    if short or (short is None and spatial(c, anchor, predicate) is False):
                        continue
                related.append(c)
        tables.memo[related_key] = related
    return related


def _anchor_ref(anchor_refs: dict[str, Reference | None], anchor: str) -> Reference:
    anchor_ref = anchor_refs[anchor]
    assert anchor_ref is not None
    return anchor_ref


def _nameable(
    tables: SceneTables, anchor: str, target: str, avoid_objects: Collection[str],
    anchor_refs: dict[str, Reference | None], avoid_kinds: Collection[str],
) -> bool:
    """Whether ``anchor`` may anchor a relation of ``target``: itself uniquely named by name
    and attributes (memoised in ``anchor_refs``)."""
    if anchor == target or anchor in avoid_objects:
        return False
    if anchor in anchor_refs:
        return anchor_refs[anchor] is not None
    ref = anchor_refs[anchor] = refer(
        tables, anchor, avoid_kinds=avoid_kinds, relations=False, geometry=False
    )
    return ref is not None


def is_unique_by_name(tables: SceneTables, target: str) -> bool:
    return len(tables.by_name[tables.names[target]]) == 1
