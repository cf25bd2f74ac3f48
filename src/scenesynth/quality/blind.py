"""Blind baseline: how much of the answers can be read from the text alone?

A question whose answer follows from its wording teaches a model to ignore the image. This
fits, per question family, a text-only model (scikit-learn logistic regression on the
question's word 1-3-grams and its options) and predicts every answer out of fold, the folds
grouped by image (a model never sees another question of the same image while predicting).
Its accuracy is reported per family and per template next to two baselines:

* *majority*: the most common answer of the question's *answer domain*, learnt on the other
  folds. The domain is what kind of answer the question asks for, as the generator balances
  it: yes/no for every yes/no question of the family, else the generator's balance key
  without the template ("query_attribute:color", "spatial_choice:left of"). A family mixes
  domains (colors and materials), and a majority over the whole family is then not a
  baseline at all: "what material" naming its two-value domain is the question, not a leak.
  The domain deliberately ignores the template, so a wording that predicts its answer ("made
  of the same material" -> yes) is still caught. The whole-family majority is reported too;
* *chance*: a uniform guess among the answers the question admits: 1/2 for yes/no and for a
  choice between the two objects it names (a ``select`` program), 1/n! for ordering n named
  objects, 1/k for k options, else 1/distinct answers of the domain; averaged over samples.

A family is *flagged* when the blind accuracy beats ``max(majority, chance)`` by more than
``margin`` (5 points).
"""

from __future__ import annotations

import math
import warnings
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from rich.table import Table

from scenesynth.graph.keys import TEMPLATE_SEPARATOR
from scenesynth.graph.sample import AnswerForm, InstructionSample
from scenesynth.graph.seeds import random_from_text
from scenesynth.quality.balance import answer_key, balance_key

if TYPE_CHECKING:
    from rich.console import Console


@dataclass
class BlindGroup:
    n: int = 0
    blind: float = 0.0
    majority: float = 0.0  # the answer domain's prior, out of fold (module docstring)
    chance: float = 0.0
    family_majority: float = 0.0  # the group's own most common answer (in sample)

    @property
    def advantage(self) -> float:
        return self.blind - max(self.majority, self.chance)


@dataclass
class BlindReport:
    families: dict[str, BlindGroup] = field(default_factory=dict)
    templates: dict[str, BlindGroup] = field(default_factory=dict)
    margin: float = 0.05

    @property
    def flagged(self) -> list[str]:
        return [f for f, g in self.families.items() if g.advantage > self.margin]


_RARE = "\x00rare"


def _text(s: InstructionSample) -> str:
    options = " ".join(f"option_{o}" for o in s.options or ())
    return f"{s.question} {options}"


def answer_domain(s: InstructionSample) -> str:
    """What kind of answer ``s`` asks for: "yes/no", else its generator's balance key without
    the template (see module docstring)."""
    if s.form == AnswerForm.YES_NO or isinstance(s.answer_value, bool):
        return "yes/no"
    return balance_key(s).partition(TEMPLATE_SEPARATOR)[0]


def _chance(s: InstructionSample, distinct: int) -> float:
    """Accuracy of a uniform guess among the answers ``s`` admits; ``distinct`` answers of
    its domain when the question itself does not bound them."""
    if s.form == AnswerForm.YES_NO or isinstance(s.answer_value, bool):
        return 0.5
    if s.options:
        return 1.0 / len(s.options)
    program = s.provenance.program
    if program:
        last = program[-1]
        if last.op == "select":  # "which is closer, A or B?": one of the two named
            return 0.5
        if last.op == "label_of":  # "of A, B, C or D, which is leftmost?": one of the k named
            labels = last.args.get("labels")
            if isinstance(labels, list) and labels:
                return 1.0 / len(labels)
        if last.op == "names_in_order" and last.inputs:  # an order of the named objects
            named = program[last.inputs[0]].output
            if isinstance(named, list) and named:
                return 1.0 / math.factorial(len(named))
    return 1.0 / max(distinct, 1)


def blind_report(
    samples: Iterable[InstructionSample], *, folds: int = 5, max_per_family: int = 2000,
    margin: float = 0.05, seed: int = 0,
) -> BlindReport:
    """Out-of-fold blind accuracy per family and per template (see module docstring)."""
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold

    by_family: dict[str, list[InstructionSample]] = defaultdict(list)
    for s in samples:
        by_family[s.provenance.family].append(s)
    report = BlindReport(margin=margin)
    for family in sorted(by_family):
        group = by_family[family]
        if len(group) > max_per_family:  # a fixed-size sample keeps the fit cheap
            # drawn per family, so a family's figures do not depend on which others ran
            group = random_from_text(f"blind:{seed}:{family}").sample(group, max_per_family)
        labels = [answer_key(s) for s in group]
        # answers seen once (boxes, free text) cannot be learnt from text: one "rare" class,
        # never counted as right, keeps the fit small
        seen = Counter(labels)
        targets = [a if seen[a] > 1 else _RARE for a in labels]
        images = ["|".join(s.provenance.image_ids) for s in group]
        domains = [answer_domain(s) for s in group]
        domain_answers: dict[str, set[str]] = defaultdict(set)
        for domain, label in zip(domains, labels, strict=True):
            domain_answers[domain].add(label)
        distinct_images = len(set(images))
        predicted = list(targets)  # overwritten out of fold
        prior = list(labels)  # the domain's majority answer, out of fold
        if distinct_images >= 2:
            texts = [_text(s) for s in group]
            splitter = GroupKFold(n_splits=min(folds, distinct_images))
            for train, test in splitter.split(texts, targets, images):
                by_domain: dict[str, Counter[str]] = defaultdict(Counter)
                for i in train:
                    by_domain[domains[i]][labels[i]] += 1
                overall = Counter(labels[i] for i in train).most_common(1)[0][0]
                for i in test:
                    seen_domain = by_domain.get(domains[i])
                    prior[i] = seen_domain.most_common(1)[0][0] if seen_domain else overall
                train_labels = [targets[i] for i in train]
                if len(set(train_labels)) < 2:
                    for i in test:
                        predicted[i] = train_labels[0]
                    continue
                vectorizer = CountVectorizer(ngram_range=(1, 3), min_df=2, binary=True)
                x_train = vectorizer.fit_transform([texts[i] for i in train])
                model = LogisticRegression(max_iter=200, C=1.0)
                with warnings.catch_warnings():  # a capped fit is still a fair baseline
                    warnings.simplefilter("ignore")
                    model.fit(x_train, train_labels)
                guesses = model.predict(vectorizer.transform([texts[i] for i in test]))
                for i, guess in zip(test, guesses, strict=True):
                    predicted[i] = str(guess)
        per_template: dict[str, list[int]] = defaultdict(list)
        for i, s in enumerate(group):
            per_template[f"{s.provenance.generator}/{s.provenance.template}"].append(i)
        for name, members in [(family, list(range(len(group)))),
                              *sorted(per_template.items())]:
            g = BlindGroup(n=len(members))
            g.blind = sum(predicted[i] == labels[i] for i in members) / len(members)
            g.majority = sum(prior[i] == labels[i] for i in members) / len(members)
            g.family_majority = (Counter(labels[i] for i in members).most_common(1)[0][1]
                                 / len(members))
            g.chance = sum(_chance(group[i], len(domain_answers[domains[i]]))
                           for i in members) / len(members)
            if name == family:
                report.families[family] = g
            else:
                report.templates[name] = g
    return report


def render_blind(report: BlindReport, console: Console | None = None) -> None:
    """Print the family and template tables; flagged families are marked."""
    from rich.console import Console as _Console

    console = console or _Console()
    for title, groups in (("Blind baseline by family (text only, grouped CV)", report.families),
                          ("Blind baseline by template", report.templates)):
        table = Table("name", "n", "blind", "majority", "chance", "advantage", "flag",
                      "own majority", title=title)
        for name, g in groups.items():
            flag = "LEAK" if g.advantage > report.margin else ""
            table.add_row(name, str(g.n), f"{g.blind:.3f}", f"{g.majority:.3f}",
                          f"{g.chance:.3f}", f"{g.advantage:+.3f}", flag,
                          f"{g.family_majority:.3f}")
        console.print(table)
    flagged = report.flagged
    console.print("majority: the answer domain's most common answer, learnt out of fold; "
                  "own majority: the row's own most common answer")
    console.print(f"families flagged (blind > max(majority, chance) + {report.margin:.0%}): "
                  f"{', '.join(flagged) if flagged else 'none'}")
