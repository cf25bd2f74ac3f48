"""Pipeline stages run on one shard at a time, and the shard they pass along.

A stage is a small picklable object with a :class:`Resources` declaration (CPUs, GPUs, replicas,
distilabel-style) and a ``process(batch)`` that returns the batch transformed. A stage never lets
one bad record sink the shard: it records a :class:`FailureRecord` (stage, record id, error,
traceback) and goes on. Model-backed stages set ``uses_model``; the local engine calls
``setup()`` once per worker process, and the Ray engine runs them as an actor pool sized by
``resources``.
"""

from __future__ import annotations

import traceback as tb
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from scenesynth.graph import InstructionSample, SceneGraph
from scenesynth.graph.sample import AnswerForm
from scenesynth.ioutil.manifest import FailureRecord
from scenesynth.quality.card_plots import GraphCounts

if TYPE_CHECKING:
    from scenesynth.generators.base import GenConfig


@dataclass(frozen=True)
class Resources:
    """What one replica of a stage needs; Ray schedules on these."""

    num_cpus: float = 1.0
    num_gpus: float = 0.0
    replicas: int | None = None  # actor-pool size for model-backed stages (None = 1)
    # records a model-backed replica takes per call (None: the whole shard at once)
    batch_size: int | None = None


class SampleSink(Protocol):
    """Where a shard's samples go as they are made (the shard's samples file), instead of
    ``ShardBatch.samples``."""

    def add(self, sample: InstructionSample) -> None: ...

    def restart(self) -> None:
        """Forget every sample added so far."""


@dataclass
class ShardBatch:
    """One shard in flight: its input graphs, the samples made so far, and what failed.

    ``record_start``/``record_end`` are the positions (end exclusive) of the shard's graphs in
    the stream of graphs the source yields; malformed source records reported while reading
    them are in ``failures`` with stage ``load``.
    """

    index: int
    record_start: int
    record_end: int
    graphs: list[SceneGraph]
    samples: list[InstructionSample] = field(default_factory=list)
    # Unparsed records (line number, bytes) for sources the workers parse themselves.
    raw_lines: list[tuple[int, bytes]] = field(default_factory=list)
    raw_file: str | None = None
    failures: list[FailureRecord] = field(default_factory=list)
    # Records each stage was given and how many of them failed (failure-rate accounting).
    stage_records: Counter[str] = field(default_factory=Counter)
    stage_failed: Counter[str] = field(default_factory=Counter)
    counters: Counter[str] = field(default_factory=Counter)  # informational (e.g. rejected rels)
    # A synthesized source's graphs are an output of the run (rendered images, exact masks):
    # the shard then also writes them, next to its samples.
    keep_graphs: bool = False
    # The shard's graphs as loaded, counted for the dataset card (:class:`CountGraphsStage`);
    # recorded in the shard's manifest entry.
    graph_counts: dict[str, dict[str, int]] | None = None
    # How the shard was produced (LLM requests, latency): execution facts for the summary and
    # card, never written to the manifest, so they cannot change the output bytes.
    run_stats: dict[str, Any] = field(default_factory=dict)
    # Set by the engine in the process that runs the shard when no stage after generation
    # reads the samples (:func:`streams_samples`): the samples go there, not to ``samples``.
    sample_sink: SampleSink | None = field(default=None, repr=False, compare=False)

    def fail(self, failure: FailureRecord) -> None:
        failure.shard = self.index
        self.failures.append(failure)


class Stage(ABC):
    """A pipeline step over one shard (see the module docstring)."""

    name: ClassVar[str]
    resources: Resources = Resources()
    uses_model: ClassVar[bool] = False
    # Exceptions that must stop the run instead of failing the shard's records (strict mode).
    fatal_errors: tuple[type[Exception], ...] = ()
    # Whether the stage reads or changes ``batch.samples``: a stage that runs after generation
    # and does not sets False, so the engine may write the samples out as they are made.
    reads_samples: ClassVar[bool] = True

    def check(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Fail fast (ValueError naming the field) on bad settings, before any data is read."""

    def setup(self) -> None:  # noqa: B027 - optional hook, default does nothing
        """Load heavy state (models) once per worker process or Ray actor."""

    @abstractmethod
    def process(self, batch: ShardBatch) -> ShardBatch:
        """Transform ``batch``; record per-record failures with ``batch.fail``."""


def streams_samples(stages: Sequence[Stage]) -> bool:
    """Whether a shard's samples can go to its file as they are made: the pipeline generates
    them (:class:`GenerateStage`) and no stage after that reads them."""
    for i, stage in enumerate(stages):
        if isinstance(stage, GenerateStage):
            return not any(later.reads_samples for later in stages[i + 1:])
    return False


def run_stages(stages: Sequence[Stage], batch: ShardBatch) -> ShardBatch:
    """Apply ``stages`` in order. A stage that raises as a whole fails every record it held."""
    for stage in stages:
        try:
            batch = stage.process(batch)
        except stage.fatal_errors:
            raise
        except Exception as exc:
            ids = [g.image.id for g in batch.graphs] + [f"line {n}" for n, _ in batch.raw_lines]
            for record_id in ids:
                batch.fail(FailureRecord.from_exception(stage.name, record_id, exc))
            batch.stage_records[stage.name] += len(ids)
            batch.stage_failed[stage.name] += len(ids)
            batch.graphs, batch.raw_lines = [], []
    return batch


# -- built-in stages -------------------------------------------------------------------------


class CountGraphsStage(Stage):
    """Count the shard's graphs as loaded, before any stage changes them (objects and
    relations per image, relations by category: the dataset card's per-image plots). The
    counts travel in the shard's manifest entry, where the card merges them."""

    name: ClassVar[str] = "count_graphs"
    reads_samples: ClassVar[bool] = False

    def process(self, batch: ShardBatch) -> ShardBatch:
        counts = GraphCounts()
        for graph in batch.graphs:
            counts.add(graph)
        batch.graph_counts = counts.to_dict()
        return batch


@dataclass
class RefineStage(Stage):
    """Make relations agree with geometry (:mod:`scenesynth.refine`) before generating."""

    filter_contradictions: bool = False
    add_derived_relations: bool = False
    # model refinement (teacher/judge/editor, see :mod:`scenesynth.refine.models`): the run
    # config's refine section; None = geometry only. Roles are built once per process.
    models: dict[str, Any] | None = None
    name: ClassVar[str] = "refine"
    reads_samples: ClassVar[bool] = False

    def process(self, batch: ShardBatch) -> ShardBatch:
        batch = self._geometry(batch)
        if self.models is not None and batch.graphs:
            try:
                self._with_models(batch)
            except Exception:
                # run_stages fails and counts every record the stage held: count them once
                batch.stage_records[self.name] -= len(batch.graphs)
                raise
        return batch

    def _with_models(self, batch: ShardBatch) -> None:
        from scenesynth.refine.models import RefineConfig
        from scenesynth.refine.run import refine_graphs

        teacher, judge, editor = _model_roles(self.models or {})
        m = self.models or {}
        config = RefineConfig(k=m["k"], per_subject=m["per_subject"],
                              keep_undecided=m["keep_undecided"])
        # LLMFatalError (server gone, breaker open) propagates: the run stops, resumable
        refined = list(refine_graphs(batch.graphs, teacher, judge, editor, config))
        for r in refined:
            for check, n in r.kept.items():
                batch.counters[f"refine.kept.{check}"] += n
            for f in r.failures:
                batch.counters[f"refine.dropped.{f['stage']}:{f['reason']}"] += 1
        batch.graphs = [r.graph for r in refined]

    def _geometry(self, batch: ShardBatch) -> ShardBatch:
        from scenesynth.refine import add_derived_relations, filter_contradictions

        kept: list[SceneGraph] = []
        for graph in batch.graphs:
            batch.stage_records[self.name] += 1
            try:
                if self.filter_contradictions:
                    graph, rejected = filter_contradictions(graph)
                    batch.counters["refine.rejected_relations"] += len(rejected)
                if self.add_derived_relations:
                    before = len(graph.relations)
                    graph = add_derived_relations(graph)
                    batch.counters["refine.derived_relations"] += len(graph.relations) - before
            except Exception as exc:
                batch.fail(FailureRecord.from_exception(self.name, graph.image.id, exc))
                batch.stage_failed[self.name] += 1
                continue
            kept.append(graph)
        batch.graphs = kept
        return batch


_ROLES: dict[str, Any] = {}


def _model_roles(models: dict[str, Any]) -> Any:
    """(teacher, judge, editor or None) of a refine section, built once per process (one client
    per model spec, so roles on one server share its connections and answer cache)."""
    import json

    from scenesynth.models.review import Editor, Judge, Teacher, load_backend

    key = json.dumps(models, sort_keys=True)
    if key not in _ROLES:
        backends: dict[str, Any] = {}

        def backend(spec: str) -> Any:
            if spec not in backends:
                backends[spec] = load_backend(
                    spec, concurrency=models["concurrency"], cache_dir=models["cache_dir"],
                    strategy=models["strategy"], max_attempts=models["attempts"],
                    timeout_s=models["timeout_s"], backoff_s=models["backoff_s"])
            return backends[spec]

        from pathlib import Path

        root = Path(models["image_root"]) if models.get("image_root") else None
        teacher = Teacher(backend(models["teacher"]), image_root=root)
        judge = Judge(backend(models["judge"] or models["teacher"]), image_root=root)
        editor = Editor(backend(models["editor"]), image_root=root) if models["editor"] else None
        _ROLES[key] = (teacher, judge, editor)
    return _ROLES[key]


# generate_shard(graphs, generators, per_image, forms, seed, config, multi_image_group)
ShardFunction = Callable[..., Any]


def _default_shard_function() -> ShardFunction:
    from scenesynth.pipeline.shard import generate_shard

    return generate_shard


@dataclass
class GenerateStage(Stage):
    """Turn graphs into samples with ``scenesynth.pipeline.shard.generate_shard``.

    The runner derives each (image, generator) seed from the run seed and the image ids, so the
    run seed is passed unchanged. When ``generate_shard`` raises for the whole shard, each graph
    is retried alone so only the records that really fail are reported (and the rest still
    produce samples).
    """

    generators: list[str]
    per_image: int
    forms: list[AnswerForm]
    seed: int
    gen: dict[str, Any] = field(default_factory=dict)
    multi_image_group: tuple[int, int] | None = None
    shard_function: ShardFunction | None = None  # None = the generators package's runner
    name: ClassVar[str] = "generate"
    reads_samples: ClassVar[bool] = False  # it makes them (into batch.sample_sink when set)
    # gen["paraphrases"] (a bank path, or "default") read once per process
    _wordings: dict[str, tuple[tuple[str, str], ...]] | None = field(
        default=None, init=False, repr=False, compare=False)

    def check(self) -> None:
        if self.shard_function is None:
            from scenesynth.pipeline.shard import select_generators

            try:
                select_generators(None if "all" in self.generators else self.generators)
            except ValueError as exc:
                raise ValueError(f"field 'generators': {exc}") from None
        try:
            self.gen_config()  # a bad paraphrase bank raises its one-line BankError here
        except TypeError as exc:
            raise ValueError(f"field 'gen': {exc}") from None

    def gen_config(self) -> GenConfig:
        """The generators' config from ``gen``; ``gen["paraphrases"]`` (a bank path or
        ``default``, see scenesynth.generators.paraphrases) becomes its ``wordings``."""
        from scenesynth.generators.base import GenConfig

        gen = dict(self.gen)
        bank = gen.pop("paraphrases", None)
        if bank is not None:
            if self._wordings is None:
                from scenesynth.generators.paraphrases import load_wordings

                self._wordings = load_wordings(bank)
            gen["wordings"] = self._wordings
        return GenConfig(**gen)

    def _call(self, graphs: list[SceneGraph], sink: SampleSink | None = None) -> Any:
        """The shard function's result; with ``sink``, the default runner hands it each
        sample as it is made (a custom shard function returns them all)."""
        names = None if "all" in self.generators else list(self.generators)
        args = (graphs, names, self.per_image, tuple(self.forms), self.seed, self.gen_config(),
                self.multi_image_group)
        if self.shard_function is not None:
            return self.shard_function(*args)
        function = _default_shard_function()
        return function(*args) if sink is None else function(*args, emit=sink.add)

    def process(self, batch: ShardBatch) -> ShardBatch:
        graphs = batch.graphs
        batch.stage_records[self.name] += len(graphs)
        if not graphs:
            return batch
        sink = batch.sample_sink
        try:
            results = [(graphs, self._call(graphs, sink))]
        except Exception:
            # Isolate the culprit(s): retry one graph at a time (into lists: a graph that
            # fails alone gives no sample, not the ones made before it failed).
            if sink is not None:
                sink.restart()
            results = []
            for graph in graphs:
                try:
                    alone = self._call([graph])
                except Exception as exc:
                    batch.fail(FailureRecord.from_exception(self.name, graph.image.id, exc))
                    batch.stage_failed[self.name] += 1
                    continue
                results.append(([graph], alone))
        for group, result in results:
            samples, failures = _unpack_result(result)
            if sink is None:
                batch.samples.extend(samples)
            else:
                for sample in samples:
                    sink.add(sample)
            failed_ids: set[str] = set()
            for raw in failures:
                failure = _failure_from_runner(self.name, raw, group)
                failed_ids.update(failure.record_id.split("+"))
                batch.fail(failure)
            batch.stage_failed[self.name] += len(failed_ids)
        return batch


def _unpack_result(result: Any) -> tuple[list[InstructionSample], list[Any]]:
    if hasattr(result, "samples"):
        return list(result.samples), list(getattr(result, "failures", []) or [])
    samples, failures = result
    return list(samples), list(failures or [])


def _failure_from_runner(stage: str, raw: Any, graphs: list[SceneGraph]) -> FailureRecord:
    """Normalise whatever the generator runner reports (dict, dataclass, exception tuple)."""
    if isinstance(raw, FailureRecord):
        return raw
    if isinstance(raw, dict):
        get = raw.get
    else:

        def get(key: str, default: Any = None) -> Any:
            return getattr(raw, key, default)

    record_id = get("record_id") or get("image_id") or get("record")
    image_ids = get("image_ids") or []
    if record_id is None and image_ids:
        record_id = "+".join(str(i) for i in image_ids)
    if record_id is None and len(graphs) == 1:
        record_id = graphs[0].image.id
    error = get("error") or get("message") or str(raw)
    exc = error if isinstance(error, BaseException) else None
    reason = get("reason") or (type(exc).__name__ if exc else str(error).split(":", 1)[0])
    if get("generator"):
        reason = f"{get('generator')}: {reason}"
    return FailureRecord(
        stage=str(get("stage") or stage),
        record_id=str(record_id if record_id is not None else "?"),
        reason=str(reason),
        error=str(error),
        traceback=str(get("traceback") or ("".join(tb.format_exception(exc)) if exc else "")),
    )
