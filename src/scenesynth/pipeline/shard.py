"""The Generate and Balance steps of a shard: run the generators over its scene graphs and keep
the samples the shard's deduplicator and answer balancer accept.

Balance (``quality.dedup`` + ``quality.balance``) sits in the generate stream, not after it:
a question counts toward ``per_image`` only once one of its forms is accepted, and the
balancer's ``would_keep`` hint lets generators skip drawing answers it would refuse, so
balancing after the fact would keep fewer questions per image. The generators package itself
knows nothing of quality; the pipeline hands each generator context the hint.

A shard is a fixed chunk of input graphs chosen by the caller (the engine). Everything inside a
shard is deterministic:

* each (graph or group, generator) pair gets its own :class:`random.Random`, seeded from
  ``sha256(global seed, image ids, generator name)`` (never Python's ``hash()``), so the output
  does not depend on ``PYTHONHASHSEED``, on the number of workers, or on the other shards;
* graphs are visited in shard order and generators in name order; each rendered sample is
  offered first to the shard's :class:`~scenesynth.quality.dedup.Deduplicator`, then to its
  :class:`~scenesynth.quality.balance.AnswerBalancer`, in that order (the deduplicator
  remembers the samples kept, not the ones the balancer refuses);
* multi-image groups are formed by a seeded shuffle of the shard's graphs.

``per_image`` is the number of *questions* kept per (image or group, generator); each kept
question is emitted in every requested form natural for it (short + yes/no for boolean answers,
short + multiple choice otherwise). A generator that raises on a graph is recorded in
``ShardResult.failures`` (image ids, generator, traceback) and skipped; the rest of the shard
goes on.
"""

from __future__ import annotations

import gc
import hashlib
import random
import traceback
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

from scenesynth._fast import construct, fields_set, new_instance
from scenesynth.generators.base import (
    GenConfig,
    GenContext,
    Generator,
    GeneratorSpec,
    LazyIndexes,
    Need,
    Question,
    has_needs,
    registered,
)
from scenesynth.generators.forms import FormRenderer, RenderedForm, answer_text
from scenesynth.graph import (
    AnswerForm,
    InstructionSample,
    Provenance,
    SceneGraph,
)
from scenesynth.graph.keys import template_bucket
from scenesynth.graph.seeds import (
    generator_seed,
    generator_seed_from_hash,
    group_seed_hash,
    seeded_random,
)
from scenesynth.programs.tables import build_tables

if TYPE_CHECKING:
    from scenesynth.quality.balance import AnswerBalancer
    from scenesynth.quality.dedup import Deduplicator


@dataclass
class GenerationFailure:
    image_ids: list[str]
    generator: str
    error: str
    traceback: str


@dataclass
class ShardResult:
    samples: list[InstructionSample]
    failures: list[GenerationFailure]
    stats: dict[str, Any] = field(default_factory=dict)


def sample_id(
    image_ids: Sequence[str],
    generator: str,
    question: str,
    form: str,
    options: Sequence[str] | None,
) -> str:
    """sha1 hex digest of (image ids, generator, question text, form, options); fields are
    joined with ASCII unit/record separators, which never occur in generated text."""
    return sample_id_from_hash(context_id_hash(ids_id_hash(image_ids), generator), question,
                               form, options)


def ids_id_hash(image_ids: Sequence[str]) -> Any:
    """sha1 fed with the part of :func:`sample_id`'s payload that one graph (or group)
    shares."""
    return hashlib.sha1(f"{chr(31).join(image_ids)}\x1e".encode())


def context_id_hash(ids_hash: Any, generator: str) -> Any:
    """:func:`ids_id_hash` (not changed) extended with the generator: the hash that every
    sample id of one (graph or group, generator) context starts from."""
    h = ids_hash.copy()
    h.update(f"{generator}\x1e".encode())
    return h


def sample_id_from_hash(
    prefix_hash: Any, question: str, form: str, options: Sequence[str] | None
) -> str:
    """:func:`sample_id` from a sha1 object fed with its shared prefix (not changed): a
    copy of a hash that has the prefix already is cheaper than a fresh one per sample."""
    h = prefix_hash.copy()
    h.update(f"{question}\x1e{form}\x1e{chr(31).join(options) if options else ''}"
             .encode())
    return str(h.hexdigest())


# Read once per sample: Final module names compile to C statics (mypyc), while other module
# names, and members of an Enum class (EnumType.__getattr__ on Python 3.11), cost a lookup.
_PROVENANCE_FIELDS: Final = fields_set(Provenance)
_SAMPLE_FIELDS: Final = fields_set(InstructionSample)
_PROVENANCE: Final = Provenance
_SAMPLE: Final = InstructionSample
_CONTEXT: Final = GenContext
SHORT: Final = AnswerForm.SHORT
YES_NO: Final = AnswerForm.YES_NO


class ContextParts:
    """What every sample of one (graph or group, generator) context shares, read once per
    context instead of once per sample."""

    __slots__ = ("family", "generator", "global_seed", "id_hash", "image_ids", "images",
                 "seed", "source", "version")

    def __init__(
        self,
        spec: GeneratorSpec,
        graphs: Sequence[SceneGraph],
        seed: int,
        global_seed: int,
        image_ids: list[str],
        images: list[str],
        ids_hash: Any,
    ) -> None:
        self.source = graphs[0].image.source
        self.generator = spec.name
        self.version = spec.version
        self.family = spec.family
        self.seed = seed
        self.global_seed = global_seed
        self.image_ids = image_ids  # copied into each sample
        self.images = images
        # sha1 of the sample ids' shared prefix (sample_id_from_hash)
        self.id_hash = context_id_hash(ids_hash, spec.name)


def question_group_id(question: Question, parts: ContextParts) -> str:
    """The id shared by the samples of one question (one per form): its short form's id."""
    return sample_id_from_hash(parts.id_hash, question.text, SHORT, None)


def build_sample(
    question: Question, rendered: RenderedForm, parts: ContextParts, bucket: str,
    question_group: str,
) -> InstructionSample:
    """Assemble the sample from already-validated parts (no re-validation: hot path). The
    lists it holds are its own (copied), never shared between samples.

    ``bucket`` is the question's balance bucket (``template_bucket``) and ``question_group``
    the id of its short form (:func:`question_group_id`), both worked out once per question
    by the caller, which needs them too."""
    form = rendered.form
    options = rendered.options
    generator = parts.generator
    extra: dict[str, Any] = {
        "balance_key": bucket,
        "form_template": rendered.template,
        "global_seed": parts.global_seed,
        # One question is exported in each of its forms (short, mc, yes_no) as separate
        # records; they share this id: the id of the question's short form.
        "question_group": question_group,
    }
    wording = question.wording
    if wording is not None:  # a paraphrase-bank phrasing (template stays the template id)
        extra["wording"] = wording
    provenance = construct(_PROVENANCE, {
        "source": parts.source,
        "image_ids": list(parts.image_ids),
        "generator": generator,
        "generator_version": parts.version,
        "family": parts.family,
        "template": question.template,
        "program": question.program,
        "objects": list(question.objects),
        "relations": [list(r) for r in question.relations],
        "seed": parts.seed,
        "extra": extra,
    }, _PROVENANCE_FIELDS)
    return construct(_SAMPLE, {
        # the short form is the question's own text without options: its id is the group's
        "id": question_group if form == SHORT else sample_id_from_hash(
            parts.id_hash, rendered.question, form, options),
        "images": list(parts.images),
        "question": rendered.question,
        "answer": rendered.answer,
        "form": form,
        "options": options,
        "answer_index": rendered.answer_index,
        "answer_value": question.answer,
        # a plain str (str() of the StrEnum is its value)
        "answer_type": str(question.answer_type),
        "provenance": provenance,
    }, _SAMPLE_FIELDS)


def _quality() -> tuple[AnswerBalancer, Deduplicator]:
    """The shard's balancer and deduplicator (the Balance step). Imported here, not at the top:
    importing the quality package loads its image checks (numpy), which listing generators
    does not need.
    Typed, so that the compiled build calls their methods directly."""
    from scenesynth.quality.balance import AnswerBalancer
    from scenesynth.quality.dedup import Deduplicator

    return AnswerBalancer(), Deduplicator()


def select_generators(names: Iterable[str] | None) -> list[type[Generator]]:
    """Registered generator classes by name (all when None), sorted by name."""
    import scenesynth.generators  # noqa: F401  (fills the registry)

    reg = registered()
    if names is None:
        return [reg[n] for n in sorted(reg)]
    unknown = sorted(set(names) - set(reg))
    if unknown:
        raise ValueError(
            f"unknown generator(s) {', '.join(unknown)}; known: {', '.join(sorted(reg))}"
        )
    return [reg[n] for n in sorted(set(names))]


def multi_image_groups(
    graphs: Sequence[SceneGraph], sizes: tuple[int, int], seed: int
) -> list[list[int]]:
    """Seeded shuffle of the shard's graphs cut into groups of ``sizes[0]..sizes[1]`` graphs;
    a last group smaller than ``sizes[0]`` is not formed."""
    lo, hi = sizes
    if lo < 2 or hi < lo:
        raise ValueError(f"multi_image_group must be (min, max) with 2 <= min <= max, got {sizes}")
    rng = random.Random(generator_seed(seed, [g.image.id for g in graphs], "multi_image_groups"))
    order = list(range(len(graphs)))
    rng.shuffle(order)
    groups: list[list[int]] = []
    i = 0
    while i < len(order):
        size = rng.randint(lo, hi)
        group = order[i : i + size]
        if len(group) < lo:
            break
        groups.append(group)
        i += size
    return groups


def _other_names(graphs: Sequence[SceneGraph]) -> dict[str, tuple[str, ...]]:
    """source -> sorted names of the objects in the shard's graphs of that source."""
    by_source: dict[str, set[str]] = {}
    for g in graphs:
        by_source.setdefault(g.image.source, set()).update(o.name for o in g.objects)
    return {src: tuple(sorted(names)) for src, names in by_source.items()}


def _source_values(graphs: Sequence[SceneGraph]) -> dict[str, dict[str, tuple[str, ...]]]:
    """source -> attribute kind -> sorted values seen in the shard's graphs of that source."""
    found: dict[str, dict[str, set[str]]] = {}
    for g in graphs:
        kinds = found.setdefault(g.image.source, {})
        for o in g.objects:
            for a in o.attributes:
                kinds.setdefault(str(a.kind), set()).add(a.value)
    return {src: {k: tuple(sorted(v)) for k, v in kinds.items()} for src, kinds in found.items()}


class _Shared:
    """What every generator of one graph (or group) shares: lookups, absent-name pool, and
    the needs checks (computed once, not once per generator)."""

    def __init__(
        self, group: Sequence[SceneGraph], config: GenConfig,
        names_by_source: dict[str, tuple[str, ...]], seed: int,
    ) -> None:
        self.image_ids = [g.image.id for g in group]
        # the hashes every generator's seed and sample ids start from (copied per context)
        self.seed_hash = group_seed_hash(seed, self.image_ids)
        self.ids_hash = ids_id_hash(self.image_ids)
        self.ids_key = tuple(self.image_ids)  # the dedup key's image part
        self.images = [g.image.path or g.image.id for g in group]
        self.indexes = LazyIndexes(group)
        self.tables = build_tables(group, config.rules)
        # the generators' memos of this graph or group (what depends on its graphs only:
        # tables, names, synonyms), shared by its generators
        self.cache: dict[str, Any] = {"tables": self.tables}
        own: set[str] = set().union(*(t.by_name for t in self.tables))
        sources = {g.image.source for g in group}
        if len(sources) == 1:  # filtered from the source's sorted names: no sort per graph
            pool = names_by_source.get(sources.pop(), ())
            self.other_names = tuple([n for n in pool if n not in own])
        else:
            merged: set[str] = set().union(*(names_by_source.get(s, ()) for s in sources))
            self.other_names = tuple(sorted(merged - own))
        self._needs: dict[frozenset[Need], bool] = {}

    def release(self) -> None:
        """Drop the per-graph memos: memoised references point back at their tables (a
        cycle), and the cyclic collector is paused during a shard."""
        for t in self.tables:
            t.memo.clear()

    def applicable(self, gen: Generator, group: Sequence[SceneGraph]) -> bool:
        if type(gen).applicable is not Generator.applicable:  # a generator's own rule
            return gen.applicable(group)
        needs = gen.spec.needs
        ok = self._needs.get(needs)
        if ok is None:
            ok = all(has_needs(g, needs) for g in group)
            self._needs[needs] = ok
        return ok


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a shard runs: the samples are acyclic
    (reference counting frees what is dropped), and re-scanning every sample kept so far on
    each collection cost more than half of the generation time.

    Afterwards the collector is re-enabled (if it was on) with the shard's survivors moved
    straight to the oldest generation (``gc.freeze()`` then ``gc.unfreeze()``: two list
    splices, no scan), where long-lived results end up anyway. Otherwise the first
    collection after re-enabling scans every object the shard allocated as if it were young:
    about a sixth of a shard's time on 1000 CLEVR scenes. This is skipped when the caller
    keeps objects frozen itself (``gc.get_freeze_count()`` > 0), so as not to thaw them."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        if was_enabled:
            gc.enable()


def generate_shard(
    graphs: Sequence[SceneGraph],
    generators: list[str] | None,
    per_image: int,
    forms: tuple[AnswerForm, ...],
    seed: int,
    config: GenConfig,
    multi_image_group: tuple[int, int] | None,
    emit: Callable[[InstructionSample], object] | None = None,
) -> ShardResult:
    """Generate samples for one shard (see module docstring for the guarantees).

    ``emit``, when given, receives each kept sample as it is made, in order, instead of
    ``ShardResult.samples`` (left empty): the engine writes it to the shard's file, so a
    shard never holds its samples in memory (the deduplicator and balancer keep only
    their keys and counts)."""
    if per_image < 1:
        raise ValueError(f"per_image must be >= 1, got {per_image}")
    with _cyclic_gc_paused():
        classes = select_generators(generators)
        single = [(c.spec, c()) for c in classes if not c.spec.multi_image]
        multi = [(c.spec, c()) for c in classes if c.spec.multi_image]
        balancer, dedup = _quality()
        renderer = FormRenderer(config)
        samples: list[InstructionSample] = []
        keep: Callable[[InstructionSample], object] = samples.append if emit is None else emit
        failures: list[GenerationFailure] = []
        per_generator: dict[str, dict[str, int]] = {}
        names_by_source = _other_names(graphs)
        # read by single-image generators only (attribute distractors): a multi-image-only
        # shard does not work them out (its contexts get none)
        values_by_source = _source_values(graphs) if single else {}
        form_text = {f: f.value for f in AnswerForm}  # enum .value is a Python-level property
        would_keep = balancer.would_keep

        def run(
            spec: GeneratorSpec,
            gen: Generator,
            group: Sequence[SceneGraph],
            shared: _Shared,
        ) -> None:
            image_ids = shared.image_ids
            counts = per_generator.get(spec.name)
            if counts is None:
                counts = {"contexts": 0, "questions": 0, "samples": 0, "rejected": 0}
                per_generator[spec.name] = counts
            if not shared.applicable(gen, group):
                return
            counts["contexts"] += 1
            ctx_seed = generator_seed_from_hash(shared.seed_hash, spec.name)
            # per-graph lookups are built once and shared by every generator of the graph
            # GenContext(...) with every field given, without running the dataclass __init__ /
            # __post_init__ (one per graph and generator)
            ctx = new_instance(_CONTEXT)
            object.__setattr__(ctx, "__dict__", {
                "graphs": group,
                "rng": seeded_random(ctx_seed),
                "config": config,
                "indexes": shared.indexes,
                "other_names": shared.other_names,
                "source_values": values_by_source.get(group[0].image.source, {}),
                "cache": shared.cache,
                "would_keep": would_keep,
                "wording": {},
            })
            kept = 0
            considered = 0
            max_considered = config.max_per_generator
            parts = ContextParts(spec, group, ctx_seed, seed, image_ids, shared.images,
                                 shared.ids_hash)
            render = renderer.render
            ids_key = shared.ids_key
            n_images = len(image_ids)
            name = spec.name
            try:
                for question in gen.generate(ctx):
                    considered += 1
                    bucket = template_bucket(question.balance_key or name, question.template)
                    answer = question.answer
                    answer_type = question.answer_type
                    accepted = False
                    group_id: str | None = None  # worked out when a first form is kept
                    for form in forms:
                        if form == SHORT:  # always natural: rendered here (hot path)
                            rendered = RenderedForm(SHORT, question.text,
                                                    answer_text(answer, answer_type), "short")
                        else:
                            # natural forms (forms.natural_forms): yes/no only for boolean
                            # answers, multiple choice only for the others
                            if (form == YES_NO) is not isinstance(answer, bool):
                                continue
                            other = render(question, form, ctx.rng)
                            if other is None:
                                continue
                            rendered = other
                        # offered by its parts: a rejected sample is never assembled
                        dedup_key = dedup.new_key(ids_key, rendered.question, form_text[form])
                        if dedup_key is not None and \
                                balancer.offer_parts(bucket, form, rendered.answer, answer,
                                                     str(answer_type), n_images,
                                                     rendered.options, rendered.answer_index):
                            dedup.remember(dedup_key)
                            if group_id is None:
                                group_id = question_group_id(question, parts)
                            keep(build_sample(question, rendered, parts, bucket, group_id))
                            counts["samples"] += 1
                            accepted = True
                        else:
                            counts["rejected"] += 1
                    if accepted:
                        kept += 1
                        counts["questions"] += 1
                    if kept >= per_image or considered >= max_considered:
                        break
            except Exception as exc:  # a generator bug must not sink the shard
                failures.append(
                    GenerationFailure(
                        image_ids=image_ids,
                        generator=spec.name,
                        error=f"{type(exc).__name__}: {exc}",
                        traceback=traceback.format_exc(),
                    )
                )

        # a multi-image-only run builds no per-graph lookups
        for graph in graphs if single else ():
            shared = _Shared([graph], config, names_by_source, seed)
            for spec, gen in single:
                run(spec, gen, [graph], shared)
            shared.release()
        groups: list[list[int]] = []
        if multi and multi_image_group is not None:
            groups = multi_image_groups(graphs, multi_image_group, seed)
            for group in groups:
                members = [graphs[i] for i in group]
                shared = _Shared(members, config, names_by_source, seed)
                for spec, gen in multi:
                    run(spec, gen, members, shared)
                shared.release()

        stats = {
            "graphs": len(graphs),
            "groups": len(groups),
            "samples": sum(made["samples"] for made in per_generator.values()),
            "failures": len(failures),
            "generators": per_generator,
            "balance": balancer.stats(),
            "dedup": dedup.stats(),
        }
        return ShardResult(samples=samples, failures=failures, stats=stats)
