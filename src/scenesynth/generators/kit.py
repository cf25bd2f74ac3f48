"""The helper kit every generator uses, single- and multi-image alike.

* the per-graph tables of a context (:func:`tables_for`, :func:`tables`);
* templates and wording: :func:`pick_template` (the one seeded template draw, paraphrase
  bank included), :func:`plural`, :func:`article`, :func:`bare`;
* :func:`finish`: the one way a built program becomes a
  :class:`~scenesynth.generators.base.Question` (its last output is the answer);
* distractors and concepts for single images (names, attribute values, present and absent
  concepts), and :class:`MultiScene` with the image-level helpers of multi-image questions
  (per-image sub-programs, image pairs, predictions of their outputs, candidates offered
  alternating by answer and built only when offered).

Every random choice goes through :mod:`scenesynth.generators.draws`.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Final, TypeVar, cast

from scenesynth._fast import filled
from scenesynth.generators.base import AnswerType, GenContext, Question
from scenesynth.generators.draws import (
    lazy_shuffled,
    pick,
    random_order,
    shuffled,
)
from scenesynth.graph import AttributeKind
from scenesynth.graph.keys import template_bucket
from scenesynth.graph.seeds import random_from_text
from scenesynth.graph.vocab import indefinite, infer_kind, is_mass_noun, is_region, vocabulary
from scenesynth.graph.vocab import names_value as names_value  # re-exported for generators
from scenesynth.graph.vocab import plural as vocab_plural
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.execute import ProgramError
from scenesynth.programs.ops import (
    OP_IMPLS,
    Env,
    extreme_position,
    image_label,
    where_position,
)
from scenesynth.programs.tables import SceneTables, build_tables

T = TypeVar("T")

QUERY_KINDS: tuple[str, ...] = (
    AttributeKind.COLOR,
    AttributeKind.MATERIAL,
    AttributeKind.SHAPE,
    AttributeKind.SIZE,
    AttributeKind.STATE,
)


def tables_for(ctx: GenContext) -> list[SceneTables]:
    """The context's per-graph tables: built on first use and kept in ``ctx.cache`` (the
    runner builds them once per graph or group and shares them between generators)."""
    tables_: list[SceneTables] | None = ctx.cache.get("tables")
    if tables_ is None:
        tables_ = build_tables(ctx.graphs, ctx.config.rules)
        ctx.cache["tables"] = tables_
    return tables_


def tables(ctx: GenContext) -> SceneTables:
    """The tables of the context's (first) graph."""
    return tables_for(ctx)[0]


# id(templates) -> (templates, its sorted (id, template) items); the dict is kept so its id
# is never reused. Template tables are module constants, never mutated.
_TEMPLATE_ITEMS: Final[dict[int, tuple[dict[str, str], tuple[tuple[str, str], ...]]]] = {}


def pick_template(ctx: GenContext, templates: dict[str, str]) -> tuple[str, str]:
    """(template id, wording) drawn with the context's seeded rng (ids sorted: no dict-order
    reliance). With a paraphrase bank (``ctx.config.wordings``), a second draw picks the
    template's own text or one of its bank phrasings; without one, the rng is drawn once."""
    entry = _TEMPLATE_ITEMS.get(id(templates))
    if entry is None or entry[0] is not templates:
        entry = (templates, tuple(sorted(templates.items())))
        _TEMPLATE_ITEMS[id(templates)] = entry
    tid, text = pick(ctx.rng, entry[1])
    wordings = ctx.config.wordings
    if wordings:
        phrasings = wordings.get(text)
        if phrasings is not None:
            k = ctx.rng.randrange(len(phrasings) + 1)
            if k:
                wording_id, text = phrasings[k - 1]
                ctx.wording[tid] = wording_id
            else:
                ctx.wording.pop(tid, None)
        else:
            ctx.wording.pop(tid, None)
    if _VIEWPOINT in text and _holds_a_camera(ctx):
        # "closest to the camera" in a scene with a camera in it reads as the object ("Which
        # is closer to the camera, the woman or the camera?"): the viewpoint is the viewer
        text = text.replace(_VIEWPOINT, "the viewer")
    return tid, text


# the depth templates' viewpoint; an object named as a camera makes it read as that object
_VIEWPOINT: Final = "the camera"


def _is_camera(name: str) -> bool:
    return "camera" in name


def _holds_a_camera(ctx: GenContext) -> bool:
    """Whether an object of the context's images is named as a camera."""
    for t in tables_for(ctx):
        holds: bool | None = t.memo.get("holds_a_camera")
        if holds is None:
            holds = any(_is_camera(name) for name in t.by_name)
            t.memo["holds_a_camera"] = holds
        if holds:
            return True
    return False


def plural(name: str) -> str:
    """English plural of a name (:func:`scenesynth.graph.vocab.plural`: mass and plural names
    stay as they are). Names repeat across questions: each is inflected once."""
    return _remembered(_PLURALS, name, vocab_plural)


def article(phrase: str) -> str:
    """The phrase with its indefinite article ("a cube", "gravel", "a pair of scissors");
    worked out once per phrase, like :func:`plural`."""
    return _remembered(_ARTICLES, phrase, indefinite)


def _remembered(memo: dict[str, str], text: str, word: Callable[[str], str]) -> str:
    """``word(text)`` from ``memo``, worked out and kept there on first use while the memo
    is under its bound (a large vocabulary must not grow it without end)."""
    value = memo.get(text)
    if value is None:
        value = word(text)
        if len(memo) < _WORD_MEMO_SIZE:
            memo[text] = value
    return value


# Bounded memos of pure word functions
_WORD_MEMO_SIZE: Final = 100_000
_PLURALS: Final[dict[str, str]] = {}  # name -> plural(name)
_ARTICLES: Final[dict[str, str]] = {}  # phrase -> article(phrase)


def uncountable(t: SceneTables) -> frozenset[str]:
    """Objects that are stuff, not things, so never counted or compared by number: a mass
    noun name (:func:`scenesynth.graph.vocab.is_mass_noun`: sky, grass, gravel) or a region
    its source marks as stuff (COCO panoptic ``isthing`` false). Memoised per graph."""
    memo: frozenset[str] | None = t.memo.get("uncountable")
    if memo is None:
        memo = frozenset(r for r, o in t.objects.items()
                         if is_mass_noun(o.name) or o.meta.get("isthing") is False)
        t.memo["uncountable"] = memo
    return memo


def countable_name(t: SceneTables, name: str) -> bool:
    """Whether "how many <name>" can be asked: no object of that name is stuff."""
    stuff = uncountable(t)
    return not stuff or not any(r in stuff for r in t.by_name.get(name, ()))


def stuff_region_name(t: SceneTables, name: str) -> bool:
    """A count noun naming a stuff region here (COCO's "tree" region is trees, its "wall" is
    walls): "a tree" would misdescribe it, "trees" does not."""
    # the memoised scene check first: a scene without stuff (CLEVR) skips the word check
    return not countable_name(t, name) and not is_mass_noun(name)


def bare(reference_text: str) -> str:
    """'the red cube' -> 'red cube' (answers name an object without the article)."""
    return reference_text[4:] if reference_text.startswith("the ") else reference_text


def _distinct(items: Sequence[str]) -> list[str]:
    """``list(dict.fromkeys(items))``: first occurrences in order. Questions name one to three
    objects, where a scan of the list is cheaper than building a dict."""
    if len(items) > 8:
        return list(dict.fromkeys(items))
    out: list[str] = []
    for item in items:
        if item not in out:
            out.append(item)
    return out


def balancer_refuses(ctx: GenContext, balance_key: str, template: str, answer: Any) -> bool:
    """Whether the shard's answer balancer would refuse, in every form, a question of
    ``balance_key`` and ``template`` whose answer is ``answer``; the generator then skips
    building it. Answers are balanced per template (``quality.balance``), so a generator asks
    once its template is drawn: a template's bucket refuses what its family would still take.
    ``answer`` is the generator's prediction; a sample's answer still comes from executing its
    program."""
    would_keep = ctx.would_keep
    return would_keep is not None and not would_keep(
        template_bucket(balance_key, template), answer)


def finish(
    ctx: GenContext,
    builder: ProgramBuilder,
    *,
    text: str,
    template: str,
    answer_type: AnswerType,
    objects: Sequence[str] = (),
    relations: Sequence[tuple[str, str, str]] = (),
    distractors: Sequence[Any] = (),
    balance_key: str | None = None,
    outputs: list[Any] | None = None,
    least_count: int = 0,
) -> Question | None:
    """The question whose answer is the program's last output; None (skip) when undecided.

    The program is executed here, unless the caller already ran it (``outputs``, to look at
    intermediate values before writing the text)."""
    if outputs is None:
        outputs = builder.run(tables_for(ctx))
    answer = outputs[-1]
    if answer is None:
        return None
    return filled(Question, {
        "text": text,
        "answer": answer,
        "answer_type": answer_type,
        "program": builder.to_program(outputs),
        "template": template,
        "objects": _distinct(objects),
        "relations": list(relations),
        "distractors": _distractors(text, distractors, answer),
        "balance_key": balance_key,
        "wording": ctx.wording.get(template) if ctx.wording else None,
        "least_count": least_count,
    })


def _distractors(text: str, distractors: Sequence[Any], answer: Any) -> list[Any]:
    """The wrong options: never the answer, and never a camera where the question measures
    from "the camera" ("Which object is closest to the camera? A. camera" is read as a joke)."""
    if _VIEWPOINT not in text:  # most questions: only the answer is left out
        return [d for d in distractors if d != answer]
    return [d for d in distractors
            if d != answer and not (isinstance(d, str) and _is_camera(d))]


def kind_values_in_scene(t: SceneTables, kind: str) -> list[str]:
    """Distinct values of ``kind`` present in the scene, sorted."""
    return sorted({v for by in t.attr_by_kind.values() for v in by.get(kind, ())})


_KINDS = frozenset(str(k) for k in AttributeKind)
_VOCABULARY = {k: tuple(sorted(vocabulary(AttributeKind(k)))) for k in _KINDS}


def attribute_distractors(
    t: SceneTables, kind: str, answer: str, source_values: dict[str, tuple[str, ...]]
) -> list[str]:
    """Plausible wrong values of ``kind``: the scene's own values, then values seen in other
    graphs of the same source; the general vocabulary only when the source tells nothing
    about this kind (a CLEVR size is large or small, never 'giant')."""
    extra = source_values.get(kind, ()) or _VOCABULARY.get(kind, ())
    key = ("attribute_pool", kind, extra)
    pool: list[str] | None = t.memo.get(key)
    if pool is None:
        pool = list(kind_values_in_scene(t, kind))
        seen = set(pool)
        pool.extend(v for v in extra if v not in seen)
        t.memo[key] = pool
    return [v for v in pool if v != answer]


def single_value(t: SceneTables, r: str, kind: str) -> str | None:
    values = t.attr_by_kind[r].get(kind, ())
    return values[0] if len(values) == 1 else None


def single_values(t: SceneTables) -> dict[str, dict[str, str]]:
    """ref -> {kind: value} of the kinds the object has exactly one value of (what
    :func:`single_value` answers), built once per graph: a generator that looks at every
    object's kinds reads one dict per object instead of one call per object and kind
    (dense graphs have hundreds of objects, most with no kind a question asks)."""
    singles: dict[str, dict[str, str]] | None = t.memo.get("single_values")
    if singles is None:
        singles = {r: {kind: values[0] for kind, values in by_kind.items() if len(values) == 1}
                   for r, by_kind in t.attr_by_kind.items()}
        t.memo["single_values"] = singles
    return singles


def scene_names(t: SceneTables) -> list[str]:
    return sorted(t.by_name)


def name_distractors(ctx: GenContext, t: SceneTables, answer: str) -> list[str]:
    """Other names of the scene, then names seen elsewhere in the same source (at most
    ``config.max_name_distractors`` of those; see :func:`name_pool`)."""
    return [n for n in name_pool(ctx, t) if n != answer]


def name_pool(ctx: GenContext, t: SceneTables) -> list[str]:
    """The scene's names (sorted), then names seen in other graphs of the same source, in
    their order; memoised per graph (read-only).

    A shard of a large vocabulary (Visual Genome: thousands of names) would make this list,
    and each question's copy of it, thousands long; a multiple-choice question needs three.
    So beyond ``config.max_name_distractors`` other names, a fixed sample of that many is
    kept, drawn by a generator seeded from the image id alone: the same for every generator
    and run, and independent of which generators run."""
    others = ctx.other_names
    memo = t.memo.get("name_pool")
    if memo is not None and memo[0] is others:
        return cast(list[str], memo[1])
    own = scene_names(t)
    own_set = set(own)
    extra = [n for n in others if n not in own_set]
    cap = max(0, ctx.config.max_name_distractors)
    if len(extra) > cap:
        chosen = random_from_text(f"{t.image.id}\x1ename_pool").sample(range(len(extra)), cap)
        extra = [extra[i] for i in sorted(chosen)]
    pool = own + extra
    t.memo["name_pool"] = (others, pool)
    return pool


def clearly_different(a: float, b: float, margin: float) -> bool:
    """Whether the larger of two non-negative values exceeds the smaller by ``margin``."""
    lo, hi = min(a, b), max(a, b)
    return hi > lo * (1.0 + margin) and hi - lo > 1e-9


def absent_names(ctx: GenContext, t: SceneTables) -> list[str]:
    """Names of objects plausibly absent from the scene: the graph's own list of absent objects
    when present, else names seen in other graphs of the same source. Names that are a synonym
    of a present object are left out (a 'man' may be annotated as a 'person')."""
    present = set(t.by_name)
    for o in t.objects.values():
        present.update(o.synonyms)
    listed = t.graph.meta.get("absent_objects")
    pool = [str(n).lower() for n in listed] if isinstance(listed, list) else list(ctx.other_names)
    return sorted({n for n in pool if n and n not in present})


# attribute kinds a present concept may name (not "state": often missing from annotations)
_CONCEPT_KINDS: Final = tuple(k for k in QUERY_KINDS if k != "state")


def present_concepts(t: SceneTables) -> list[tuple[str, str | None]]:
    """(name, attribute value or None) pairs that some object satisfies, sorted by name, then
    value (the bare name first)."""
    values_by_name: dict[str, set[str]] = {}
    singles = single_values(t)
    for r in t.scene:
        name = t.names[r]
        values = values_by_name.get(name)
        if values is None:
            values = values_by_name[name] = set()
        own = singles[r]
        if not own:
            continue
        for kind in _CONCEPT_KINDS:
            v = own.get(kind)
            if v is not None and not names_value(name, v):
                values.add(v)
    return _concept_list(values_by_name, values_by_name)  # every present name, bare too


def absent_concepts(ctx: GenContext, t: SceneTables) -> list[tuple[str, str | None]]:
    """Names absent from the scene, and (name, value) combinations no object has, where every
    object of that name has a *different* value of the same kind (so 'no' is not an artefact
    of a missing annotation). Sorted by name, then value (the bare name first)."""
    kinds = [k for k in QUERY_KINDS if k not in ("state", "shape")]
    seen_by_kind = {k: kind_values_in_scene(t, k) for k in kinds}
    values_by_name: dict[str, set[str]] = {}
    singles = single_values(t)
    for name, refs in t.by_name.items():
        for kind in kinds:
            values = [singles[r].get(kind) for r in refs]
            if any(v is None for v in values):
                continue
            for v in seen_by_kind[kind]:
                if v not in values and not names_value(name, v):
                    missing = values_by_name.get(name)
                    if missing is None:
                        missing = values_by_name[name] = set()
                    missing.add(v)
    return _concept_list(values_by_name, absent_names(ctx, t))


def _concept_list(
    values_by_name: dict[str, set[str]], bare_names: Iterable[str]
) -> list[tuple[str, str | None]]:
    """``(name, None)`` for each bare name and ``(name, value)`` for each value, sorted by
    name, then value, the bare concept first. Values are never empty, so this is the order
    of sorting the pairs by ``(name, value or "")``, built without a key call per pair."""
    bare = set(bare_names)
    out: list[tuple[str, str | None]] = []
    for name in sorted(bare.union(values_by_name)):
        if name in bare:
            out.append((name, None))
        values = values_by_name.get(name)
        if values:
            out.extend([(name, v) for v in sorted(values)])
    return out


def random_pairs(
    ctx: GenContext, t: SceneTables, limit: int = 400
) -> Iterator[tuple[str, str]]:
    """Ordered pairs of distinct objects in seeded random order, drawn lazily (generators
    usually stop after a few pairs): every pair once on small graphs (a lazy Fisher-Yates
    shuffle), at most ``limit`` distinct random pairs on large ones."""
    scene = t.scene
    n = len(scene)
    if n * (n - 1) <= limit:
        yield from lazy_shuffled(ctx.rng, [(a, b) for a in scene for b in scene if a != b])
        return
    draw = ctx.rng.random
    seen: set[tuple[int, int]] = set()
    while len(seen) < limit:
        i, j = int(draw() * n), int(draw() * n)
        if i != j and (i, j) not in seen:
            seen.add((i, j))
            yield scene[i], scene[j]


def background_regions(t: SceneTables) -> frozenset[str]:
    """Objects that are background regions (sky, ground, wall:
    :func:`scenesynth.graph.vocab.is_region`, or stuff its source marks, COCO panoptic
    ``isthing`` false). Memoised per graph."""
    memo: frozenset[str] | None = t.memo.get("regions")
    if memo is None:
        memo = frozenset(r for r, o in t.objects.items()
                         if is_region(o.name) or o.meta.get("isthing") is False)
        t.memo["regions"] = memo
    return memo


def concept_kind(value: str | None) -> str:
    """The balance sub-key of an existence concept: the kind of its attribute ("color",
    "size"), or "name" for a bare name. How likely a concept is to be there depends on it (a
    bare CLEVR shape nearly always is, one of eight colours on it often is not), so answers are
    balanced per kind, and the wording cannot tell them."""
    if not value:
        return "name"
    kind = _VALUE_KINDS.get(value)
    if kind is None:  # a vocabulary lookup after canonicalising: done once per value
        kind = str(infer_kind(value))
        if len(_VALUE_KINDS) < _WORD_MEMO_SIZE:
            _VALUE_KINDS[value] = kind
    return kind


_VALUE_KINDS: Final[dict[str, str]] = {}  # attribute value -> its concept_kind (bounded memo)


def spatial_pairs(
    ctx: GenContext, t: SceneTables, limit: int = 400
) -> Iterator[tuple[str, str]]:
    """:func:`random_pairs` without background regions (:func:`background_regions`): a region
    spans the image, so its box centre says nothing about "left of the sky" or "closer than
    the ground", and such a question misdescribes the picture."""
    regions = background_regions(t)
    for a, c in random_pairs(ctx, t, limit):
        if regions and (a in regions or c in regions):
            continue
        yield a, c


def concepts(
    ctx: GenContext, t: SceneTables
) -> tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]]:
    """(present, absent) concepts, memoised per graph: both are pure functions of the graph
    and the context's absent-name pool."""
    memo = t.memo.get("concepts")
    if memo is None or memo[0] is not ctx.other_names:
        memo = (ctx.other_names, present_concepts(t), absent_concepts(ctx, t))
        t.memo["concepts"] = memo
    return memo[1], memo[2]


# -- multi-image questions ----------------------------------------------------------------

# Dataset names that are not plain words (Visual Genome has '"walk"') make broken sentences.
_WORDLIKE = re.compile(r"^[a-z0-9][a-z0-9 '\-]*$")


def is_wordlike(name: str) -> bool:
    return bool(_WORDLIKE.match(name))


def answer_token(value: Any) -> str:
    """A stable text key of a typed answer, used to group candidates by answer (a text
    answer, the common case, keyed without encoding: no JSON text starts with "s:"; an int,
    a count, is its own JSON text)."""
    kind = type(value)
    if kind is str:
        return "s:" + value
    if kind is int:
        return str(value)
    return json.dumps(value, sort_keys=True)


# Candidates taken at most per (group, generator): see offered_candidates.
CANDIDATES_PER_CONTEXT = 12


class MultiScene:
    """One multi-image context: the per-image tables and program-building helpers.

    Images are called "Image 1", "Image 2", ... in question text; programs address them with
    ``args{image: k}`` (0-based)."""

    def __init__(self, ctx: GenContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.config = ctx.config
        self.graphs = ctx.graphs
        self.tables: list[SceneTables] = tables_for(ctx)
        self.k = len(ctx.graphs)

    # -- vocabulary ---------------------------------------------------------------------------
    def names(self, i: int) -> set[str]:
        return set(self.tables[i].by_name)

    def all_names(self) -> list[str]:
        """Object names present in any image that no other object claims as a synonym
        (sorted; worked out once per group and shared by its generators: not to be
        modified)."""
        memo: list[str] | None = self.ctx.cache.get("multi_names")
        if memo is None:
            names = set().union(*(self.names(i) for i in range(self.k)))
            memo = sorted(n for n in names if is_wordlike(n) and not self.synonym_clash(n))
            self.ctx.cache["multi_names"] = memo
        return memo

    def shuffled_names(self, countable: bool = False) -> list[str]:
        """:meth:`all_names` in a seeded random order (not alphabetical: no bias to "a...");
        ``countable`` leaves out stuff categories (sky, grass), which cannot be counted."""
        return shuffled(self.rng, [n for n in self.all_names()
                                   if not (countable and self.is_stuff(n))])

    def is_stuff(self, name: str) -> bool:
        """Whether the category is amorphous stuff (a mass noun, or COCO panoptic ``isthing``
        false: sky, grass, gravel): "how many gravels" or "a gravel" make no sense."""
        memo: dict[str, bool] | None = self.ctx.cache.get("multi_stuff")
        if memo is None:
            memo = {
                o.name: True for g in self.graphs for o in g.objects
                if o.meta.get("isthing") is False
            }
            self.ctx.cache["multi_stuff"] = memo
        stuff = memo.get(name)
        if stuff is None:
            stuff = is_mass_noun(name)
            memo[name] = stuff
        return stuff

    def has_stuff(self) -> bool:
        return any(self.is_stuff(n) for i in range(self.k) for n in self.names(i))

    def phrase(self, name: str) -> str:
        """"a truck", "an apple", "shoes", "gravel": the indefinite phrase for a category."""
        return name if self.is_stuff(name) else indefinite(name)

    def synonym_clash(self, name: str) -> bool:
        """True when another object of the group may be the same kind of thing under another
        name: it lists ``name`` as a synonym (or ``name``'s object lists it), or one name is the
        other's plural ("window" / "windows" in Visual Genome). "Is there a window" could then
        be answered either way, so such names are not asked about."""
        memo: set[str] | None = self.ctx.cache.get("multi_synonyms")
        if memo is None:
            memo = set()
            names: set[str] = set()
            for g in self.graphs:
                for o in g.objects:
                    names.add(o.name)
                    memo.update(s for s in o.synonyms if s != o.name)
                    memo.update(o.name for s in o.synonyms if s != o.name)
            for n in names:
                if plural(n) != n and plural(n) in names:
                    memo.update((n, plural(n)))
            self.ctx.cache["multi_synonyms"] = memo
        return name in memo

    def kind_complete(
        self, kind: str, name: str | None = None, images: Sequence[int] | None = None,
    ) -> bool:
        """Every object (named ``name``; default every object) of the images (default all)
        states a value of ``kind``: only then does "no object is red" follow from the
        annotations."""
        for i in range(self.k) if images is None else images:
            missing = self.tables[i].names_missing_kind(kind)
            if missing if name is None else name in missing:
                return False
        return True

    def pairs(self) -> list[tuple[int, int]]:
        """Ordered image pairs (a, b), a != b, in a seeded random order."""
        return shuffled(self.rng, [(a, b) for a in range(self.k) for b in range(self.k)
                                   if a != b])

    # -- sub-programs ---------------------------------------------------------------------------
    def object_set(
        self, b: ProgramBuilder, image: int, name: str | None = None, value: str | None = None
    ) -> int:
        """scene(image) [-> filter_name(name)] [-> filter_attr(value)]; returns the last step."""
        step = b.add("scene", image=image)
        if name is not None:
            step = b.add("filter_name", [step], name=name)
        if value is not None:
            step = b.add("filter_attr", [step], value=value)
        return step

    def count(
        self, b: ProgramBuilder, image: int, name: str | None = None, value: str | None = None
    ) -> int:
        members = self.object_set(b, image, name, value)
        return b.add("count_distinct", [members], iou=self.config.duplicate_iou)

    def exist(
        self, b: ProgramBuilder, image: int, name: str | None = None, value: str | None = None
    ) -> int:
        return b.add("exist", [self.object_set(b, image, name, value)])

    def relation_exists(
        self, b: ProgramBuilder, image: int, name: str, predicate: str, other: str
    ) -> int:
        """Whether image ``image`` shows a ``name`` ``predicate`` (by geometry) an ``other``:
        exist(intersect(the names, relate_set(the others)))."""
        xs = self.object_set(b, image, name)
        related = b.add("relate_set", [self.object_set(b, image, other)],
                        predicate=predicate, mode="geometry")
        return b.add("exist", [b.add("intersect", [xs, related])])

    # -- predictions: what those sub-programs will output, read from the same tables --------
    def has(self, image: int, name: str, value: str | None = None) -> bool:
        """What :meth:`exist` outputs: whether image ``image`` has an object named ``name``
        (with the attribute ``value``)."""
        t = self.tables[image]
        members = t.by_name.get(name) or ()
        if value is None:
            return len(members) > 0
        values = t.attr_values
        return any(value in values[r] for r in members)

    def counted(self, image: int, name: str | None = None) -> int:
        """What :meth:`count` outputs (without ``value``): the ``count_distinct`` of the
        image's objects (named ``name``), by the tables' rule the op applies."""
        t = self.tables[image]
        threshold = self.config.duplicate_iou
        # per graph: the count generators of a group ask the same categories
        key = ("counted", name, threshold)
        n: int | None = t.memo.get(key)
        if n is None:
            members = t.scene if name is None else (t.by_name.get(name) or [])
            n = t.memo[key] = t.distinct_count(members, threshold)
        return n

    def predicted(self, op: str, values: list[Any]) -> Any:
        """What the image-level op ``op`` (``image_where``, ``image_argmax``, ...) outputs on
        ``values``, by the op's own rule; None where it fails (no single image, a tie). The
        image selections, asked of most candidates and failing on many, are read from their
        rules' position functions: no error is raised and caught per refused candidate."""
        if op == "image_where":
            position = where_position(values)
        elif op == "image_argmax" or op == "image_argmin":
            position = extreme_position(values, op == "image_argmax")
        else:
            try:
                return OP_IMPLS[op]({}, values, Env(self.tables))
            except ValueError:
                return None
        return None if position is None else image_label(position)

    def run(self, b: ProgramBuilder) -> list[Any] | None:
        """Execute the program; None when it is undefined (a tie, an ambiguous unique, ...)."""
        try:
            return b.run(self.tables)
        except ProgramError:
            return None

    def finished(
        self,
        b: ProgramBuilder,
        *,
        text: str,
        template: str,
        answer_type: AnswerType,
        distractors: Sequence[Any] = (),
        balance_key: str | None = None,
        least_count: int = 0,
        relations: Sequence[tuple[str, str, str]] = (),
        objects: Sequence[str] | None = None,
    ) -> Question | None:
        """Execute the program and :func:`finish` the question: None when the program is
        undefined. ``objects`` default to the ones the program selects
        (:meth:`matched_objects`); ``distractors`` may hold the answer (finish drops it)."""
        outputs = self.run(b)
        if outputs is None:
            return None
        return finish(self.ctx, b, text=text, template=template, answer_type=answer_type,
                      distractors=distractors, balance_key=balance_key,
                      least_count=least_count, relations=relations,
                      objects=self.matched_objects(b, outputs) if objects is None else objects,
                      outputs=outputs)

    def matched_objects(self, b: ProgramBuilder, outputs: list[Any]) -> list[str]:
        """Objects selected by the program's filter steps (the objects the question is about)."""
        found: set[str] = set()
        for step, out in zip(b.steps, outputs, strict=True):
            if step.op in ("filter_name", "filter_attr", "intersect", "relate_set") and isinstance(
                out, list
            ):
                found.update(out)
            elif step.op == "unique":
                found.add(out)
        return sorted(found)

    # -- distractors ----------------------------------------------------------------------------
    def image_options(self, extra: Sequence[str]) -> list[str]:
        """Every image label plus phrase options such as "both images": the distractors of
        a question answered by an image label, once the answer is left out (:meth:`finished`
        leaves it out)."""
        return [image_label(i) for i in range(self.k)] + list(extra)

    def both_or_all(self) -> str:
        return "both images" if self.k == 2 else "all of them"

    def neither_or_none(self) -> str:
        return "neither image" if self.k == 2 else "none of them"


def list_distractors(
    answer: list[str], universe: Iterable[str], rng: random.Random
) -> list[list[str]]:
    """Wrong lists close to ``answer`` (sorted, distinct names): one name added, one removed,
    one swapped; 12 of them in seeded random order.

    All of them are different lists (they differ from ``answer`` and, by length or by the
    name swapped in, from each other), so each of the 12 drawn is built from its position in
    that list (added, then removed, then swapped) instead of building every one: a swap list
    grows with the answer times the other names."""
    have = set(answer)
    if sorted(have) != answer:
        raise ValueError(f"a list answer must be sorted distinct names, got {answer!r}")
    others = sorted(set(universe) - have)
    n_others = len(others)
    removed = len(answer) if len(answer) > 1 else 0  # removing the only name leaves nothing
    out: list[list[str]] = []
    for index in itertools.islice(
            random_order(rng, n_others + removed + len(answer) * n_others), 12):
        if index < n_others:
            out.append(sorted(have | {others[index]}))
        elif index < n_others + removed:
            out.append(sorted(have - {answer[index - n_others]}))
        else:
            name, extra = divmod(index - n_others - removed, n_others)
            out.append(sorted((have - {answer[name]}) | {others[extra]}))
    return out


class Planned:
    """A candidate question worked out up to its program: ``answer`` is the generator's
    prediction of what the program will output (read from the same per-graph tables its
    ops read), by which :func:`offered_candidates` orders the candidates; ``build`` makes
    the question when it is offered, its answer from executing the program as always. A
    context offers a few of its candidates: the others are never built or executed.

    ``bucket`` is the balance bucket the question will be offered to
    (``template_bucket`` of its balance key and template): a plan whose predicted answer
    that bucket would refuse when its turn comes is not built either."""

    __slots__ = ("answer", "bucket", "build")

    def __init__(
        self, answer: Any, build: Callable[[], Question | None], bucket: str | None = None,
    ) -> None:
        self.answer = answer
        self.build = build
        self.bucket = bucket


Candidate = Question | Planned


class _Queued:
    """A context's candidates not offered yet, by answer, and the answers in the order they
    are to be offered (least recently offered first)."""

    def __init__(self, candidates: Iterator[Candidate], budget: int) -> None:
        self.candidates = candidates
        self.budget = budget
        self.taken = 0
        self.by_answer: dict[str, list[Candidate]] = {}
        self.rotation: list[str] = []

    def take(self) -> str | None:
        """Take the next candidate (a question, or a plan of one) and queue it; its answer's
        token (None: none left)."""
        if self.taken >= self.budget:
            return None
        q = next(self.candidates, None)
        if q is None:
            self.budget = self.taken
            return None
        self.taken += 1
        token = answer_token(q.answer)
        bucket = self.by_answer.get(token)
        if bucket is None:
            self.by_answer[token] = [q]
            self.rotation.append(token)
        else:
            bucket.append(q)
        return token


def offered_candidates(ctx: GenContext, candidates: Iterator[Candidate]) -> Iterator[Question]:
    """A multi-image context's candidates as the runner is offered them, each taken only when
    the runner asks for the next one: it keeps a few questions per context (often one), and
    building (and executing) a dozen first cost more than half of multi-image generation. A
    :class:`Planned` candidate is built only when it is offered: finding an answer of the
    other kind takes candidates that are queued and, mostly, never offered.

    At most :data:`CANDIDATES_PER_CONTEXT` are taken (and the context's
    ``max_per_generator``). The answers alternate: the first is a seeded random one of the
    first two different answers taken (a context's candidates are often skewed: most pairs
    of images lack a given relation, and offering them in build order would pass that skew
    on to the balancer, which then refuses and trims it); after it, the answer offered
    least recently comes next, building on until another answer than the last one turns
    up. A plan whose :attr:`Planned.bucket` would refuse its predicted answer when its turn
    comes is passed over unbuilt: the runner would refuse the question in every form."""
    queue = _Queued(candidates, min(ctx.config.max_per_generator, CANDIDATES_PER_CONTEXT))
    would_keep = ctx.would_keep
    rotation = queue.rotation
    while len(rotation) < 2 and queue.take() is not None:
        pass
    if len(rotation) == 2 and ctx.rng.random() < 0.5:
        rotation.reverse()
    last: str | None = None
    while True:
        key = next((k for k in rotation if k != last and queue.by_answer[k]), None)
        while key is None:
            token = queue.take()
            if token is None:
                break
            if token != last:
                key = token
        if key is None:  # only the last answer is left (or nothing)
            if last is None or not queue.by_answer.get(last):
                return
            key = last
        offered = queue.by_answer[key].pop(0)
        question: Question | None
        if not isinstance(offered, Planned):
            question = offered
        elif offered.bucket is not None and would_keep is not None and \
                not would_keep(offered.bucket, offered.answer):
            # the runner's balancer would refuse it in every form: its turn passes unbuilt
            question = None
        else:
            question = offered.build()
            if question is None or answer_token(question.answer) != key:
                raise AssertionError(
                    f"predicted answer {offered.answer!r}, but the program gave "
                    f"{None if question is None else question.answer!r}: a generator's "
                    "prediction disagrees with its program")
        if question is not None:
            yield question
        rotation.remove(key)
        rotation.append(key)
        last = key
