"""``scenesynth write-questions``: LLM-written questions whose answers are computed by programs.

For every graph the writer proposes ``{question, answer_type, code}``; the code runs in the
sandbox (:mod:`scenesynth.authoring.sandbox`) against the graph; quality control
(:mod:`scenesynth.authoring.qc`) keeps a question only when its program runs, returns the
declared type, does not leak its answer, is not constant over probe scenes, agrees with the
template engine where the question maps onto a template family, agrees with N-1 independently
written programs, and is not a near-duplicate. Kept questions become
:class:`~scenesynth.graph.InstructionSample` records whose provenance holds the code, the
writer, the prompt version and the execution result (one ``python`` program step, as template
samples hold their program), exported with the same exporter as ``generate``.

Output folder: ``samples.jsonl``, ``drops.jsonl`` (each dropped question, its reason and
code), ``export/`` (the chosen format, validated), ``card.json`` and ``DATASET_CARD.md``
(counts, drops by reason, QC figures, the sandbox's layers, the diversity figure).
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from scenesynth import __version__
from scenesynth.authoring.api import mask_areas, scene_payload
from scenesynth.authoring.qc import (
    TemplateMapper,
    answer_in_question,
    answers_equal,
    distinct_trigrams_per_1000,
    near_duplicate,
    render_answer,
    type_matches,
)
from scenesynth.authoring.sandbox import ExecResult, Job, SandboxConfig, SandboxPool, scene_key
from scenesynth.authoring.writer import (
    PROMPT_VERSION,
    QuestionWriter,
    WriterCache,
    WriterError,
    WrittenQuestion,
    ask,
    solve_messages,
    write_messages,
)
from scenesynth.graph import InstructionSample, ProgramStep, Provenance, SceneGraph
from scenesynth.graph.sample import AnswerForm
from scenesynth.graph.seeds import generator_seed
from scenesynth.ioutil import atomic_write
from scenesynth.pipeline.card import (
    answer_distribution,
    card_answer_key,
    markdown_table,
    write_card_files,
)
from scenesynth.pipeline.shard import sample_id

GENERATOR = "llm_program"


@dataclass
class WriteQuestionsConfig:
    questions_per_graph: int = 2
    agreement: int = 3  # independent programs per question that must agree (1 = off)
    probe_scenes: int = 8  # other scenes each program also runs on (constancy check)
    near_duplicate: float = 0.7  # word-3-gram Jaccard at or above which a question is dropped
    max_attempts: int = 3  # requests per writer call before it counts as failed
    seed: int = 0
    format: str = "llava"
    cache_dir: str | None = None
    template_diversity: bool = True  # measure template questions' diversity for the card
    sandbox: SandboxConfig = field(default_factory=SandboxConfig)


@dataclass
class Drop:
    image_id: str
    reason: str
    question: str = ""
    code: str = ""
    detail: str = ""


@dataclass
class WriteResult:
    samples: list[InstructionSample]
    drops: list[Drop]
    graphs: int
    written: int
    agreement_checked: int = 0
    agreement_passed: int = 0
    template_checked: Counter[str] = field(default_factory=Counter)
    executions: int = 0
    workers_replaced: int = 0
    layers: dict[str, Any] = field(default_factory=dict)

    def drops_by_reason(self) -> dict[str, int]:
        counts = Counter(d.reason for d in self.drops)
        return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _form(answer_type: str) -> AnswerForm:
    return AnswerForm.YES_NO if answer_type == "yes_no" else AnswerForm.SHORT


def write_questions(graphs: Sequence[SceneGraph], writer: QuestionWriter,
                    config: WriteQuestionsConfig, pool: SandboxPool | None = None
                    ) -> WriteResult:
    """Write, execute and check questions for ``graphs`` (in memory; see :func:`run`)."""
    own_pool = pool is None
    sandbox = pool if pool is not None else SandboxPool(config.sandbox)
    try:
        return _Writer(graphs, writer, config, sandbox).run()
    finally:
        if own_pool:
            sandbox.close()


class _Writer:
    def __init__(self, graphs: Sequence[SceneGraph], writer: QuestionWriter,
                 config: WriteQuestionsConfig, pool: SandboxPool) -> None:
        self.graphs = graphs
        self.writer = writer
        self.config = config
        self.pool = pool
        self.cache = WriterCache(config.cache_dir) if config.cache_dir else None
        self.payloads = [scene_payload(g, mask_areas(g)) for g in graphs]
        self.keys = [scene_key(p) for p in self.payloads]
        self.mapper = TemplateMapper(graphs)
        self.result = WriteResult([], [], len(graphs), 0, layers=dict(pool.layers))

    def run(self) -> WriteResult:
        replaced_before = self.pool.replaced
        for i, graph in enumerate(self.graphs):
            kept: list[str] = []
            for variation in range(self.config.questions_per_graph):
                self._one(i, graph, variation, kept)
        self.result.workers_replaced = self.pool.replaced - replaced_before
        return self.result

    def _drop(self, graph: SceneGraph, reason: str, q: WrittenQuestion | None = None,
              detail: str = "") -> None:
        self.result.drops.append(Drop(graph.image.id, reason, q.question if q else "",
                                      q.code if q else "", detail[:500]))

    def _execute(self, code: str, indices: Sequence[int]) -> list[ExecResult]:
        jobs = [Job(code, self.payloads[k], self.keys[k]) for k in indices]
        self.result.executions += len(jobs)
        return self.pool.run_many(jobs)

    def _probes(self, i: int) -> list[int]:
        n = len(self.graphs)
        return [(i + k) % n for k in range(1, min(self.config.probe_scenes, n - 1) + 1)]

    def _one(self, i: int, graph: SceneGraph, variation: int, kept: list[str]) -> None:
        cfg = self.config
        image_ids = [graph.image.id]
        seed = generator_seed(cfg.seed, image_ids, f"write-{variation}")
        try:
            q = ask(self.writer, write_messages(self.payloads[i], variation), WrittenQuestion,
                    seed, self.keys[i], self.cache, cfg.max_attempts)
        except WriterError as exc:
            self._drop(graph, "writer_failed", detail=str(exc))
            return
        self.result.written += 1
        first, *probe_runs = self._execute(q.code, [i, *self._probes(i)])
        if not first.ok:
            self._drop(graph, f"exec_{first.reason}", q, first.detail)
            return
        value = first.value
        if not type_matches(q.answer_type, value):
            self._drop(graph, "wrong_type", q,
                       f"declared {q.answer_type}, returned {type(value).__name__} {value!r}")
            return
        if answer_in_question(q.question, value):
            self._drop(graph, "answer_in_question", q, f"answer {render_answer(value)!r}")
            return
        answers = [value] + [r.value for r in probe_runs if r.ok]
        distinct = {json.dumps(a, sort_keys=True) for a in answers}
        if len(distinct) < 2:
            self._drop(graph, "constant_answer", q,
                       f"{len(answers)} scene(s) ran, every answer was {value!r}")
            return
        template = self.mapper.answer(q.question, graph)
        if template is not None:
            self.result.template_checked[template[0]] += 1
            if not answers_equal(template[1], value):
                self._drop(graph, "template_disagreement", q,
                           f"{template[0]} template answers {template[1]!r}, program {value!r}")
                return
        others = self._agreement(i, q, seed, value)
        if others is None:
            return
        if near_duplicate(q.question, kept, cfg.near_duplicate):
            self._drop(graph, "near_duplicate", q)
            return
        kept.append(q.question)
        self.result.samples.append(self._sample(graph, q, first, others, len(answers),
                                                template, seed))

    def _agreement(self, i: int, q: WrittenQuestion, seed: int, value: Any
                   ) -> list[Any] | None:
        """The answers of N-1 independently written programs, or None (dropped)."""
        graph = self.graphs[i]
        if self.config.agreement <= 1:
            return []
        self.result.agreement_checked += 1
        values: list[Any] = []
        for k in range(1, self.config.agreement):
            try:
                other = ask(self.writer,
                            solve_messages(q.question, q.answer_type, self.payloads[i], k),
                            WrittenQuestion, seed + k, self.keys[i], self.cache,
                            self.config.max_attempts)
            except WriterError as exc:
                self._drop(graph, "disagreement", q, f"solve {k}: {exc}")
                return None
            (run,) = self._execute(other.code, [i])
            if not run.ok or not answers_equal(run.value, value):
                got = run.value if run.ok else f"{run.reason}: {run.detail}"
                self._drop(graph, "disagreement", q, f"solve {k} answered {got!r}")
                return None
            values.append(run.value)
        self.result.agreement_passed += 1
        return values

    def _sample(self, graph: SceneGraph, q: WrittenQuestion, run: ExecResult,
                others: list[Any], probes_ran: int, template: tuple[str, Any] | None,
                seed: int) -> InstructionSample:
        image_ids = [graph.image.id]
        form = _form(q.answer_type)
        answer = render_answer(run.value)
        step = ProgramStep(op="python", args={"code": q.code, "entry": "answer(scene)"},
                           output=run.value)
        provenance = Provenance(
            source=graph.image.source, image_ids=image_ids, generator=GENERATOR,
            generator_version=PROMPT_VERSION, family=f"llm_{q.answer_type}", template=None,
            program=[step], seed=seed,
            extra={
                "writer": self.writer.name, "prompt_version": PROMPT_VERSION,
                "execution": {"value": run.value, "cpu_s": run.cpu_s, "stdout": run.stdout},
                "agreement": {"programs": 1 + len(others), "answers": [run.value, *others]},
                "probe_scenes_ran": probes_ran,
                "template_check": None if template is None else
                {"family": template[0], "answer": template[1]},
            },
        )
        return InstructionSample(
            id=sample_id(image_ids, GENERATOR, q.question, str(form), None),
            images=[graph.image.path or graph.image.id], question=q.question, answer=answer,
            form=form, answer_value=run.value, answer_type=q.answer_type,
            provenance=provenance,
        )


# -- the command: read graphs, write, export, card ------------------------------------------


class WriteQuestionsError(RuntimeError):
    """The run could not read its input or produced nothing (the CLI exits non-zero)."""


def template_questions(graphs: Sequence[SceneGraph], seed: int) -> list[str]:
    """Questions the template engine writes for the same graphs (one per generator and
    image, short answers): the baseline of the diversity figure."""
    from scenesynth.generators.base import GenConfig
    from scenesynth.pipeline.shard import generate_shard

    shard = generate_shard(graphs, None, 1, (AnswerForm.SHORT,), seed, GenConfig(), None)
    return [s.question for s in shard.samples]


def run(graphs_path: Path, writer: QuestionWriter, out: Path, config: WriteQuestionsConfig,
        limit: int | None = None) -> dict[str, Any]:
    """The whole command; returns the card. Raises WriteQuestionsError when no graph could
    be read or no question was kept (after writing the drops and the card)."""
    from scenesynth.export import export_samples, validate
    from scenesynth.sources import LoadError, UnknownFormatError, load

    try:
        stream = load(graphs_path)
        graphs: list[SceneGraph] = []
        for graph in stream:
            if limit is not None and len(graphs) >= limit:
                break
            graphs.append(graph)
    except (FileNotFoundError, UnknownFormatError, LoadError) as exc:
        raise WriteQuestionsError(str(exc)) from None
    if not graphs:
        raise WriteQuestionsError(f"{graphs_path}: no scene graph could be read "
                                  f"({stream.report.summary()})")
    result = write_questions(graphs, writer, config)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "samples.jsonl") as fh:
        for sample in result.samples:
            fh.write(sample.model_dump_json() + "\n")
    with atomic_write(out / "drops.jsonl") as fh:
        for drop in result.drops:
            fh.write(json.dumps(asdict(drop), ensure_ascii=False) + "\n")
    export: dict[str, Any] = {"format": config.format, "written": 0, "validation_ok": None}
    if result.samples:
        exported = export_samples(result.samples, config.format, out / "export",
                                  require_images=False)
        report = validate(out / "export", config.format, require_images=False)
        export = {"format": config.format, "written": exported.n_written,
                  "skipped": exported.n_failed, "validation_ok": report.ok,
                  "validation_records": report.n_records,
                  "validation_errors": report.errors[:20]}
    template_div = None
    if config.template_diversity:
        template_div = distinct_trigrams_per_1000(template_questions(graphs, config.seed))
    card = build_card(config, graphs_path, writer.name, result, export, template_div,
                      stream.report.summary())
    write_card_files(out, card, card_markdown(card))
    if not result.samples:
        raise WriteQuestionsError(
            f"no question passed quality control ({result.written} written, drops: "
            f"{result.drops_by_reason()}); see {out / 'drops.jsonl'}")
    return card


def build_card(config: WriteQuestionsConfig, source: Path, writer: str, result: WriteResult,
               export: dict[str, Any], template_diversity: float | None,
               load_summary: str) -> dict[str, Any]:
    answers: defaultdict[str, Counter[str]] = defaultdict(Counter)
    for s in result.samples:
        answers[s.provenance.family][card_answer_key(s.answer_value)] += 1
    checked = result.agreement_checked
    cfg = asdict(config)
    return {
        "scenesynth_version": __version__,
        "source": str(source),
        "load": load_summary,
        "writer": writer,
        "prompt_version": PROMPT_VERSION,
        "config": cfg,
        "counts": {"graphs": result.graphs, "questions_written": result.written,
                   "samples": len(result.samples), "dropped": len(result.drops),
                   "program_executions": result.executions,
                   "workers_replaced": result.workers_replaced},
        "drops_by_reason": result.drops_by_reason(),
        "qc": {
            "agreement_programs": config.agreement,
            "agreement_checked": checked,
            "agreement_passed": result.agreement_passed,
            "agreement_rate": round(result.agreement_passed / checked, 4) if checked else None,
            "template_checked": dict(sorted(result.template_checked.items())),
        },
        "sandbox_layers": result.layers,
        "diversity": {
            "llm_distinct_3grams_per_1000_questions":
                distinct_trigrams_per_1000([s.question for s in result.samples]),
            "template_distinct_3grams_per_1000_questions": template_diversity,
        },
        "samples_by_family": dict(sorted(Counter(
            s.provenance.family for s in result.samples).items())),
        "answers_by_family": answer_distribution(answers, 5),
        "export": export,
    }


def card_markdown(card: dict[str, Any]) -> str:
    qc, div, export = card["qc"], card["diversity"], card["export"]
    state = {True: "passed", False: "FAILED", None: "not run (no samples)"}[
        export.get("validation_ok")]
    layers = card["sandbox_layers"]
    return "\n".join([
        "# Dataset card (scenesynth write-questions)",
        "",
        f"Questions written by `{card['writer']}` (prompt {card['prompt_version']}) about the "
        f"scene graphs in `{card['source']}`, each with a Python program that computes its "
        "answer from the graph. Every program ran in the sandbox; a sample's provenance holds "
        "its code, the writer, the prompt version and the execution result.",
        "",
        f"Export: {export['format']}; validation {state}.",
        "",
        "## Counts",
        "",
        markdown_table(list(card["counts"].items()), ("what", "count")),
        "",
        "## Drops by reason (details in `drops.jsonl`)",
        "",
        markdown_table(list(card["drops_by_reason"].items()) or [("none", 0)],
                       ("reason", "questions")),
        "",
        "## Quality control",
        "",
        markdown_table([
            ("independent programs per question", qc["agreement_programs"]),
            ("questions checked for agreement", qc["agreement_checked"]),
            ("agreed", qc["agreement_passed"]),
            ("agreement rate", qc["agreement_rate"]),
            ("checked against the template engine",
             ", ".join(f"{k} {v}" for k, v in qc["template_checked"].items()) or "none"),
        ], ("check", "value")),
        "",
        "## Diversity (distinct word 3-grams per 1,000 questions)",
        "",
        markdown_table([
            ("LLM-written (kept)", div["llm_distinct_3grams_per_1000_questions"]),
            ("template engine, same graphs", div["template_distinct_3grams_per_1000_questions"]),
        ], ("questions", "3-grams / 1,000")),
        "",
        "## Samples by family",
        "",
        markdown_table(list(card["samples_by_family"].items()) or [("none", 0)],
                       ("family", "samples")),
        "",
        "## Sandbox layers on this machine",
        "",
        markdown_table([(k, v) for k, v in layers.items()], ("layer", "applied")),
        "",
        "## Configuration",
        "",
        "```json",
        json.dumps(card["config"], indent=2, sort_keys=True),
        "```",
        "",
    ])
