"""The dataset card of a generation run: ``card.json`` and ``DATASET_CARD.md`` in the output.

Built in one streaming pass over the samples (the export's), so it works at any size. It holds
only facts that do not depend on how the run was executed (no timings, no worker count), so a
resumed or re-run job writes the same card byte for byte.
"""

from __future__ import annotations

import json
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from scenesynth import __version__
from scenesynth.graph import SampleView
from scenesynth.quality.card import (
    answer_distribution,
    card_answer_key,
    question_group,
    sample_sections,
)
from scenesynth.quality.card import (
    markdown_table as _table,
)
from scenesynth.quality.card_plots import CardStats, write_card_with_plots

TOP_ANSWERS = 5
# a model, or a run's stored sample read back for the export
Sample = TypeVar("Sample", bound=SampleView)


class SampleTally:
    """Counts samples by generator, family, form and answer while they stream past."""

    COMPACT_AT = 1 << 20  # question hashes kept before the first deduplication

    def __init__(self) -> None:
        self.samples = 0
        self.by_generator: Counter[str] = Counter()
        self.by_family: Counter[str] = Counter()
        self.by_form: Counter[str] = Counter()
        self.answers: defaultdict[str, Counter[str]] = defaultdict(Counter)
        # distinct questions, kept as the 64-bit hash of their group id in a packed array,
        # deduplicated when it doubles: a run of millions of samples keeps 8 bytes per
        # question instead of a set's ~70 (its int objects and slots)
        self._question_hashes = array("q")
        self._distinct_at_compaction = 0
        self.stats = CardStats()  # what the card's plots show

    def watch(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        for sample in samples:
            self.samples += 1
            self.by_generator[sample.provenance.generator] += 1
            self.by_family[sample.provenance.family] += 1
            self.by_form[str(sample.form)] += 1
            self._question_hashes.append(hash(question_group(sample)))
            if len(self._question_hashes) >= max(self.COMPACT_AT, 2 * self._distinct_at_compaction):
                self._compact_questions()
            self.answers[sample.provenance.family][card_answer_key(sample.answer_value)] += 1
            self.stats.add_sample(sample)
            yield sample

    def _compact_questions(self) -> None:
        import numpy as np  # lazy: most commands never build a card

        distinct = np.unique(np.frombuffer(self._question_hashes, dtype=np.int64))
        self._question_hashes = array("q")
        self._question_hashes.frombytes(distinct.tobytes())
        self._distinct_at_compaction = len(self._question_hashes)

    @property
    def questions(self) -> int:
        """Distinct questions (question groups) seen so far."""
        self._compact_questions()
        return self._distinct_at_compaction

    def watch_graphs(self, source: str | None, source_format: str | None) -> None:
        """Count objects and relations per image over the run's source (streamed again: the
        shards hold samples, not graphs). Graphs as loaded, before any refine step."""
        if not source or not Path(source).exists():
            return
        from scenesynth.sources import load  # lazy: the loaders pull ijson

        for graph in load(source, source_format):
            self.stats.add_graph(graph)


def build_card(
    config: dict[str, Any], manifest: dict[str, Any], tally: SampleTally, export: dict[str, Any]
) -> dict[str, Any]:
    stage_records: Counter[str] = Counter()
    stage_failed: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    tally.watch_graphs(config.get("source"), config.get("source_format"))
    for shard in manifest["shards"]:
        stage_records.update(shard["stage_records"])
        stage_failed.update(shard["stage_failed"])
        reasons.update(shard["failure_reasons"])
        counters.update(shard["counters"])
    validation = export.get("validation", {})
    return {
        "scenesynth_version": __version__,
        "config": config,
        "counts": {
            "shards": len(manifest["shards"]),
            "records": manifest["total_records"],
            "samples": manifest["total_samples"],
            "samples_exported": export.get("written"),
            "failures": manifest["total_failures"],
        },
        "stages": {
            stage: {"records": n, "failed": stage_failed.get(stage, 0)}
            for stage, n in sorted(stage_records.items())
        },
        "failures_by_reason": dict(sorted(reasons.items(), key=lambda kv: (-kv[1], kv[0]))),
        "counters": dict(sorted(counters.items())),
        "samples_by_generator": dict(sorted(tally.by_generator.items())),
        "samples_by_family": dict(sorted(tally.by_family.items())),
        "samples_by_form": dict(sorted(tally.by_form.items())),
        "questions": tally.questions,
        "answers_by_family": answer_distribution(tally.answers, TOP_ANSWERS),
        "plot_data": tally.stats.to_dict(),
        "export": {
            "format": config.get("format"),
            "validation_ok": validation.get("ok"),
            "validation_records": validation.get("records"),
            "absent_image_references": validation.get("missing_image_errors", 0),
            "files": _file_notes(export),
        },
    }


def _file_notes(export: dict[str, Any]) -> dict[str, str]:
    """Each exported file's name and how its trainer loads it, with paths relative to the run
    folder: the card must not depend on where the run was written."""
    from scenesynth.export.targets import how_to_load

    fmt = str(export.get("format", ""))
    return {
        Path(p).name: how_to_load(fmt, Path("export") / Path(p).name)
        for p in export.get("files", [])
    }


def card_markdown(card: dict[str, Any]) -> str:
    cfg, export = card["config"], card["export"]
    state = "passed" if export["validation_ok"] else "FAILED"
    parts = [
        "# Dataset card (scenesynth generate)",
        "",
        f"Instruction data generated from the scene graphs in `{cfg.get('source')}` by "
        f"scenesynth {card['scenesynth_version']}: generators {', '.join(cfg['generators'])}, "
        f"{cfg['per_image']} question(s) per image and generator, seed {cfg['seed']}. Every "
        "answer is computed from the graph and every sample carries its provenance "
        "(generator, template, program, seed).",
        "",
        f"Export: {export['format']}; validation {state} "
        f"({export['validation_records']} records"
        + (
            f", {export['absent_image_references']} reference(s) to image files not present"
            if export["absent_image_references"]
            else ""
        )
        + ").",
        "",
        *[f"- `{name}`: {how}" for name, how in export.get("files", {}).items()],
        "",
        "## Counts",
        "",
        _table(list(card["counts"].items()), ("what", "count")),
        "",
        "## Stages",
        "",
        _table(
            [(s, d["records"], d["failed"]) for s, d in card["stages"].items()],
            ("stage", "records", "failed"),
        ),
        "",
        "## Failures by reason (details in `failures.jsonl`)",
        "",
        _table(list(card["failures_by_reason"].items()) or [("none", 0)], ("reason", "count")),
        "",
        *sample_sections(card, "answers_by_family", "Answers per family"),
        "## Configuration",
        "",
        "```json",
        json.dumps(cfg, indent=2, sort_keys=True),
        "```",
        "",
    ]
    return "\n".join(parts)


def write_card(out: Path, card: dict[str, Any]) -> None:
    write_card_with_plots(out, out / "export", card, card_markdown(card),
                          pretty_name=f"scenesynth {Path(str(card['config'].get('source'))).name}")
