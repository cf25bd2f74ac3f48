"""Does the independent checker (``tests/support/checker/``) agree with every sample of a run?

Reads a ``generate`` run folder (samples from ``shards/``, graphs re-read from the source its
manifest names) or a ``synth`` folder (samples rebuilt from the export's metadata, graphs from
``graphs.jsonl``) through :class:`scenesynth.rundata.RunData`, re-executes every stored program
with the checker's own op implementations, and compares every step, the typed answer and the
rendered text. Prints the counts per generator and the first disagreements; exit status 1 when
any sample disagrees or the run holds fewer than ``--min-samples``. Usage (issue 18)::

    scenesynth generate --source ../shared/data/clevr/CLEVR_train_scenes_1000.json \\
        --generators all --per-image 3 --format parquet --seed 0 --out clevr_qa --workers 2
    python bench/checker_agreement.py clevr_qa
    scenesynth synth --scenes 400 --out synth_run --seed 3 --workers 2
    python bench/checker_agreement.py synth_run
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "support"))

from checker import check_sample

from scenesynth.rundata import RunData


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run", type=Path)
    parser.add_argument("--min-samples", type=int, default=20_000)
    args = parser.parse_args(argv)

    run = RunData(args.run)
    samples = list(run.samples())
    graphs = run.graphs({i for s in samples for i in s.provenance.image_ids})
    per_generator: Counter[str] = Counter()
    wrong: Counter[str] = Counter()
    problems: list[str] = []
    for sample in samples:
        found = check_sample(sample, graphs)
        per_generator[sample.provenance.generator] += 1
        if found:
            wrong[sample.provenance.generator] += 1
            problems.extend(found)
    agreed = len(samples) - sum(wrong.values())
    print(f"{args.run}: {len(samples)} samples of {len(per_generator)} generators on "
          f"{len(graphs)} graphs; the checker agrees with {agreed} "
          f"({agreed / max(len(samples), 1):.2%})")
    for generator, n in sorted(per_generator.items()):
        print(f"  {generator:32s} {n:6d}" + (f"  {wrong[generator]} disagree"
                                             if wrong[generator] else ""))
    for line in problems[:20]:
        print("  ", line)
    if len(samples) < args.min_samples:
        print(f"FAIL: fewer than {args.min_samples} samples")
        return 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
