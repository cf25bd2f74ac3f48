"""``scenesynth eval``: a vision-language model on a run's samples, scored per family.

Prompts are the exported human turns without the image tokens (the images travel as separate
parts), with the LLaVA / lmms-eval answer instructions: multiple choice asks for the option's
letter, short answers for "a single word or phrase". Replies are read by
:mod:`scenesynth.evaluate.parse`.

Per family the report gives accuracy with a 95 % bootstrap interval next to three baselines
computed on the same samples: chance (1/options for multiple choice, 1/2 for yes/no, 1/distinct
answers otherwise), majority (the most frequent answer of the family and form, learnt on the
train split when evaluating the holdout, else on the evaluated samples themselves) and blind
(the most frequent answer per template, learnt the same way: what a model can score without
the image). The bootstrap of a mean of 0/1 scores is a binomial draw, so it is sampled as one.

Output folder: ``predictions.jsonl`` (one line per sample: prompt, reply, what was read,
correct, reason), ``report.json``, ``REPORT.md`` and ``accuracy.png``.
"""

from __future__ import annotations

import json
import random
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from scenesynth.evaluate.parse import Verdict, score
from scenesynth.evaluate.split import split_ids
from scenesynth.export.records import MCAnswerStyle, TurnStyle, render_question
from scenesynth.graph import AnswerForm, InstructionSample
from scenesynth.ioutil import atomic_write
from scenesynth.models.vlm import Query, VisionModel
from scenesynth.pipeline.card import markdown_table
from scenesynth.quality.card_plots import blind_answer_key
from scenesynth.rundata import RunData

SHORT_INSTRUCTION = "Answer the question using a single word or phrase."
BOOTSTRAP_DRAWS = 2000
PROMPT_STYLE = TurnStyle(mc_answer=MCAnswerStyle.LETTER, label_multiple_images=False)


class EvalError(ValueError):
    """An evaluation that cannot run; the message names the input."""


def build_prompt(sample: InstructionSample) -> str:
    text = render_question(sample.model_copy(update={"images": []}), PROMPT_STYLE)
    if sample.form == AnswerForm.SHORT and not isinstance(sample.answer_value, bool) \
            and sample.answer_type != "box":
        text += "\n" + SHORT_INSTRUCTION
    return text


def chance_of(sample: InstructionSample, distinct_answers: int) -> float:
    if sample.form == AnswerForm.MULTIPLE_CHOICE and sample.options:
        return 1 / len(sample.options)
    if isinstance(sample.answer_value, bool):
        return 0.5
    if sample.answer_type == "box":
        return 0.0
    return 1 / max(1, distinct_answers)


def _majority(counts: Counter[str]) -> str | None:
    return min(counts.items(), key=lambda kv: (-kv[1], kv[0]))[0] if counts else None


class Baselines:
    """Majority and blind guesses learnt on reference samples."""

    def __init__(self, reference: Iterable[InstructionSample]) -> None:
        self.by_family: defaultdict[tuple[str, str], Counter[str]] = defaultdict(Counter)
        self.by_template: defaultdict[tuple[str, str, str], Counter[str]] = defaultdict(Counter)
        for sample in reference:
            key = blind_answer_key(sample)
            if key is None:
                continue
            prov = sample.provenance
            self.by_family[(prov.family, sample.form.value)][key] += 1
            self.by_template[(prov.family, prov.template or "", sample.form.value)][key] += 1

    def majority_correct(self, sample: InstructionSample) -> bool:
        key = blind_answer_key(sample)
        guess = _majority(self.by_family.get((sample.provenance.family, sample.form.value),
                                             Counter()))
        return key is not None and key == guess

    def blind_correct(self, sample: InstructionSample) -> bool:
        key = blind_answer_key(sample)
        prov = sample.provenance
        counts = self.by_template.get((prov.family, prov.template or "", sample.form.value))
        guess = _majority(counts) if counts else _majority(
            self.by_family.get((prov.family, sample.form.value), Counter()))
        return key is not None and key == guess


def bootstrap_ci(correct: int, n: int, rng: np.random.Generator,
                 draws: int = BOOTSTRAP_DRAWS) -> tuple[float, float]:
    if n == 0:
        return (0.0, 0.0)
    means = rng.binomial(n, correct / n, size=draws) / n
    low, high = np.percentile(means, [2.5, 97.5])
    return float(low), float(high)


@dataclass
class FamilyScore:
    n: int = 0
    correct: int = 0
    malformed: int = 0
    chance: float = 0.0
    majority: float = 0.0
    blind: float = 0.0
    ci: tuple[float, float] = (0.0, 0.0)

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0


@dataclass
class EvalReport:
    model: str
    run: str
    split: str
    n: int
    baseline_reference: str
    families: dict[str, FamilyScore] = field(default_factory=dict)
    by_form: dict[str, FamilyScore] = field(default_factory=dict)
    overall: FamilyScore = field(default_factory=FamilyScore)
    reasons: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def fs(s: FamilyScore) -> dict[str, Any]:
            return {"n": s.n, "correct": s.correct, "accuracy": round(s.accuracy, 4),
                    "ci95": [round(s.ci[0], 4), round(s.ci[1], 4)], "chance": round(s.chance, 4),
                    "majority": round(s.majority, 4), "blind": round(s.blind, 4),
                    "malformed": s.malformed}
        return {"model": self.model, "run": self.run, "split": self.split, "n": self.n,
                "baseline_reference": self.baseline_reference, "overall": fs(self.overall),
                "families": {k: fs(v) for k, v in sorted(self.families.items())},
                "forms": {k: fs(v) for k, v in sorted(self.by_form.items())},
                "reasons": dict(sorted(self.reasons.items())), "skipped": self.skipped}


def _select(run: RunData, split: str, limit: int | None, seed: int
            ) -> tuple[list[InstructionSample], list[InstructionSample] | None]:
    if split == "all":
        samples = list(run.samples())
        reference = None
    else:
        try:
            ids = split_ids(run, split)
            train_ids = split_ids(run, "train") if split != "train" else ids
        except FileNotFoundError as exc:
            raise EvalError(str(exc)) from None
        samples, reference = [], []
        for sample in run.samples():
            if sample.id in ids:
                samples.append(sample)
            if sample.id in train_ids:
                reference.append(sample)
    if limit is not None and limit < len(samples):
        keep = set(random.Random(f"scenesynth.eval:{seed}").sample(range(len(samples)), limit))
        samples = [s for i, s in enumerate(samples) if i in keep]
    return samples, reference


def evaluate(run: RunData, model: VisionModel, out: Path, split: str = "all",
             limit: int | None = None, seed: int = 0, batch_size: int = 64) -> EvalReport:
    samples, reference = _select(run, split, limit, seed)
    if not samples:
        raise EvalError(f"{run.root}: split {split!r} has no samples")
    baselines = Baselines(reference if reference is not None else samples)
    distinct: defaultdict[tuple[str, str], set[str]] = defaultdict(set)
    for sample in samples:
        distinct[(sample.provenance.family, sample.form.value)].add(sample.answer.strip().lower())
    report = EvalReport(model=model.name, run=str(run.root), split=split, n=0,
                        baseline_reference="train split" if reference is not None and
                        split != "train" else "the evaluated samples (in-sample)")
    groups: defaultdict[str, list[tuple[bool, float, bool, bool, bool]]] = defaultdict(list)
    forms: defaultdict[str, list[tuple[bool, float, bool, bool, bool]]] = defaultdict(list)
    reasons: Counter[str] = Counter()
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(out / "predictions.jsonl") as fh:
        for start in range(0, len(samples), batch_size):
            batch: list[tuple[InstructionSample, Query, tuple[float, float] | None]] = []
            for sample in samples[start:start + batch_size]:
                paths = [run.resolve_image(p) for p in sample.images]
                missing = [p for p, r in zip(sample.images, paths, strict=True) if r is None]
                if missing:
                    report.skipped[sample.id] = f"image {missing[0]!r} not found"
                    continue
                found = [p for p in paths if p is not None]
                batch.append((sample, Query(found, build_prompt(sample)), _size(found)))
            replies = model.answer([q for _, q, _ in batch])
            for (sample, query, size), reply in zip(batch, replies, strict=True):
                if isinstance(reply, BaseException):
                    verdict = Verdict(False, None, f"malformed: request failed: "
                                                   f"{type(reply).__name__}: {reply}"[:300])
                    text = None
                else:
                    text = reply
                    verdict = score(sample, reply, size)
                family = sample.provenance.family
                row = (verdict.correct,
                       chance_of(sample, len(distinct[(family, sample.form.value)])),
                       baselines.majority_correct(sample), baselines.blind_correct(sample),
                       verdict.reason.startswith("malformed"))
                groups[family].append(row)
                forms[sample.form.value].append(row)
                reasons[verdict.reason.split(":", 1)[0] if verdict.reason.startswith(
                    "malformed: request") else verdict.reason] += 1
                fh.write(json.dumps({
                    "id": sample.id, "family": family, "template": sample.provenance.template,
                    "form": sample.form.value, "images": [str(p) for p in query.images],
                    "prompt": query.prompt, "answer": sample.answer, "reply": text,
                    "parsed": verdict.parsed, "correct": verdict.correct,
                    "reason": verdict.reason,
                }, ensure_ascii=False, default=str) + "\n")
    rng = np.random.default_rng(seed)
    report.families = {k: _summarise(v, rng) for k, v in sorted(groups.items())}
    report.by_form = {k: _summarise(v, rng) for k, v in sorted(forms.items())}
    report.overall = _summarise([r for rows in groups.values() for r in rows], rng)
    report.n = report.overall.n
    report.reasons = dict(reasons)
    if report.n == 0:
        raise EvalError(f"{run.root}: no sample could be evaluated (images missing: "
                        f"{next(iter(report.skipped.values()), '?')})")
    with atomic_write(out / "report.json") as fh:
        fh.write(json.dumps(report.to_dict(), indent=2) + "\n")
    _plot(report, out / "accuracy.png")
    with atomic_write(out / "REPORT.md") as fh:
        fh.write(report_markdown(report))
    return report


def _size(paths: list[Path]) -> tuple[float, float] | None:
    if not paths:
        return None
    from PIL import Image

    with Image.open(paths[0]) as im:
        return float(im.width), float(im.height)


def _summarise(rows: list[tuple[bool, float, bool, bool, bool]],
               rng: np.random.Generator) -> FamilyScore:
    n = len(rows)
    if n == 0:
        return FamilyScore()
    correct = sum(r[0] for r in rows)
    return FamilyScore(n=n, correct=correct, malformed=sum(r[4] for r in rows),
                       chance=sum(r[1] for r in rows) / n, majority=sum(r[2] for r in rows) / n,
                       blind=sum(r[3] for r in rows) / n, ci=bootstrap_ci(correct, n, rng))


def report_markdown(report: EvalReport) -> str:
    def row(name: str, s: FamilyScore) -> tuple[Any, ...]:
        return (name, s.n, f"{100 * s.accuracy:.1f}",
                f"{100 * s.ci[0]:.1f}-{100 * s.ci[1]:.1f}", f"{100 * s.chance:.1f}",
                f"{100 * s.majority:.1f}", f"{100 * s.blind:.1f}", s.malformed)

    header = ("", "samples", "accuracy %", "95 % CI", "chance %", "majority %", "blind %",
              "malformed")
    parts = [
        f"# Evaluation of {report.model}",
        "",
        f"Run `{report.run}`, split `{report.split}`: {report.n} samples. Baselines (majority,"
        f" blind) learnt on {report.baseline_reference}. Intervals: 95 % bootstrap.",
        "",
        "## Per family",
        "",
        markdown_table([row(k, v) for k, v in report.families.items()]
                       + [row("**all**", report.overall)], header),
        "",
        "## Per form",
        "",
        markdown_table([row(k, v) for k, v in report.by_form.items()], header),
        "",
        "## Outcomes",
        "",
        markdown_table(sorted(report.reasons.items(), key=lambda kv: -kv[1]),
                       ("outcome", "samples")),
        "",
        "![accuracy per family](accuracy.png)",
        "",
    ]
    if report.skipped:
        parts += [f"{len(report.skipped)} sample(s) skipped (image not found).", ""]
    return "\n".join(parts)


def _plot(report: EvalReport, path: Path) -> None:
    from scenesynth.quality.card_plots import pyplot_agg, save_png

    plt = pyplot_agg()
    names = list(report.families)
    fam = [report.families[n] for n in names]
    fig, ax = plt.subplots(figsize=(7.5, 0.35 * len(names) + 1.5))
    ys = np.arange(len(names))
    acc = np.array([f.accuracy for f in fam])
    err = np.array([[f.accuracy - f.ci[0] for f in fam], [f.ci[1] - f.accuracy for f in fam]])
    ax.barh(ys, acc, xerr=err, color="#4c72b0", label="model (95 % CI)", capsize=2)
    ax.scatter([f.chance for f in fam], ys, marker="|", s=200, color="black", label="chance")
    ax.scatter([f.majority for f in fam], ys, marker="x", color="#c44e52", label="majority")
    ax.scatter([f.blind for f in fam], ys, marker="o", facecolors="none", color="#55a868",
               label="blind")
    ax.set_yticks(ys, [f"{n} ({f.n})" for n, f in zip(names, fam, strict=True)], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlim(0, 1)
    ax.set_xlabel("accuracy")
    ax.set_title(f"{report.model} on {report.split}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    save_png(fig, path)
    plt.close(fig)
