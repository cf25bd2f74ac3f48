"""Shared building blocks of the multi-image generators.

Every answer is the output of executing the question's program with the shared executor
(:func:`scenesynth.programs.execute.execute`); the helpers here only build per-image
sub-programs, run them, and assemble :class:`~scenesynth.generators.base.Question` objects.
Images are called "Image 1", "Image 2", ... in question text; programs address them with
``args{image: k}`` (0-based).
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from scenesynth.generators.base import AnswerType, GenContext, Question
from scenesynth.generators.draws import first_shuffled
from scenesynth.generators.kit import tables_for
from scenesynth.graph import SceneGraph, SpatialRules
from scenesynth.graph.vocab import indefinite, is_mass_noun, plural
from scenesynth.programs.builder import ProgramBuilder
from scenesynth.programs.execute import ProgramError, execute
from scenesynth.programs.ops import image_label
from scenesynth.programs.tables import SceneTables

__all__ = ["plural"]  # re-exported: the multi-image generators import it from here

# Dataset names that are not plain words (Visual Genome has '"walk"') make broken sentences.
_WORDLIKE = re.compile(r"^[a-z0-9][a-z0-9 '\-]*$")


def is_wordlike(name: str) -> bool:
    return bool(_WORDLIKE.match(name))


def with_article(phrase: str) -> str:
    """"a cube", "an orange cube", "a pair of scissors"; plural and mass names go without an
    article ("grey keys", "gravel"): :func:`scenesynth.graph.vocab.indefinite`."""
    return indefinite(phrase)


def answer_token(value: Any) -> str:
    """A stable text key of a typed answer, used to group candidates by answer."""
    return json.dumps(value, sort_keys=True)


# The runner gives every (group, generator) pair a fresh context, so each multi-image
# generator would rebuild the same lookup tables; the last group's tables are kept here. The
# tables only memoise pure functions of the graphs, so sharing them changes no output.
_last_group: tuple[tuple[SceneGraph, ...], SpatialRules, list[SceneTables]] | None = None


def _group_tables(ctx: GenContext) -> list[SceneTables]:
    global _last_group
    cached = _last_group
    if (
        cached is not None
        and len(cached[0]) == len(ctx.graphs)
        and all(a is b for a, b in zip(cached[0], ctx.graphs, strict=True))
        and cached[1] == ctx.config.rules
    ):
        ctx.cache["tables"] = cached[2]
        return cached[2]
    tables = tables_for(ctx)
    _last_group = (tuple(ctx.graphs), ctx.config.rules, tables)
    return tables


# Questions built per (group, generator) before they are interleaved by answer and offered.
CANDIDATES_PER_CONTEXT = 12


class MultiScene:
    """One multi-image context: the per-image tables and program-building helpers."""

    def __init__(self, ctx: GenContext) -> None:
        self.ctx = ctx
        self.rng = ctx.rng
        self.config = ctx.config
        self.graphs = ctx.graphs
        self.tables: list[SceneTables] = _group_tables(ctx)
        self.k = len(ctx.graphs)
        self.budget = min(ctx.config.max_per_generator, CANDIDATES_PER_CONTEXT)

    # -- vocabulary ---------------------------------------------------------------------------
    def names(self, i: int) -> set[str]:
        return set(self.tables[i].by_name)

    def all_names(self) -> list[str]:
        """Object names present in any image that no other object claims as a synonym."""
        names = set().union(*(self.names(i) for i in range(self.k)))
        return sorted(n for n in names if is_wordlike(n) and not self.synonym_clash(n))

    def shuffled_names(self, countable: bool = False) -> list[str]:
        """:meth:`all_names` in a seeded random order (not alphabetical: no bias to "a...");
        ``countable`` leaves out stuff categories (sky, grass), which cannot be counted."""
        names = [n for n in self.all_names() if not (countable and self.is_stuff(n))]
        self.rng.shuffle(names)
        return names

    def is_stuff(self, name: str) -> bool:
        """Whether the category is amorphous stuff (a mass noun, or COCO panoptic ``isthing``
        false: sky, grass, gravel): "how many gravels" or "a gravel" make no sense."""
        memo: set[str] | None = self.ctx.cache.get("multi_stuff")
        if memo is None:
            memo = {
                o.name for g in self.graphs for o in g.objects if o.meta.get("isthing") is False
            }
            self.ctx.cache["multi_stuff"] = memo
        return name in memo or is_mass_noun(name)

    def has_stuff(self) -> bool:
        return any(self.is_stuff(n) for i in range(self.k) for n in self.names(i))

    def phrase(self, name: str) -> str:
        """"a truck", "an apple", "shoes", "gravel": the indefinite phrase for a category."""
        return name if self.is_stuff(name) else indefinite(name)

    def full(self, questions: Sequence[Question]) -> bool:
        """Enough candidates collected: the runner keeps a few questions per context, so
        building (and executing) every possible one would only cost time."""
        return len(questions) >= self.budget

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

    def kind_complete(self, i: int, kind: str, refs: Iterable[str] | None = None) -> bool:
        """Every object (of ``refs``, default the whole image) has a value of ``kind``: only
        then does "no object is red" follow from the annotations."""
        t = self.tables[i]
        members = t.scene if refs is None else refs
        return all(t.attr_by_kind[r].get(kind) for r in members)

    def pairs(self) -> list[tuple[int, int]]:
        """Ordered image pairs (a, b), a != b, in a seeded random order."""
        out = [(a, b) for a in range(self.k) for b in range(self.k) if a != b]
        self.rng.shuffle(out)
        return out

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

    def run(self, b: ProgramBuilder) -> list[Any] | None:
        """Execute the program; None when it is undefined (a tie, an ambiguous unique, ...)."""
        try:
            return execute(b.steps, self.graphs, tables=self.tables)
        except ProgramError:
            return None

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

    def question(
        self,
        b: ProgramBuilder,
        outputs: list[Any],
        text: str,
        answer_type: AnswerType,
        template: str,
        distractors: Sequence[Any] = (),
        relations: Sequence[tuple[str, str, str]] = (),
        balance_key: str | None = None,
        objects: Sequence[str] | None = None,
    ) -> Question:
        answer = outputs[-1]
        return Question(
            text=text,
            answer=answer,
            answer_type=answer_type,
            program=b.to_program(outputs),
            template=template,
            objects=list(objects) if objects is not None else self.matched_objects(b, outputs),
            relations=list(relations),
            distractors=[d for d in distractors if d != answer],
            balance_key=balance_key,
        )

    def pick_template(self, templates: dict[str, str]) -> tuple[str, str]:
        tid = sorted(templates)[self.rng.randrange(len(templates))]
        return tid, templates[tid]

    # -- distractors ----------------------------------------------------------------------------
    def image_distractors(self, answer: str, extra: Sequence[str]) -> list[str]:
        """Other image labels plus phrase options such as "both images"."""
        labels = [image_label(i) for i in range(self.k)]
        return [x for x in labels if x != answer] + list(extra)

    def both_or_all(self) -> str:
        return "both images" if self.k == 2 else "all of them"

    def neither_or_none(self) -> str:
        return "neither image" if self.k == 2 else "none of them"


def count_distractors(answer: int, related: Iterable[int] = ()) -> list[int]:
    """Nearby non-negative counts plus counts the scene makes plausible (per-image counts)."""
    pool = {v for v in related if isinstance(v, int) and v >= 0}
    pool.update(v for v in range(answer - 3, answer + 4) if v >= 0)
    pool.discard(answer)
    return sorted(pool)


def list_distractors(
    answer: list[str], universe: Iterable[str], rng: random.Random
) -> list[list[str]]:
    """Wrong lists close to ``answer``: one name added, one removed, one swapped."""
    have = set(answer)
    others = sorted(set(universe) - have)
    out: list[list[str]] = []
    for extra in others:
        out.append(sorted(have | {extra}))
    if len(answer) > 1:
        for name in answer:
            out.append(sorted(have - {name}))
    for name in answer:
        for extra in others:
            out.append(sorted((have - {name}) | {extra}))
    unique: list[list[str]] = []
    seen = {tuple(answer)}  # a set: a list's `in` made this quadratic in the candidates
    for d in out:
        key = tuple(d)
        if d and key not in seen:
            seen.add(key)
            unique.append(d)
    return first_shuffled(rng, unique, 12)


def interleave(questions: list[Question], rng: random.Random) -> Iterator[Question]:
    """Yield candidates round-robin over their answers (answer order seeded), so a context's
    first questions already cover several answers and the balancer rarely has to reject."""
    groups: dict[str, list[Question]] = {}
    for q in questions:
        groups.setdefault(answer_token(q.answer), []).append(q)
    keys = sorted(groups)
    rng.shuffle(keys)
    while keys:
        for key in list(keys):
            bucket = groups[key]
            yield bucket.pop(0)
            if not bucket:
                keys.remove(key)
