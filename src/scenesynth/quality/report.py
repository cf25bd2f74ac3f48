"""Answer-distribution report: is a batch of samples balanced and free of answer-position bias?

For every question family and every generator the report gives the number of samples, the
answer counts and their entropy, the share of "yes" among yes/no answers, the histogram of the
correct option's position in multiple-choice samples with a chi-square test against uniform,
and, for numeric multiple-choice answers, the histogram of the correct value's *rank* among the
options. Count options are the answer's bin (``generators.forms.count_option_set``), the same
for every answer of the bin, so the rank is the answer's place in its bin: it shows the answer
prior, not a leak, and is not tested against uniform (the position is).

``answer_report(samples)`` computes it; ``render_report(report)`` prints rich tables.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from scenesynth.graph.sample import AnswerForm, InstructionSample
from scenesynth.quality.balance import YES, answer_key


def entropy_bits(counts: Iterable[int]) -> float:
    """Shannon entropy in bits of a distribution given by counts (0 for an empty one)."""
    values = [c for c in counts if c > 0]
    total = sum(values)
    if total == 0:
        return 0.0
    return -sum(c / total * math.log2(c / total) for c in values)


def uniform_p_value(histogram: list[int]) -> float | None:
    """Chi-square goodness-of-fit p-value against a uniform histogram (None when untestable)."""
    if len(histogram) < 2 or sum(histogram) == 0:
        return None
    from scipy.stats import chisquare  # lazy: scipy costs ~1.7 s to import in every worker

    return float(chisquare(histogram).pvalue)


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def numeric_rank(sample: InstructionSample) -> int | None:
    """Rank (0 = smallest) of the correct option among numeric MC options, else None."""
    if sample.form != AnswerForm.MULTIPLE_CHOICE or sample.options is None:
        return None
    if sample.answer_index is None or isinstance(sample.answer_value, bool):
        return None
    if not isinstance(sample.answer_value, int | float):
        return None
    numbers = [_as_number(o) for o in sample.options]
    if any(n is None for n in numbers):
        return None
    correct = numbers[sample.answer_index]
    assert correct is not None
    return sum(1 for n in numbers if n is not None and n < correct)


@dataclass
class GroupReport:
    """Answer statistics for one family or one generator."""

    n: int = 0
    forms: dict[str, int] = field(default_factory=dict)
    answer_counts: dict[str, int] = field(default_factory=dict)
    entropy: float = 0.0  # bits
    normalized_entropy: float | None = None  # entropy / log2(distinct answers)
    top_answer: str | None = None
    top_share: float = 0.0
    yes_no_n: int = 0
    yes_share: float | None = None
    # multiple choice: samples with the most common option count only, so bins are comparable
    mc_options: int | None = None
    mc_position_hist: list[int] = field(default_factory=list)
    mc_position_p: float | None = None
    numeric_rank_hist: list[int] = field(default_factory=list)


@dataclass
class Diversity:
    """Wording variety of a family: distinct templates and distinct question word 3-grams."""

    templates: int = 0
    trigrams: int = 0


@dataclass
class AnswerReport:
    families: dict[str, GroupReport]
    generators: dict[str, GroupReport]
    # "generator/template" -> its answers (a template's wording may predict its answer)
    templates: dict[str, GroupReport] = field(default_factory=dict)
    diversity: dict[str, Diversity] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "families": {k: asdict(v) for k, v in self.families.items()},
            "generators": {k: asdict(v) for k, v in self.generators.items()},
            "templates": {k: asdict(v) for k, v in self.templates.items()},
            "diversity": {k: asdict(v) for k, v in self.diversity.items()},
        }


def _trigrams(question: str) -> set[tuple[str, ...]]:
    words = question.lower().replace("?", " ").replace(".", " ").split()
    return {tuple(words[i:i + 3]) for i in range(len(words) - 2)}


def _group_report(samples: list[InstructionSample]) -> GroupReport:
    rep = GroupReport(n=len(samples))
    rep.forms = dict(sorted(Counter(str(s.form) for s in samples).items()))
    answers = Counter(answer_key(s) for s in samples)
    rep.answer_counts = dict(sorted(answers.items(), key=lambda kv: (-kv[1], kv[0])))
    rep.entropy = entropy_bits(answers.values())
    if len(answers) > 1:
        rep.normalized_entropy = rep.entropy / math.log2(len(answers))
    if answers:
        rep.top_answer, top = next(iter(rep.answer_counts.items()))
        rep.top_share = top / len(samples)

    yes_no = [s for s in samples if s.form == AnswerForm.YES_NO or isinstance(s.answer_value, bool)]
    rep.yes_no_n = len(yes_no)
    if yes_no:
        rep.yes_share = sum(1 for s in yes_no if answer_key(s) == YES) / len(yes_no)

    mc = [
        s for s in samples
        if s.form == AnswerForm.MULTIPLE_CHOICE and s.options and s.answer_index is not None
    ]
    if mc:
        n_opt = Counter(len(s.options or []) for s in mc).most_common(1)[0][0]
        rep.mc_options = n_opt
        positions = [0] * n_opt
        ranks = [0] * n_opt
        for s in mc:
            if len(s.options or []) != n_opt:
                continue
            assert s.answer_index is not None
            positions[s.answer_index] += 1
            rank = numeric_rank(s)
            if rank is not None:
                ranks[rank] += 1
        rep.mc_position_hist = positions
        rep.mc_position_p = uniform_p_value(positions)
        if sum(ranks):
            rep.numeric_rank_hist = ranks
    return rep


def answer_report(samples: Iterable[InstructionSample]) -> AnswerReport:
    """Per family and per generator answer statistics (see module docstring)."""
    by_family: dict[str, list[InstructionSample]] = {}
    by_generator: dict[str, list[InstructionSample]] = {}
    by_template: dict[str, list[InstructionSample]] = {}
    templates: dict[str, set[str]] = {}
    trigrams: dict[str, set[tuple[str, ...]]] = {}
    for s in samples:
        p = s.provenance
        by_family.setdefault(p.family, []).append(s)
        by_generator.setdefault(p.generator, []).append(s)
        by_template.setdefault(f"{p.generator}/{p.template}", []).append(s)
        templates.setdefault(p.family, set()).add(f"{p.generator}/{p.template}")
        if s.form == AnswerForm.SHORT:  # the question's own wording, not the form's suffix
            trigrams.setdefault(p.family, set()).update(_trigrams(s.question))
    return AnswerReport(
        families={k: _group_report(v) for k, v in sorted(by_family.items())},
        generators={k: _group_report(v) for k, v in sorted(by_generator.items())},
        templates={k: _group_report(v) for k, v in sorted(by_template.items())},
        diversity={f: Diversity(len(templates[f]), len(trigrams.get(f, ())))
                   for f in sorted(templates)},
    )


def _fmt(x: float | None, digits: int = 2) -> str:
    return "-" if x is None else f"{x:.{digits}f}"


def report_table(groups: dict[str, GroupReport], title: str) -> Table:
    table = Table(title=title)
    for col in ("name", "n", "answers", "entropy", "top answer", "top share", "yes share",
                "MC positions", "p", "numeric ranks"):
        table.add_column(col, justify="left" if col in ("name", "top answer") else "right")
    for name, g in groups.items():
        table.add_row(
            name, str(g.n), str(len(g.answer_counts)), _fmt(g.entropy),
            (g.top_answer or "-")[:24], _fmt(g.top_share), _fmt(g.yes_share),
            " ".join(map(str, g.mc_position_hist)) or "-", _fmt(g.mc_position_p, 3),
            " ".join(map(str, g.numeric_rank_hist)) or "-",
        )
    return table


def render_report(report: AnswerReport, console: Console | None = None) -> None:
    """Print the family and generator tables."""
    console = console or Console()
    console.print(report_table(report.families, "Answer balance by family"))
    console.print(report_table(report.generators, "Answer balance by generator"))
    console.print(report_table(report.templates, "Answer balance by template"))
    table = Table("family", "templates", "question 3-grams", title="Template diversity")
    for family, d in report.diversity.items():
        table.add_row(family, str(d.templates), str(d.trigrams))
    console.print(table)
