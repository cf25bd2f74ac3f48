"""Acceptance checks of issue 18 on a generated run: do questions give their answers away?

Reads a run folder (``shards/samples-*.jsonl``, what ``scenesynth generate`` writes) and the
scene graphs it was generated from, and prints, as the user reads the questions:

* "same <kind>" questions whose text names a value of that kind ("Is the red cube the same
  color as ..."; the vocabulary of each kind is read from the source graphs);
* questions that ask above / below (or higher / lower) on a source whose scenes stand on one
  ground plane (CLEVR): there the vertical image position only tells the size;
* every template's yes share (question group counted once, so the short and yes/no forms of one
  question are one vote), with the templates outside 40-60 % and those with < 50 questions;
* with ``--blind``, the blind baseline per family (``scenesynth stats --blind``) and the
  families it flags.

Exit status 1 when a check fails. Usage (the issue-18 acceptance run, about 3 minutes on
2 cores)::

    scenesynth generate --source ../shared/data/clevr/CLEVR_train_scenes_1000.json \\
        --generators all --per-image 3 --format parquet --seed 0 --out clevr_qa --workers 2
    python bench/leaks.py clevr_qa ../shared/data/clevr/CLEVR_train_scenes_1000.json --blind
"""

from __future__ import annotations

import argparse
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from scenesynth.graph.sample import AnswerForm, InstructionSample
from scenesynth.quality.balance import YES, answer_key

SAME_KIND = re.compile(r"\bsame (color|colour|size|material|shape)\b")
VERTICAL = re.compile(r"\b(above|below|higher|lower|underneath|beneath)\b")
MIN_TEMPLATE = 50


def read_samples(run: Path) -> list[InstructionSample]:
    files = sorted((run / "shards").glob("samples-*.jsonl"))
    if not files:
        raise SystemExit(f"{run}: no shards/samples-*.jsonl (not a generated run folder)")
    samples: list[InstructionSample] = []
    for file in files:
        with file.open(encoding="utf-8") as fh:
            samples.extend(InstructionSample.model_validate_json(line)
                           for line in fh if line.strip())
    return samples


def vocabulary(source: Path) -> dict[str, set[str]]:
    """Attribute values by kind, and object names under "shape" when the source names objects by
    their shape (CLEVR)."""
    from scenesynth.sources import load

    kinds: dict[str, set[str]] = defaultdict(set)
    for graph in load(source):
        for obj in graph.objects:
            for attribute in obj.attributes:
                kinds[str(attribute.kind)].add(attribute.value.lower())
            if graph.image.source == "clevr":
                kinds["shape"].add(obj.name.lower())
    return kinds


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


def _plural_forms(value: str) -> set[str]:
    return {value, value + "s", value + "es"}


def same_kind_leaks(samples: list[InstructionSample], kinds: dict[str, set[str]]) -> list[str]:
    out = []
    for s in samples:
        match = SAME_KIND.search(s.question.lower())
        if match is None:
            continue
        kind = "color" if match.group(1) == "colour" else match.group(1)
        words = _words(s.question.split("\n")[0])
        named = sorted(v for v in kinds.get(kind, ()) if words & _plural_forms(v))
        if named:
            out.append(f"{s.provenance.generator}/{s.provenance.template}: {s.question!r} "
                       f"names {kind} {named}")
    return out


def vertical_questions(samples: list[InstructionSample]) -> list[str]:
    return [f"{s.provenance.generator}/{s.provenance.template}: {s.question!r}"
            for s in samples if s.provenance.source == "clevr"
            and VERTICAL.search(s.question.split("\n")[0].lower())]


def template_yes_shares(samples: list[InstructionSample]) -> dict[str, tuple[int, float]]:
    """Per yes/no template: questions (groups) and their yes share."""
    votes: dict[str, dict[str, bool]] = defaultdict(dict)
    for s in samples:
        if not (s.form == AnswerForm.YES_NO or isinstance(s.answer_value, bool)):
            continue
        group = str(s.provenance.extra.get("question_group", s.id))
        votes[f"{s.provenance.generator}/{s.provenance.template}"][group] = answer_key(s) == YES
    return {t: (len(v), sum(v.values()) / len(v)) for t, v in sorted(votes.items())}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("source", type=Path, help="the scene graphs the run was generated from")
    parser.add_argument("--blind", action="store_true", help="also fit the blind baseline")
    args = parser.parse_args(argv)

    samples = read_samples(args.run)
    questions = {s.provenance.extra.get("question_group", s.id) for s in samples}
    families = dict(sorted(Counter(s.provenance.family for s in samples).items()))
    print(f"{len(samples)} samples, {len(questions)} questions, families: {families}")
    failed = False

    leaks = same_kind_leaks(samples, vocabulary(args.source))
    same = sum(1 for s in samples if SAME_KIND.search(s.question.lower()))
    print(f"'same <kind>' questions: {same}, naming a value of their kind: {len(leaks)}")
    for line in leaks[:10]:
        print("  ", line)
    failed |= bool(leaks)

    vertical = vertical_questions(samples)
    print(f"above/below questions on CLEVR scenes: {len(vertical)}")
    for line in vertical[:10]:
        print("  ", line)
    failed |= bool(vertical)

    shares = template_yes_shares(samples)
    small = {t: v for t, v in shares.items() if v[0] < MIN_TEMPLATE}
    outside = {t: v for t, v in shares.items()
               if v[0] >= MIN_TEMPLATE and not 0.40 <= v[1] <= 0.60}
    checked = [v[1] for t, v in shares.items() if t not in small]
    if checked:
        print(f"yes/no templates: {len(shares)}, with >= {MIN_TEMPLATE} questions: "
              f"{len(checked)}, yes share {min(checked):.1%}-{max(checked):.1%}")
    for t, (n, share) in outside.items():
        print(f"   OUTSIDE 40-60 %: {t}: {share:.1%} of {n}")
    for t, (n, share) in small.items():
        print(f"   excepted (< {MIN_TEMPLATE} questions): {t}: {share:.1%} of {n}")
    failed |= bool(outside)

    if args.blind:
        from scenesynth.quality.blind import blind_report

        by_family: dict[str, list[InstructionSample]] = defaultdict(list)
        for s in samples:
            by_family[s.provenance.family].append(s)
        print("family          n     blind  majority  chance  advantage  own-majority",
              flush=True)
        flagged, leaky = [], []
        for family in sorted(by_family):  # one at a time: the same figures, shown as they come
            report = blind_report(by_family[family])
            g = report.families[family]
            print(f"{family:15s} {g.n:5d}  {g.blind:.3f}  {g.majority:.3f}     {g.chance:.3f}"
                  f"   {g.advantage:+.3f}     {g.family_majority:.3f}"
                  f"{'  LEAK' if g.advantage > report.margin else ''}", flush=True)
            flagged += report.flagged
            leaky += [f"{t} ({t_g.blind:.2f} vs {max(t_g.majority, t_g.chance):.2f})"
                      for t, t_g in report.templates.items() if t_g.advantage > report.margin]
        print(f"templates over the margin: {', '.join(leaky) if leaky else 'none'}")
        print(f"families flagged: {', '.join(flagged) if flagged else 'none'}")
        failed |= bool(flagged)
    print("FAIL" if failed else "PASS")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
