"""The synthesizing source stage: knowledge -> layout -> render -> verify, one scene at a time.

Scene ``i`` of a run gets its own seed (:func:`scenesynth.graph.seeds.scene_seed`), so the
scene, its image and its graph depend only on the run seed and ``i``: never on the shard size,
the worker count or the engine. A synthesizing run is otherwise the run every dataset gets
(:func:`scenesynth.pipeline.run`): sharded, resumable, with a manifest, a failures file and one
dataset card. Per scene (:func:`synthesize_image`):

1. a spatial KG from the knowledge source (the built-in KB sampler by default, or an LLM);
2. :func:`scenesynth.layout.solve_layout`; an unsatisfiable KG is replaced by a fresh one
   (``kg_resamples`` times) and otherwise dropped with its conflicts;
3. the renderer (the exact CPU renderer, or GLIGEN checked by an open-vocabulary detector);
4. verification (:class:`scenesynth.quality.verify.ConstructionVerifier`): objects under
   ``min_visible_pixels`` are dropped with their relations, then every relation is re-derived
   from the rendered boxes/depths; if one no longer holds the scene is laid out again with a
   new seed (``relayout_tries`` times) and otherwise dropped.

Every drop and retry is a line in ``failures.jsonl`` and a counter on the card; nothing is lost
silently. A run writes ``images/`` (and ``depth/``), ``graphs.jsonl`` (the rendered scene
graphs with masks) and its export into the run folder itself, so image paths are relative to it.
"""

from __future__ import annotations

import importlib
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from scenesynth.graph import SceneGraph
from scenesynth.graph.seeds import scene_seed
from scenesynth.ioutil import atomic_write
from scenesynth.ioutil.manifest import FailureRecord
from scenesynth.layout import LayoutConfig, solve_layout
from scenesynth.models.llm import LLMConfig, LLMFatalError, LLMStats
from scenesynth.pipeline.config import SynthesizeConfig
from scenesynth.pipeline.stages import Resources, ShardBatch, Stage
from scenesynth.quality.verify import ConstructionVerifier, Reason
from scenesynth.render.cpu import CpuRenderer

KgFactory = Callable[[int], SceneGraph]  # scene seed -> spatial KG

SYNTHESIZE_STAGE = "synthesize"


def scene_image_id(seed: int, index: int) -> str:
    """The image id of scene ``index`` of a run with ``seed``."""
    return f"synth-{seed}-{index:06d}"


@dataclass
class ImageOutcome:
    """One scene through KG -> layout -> render -> verify (graph None when dropped)."""

    graph: SceneGraph | None
    image: Any  # PIL image
    depth_map: np.ndarray | None
    failures: list[FailureRecord]
    counters: Counter[str]
    seconds: defaultdict[str, float]


# -- knowledge sources --------------------------------------------------------------------------


class KnowledgeKgFactory:
    """KGs from the built-in knowledge base (``scenesynth.knowledge``) or an LLM, loaded once
    per process.

    For an LLM, :meth:`prepare` runs once in the parent: it asks for the scene list (a
    failure ends the run before any image); the list, and the structured-output form its
    answer confirmed, travel to the workers with this object, so no worker asks again.
    """

    def __init__(self, n_objects: tuple[int, int] = (3, 8), canvas: int = 512,
                 source: str = "kb", llm: LLMConfig | None = None,
                 keep_kb_form: bool = True) -> None:
        self.n_objects = n_objects
        self.canvas = canvas
        self.source = source
        self.llm = llm
        self.keep_kb_form = keep_kb_form
        self.scenes: list[str] | None = None  # settled by prepare()
        self._sampler: Any = None
        self._prefetched: dict[int, SceneGraph | Exception] = {}

    @classmethod
    def configured(cls, config: SynthesizeConfig) -> KnowledgeKgFactory:
        """The factory a synthesizing run with ``config`` uses (its knowledge source)."""
        return cls(config.n_objects, config.canvas, config.knowledge, config.llm,
                   config.llm_keep_kb_form)

    def _load(self) -> Any:
        # imported by name: the knowledge stage is optional for users of layout/render only
        knowledge = importlib.import_module("scenesynth.knowledge")
        options: dict[str, Any] = {"n_objects": self.n_objects,
                                   "canvas": (self.canvas, self.canvas)}
        if self.source == "llm":
            options.update(config=self.llm, scenes=self.scenes,
                           keep_kb_form=self.keep_kb_form)
        return knowledge.make_source(self.source, **options)

    def _get_sampler(self) -> Any:
        if self._sampler is None:
            self._sampler = self._load()
        return self._sampler

    def prepare(self) -> None:
        """Settle what every graph needs, once, in the parent (LLM source only)."""
        sampler = self._get_sampler()
        if hasattr(sampler, "prepare"):
            sampler.prepare()
            self.scenes = sampler.scenes()
            confirmed = sampler.client.confirmed_strategy
            if self.llm is not None and confirmed is not None:
                self.llm = replace(self.llm, strategy=confirmed)

    @property
    def concurrency(self) -> int:
        return self.llm.concurrency if self.source == "llm" and self.llm is not None else 1

    def prefetch(self, seeds: list[int]) -> None:
        """Ask for the KGs of ``seeds`` with ``concurrency`` requests in flight."""
        sampler = self._get_sampler()

        def one(seed: int) -> SceneGraph | Exception:
            try:
                graph: SceneGraph = sampler.sample(seed)
                return graph
            except LLMFatalError:
                raise
            except Exception as exc:  # reported when the image asks for it
                return exc

        with ThreadPoolExecutor(self.concurrency) as pool:
            self._prefetched.update(zip(seeds, pool.map(one, seeds), strict=True))

    def take_stats(self) -> LLMStats | None:
        """The LLM client's statistics since the last call (None for the KB)."""
        stats = getattr(self._sampler, "stats", None)
        return stats.take() if isinstance(stats, LLMStats) else None

    def drain_rejections(self) -> list[tuple[str, str]]:
        """(reason, detail) of every LLM rejection and repair since the last call."""
        stats = getattr(self._sampler, "stats", None)
        if not isinstance(stats, LLMStats):
            return []
        return [(e.reason, e.detail) for e in stats.drain_events()]

    def __call__(self, seed: int) -> SceneGraph:
        ready = self._prefetched.pop(seed, None)
        if isinstance(ready, Exception):
            raise ready
        graph: SceneGraph = ready if ready is not None else self._get_sampler().sample(seed)
        if "setting" not in graph.meta:
            # the KB knows whether its scene is indoor or outdoor; the KG spec does not carry
            # it, so add it here for the layout (horizon) and the backdrop
            kb = getattr(self._sampler, "kb", None)
            spec = getattr(kb, "scenes", {}).get(graph.meta.get("scene"))
            if spec is not None:
                graph = graph.model_copy(update={"meta": {**graph.meta,
                                                          "setting": spec.setting}})
        return graph

    def __getstate__(self) -> dict[str, Any]:  # the sampler is rebuilt in each worker
        return {**self.__dict__, "_sampler": None, "_prefetched": {}}


def _llm_failures(kg_factory: KgFactory, image_id: str) -> list[FailureRecord]:
    """The LLM rejections and repairs since the last call, as failure records."""
    drain = getattr(kg_factory, "drain_rejections", None)
    if drain is None:
        return []
    return [FailureRecord("llm", image_id, reason, detail) for reason, detail in drain()]


# -- per image ---------------------------------------------------------------------------------


def synthesize_image(
    index: int,
    seed: int,
    kg_factory: KgFactory,
    config: SynthesizeConfig,
    renderer: Any = None,
    layout_config: LayoutConfig | None = None,
    verifier: Any = None,
) -> ImageOutcome:
    """KG -> layout -> render -> verify for one image.

    An unsatisfiable KG is replaced by a fresh one (``kg_resamples`` times), a render that
    broke a relation is laid out again (``relayout_tries`` times); each is recorded.
    """
    renderer = renderer or CpuRenderer()
    # engineer B's verifier (quality.verify) built on quality.rules: drops objects under
    # min_visible_pixels with their relations, then re-derives every relation; a diffusion
    # render is checked by the detector verifier instead (_renderer_and_verifier)
    verifier = verifier or ConstructionVerifier(config.min_visible_pixels, check_relations=True)
    counters: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    failures: list[FailureRecord] = []
    s_img = scene_seed(seed, index)
    image_id = scene_image_id(seed, index)
    outcome = "kg_error"
    for kg_try in range(1 + config.kg_resamples):
        kg_seed = s_img if kg_try == 0 else scene_seed(s_img, 1000 + kg_try)
        t = time.perf_counter()
        try:
            kg = kg_factory(kg_seed)
        except LLMFatalError:
            raise  # the server is gone: the run ends (one line), no image is tried again
        except Exception as exc:
            failures.extend(_llm_failures(kg_factory, image_id))
            failures.append(FailureRecord("knowledge", image_id, "kg_error",
                                          f"{type(exc).__name__}: {exc}",
                                          traceback.format_exc()))
            outcome = "kg_error"
            continue
        finally:
            seconds["knowledge"] += time.perf_counter() - t
        failures.extend(_llm_failures(kg_factory, image_id))
        kg = kg.model_copy(update={
            "image": kg.image.model_copy(update={"id": image_id}),
            "meta": {**kg.meta, "kg_image_id": kg.image.id, "image_seed": kg_seed},
        })
        for attempt in range(config.relayout_tries):
            t = time.perf_counter()
            layout_seed = scene_seed(kg_seed, attempt)
            result = solve_layout(kg, layout_seed, layout_config)
            seconds["layout"] += time.perf_counter() - t
            if not result.ok:
                detail = "; ".join(str(c) for c in result.conflicts)
                failures.append(FailureRecord("layout", image_id, "layout_unsatisfiable",
                                              f"kg seed {kg_seed}: {detail}"))
                outcome = "layout_unsatisfiable"
                break
            assert result.graph is not None
            t = time.perf_counter()
            rendered = renderer.render(result.graph, layout_seed)
            seconds["render"] += time.perf_counter() - t
            t = time.perf_counter()
            verdict = verifier.verify(rendered)
            seconds["verify"] += time.perf_counter() - t
            if not verdict.passed and not rendered.exact:  # diffusion: the detector disagreed
                reason = f"detector_{verdict.reasons[0]}" if verdict.reasons else "detector"
                counters[f"rerender_{reason}"] += 1
                failures.append(FailureRecord("verify", image_id, reason, "; ".join(
                    f.detail for f in verdict.failures)[:500]))
                outcome = reason
                continue
            if not verdict.passed:
                counters["relayout_relation_not_kept"] += 1
                failures.append(FailureRecord(
                    "verify", image_id, "relation_not_kept_after_render",
                    f"kg seed {kg_seed}, layout attempt {attempt + 1}: "
                    + "; ".join(f.detail for f in verdict.failures),
                ))
                outcome = "relation_not_kept_after_render"
                continue
            counters["objects_dropped_small"] += len(verdict.dropped_objects)
            counters["relations_dropped_with_objects"] += sum(
                1 for n in verdict.notes if n.reason == Reason.RELATION_DROPPED)
            counters["kg_resampled"] += kg_try
            return ImageOutcome(verdict.graph, rendered.image, rendered.depth_map, failures,
                                counters, seconds)
    counters[f"dropped_{outcome}"] += 1
    return ImageOutcome(None, None, None, failures, counters, seconds)


_MODELS: dict[tuple[Any, ...], tuple[Any, Any]] = {}  # loaded once per worker process


def _renderer_and_verifier(config: SynthesizeConfig) -> tuple[Any, Any]:
    """The built-in renderer with the construction verifier, or GLIGEN with the detector
    verifier (models loaded once per process, on the configured device)."""
    if config.renderer == "cpu":
        return CpuRenderer(), None
    key = (config.renderer, config.gligen_model, config.gligen_steps, config.gligen_long_side,
           config.detector, config.detector_iou, config.detector_score, config.device)
    if key not in _MODELS:
        from scenesynth.models.detector import DEFAULT_DETECTOR, ZeroShotDetector
        from scenesynth.quality.verify import DetectorVerifier
        from scenesynth.render.diffusion import DEFAULT_GLIGEN, GligenRenderer

        renderer = GligenRenderer(model=config.gligen_model or DEFAULT_GLIGEN,
                                  device=config.device, num_inference_steps=config.gligen_steps,
                                  long_side=config.gligen_long_side,
                                  size_multiple=16 if config.gligen_long_side < 256 else 64)
        detector = ZeroShotDetector(model=config.detector or DEFAULT_DETECTOR,
                                    device=config.device, score_threshold=config.detector_score)
        _MODELS[key] = (renderer, DetectorVerifier(detector, iou_threshold=config.detector_iou))
    return _MODELS[key]


_JUDGES: dict[tuple[str, str], Any] = {}  # one judge client per worker process


def _judge(config: SynthesizeConfig, out: Path) -> Any:
    from scenesynth.models.review import Judge, load_backend

    assert config.judge is not None
    key = (config.judge, str(out))
    if key not in _JUDGES:
        _JUDGES[key] = Judge(load_backend(config.judge, concurrency=config.judge_concurrency,
                                          cache_dir=str(out / "llm-cache")), image_root=out)
    return _JUDGES[key]




def synthesis_shards(scenes: int, shard_size: int) -> Iterator[ShardBatch]:
    """Shards of scene indices ``[start, end)``; the stage makes their graphs in the workers."""
    for index, start in enumerate(range(0, scenes, shard_size)):
        end = min(scenes, start + shard_size)
        yield ShardBatch(index=index, record_start=start, record_end=end, graphs=[])


@dataclass
class SynthesizeStage(Stage):
    """The source stage of a synthesizing run: the shard's scenes, rendered and verified, with
    their images written under ``out``; a judge (optional) then drops the images it denies."""

    config: SynthesizeConfig
    seed: int
    out: str
    kg_factory: KgFactory | None = None  # None: the configured knowledge source
    name: ClassVar[str] = SYNTHESIZE_STAGE

    def __post_init__(self) -> None:
        # the LLM server gone (or its breaker open) stops the run; it resumes later
        self.fatal_errors = (LLMFatalError,)
        if self.config.renderer == "gligen":  # diffusion and the detector check want a GPU
            self.resources = Resources(num_cpus=1.0, num_gpus=1.0)
        if self.kg_factory is None:
            self.kg_factory = KnowledgeKgFactory.configured(self.config)
        # the rejections of the scene list, reported with shard 0 (see check)
        self.prepare_failures: list[FailureRecord] = []
        self.prepare_stats: LLMStats | None = None

    def check(self) -> None:
        """Settle what every scene needs once, in the parent (LLM source: the scene list and
        the structured-output form); a failure ends the run before any image."""
        prepare = getattr(self.kg_factory, "prepare", None)
        if prepare is None:
            return
        assert self.kg_factory is not None
        try:
            prepare()
        finally:
            self.prepare_failures = _llm_failures(self.kg_factory, "run")
            take = getattr(self.kg_factory, "take_stats", None)
            self.prepare_stats = take() if take is not None else None

    def process(self, batch: ShardBatch) -> ShardBatch:
        factory = self.kg_factory
        assert factory is not None
        config, out = self.config, Path(self.out)
        renderer, verifier = _renderer_and_verifier(config)
        seconds: defaultdict[str, float] = defaultdict(float)
        indices = range(batch.record_start, batch.record_end)
        batch.keep_graphs = True
        if batch.index == 0:
            for failure in self.prepare_failures:
                batch.fail(failure)
        prefetch = getattr(factory, "prefetch", None)
        if prefetch is not None and getattr(factory, "concurrency", 1) > 1:
            t = time.perf_counter()
            prefetch([scene_seed(self.seed, index) for index in indices])
            seconds["knowledge"] += time.perf_counter() - t
            for failure in _llm_failures(factory, "prefetch"):
                batch.fail(failure)
        for index in indices:
            batch.stage_records[self.name] += 1
            try:
                outcome = synthesize_image(index, self.seed, factory, config, renderer,
                                           verifier=verifier)
            except LLMFatalError:
                raise
            except Exception as exc:  # a bug on one scene must not sink the run
                failure = FailureRecord.from_exception(self.name, scene_image_id(self.seed, index),
                                                       exc)
                failure.reason = "unexpected_error"
                batch.fail(failure)
                batch.counters["dropped_unexpected_error"] += 1
                batch.stage_failed[self.name] += 1
                continue
            for failure in outcome.failures:
                batch.fail(failure)
            batch.counters.update(outcome.counters)
            for key, value in outcome.seconds.items():
                seconds[key] += value
            if outcome.graph is None:
                batch.stage_failed[self.name] += 1
                continue
            t = time.perf_counter()
            batch.graphs.append(self._save(outcome, out))
            seconds["save_image"] += time.perf_counter() - t
        if batch.graphs and config.judge:
            t = time.perf_counter()
            self._judge_images(batch, out)
            seconds["judge"] += time.perf_counter() - t
        batch.run_stats["seconds"] = dict(seconds)
        stats = getattr(factory, "take_stats", lambda: None)()
        if batch.index == 0 and self.prepare_stats is not None:
            stats = _merged(self.prepare_stats, stats)
        if stats is not None:
            batch.run_stats["llm"] = stats
        return batch

    def _save(self, outcome: ImageOutcome, out: Path) -> SceneGraph:
        """Write the image (and depth map); the graph then refers to them relative to ``out``,
        so the dataset can be moved (exports resolve image paths there)."""
        graph, image = outcome.graph, outcome.image
        assert graph is not None
        png = self.config.image_format == "png"
        rel_path = f"images/{graph.image.id}.{'png' if png else 'jpg'}"
        with atomic_write(out / rel_path, "wb") as fh:
            if png:
                image.save(fh, format="PNG", compress_level=3)
            else:
                image.save(fh, format="JPEG", quality=92)
        image_info: dict[str, Any] = {"path": rel_path}
        if self.config.save_depth and outcome.depth_map is not None:
            depth_path = f"depth/{graph.image.id}.npz"
            with atomic_write(out / depth_path, "wb") as fh:
                np.savez_compressed(fh, depth=outcome.depth_map)
            image_info["depth_map"] = depth_path
        return graph.model_copy(update={"image": graph.image.model_copy(update=image_info)})

    def _judge_images(self, batch: ShardBatch, out: Path) -> None:
        """Keep the graphs the judge accepts; a denied image is deleted, its reasons recorded."""
        from scenesynth.quality.judge_check import check_images

        judge = _judge(self.config, out)
        kept: list[SceneGraph] = []
        for graph, verdict in zip(batch.graphs, check_images(judge, batch.graphs), strict=True):
            batch.counters["judge_images_checked"] += 1
            if verdict.passed:
                kept.append(graph)
                continue
            for reason, detail in verdict.reasons:
                batch.fail(FailureRecord("judge", graph.image.id, reason, detail))
            batch.counters["dropped_judge_denied"] += 1
            batch.stage_failed[self.name] += 1
            for rel in (graph.image.path, graph.image.depth_map):
                if rel:
                    (out / rel).unlink(missing_ok=True)
        batch.graphs = kept


def _merged(first: LLMStats, second: LLMStats | None) -> LLMStats:
    if second is not None:
        first.merge(second)
    return first


@dataclass
class AnswerCheckStage(Stage):
    """The judge answers the appearance yes/no samples from the image alone; a sample it
    contradicts is dropped (``drop``) or flagged in its provenance (``flag``)."""

    config: SynthesizeConfig
    out: str
    name: ClassVar[str] = "answer_check"

    def process(self, batch: ShardBatch) -> ShardBatch:
        from scenesynth.quality.judge_check import check_answers

        if not batch.samples:
            return batch
        graphs = {g.image.id: g for g in batch.graphs}
        out = Path(self.out)
        agreement, tally = check_answers(_judge(self.config, out), batch.samples, graphs)
        for family, n in tally.asked.items():
            batch.counters[f"answer_check_asked:{family}"] += n
            batch.counters[f"answer_check_agreed:{family}"] += tally.agreed.get(family, 0)
        batch.counters["answer_check_no_answer"] += tally.no_answer
        kept = []
        for sample, agrees in zip(batch.samples, agreement, strict=True):
            if agrees is False:
                if self.config.answer_check == "drop":
                    batch.fail(FailureRecord("judge", sample.id, "judge_disagrees_answer",
                                             f"{sample.question!r}: {sample.answer}"))
                    continue
                extra = {**sample.provenance.extra, "judge_agrees": False}
                sample = sample.model_copy(update={"provenance": sample.provenance.model_copy(
                    update={"extra": extra})})
            kept.append(sample)
        batch.samples = kept
        return batch


# -- the end of a synthesizing run ---------------------------------------------------------------


def finish_synthesis(config: Any, out: Path, manifest: Any, summary: Any) -> dict[str, Any]:
    """Balance the run's answers over all shards, export into the run folder (validated before
    it is published), check the export against the graphs, and write the dataset card.
    Returns the export report of :class:`scenesynth.pipeline.runner.RunSummary`."""
    from scenesynth.export import ExportValidationError, export_samples
    from scenesynth.export.check import check_export
    from scenesynth.pipeline.card import build_synthesis_card, write_synthesis_card
    from scenesynth.pipeline.runner import _append_export_failures
    from scenesynth.pipeline.shards import iter_graphs, iter_samples
    from scenesynth.quality.balance import AnswerBalancer

    counters: Counter[str] = Counter()
    for entry in manifest.entries():
        counters.update(entry.counters)
    generated = list(iter_samples(out, manifest))
    # each shard is balanced as it is generated; the caps also hold over the whole run
    samples = AnswerBalancer().trim(generated)
    counters["samples_trimmed_for_balance"] += len(generated) - len(samples)
    try:
        export = export_samples(samples, config.format, out, image_root=out)
    except ExportValidationError as exc:
        export = exc.result
    _append_export_failures(out, export.failures)
    counters["export_rejected"] += len(export.failures)
    graphs = list(iter_graphs(out, manifest))
    checked = (check_export(export.paths, config.format, {g.image.id: g for g in graphs})
               if export.paths else None)
    reasons: Counter[str] = Counter()
    failures_file = out / "failures.jsonl"
    if failures_file.is_file():
        import json

        with failures_file.open(encoding="utf-8") as fh:
            reasons.update(json.loads(line)["reason"] for line in fh if line.strip())
    card_config = config.output_fields()
    llm_config = config.synthesize.llm
    if llm_config is not None:
        card_config["synthesize"]["llm"] = llm_config.redacted()  # never the API key
    llm = summary.llm.as_dict() if summary.llm is not None else None
    card = build_synthesis_card(card_config, graphs, samples, reasons, counters, export,
                                checked, llm)
    write_synthesis_card(out, card)
    validation = export.validation
    ok = validation is not None and validation.ok
    errors = list(validation.errors) if validation is not None else ["nothing was exported"]
    return {
        "format": config.format,
        "dir": str(out),
        "written": export.n_written,
        "skipped": export.n_failed,
        "files": [str(p) for p in export.paths],
        "summary": export.summary(),
        "check_problems": dict(sorted(checked.counts().items())) if checked else {},
        "validation": {"ok": ok, "records": getattr(validation, "n_records", 0),
                       "errors": errors[:20], "error_count": 0 if ok else len(errors),
                       "missing_image_errors": 0},
        "images": len(graphs),
        "samples_generated": len(samples),
    }


# -- run configs ------------------------------------------------------------------------------

# What a synthesizing run defaults to where it differs from a dataset run: fewer questions per
# image (every scene is new), multi-image groups on, and shards of 16 scenes (a shard is the
# unit of resumption: a killed run redoes at most one shard per worker). Dropped scenes never
# stop the run (each one is reported); a run left with no image exits 5.
SYNTH_DEFAULTS: dict[str, Any] = {
    "per_image": 2, "multi_image_group": (2, 3), "shard_size": 16, "workers": 1,
    "max_failure_rate": 1.0,
}


def synthesis_config(out: str | Path, synthesize: SynthesizeConfig, **fields: Any) -> Any:
    """The :class:`~scenesynth.pipeline.config.RunConfig` of a synthesizing run: ``fields``
    over :data:`SYNTH_DEFAULTS`."""
    from scenesynth.pipeline.config import RunConfig

    return RunConfig(**{**SYNTH_DEFAULTS, **fields, "out": str(out), "synthesize": synthesize})


def demo_config(out: str | Path, workers: int = 2, seed: int = 0) -> Any:
    """The offline demo: sized for >= 200 images and >= 2,000 LLaVA samples in minutes."""
    return synthesis_config(out, SynthesizeConfig(scenes=240), seed=seed, per_image=1,
                            format="llava", workers=workers)
