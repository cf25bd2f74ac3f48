"""Running a pipeline end to end: plan shards, skip finished ones, process, export, summarise.

:func:`run` is the one entry point (the CLI calls it). It is resumable: a run killed at any point
and restarted with the same config verifies the shards the manifest lists, redoes only the
others, and ends with bytes identical to an uninterrupted run.
"""

from __future__ import annotations

import inspect
import json
import logging
import re
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenesynth.ioutil import atomic_write
from scenesynth.ioutil.manifest import (
    FailureRecord,
    Manifest,
    ManifestMismatch,
    ShardEntry,
    clean_temp_files,
    write_failures_file,
)
from scenesynth.pipeline.card import SampleTally, build_card, write_card
from scenesynth.pipeline.config import EXECUTION_FIELDS, RunConfig
from scenesynth.pipeline.local import LocalEngine
from scenesynth.pipeline.progress import RunProgress
from scenesynth.pipeline.shards import (
    iter_stored_samples,
    verify_shard,
    write_graphs_file,
)
from scenesynth.pipeline.source import ShardPlan, count_records_hint, plan_shards
from scenesynth.pipeline.stages import (
    CountGraphsStage,
    GenerateStage,
    RefineStage,
    ShardBatch,
    Stage,
)

log = logging.getLogger("scenesynth.pipeline")


class RunAborted(RuntimeError):
    """A stage failed on more records than ``max_failure_rate`` allows."""


# Exit codes of the command line (README, "Exit codes"); one table for every verb.
EXIT_OK = 0
EXIT_INVALID_EXPORT = 1  # the export failed validation
EXIT_BAD_INPUT = 2  # bad config, missing or unreadable input, strict-mode load error
EXIT_FAILURE_RATE = 3  # a stage failed on more records than max_failure_rate allows
EXIT_WORKER_DIED = 4  # a worker process died (rerun to resume)
EXIT_NOTHING_EXPORTED = 5  # the run finished but exported no sample (or rendered no image)
EXIT_SOURCE_NOT_READ = 6  # a source file was not read to its end (truncated / malformed JSON)
EXIT_OS_ERROR = 7  # disk full, permission denied, read-only output (traceback in a log file)


@dataclass
class RunSummary:
    """What a run did (also written to ``summary.json``)."""

    out: Path
    shards: int = 0
    shards_skipped: int = 0  # finished by an earlier, interrupted run (verified)
    shards_redone: int = 0  # listed by the manifest but failing verification
    records: int = 0
    samples: int = 0
    failures: int = 0
    stage_records: dict[str, int] = field(default_factory=dict)
    stage_failed: dict[str, int] = field(default_factory=dict)
    failures_by_reason: dict[str, int] = field(default_factory=dict)  # "stage: reason"
    counters: dict[str, int] = field(default_factory=dict)
    export: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    engine: str = "local"
    workers: int = 1
    # requested generators the source cannot feed, and those that produced nothing
    warnings: list[str] = field(default_factory=list)
    # One line per streamed source file part: its record count, or where reading stopped.
    source_files: list[str] = field(default_factory=list)
    incomplete_sources: list[str] = field(default_factory=list)
    # execution facts of the shards this process ran (timings by step, LLM client statistics)
    step_seconds: dict[str, float] = field(default_factory=dict)
    llm: Any = None  # scenesynth.models.llm.LLMStats, merged over the shards

    def add_run_stats(self, stats: dict[str, Any]) -> None:
        for key, value in stats.get("seconds", {}).items():
            self.step_seconds[key] = self.step_seconds.get(key, 0.0) + value
        llm = stats.get("llm")
        if llm is not None:
            if self.llm is None:
                self.llm = llm
            else:
                self.llm.merge(llm)

    def problems(self) -> list[tuple[int, str]]:
        """Why this finished run must exit non-zero, as (exit code, one-line reason), the most
        serious first; empty when it may exit 0."""
        found: list[tuple[int, str]] = []
        validation = self.export.get("validation")
        if validation is not None and not validation["ok"]:
            found.append((EXIT_INVALID_EXPORT, f"the export failed validation (nothing published): "
                          f"{validation['error_count']} error(s)"))
        for line in self.incomplete_sources:
            found.append((EXIT_SOURCE_NOT_READ, f"source not fully read: {line}"))
        written = self.export.get("written")
        exported = self.samples if written is None or not self.export else written
        if exported == 0 and not found:  # an invalid export already says why
            loaded = self.stage_records.get("load", self.records) - self.stage_failed.get("load", 0)
            why = (
                f"no record could be loaded ({self.stage_failed.get('load', 0)} load failures)"
                if loaded <= 0 else
                f"all {self.samples} samples were rejected by the export" if self.samples else
                f"{self.records} records gave 0 samples"
            )
            found.append((EXIT_NOTHING_EXPORTED, f"the run exported nothing: {why}; see "
                          f"{self.out / 'failures.jsonl'}"))
        return found

    @property
    def samples_per_second(self) -> float:
        return self.samples / self.seconds if self.seconds > 0 else 0.0

    def failure_rate(self, stage: str) -> float:
        seen = self.stage_records.get(stage, 0)
        return self.stage_failed.get(stage, 0) / seen if seen else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out),
            "shards": self.shards,
            "shards_skipped": self.shards_skipped,
            "shards_redone": self.shards_redone,
            "records": self.records,
            "samples": self.samples,
            "failures": self.failures,
            "stage_records": self.stage_records,
            "stage_failed": self.stage_failed,
            "failure_rates": {s: round(self.failure_rate(s), 6) for s in self.stage_records},
            "failures_by_reason": self.failures_by_reason,
            "counters": self.counters,
            "export": self.export,
            "seconds": round(self.seconds, 3),
            "samples_per_second": round(self.samples_per_second, 1),
            "engine": self.engine,
            "workers": self.workers,
            "warnings": self.warnings,
            "source_files": self.source_files,
            "incomplete_sources": self.incomplete_sources,
            **({"step_seconds": {k: round(v, 3) for k, v in sorted(self.step_seconds.items())}}
               if self.step_seconds else {}),
            **({"llm": self.llm.as_dict()} if self.llm is not None else {}),
        }

    def lines(self) -> list[str]:
        """Human-readable summary lines (the CLI prints them)."""
        out = [
            f"{self.samples} samples from {self.records} records in {self.shards} shards "
            f"({self.shards_skipped} resumed) in {self.seconds:.1f}s "
            f"({self.samples_per_second:.0f} samples/s, {self.engine}, {self.workers} workers)",
        ]
        for stage in sorted(self.stage_records):
            out.append(
                f"  {stage}: {self.stage_failed.get(stage, 0)} of {self.stage_records[stage]} "
                f"records failed ({100 * self.failure_rate(stage):.2f}%)"
            )
        for line in self.source_files:
            out.append(f"  source {line}")
        if self.failures_by_reason:
            out.append(f"  {self.failures} failures logged to {self.out / 'failures.jsonl'}:")
            for reason, n in sorted(self.failures_by_reason.items(), key=lambda kv: -kv[1]):
                out.append(f"    {n:>6}  {reason}")
        if self.export:
            out.append(f"  export: {self.export.get('summary', self.export)}")
            reasons = self.export.get("skipped_by_reason") or {}
            for reason, n in list(reasons.items())[:5]:
                out.append(f"    {n:>6}  skipped: {reason}")
            if len(reasons) > 5:
                out.append(f"    ... {len(reasons) - 5} other reason(s) in failures.jsonl")
            validation = self.export.get("validation")
            if validation:
                state = "valid" if validation["ok"] else f"{validation['error_count']} error(s)"
                missing = validation.get("missing_image_errors", 0)
                note = f" ({missing} reference(s) to absent image files)" if missing else ""
                out.append(f"  validation: {validation['records']} records, {state}{note}")
        for warning in self.warnings:
            out.append(f"  warning: {warning}")
        return out

    def add(self, entry: ShardEntry) -> None:
        self.shards += 1
        self.records += entry.record_end - entry.record_start
        self.samples += entry.samples
        self.failures += entry.failures
        for target, source in (
            (self.stage_records, entry.stage_records),
            (self.stage_failed, entry.stage_failed),
            (self.failures_by_reason, entry.failure_reasons),
            (self.counters, entry.counters),
        ):
            for key, n in source.items():
                target[key] = target.get(key, 0) + n


def _refine_models(config: RunConfig) -> dict[str, Any] | None:
    """The model part of the refine section, paths resolved (the answer cache defaults to
    OUT/llm-cache, so a re-run of the run sends no request it already made)."""
    r = config.refine
    if not r.teacher:
        return None
    keys = ("teacher", "judge", "editor", "k", "per_subject", "keep_undecided", "concurrency",
            "strategy", "attempts", "timeout_s", "backoff_s")
    models = {key: getattr(r, key) for key in keys}
    models["cache_dir"] = r.cache_dir or str(Path(config.out) / "llm-cache")
    root = config.export.image_root
    models["image_root"] = str(root) if root else None
    return models


def build_stages(
    config: RunConfig,
    shard_function: Callable[..., Any] | None = None,
    kg_factory: Callable[[int], Any] | None = None,
) -> list[Stage]:
    """The pipeline a config describes: [synthesize] -> [refine] -> generate -> [answer check].
    ``kg_factory`` (scene seed -> knowledge graph) replaces a synthesizing run's knowledge
    source."""
    stages: list[Stage] = []
    synth = config.synthesize
    if synth is not None:
        from scenesynth.pipeline.synthesize import SynthesizeStage

        stages.append(SynthesizeStage(synth, config.seed, config.out, kg_factory))
    if config.refine.enabled:
        stages.append(
            RefineStage(
                filter_contradictions=config.refine.filter_contradictions,
                add_derived_relations=config.refine.add_derived_relations,
                models=_refine_models(config),
            )
        )
    stages.append(
        GenerateStage(
            generators=list(config.generators),
            per_image=config.per_image,
            forms=list(config.forms),
            seed=config.seed,
            gen=config.gen.overrides(),
            multi_image_group=config.multi_image_group,
            shard_function=shard_function,
        )
    )
    if synth is not None and synth.judge and synth.answer_check != "off":
        from scenesynth.pipeline.synthesize import AnswerCheckStage

        stages.append(AnswerCheckStage(synth, config.out))
    return stages


NEEDS_PROBE_GRAPHS = 200


def generator_warnings(config: RunConfig) -> list[str]:
    """Why an explicitly requested generator will produce nothing, found before any work: it
    is multi-image and no multi-image groups are made, or it needs a scene-graph field (depth,
    masks, attributes, ...) that none of the source's first graphs has."""
    if "all" in config.generators or config.source is None:
        return []  # 'all' means "whatever this source supports": no warning per generator
    import scenesynth.generators  # noqa: F401  (fills the registry)
    from scenesynth.generators.base import Need, has_needs, registered
    from scenesynth.sources import load

    known = registered()
    warnings: list[str] = []
    wanted = [known[n] for n in config.generators if n in known]
    for cls in wanted:
        if cls.spec.multi_image and config.multi_image_group is None:
            warnings.append(f"generator {cls.spec.name!r} is multi-image and no multi-image "
                            "groups are made (set --multi-image-group): it will produce no "
                            "samples")
    needs = sorted({n for cls in wanted for n in cls.spec.needs}, key=str)
    if not needs:
        return warnings
    present: dict[Need, int] = dict.fromkeys(needs, 0)
    graphs = 0
    try:
        for graph in load(config.source, config.source_format, strict=False):
            graphs += 1
            for need in needs:
                present[need] += has_needs(graph, frozenset({need}))
            if graphs >= NEEDS_PROBE_GRAPHS:
                break
    except Exception as exc:  # the run itself reports unreadable input; this is advice only
        log.debug("needs probe stopped: %s", exc)
    if graphs == 0:
        return warnings
    for cls in wanted:
        missing = [str(n) for n in sorted(cls.spec.needs, key=str) if present[n] == 0]
        if missing:
            warnings.append(
                f"generator {cls.spec.name!r} needs {', '.join(missing)}, which none of the "
                f"first {graphs} graph(s) of {config.source} have: it will produce no samples"
            )
    return warnings


def _open_manifest(config: RunConfig, out: Path) -> Manifest:
    wanted = config.output_fields()
    manifest = Manifest.load(out)
    if manifest is None:
        return Manifest(config=wanted)
    if manifest.config != wanted:
        keys = sorted(set(wanted) | set(manifest.config))
        diff = [
            f"{k}: {manifest.config.get(k)!r} -> {wanted.get(k)!r}"
            for k in keys
            if manifest.config.get(k) != wanted.get(k) and k not in EXECUTION_FIELDS
        ]
        raise ManifestMismatch(
            f"{out / 'manifest.json'} belongs to a run with a different config "
            f"({'; '.join(diff)}); resume with the same config or choose another --out"
        )
    return manifest


def _check_failure_rates(config: RunConfig, summary: RunSummary, final: bool) -> None:
    for stage, seen in sorted(summary.stage_records.items()):
        if not final and seen < config.min_records_for_failure_rate:
            continue
        rate = summary.failure_rate(stage)
        if rate > config.max_failure_rate:
            raise RunAborted(
                f"stage '{stage}' failed on {summary.stage_failed.get(stage, 0)} of {seen} "
                f"records ({100 * rate:.2f}%), above max_failure_rate "
                f"{100 * config.max_failure_rate:.2f}%; run stopped. Finished shards are kept; "
                f"see {summary.out / 'shards'} failure files (failures.jsonl is assembled at "
                "the end of a run)"
            )


def _make_engine(config: RunConfig, stages: Sequence[Stage], out: Path) -> Any:
    workers = config.resolved_workers()
    if config.engine == "ray":
        from scenesynth.pipeline.ray_engine import RayEngine

        return RayEngine(stages, out, workers, config.resolved_in_flight(), config.ray_address)
    return LocalEngine(stages, out, workers, config.resolved_in_flight())


def source_image_root(config: RunConfig) -> Path:
    """The folder sample image paths are relative to: ``export.image_root`` when the config
    sets it, else the source's folder (a dataset's images sit beside its annotations)."""
    explicit = config.export.image_root
    if explicit:
        return Path(explicit)
    if config.source is None:  # synthesized: the images are in the run folder
        return Path(config.out)
    source = Path(config.source)
    return source if source.is_dir() else source.parent


def export_run(
    config: RunConfig, out: Path, manifest: Manifest, tally: SampleTally | None = None
) -> dict[str, Any]:
    """Write the requested export format from the shards, validated before it is published
    (see :func:`scenesynth.export.export_samples`); ``tally`` counts the samples on the way
    (for the dataset card). Skipped samples are appended to ``failures.jsonl``."""
    from scenesynth.export import ExportValidationError, export_samples

    export_dir = out / "export"
    options = {"require_images": False, **config.export.options(),
               "image_root": source_image_root(config)}
    kwargs = _accepted(export_samples, options)
    samples = iter_stored_samples(out, manifest)
    if tally is not None:
        samples = tally.watch(samples)
    rejected: str | None = None
    try:
        result = export_samples(samples, config.format, export_dir, **kwargs)
    except ExportValidationError as exc:
        result, rejected = exc.result, str(exc)
    _append_export_failures(out, result.failures)
    report: dict[str, Any] = {
        "format": config.format,
        "dir": str(export_dir),
        "image_root": str(options["image_root"]),
        "written": result.n_written,
        "skipped": result.n_failed,
        "skipped_by_reason": _failure_reasons(result.failures),
        "files": [str(p) for p in result.paths],
        "summary": result.summary(),
    }
    validation = result.validation
    if validation is None:  # nothing was published: every sample was skipped
        problem = (
            f"the export wrote no records: all {result.n_failed} sample(s) were skipped "
            f"({_top_reason(result.failures)}); each is listed in {out / 'failures.jsonl'}"
        )
        report["validation"] = {"ok": False, "records": 0, "invalid": 0,
                                "missing_image_errors": 0, "errors": [problem],
                                "error_count": 1, "summary": problem}
        return report
    if rejected is not None:
        validation.errors = [rejected, *validation.errors]
    # Scene-graph-only runs (no image files) legitimately reference absent images; with
    # require_images off the validator counts those apart from real errors.
    report["validation"] = {
        "ok": validation.ok,
        "records": validation.n_records,
        "invalid": validation.n_invalid,
        "missing_image_errors": validation.n_absent_images,
        "errors": validation.errors[:20],
        "error_count": len(validation.errors) - (rejected is not None),
        "summary": validation.summary(),
    }
    return report


_QUOTED = re.compile(r"""'[^']*'|"[^"]*"|\([^)]*\)""")


def _failure_reasons(failures: list[tuple[str, str]]) -> dict[str, int]:
    """Skipped samples grouped by what went wrong (field and message, names left out)."""
    counts: dict[str, int] = {}
    for _, message in failures:
        reason = message.split(": ", 1)[-1]  # drop "sample 'id'"
        reason = " ".join(_QUOTED.sub("…", reason).split())
        reason = re.sub(r"\[\d+\]", "", reason)
        counts[reason] = counts.get(reason, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: -kv[1]))


def _top_reason(failures: list[tuple[str, str]]) -> str:
    reasons = _failure_reasons(failures)
    if not reasons:
        return "no reason recorded"
    reason, n = next(iter(reasons.items()))
    more = f"; {len(reasons) - 1} other reason(s)" if len(reasons) > 1 else ""
    return f"{n} x {reason}{more}"


def _append_export_failures(out: Path, failures: list[tuple[str, str]]) -> None:
    if not failures:
        return
    path = out / "failures.jsonl"
    existing = path.read_bytes() if path.exists() else b""
    with atomic_write(path, "wb") as fh:
        fh.write(existing)
        for sample_id, message in failures:
            field_name = message.split("field ", 1)[1].split(":", 1)[0] if "field " in message \
                else None
            record = FailureRecord(stage="export", record_id=sample_id, reason="export_rejected",
                                   error=message, field=field_name)
            fh.write((json.dumps(record.to_dict(), ensure_ascii=False) + "\n").encode())


def _accepted(fn: Callable[..., Any], kwargs: dict[str, Any]) -> dict[str, Any]:
    params = inspect.signature(fn).parameters
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def run(
    config: RunConfig,
    stages: Sequence[Stage] | None = None,
    *,
    shard_function: Callable[..., Any] | None = None,
    kg_factory: Callable[[int], Any] | None = None,
    export: bool = True,
) -> RunSummary:
    """Run (or resume) the pipeline ``config`` describes; returns the summary.

    ``stages`` replaces the config's pipeline (for custom stages); ``shard_function`` replaces
    the generator runner inside the default pipeline. Raises :class:`RunAborted` when a stage's
    failure rate exceeds ``max_failure_rate`` and :class:`ManifestMismatch` when ``out`` holds
    a different run.
    """
    started = time.monotonic()
    pipeline = (list(stages) if stages is not None
                else build_stages(config, shard_function, kg_factory))
    for stage in pipeline:
        stage.check()
    # Open the source before touching the output: a wrong path fails without side effects.
    image_root = config.export.image_root
    if config.synthesize is not None:
        from scenesynth.pipeline.synthesize import synthesis_shards

        plan = ShardPlan(synthesis_shards(config.synthesize.scenes, config.shard_size), [])
        total_hint: int | None = config.synthesize.scenes
    else:
        assert config.source is not None
        plan = plan_shards(
            config.source, config.source_format, config.strict, config.shard_size,
            str(image_root) if image_root is not None else None,
        )
        total_hint = count_records_hint(config.source)
    warnings = generator_warnings(config)
    for warning in warnings:
        log.warning("%s", warning)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    clean_temp_files(out)
    manifest = _open_manifest(config, out)
    summary = RunSummary(out=out, engine=config.engine, workers=config.resolved_workers())
    summary.warnings.extend(warnings)
    # A run that reads a source counts each shard's graphs for its dataset card (a
    # synthesizing run's card counts the graphs it made).
    counts_graphs = config.synthesize is None
    finished: dict[int, ShardEntry] = {}
    for entry in list(manifest.entries()):
        problem = verify_shard(out, entry)
        if problem is None and counts_graphs and entry.graph_counts is None:
            problem = "its manifest entry has no graph counts (written by an older version)"
        if problem:
            log.warning("shard %d will be redone: %s", entry.index, problem)
            del manifest.shards[entry.index]
            summary.shards_redone += 1
        else:
            finished[entry.index] = entry
    manifest.complete = False
    manifest.save(out)

    pipeline = [*plan.stages, *([CountGraphsStage()] if counts_graphs else []), *pipeline]
    engine = _make_engine(config, pipeline, out)
    num_shards = 0
    progress = RunProgress(enabled=config.progress, total_records=total_hint)

    def pending() -> Iterator[ShardBatch]:
        nonlocal num_shards
        for batch in plan.shards:
            num_shards = batch.index + 1
            done = finished.get(batch.index)
            if done is not None:
                if (done.record_start, done.record_end) != (batch.record_start, batch.record_end):
                    raise ManifestMismatch(
                        f"{out / 'manifest.json'}: shard {batch.index} covers records "
                        f"{done.record_start}-{done.record_end} but the source now gives "
                        f"{batch.record_start}-{batch.record_end}; the source changed"
                    )
                summary.add(done)
                summary.shards_skipped += 1
                progress.advance(done, resumed=True)
                continue
            yield batch

    last_save = 0.0
    engine.start()
    with progress:
        try:
            for entry in engine.run(pending()):
                manifest.shards[entry.index] = entry
                summary.add(entry)
                summary.add_run_stats(entry.run_stats)
                progress.advance(entry)
                now = time.monotonic()
                # Rewriting the manifest after every shard is O(shards^2) on huge runs; a shard
                # written but not yet listed is simply redone on resume, so throttling is safe.
                if now - last_save >= 0.5:
                    manifest.save(out)
                    last_save = now
                _check_failure_rates(config, summary, final=False)
        except BaseException:
            # Whatever stops the run (a guard, a dead worker, Ctrl-C): keep what is finished.
            manifest.save(out)
            raise
    manifest.num_shards = num_shards
    manifest.save(out)
    if plan.report is not None:
        summary.source_files = plan.report.file_lines()
        summary.incomplete_sources = [str(f) for f in plan.report.incomplete_files]
    _check_failure_rates(config, summary, final=True)

    write_failures_file(out, manifest)
    if config.synthesize is not None:
        from scenesynth.pipeline.synthesize import finish_synthesis

        write_graphs_file(out, manifest)
        if export:
            summary.export = finish_synthesis(config, out, manifest, summary)
    elif export:
        tally = SampleTally()
        summary.export = export_run(config, out, manifest, tally)
        if "all" not in config.generators:
            for name in config.generators:
                if tally.by_generator.get(name, 0) == 0:
                    summary.warnings.append(f"requested generator {name!r} produced 0 samples")
        card = build_card(config.output_fields(), manifest.to_dict(), tally, summary.export)
        del tally  # its question hashes (8 bytes a question) are not needed to draw the plots
        write_card(out, card)
    manifest.complete = True
    manifest.save(out)
    summary.seconds = time.monotonic() - started
    with atomic_write(out / "summary.json") as fh:
        json.dump(
            {**summary.to_dict(), "config": config.model_dump(mode="json")},
            fh,
            indent=1,
            sort_keys=True,
        )
        fh.write("\n")
    return summary
