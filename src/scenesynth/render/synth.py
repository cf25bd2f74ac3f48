"""The synthesis pipeline: KG -> layout -> render -> verify -> generate -> export -> validate.

Each image index ``i`` gets its own seed ``sha256(global seed, i)``; images are processed in
fixed chunks (``chunk_size``, independent of the number of workers) and each chunk is one
generator shard, so the output is identical for any ``workers``. Per image:

1. a spatial KG from the knowledge source (the built-in KB sampler by default);
2. :func:`scenesynth.layout.solve_layout`; an unsatisfiable KG is dropped with its conflicts;
3. the CPU renderer (exact masks, boxes re-measured from visible masks, depth map);
4. verification (:class:`scenesynth.quality.verify.ConstructionVerifier`, on the rules of
   :mod:`scenesynth.render.check`): objects under ``min_visible_pixels`` are dropped with their
   relations, then every relation is re-derived from the rendered boxes/depths; if one no
   longer holds the image is laid out again with a new seed (``relayout_tries`` times) and
   otherwise dropped.

Every drop is counted by reason and written to ``failures.jsonl``; nothing is lost silently.
The run writes ``images/``, ``graphs.jsonl`` (the rendered scene graphs with masks), the
exported samples, ``failures.jsonl``, and a dataset card (``DATASET_CARD.md`` + ``card.json``).
"""

from __future__ import annotations

import importlib
import json
import multiprocessing
import time
import traceback
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from scenesynth.graph import AnswerForm, InstructionSample, SceneGraph, graph_to_json
from scenesynth.graph.seeds import seed_from_text
from scenesynth.ioutil import atomic_write
from scenesynth.layout import LayoutConfig, solve_layout
from scenesynth.models.llm import LLMConfig, LLMError, LLMFatalError, LLMStats
from scenesynth.quality.verify import ConstructionVerifier, Reason
from scenesynth.render.cpu import CpuRenderer

KgFactory = Callable[[int], SceneGraph]  # image seed -> spatial KG


def image_seed(seed: int, index: int) -> int:
    """The seed of image ``index`` of a run (independent of workers and chunking)."""
    return seed_from_text(f"synth:{int(seed)}:{int(index)}") >> 1


@dataclass
class SynthConfig:
    scenes: int
    out: str
    seed: int = 0
    per_image: int = 2
    fmt: str = "llava"
    workers: int = 1
    canvas: int = 512
    n_objects: tuple[int, int] = (3, 8)
    source: str = "kb"  # kb | llm
    llm: LLMConfig | None = None  # the model client's settings when source is "llm"
    llm_keep_kb_form: bool = True  # known objects keep the KB's form and placement
    generators: list[str] | None = None
    forms: tuple[str, ...] = ("short", "mc", "yes_no")
    multi_image_group: tuple[int, int] | None = (2, 3)
    min_visible_pixels: int = 64
    relayout_tries: int = 3
    kg_resamples: int = 2  # fresh KGs tried when one cannot be laid out
    chunk_size: int = 16
    image_format: str = "png"  # png | jpeg
    save_depth: bool = False  # depth/<id>.npz (float32 metres), referenced by image.depth_map
    progress: bool = True
    # image check: a judge model (openai:NAME@URL or hf:PATH) asked about every object and
    # relation of each rendered image; an image it denies is dropped (quality/judge_check.py)
    judge: str | None = None
    judge_concurrency: int = 16
    # answer check (needs ``judge``): off | drop | flag the yes/no samples of the appearance
    # families whose answer the judge, seeing only the image, does not give
    answer_check: str = "off"
    # renderer: "cpu" (exact, built in) or "gligen" (diffusion; every image must then pass the
    # open-vocabulary detector check, quality.verify.DetectorVerifier)
    renderer: str = "cpu"
    gligen_model: str | None = None  # None: render.diffusion.DEFAULT_GLIGEN
    gligen_steps: int = 30
    gligen_long_side: int = 512
    detector: str | None = None  # None: models.detector.DEFAULT_DETECTOR
    detector_iou: float = 0.5
    detector_score: float = 0.1
    device: str = "auto"


@dataclass
class Failure:
    index: int
    image_id: str | None
    stage: str
    reason: str
    detail: str = ""


@dataclass
class ImageOutcome:
    """One image index through KG -> layout -> render -> verify (graph None when dropped)."""

    graph: SceneGraph | None
    image: Any  # PIL image
    depth_map: np.ndarray | None
    failures: list[Failure]
    counters: Counter[str]
    seconds: defaultdict[str, float]


@dataclass
class ChunkResult:
    chunk: int
    graphs: list[SceneGraph] = field(default_factory=list)
    samples: list[InstructionSample] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    counters: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)
    llm_stats: LLMStats | None = None


@dataclass
class SynthReport:
    out_dir: Path
    images: int
    samples: int
    export_path: Path | None
    validation_ok: bool
    validation_errors: list[str]
    # the export-level check (export/check.py): problems by kind, empty when clean
    check_problems: dict[str, int]
    failures_by_reason: dict[str, int]
    counters: dict[str, int]
    seconds: dict[str, float]
    card: dict[str, Any]
    llm: dict[str, Any] | None = None  # the model client's statistics (source "llm")


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


def _llm_failures(kg_factory: KgFactory, index: int, image_id: str | None) -> list[Failure]:
    """The LLM rejections and repairs since the last call, as failure records."""
    drain = getattr(kg_factory, "drain_rejections", None)
    if drain is None:
        return []
    return [Failure(index, image_id, "llm", reason, detail) for reason, detail in drain()]


# -- per image ---------------------------------------------------------------------------------


def synthesize_image(
    index: int,
    seed: int,
    kg_factory: KgFactory,
    config: SynthConfig,
    renderer: Any = None,
    layout_config: LayoutConfig | None = None,
    verifier: Any = None,
) -> ImageOutcome:
    """KG -> layout -> render -> verify for one image.

    An unsatisfiable KG is replaced by a fresh one (``kg_resamples`` times), a render that
    broke a relation is laid out again (``relayout_tries`` times); each is recorded.
    """
    renderer = renderer or CpuRenderer()
    # engineer B's verifier (quality.verify) built on render.check: drops objects under
    # min_visible_pixels with their relations, then re-derives every relation; a diffusion
    # render is checked by the detector verifier instead (_renderer_and_verifier)
    verifier = verifier or ConstructionVerifier(config.min_visible_pixels, check_relations=True)
    counters: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    failures: list[Failure] = []
    s_img = image_seed(seed, index)
    image_id = f"synth-{seed}-{index:06d}"
    outcome = "kg_error"
    for kg_try in range(1 + config.kg_resamples):
        kg_seed = s_img if kg_try == 0 else image_seed(s_img, 1000 + kg_try)
        t = time.perf_counter()
        try:
            kg = kg_factory(kg_seed)
        except LLMFatalError:
            raise  # the server is gone: the run ends (one line), no image is tried again
        except Exception as exc:
            failures.extend(_llm_failures(kg_factory, index, image_id))
            failures.append(Failure(index, image_id, "knowledge", "kg_error",
                                    f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}"))
            outcome = "kg_error"
            continue
        finally:
            seconds["knowledge"] += time.perf_counter() - t
        failures.extend(_llm_failures(kg_factory, index, image_id))
        kg = kg.model_copy(update={
            "image": kg.image.model_copy(update={"id": image_id}),
            "meta": {**kg.meta, "kg_image_id": kg.image.id, "image_seed": kg_seed},
        })
        for attempt in range(config.relayout_tries):
            t = time.perf_counter()
            layout_seed = image_seed(kg_seed, attempt)
            result = solve_layout(kg, layout_seed, layout_config)
            seconds["layout"] += time.perf_counter() - t
            if not result.ok:
                detail = "; ".join(str(c) for c in result.conflicts)
                failures.append(Failure(index, image_id, "layout", "layout_unsatisfiable",
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
                failures.append(Failure(index, image_id, "verify", reason, "; ".join(
                    f.detail for f in verdict.failures)[:500]))
                outcome = reason
                continue
            if not verdict.passed:
                counters["relayout_relation_not_kept"] += 1
                failures.append(Failure(
                    index, image_id, "verify", "relation_not_kept_after_render",
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


def _chunk_worker(
    payload: tuple[int, list[int], SynthConfig, KgFactory],
) -> ChunkResult:
    chunk, indices, config, kg_factory = payload
    from scenesynth.generators.base import GenConfig
    from scenesynth.generators.runner import generate_shard

    out = Path(config.out)
    renderer, verifier = _renderer_and_verifier(config)
    result = ChunkResult(chunk)
    seconds: defaultdict[str, float] = defaultdict(float)
    prefetch = getattr(kg_factory, "prefetch", None)
    if prefetch is not None and getattr(kg_factory, "concurrency", 1) > 1:
        t = time.perf_counter()
        prefetch([image_seed(config.seed, index) for index in indices])
        seconds["knowledge"] += time.perf_counter() - t
        result.failures.extend(_llm_failures(kg_factory, -1, None))
    for index in indices:
        try:
            outcome = synthesize_image(index, config.seed, kg_factory, config, renderer,
                                       verifier=verifier)
        except LLMFatalError:
            raise
        except Exception as exc:  # a bug on one image must not sink the run
            result.failures.append(Failure(index, None, "synth", "unexpected_error",
                                           f"{type(exc).__name__}: {exc}\n"
                                           f"{traceback.format_exc()}"))
            result.counters["dropped_unexpected_error"] += 1
            continue
        result.failures.extend(outcome.failures)
        result.counters.update(outcome.counters)
        _add_seconds(seconds, outcome.seconds)
        graph, image = outcome.graph, outcome.image
        if graph is None:
            continue
        t = time.perf_counter()
        suffix = "png" if config.image_format == "png" else "jpg"
        rel_path = f"images/{graph.image.id}.{suffix}"
        with atomic_write(out / rel_path, "wb") as fh:
            if config.image_format == "png":
                image.save(fh, format="PNG", compress_level=3)
            else:
                image.save(fh, format="JPEG", quality=92)
        image_info: dict[str, Any] = {"path": rel_path}
        if config.save_depth and outcome.depth_map is not None:
            depth_path = f"depth/{graph.image.id}.npz"
            with atomic_write(out / depth_path, "wb") as fh:
                np.savez_compressed(fh, depth=outcome.depth_map)
            image_info["depth_map"] = depth_path
        seconds["save_image"] += time.perf_counter() - t
        # relative to the output folder, so the dataset can be moved (exports resolve it there)
        graph = graph.model_copy(update={"image": graph.image.model_copy(update=image_info)})
        result.graphs.append(graph)
    if result.graphs and config.judge:
        t = time.perf_counter()
        result.graphs = _judge_images(result, config, out)
        seconds["judge"] += time.perf_counter() - t
    if result.graphs:
        t = time.perf_counter()
        shard = generate_shard(
            result.graphs, config.generators, config.per_image,
            tuple(AnswerForm(f) for f in config.forms), config.seed, GenConfig(),
            config.multi_image_group,
        )
        seconds["generate"] += time.perf_counter() - t
        result.samples = shard.samples
        if config.judge and config.answer_check != "off" and result.samples:
            t = time.perf_counter()
            result.samples = _check_answers(result, config, out)
            seconds["judge"] += time.perf_counter() - t
        for fail in shard.failures:
            result.failures.append(Failure(-1, ",".join(fail.image_ids), "generate",
                                           f"generator_error:{fail.generator}", fail.error))
            result.counters["generator_errors"] += 1
    result.seconds = dict(seconds)
    take_stats = getattr(kg_factory, "take_stats", None)
    result.llm_stats = take_stats() if take_stats is not None else None
    return result


_MODELS: dict[tuple[Any, ...], tuple[Any, Any]] = {}  # loaded once per worker process


def _renderer_and_verifier(config: SynthConfig) -> tuple[Any, Any]:
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


def _judge(config: SynthConfig, out: Path) -> Any:
    from scenesynth.models.review import Judge, load_backend

    assert config.judge is not None
    key = (config.judge, str(out))
    if key not in _JUDGES:
        _JUDGES[key] = Judge(load_backend(config.judge, concurrency=config.judge_concurrency,
                                          cache_dir=str(out / "llm-cache")), image_root=out)
    return _JUDGES[key]


def _check_answers(result: ChunkResult, config: SynthConfig, out: Path
                   ) -> list[InstructionSample]:
    """The chunk's samples after the answer check (dropped or flagged on disagreement)."""
    from scenesynth.quality.judge_check import check_answers

    graphs = {g.image.id: g for g in result.graphs}
    agreement, tally = check_answers(_judge(config, out), result.samples, graphs)
    for family, n in tally.asked.items():
        result.counters[f"answer_check_asked:{family}"] += n
        result.counters[f"answer_check_agreed:{family}"] += tally.agreed.get(family, 0)
    result.counters["answer_check_no_answer"] += tally.no_answer
    kept: list[InstructionSample] = []
    for sample, agrees in zip(result.samples, agreement, strict=True):
        if agrees is False:
            if config.answer_check == "drop":
                result.failures.append(Failure(-1, sample.id, "judge", "judge_disagrees_answer",
                                               f"{sample.question!r}: {sample.answer}"))
                continue
            sample = sample.model_copy(update={"provenance": sample.provenance.model_copy(
                update={"extra": {**sample.provenance.extra, "judge_agrees": False}})})
        kept.append(sample)
    return kept


def _judge_images(result: ChunkResult, config: SynthConfig, out: Path) -> list[SceneGraph]:
    """The chunk's graphs the judge accepts; a denied image is deleted, its reasons recorded."""
    from scenesynth.quality.judge_check import check_images

    judge = _judge(config, out)
    kept: list[SceneGraph] = []
    for graph, verdict in zip(result.graphs, check_images(judge, result.graphs), strict=True):
        result.counters["judge_images_checked"] += 1
        if verdict.passed:
            kept.append(graph)
            continue
        for reason, detail in verdict.reasons:
            result.failures.append(Failure(-1, graph.image.id, "judge", reason, detail))
        result.counters["dropped_judge_denied"] += 1
        for rel in (graph.image.path, graph.image.depth_map):
            if rel:
                (out / rel).unlink(missing_ok=True)
    return kept


def _add_seconds(total: defaultdict[str, float], more: dict[str, float]) -> None:
    for key, value in more.items():
        total[key] += value


def _chunks(n: int, size: int) -> Iterator[tuple[int, list[int]]]:
    for chunk, start in enumerate(range(0, n, size)):
        yield chunk, list(range(start, min(n, start + size)))


def run_chunks(
    config: SynthConfig, kg_factory: KgFactory, on_chunk: Callable[[ChunkResult], None]
) -> None:
    """Process all chunks (in a pool when ``workers > 1``), delivering results in order."""
    payloads = [(c, idx, config, kg_factory) for c, idx in _chunks(config.scenes,
                                                                  config.chunk_size)]
    if config.workers <= 1 or len(payloads) <= 1:
        for p in payloads:
            on_chunk(_chunk_worker(p))
        return
    # spawn: the parent runs a progress-bar thread, and forking a threaded process is unsafe
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(config.workers) as pool:
        for res in pool.imap(_chunk_worker, payloads):
            on_chunk(res)


# -- the whole run ------------------------------------------------------------------------------


def synthesize(config: SynthConfig, kg_factory: KgFactory | None = None) -> SynthReport:
    """Run the pipeline end to end and write everything under ``config.out``."""
    from scenesynth.export import ExportValidationError, export_samples
    from scenesynth.export.check import check_export

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    if kg_factory is None:
        kg_factory = KnowledgeKgFactory(config.n_objects, config.canvas, config.source,
                                        config.llm, config.llm_keep_kb_form)
    started = time.perf_counter()
    graphs: list[SceneGraph] = []
    samples: list[InstructionSample] = []
    failures: list[Failure] = []
    counters: Counter[str] = Counter()
    seconds: defaultdict[str, float] = defaultdict(float)
    llm_stats = LLMStats() if config.source == "llm" else None

    def collect_llm(stats: LLMStats | None) -> None:
        if llm_stats is not None and stats is not None:
            llm_stats.merge(stats)

    prepare = getattr(kg_factory, "prepare", None)
    if prepare is not None:
        # the scene list and the structured-output form, once; a failure ends the run here
        try:
            prepare()
        except LLMError as exc:
            failures.extend(_llm_failures(kg_factory, -1, None))
            failures.append(Failure(-1, None, "llm", "run_stopped", str(exc)))
            _write_failures(out, failures)
            raise
        failures.extend(_llm_failures(kg_factory, -1, None))
        collect_llm(getattr(kg_factory, "take_stats", lambda: None)())

    progress_ctx = _Progress(config)
    with progress_ctx as advance:
        def on_chunk(res: ChunkResult) -> None:
            graphs.extend(res.graphs)
            samples.extend(res.samples)
            failures.extend(res.failures)
            counters.update(res.counters)
            _add_seconds(seconds, res.seconds)
            collect_llm(res.llm_stats)
            advance(len(res.graphs), res.counters, len(res.samples))

        try:
            run_chunks(config, kg_factory, on_chunk)
        except LLMFatalError as exc:
            # what was learnt before the server gave up stays readable
            failures.append(Failure(-1, None, "llm", "run_stopped", str(exc)))
            _write_failures(out, failures)
            raise
    seconds["pipeline_wall"] = time.perf_counter() - started

    # the run's answer caps hold over the whole run, not only per chunk (quality.balance)
    from scenesynth.quality.balance import AnswerBalancer

    balanced = AnswerBalancer().trim(samples)
    counters["samples_trimmed_for_balance"] += len(samples) - len(balanced)
    samples = balanced

    t = time.perf_counter()
    with atomic_write(out / "graphs.jsonl") as fh:
        for g in graphs:
            fh.write(graph_to_json(g) + "\n")
    _write_failures(out, failures)
    try:  # validated before it is published; an invalid export is removed, never left
        export = export_samples(samples, config.fmt, out, image_root=out)
    except ExportValidationError as exc:
        export = exc.result
    for sample_id, message in export.failures:
        failures.append(Failure(-1, sample_id, "export", "export_rejected", message))
        counters["export_rejected"] += 1
    export_path = export.paths[0] if export.paths else None
    report = export.validation
    checked = (
        check_export(export.paths, config.fmt, {g.image.id: g for g in graphs})
        if export.paths else None
    )
    seconds["export_validate"] = time.perf_counter() - t
    seconds["total_wall"] = time.perf_counter() - started

    from scenesynth.render.card import build_card, write_card

    llm_summary = llm_stats.as_dict() if llm_stats is not None else None
    card = build_card(config, graphs, samples, failures, counters, dict(seconds), export,
                      report, checked, llm_summary)
    write_card(out, card)
    return SynthReport(
        out_dir=out,
        images=len(graphs),
        samples=export.n_written,
        export_path=export_path,
        validation_ok=bool(report is not None and report.ok),
        validation_errors=list(report.errors[:20]) if report is not None else ["no export"],
        check_problems=dict(sorted(checked.counts().items())) if checked is not None else {},
        failures_by_reason=dict(Counter(f.reason for f in failures)),
        counters=dict(counters),
        seconds=dict(seconds),
        card=card,
        llm=llm_summary,
    )


def _write_failures(out: Path, failures: list[Failure]) -> None:
    with atomic_write(out / "failures.jsonl") as fh:
        for f in failures:
            fh.write(json.dumps(asdict(f), ensure_ascii=False) + "\n")


class _Progress:
    """A rich progress bar over images (a no-op when disabled)."""

    def __init__(self, config: SynthConfig) -> None:
        self.config = config
        self._progress: Any = None
        self._task: Any = None
        self._samples = 0
        self._dropped = 0

    def __enter__(self) -> Callable[[int, Counter[str], int], None]:
        if self.config.progress:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("[bold]synth"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[info]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task("synth", total=self.config.scenes, info="")
        return self.advance

    def advance(self, images: int, counters: Counter[str], samples: int) -> None:
        self._samples += samples
        self._dropped += sum(v for k, v in counters.items() if k.startswith("dropped_"))
        if self._progress is not None:
            self._progress.update(
                self._task, advance=images + sum(
                    v for k, v in counters.items() if k.startswith("dropped_")),
                info=f"{self._samples} samples, {self._dropped} dropped",
            )

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()


def demo_config(out: str, workers: int = 2, seed: int = 0) -> SynthConfig:
    """The offline demo: sized for >= 200 images and >= 2,000 LLaVA samples in minutes."""
    return SynthConfig(scenes=240, out=out, seed=seed, per_image=1, fmt="llava",
                       workers=workers)
