"""The dataset card of a run: ``card.json`` and ``DATASET_CARD.md`` in the output (one writer;
a synthesizing run adds its scenes, renders and drops: :func:`build_synthesis_card`).

Built in one streaming pass over the samples (the export's), so it works at any size; the
source graphs' counts come from the shards' manifest entries (each shard counted the graphs it
loaded), so the source is not read again. It holds only facts that do not depend on how the run
was executed (no timings, no worker count), so a resumed or re-run job writes the same card
byte for byte.
"""

from __future__ import annotations

import json
import os
from array import array
from collections import Counter, defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from scenesynth import __version__
from scenesynth.graph import InstructionSample, SampleView, SceneGraph
from scenesynth.ioutil import atomic_write
from scenesynth.quality.card_plots import (
    CardStats,
    card_answer_key,
    hub_data_files,
    hub_readme,
    write_plots,
)

TOP_ANSWERS = 5
TOP_SYNTH_ANSWERS = 10  # a synthesized run's card lists more answers per family


def question_group(sample: SampleView) -> str:
    """The id shared by the forms (short, mc, yes_no) of one question: the generator's
    ``provenance.extra["question_group"]``; a sample without one is its own group."""
    group = sample.provenance.extra.get("question_group")
    return group if isinstance(group, str) else sample.id


FORMS_NOTE = (
    "Each question is exported once per answer form it takes (short, multiple choice, yes/no), "
    "as separate records of the same image(s) and question; the records of one question share "
    "`metadata.provenance.extra.question_group`. To train on each question once, keep one "
    "record per group, or generate one form (`generate --forms short`)."
)


def answer_distribution(
    answers_by_family: Mapping[str, Counter[str]], top: int
) -> dict[str, dict[str, Any]]:
    """Per family: distinct answers, the largest answer share, and the ``top`` answers (ties
    broken by answer text, so the card is deterministic)."""
    return {
        family: {
            "distinct": len(counts),
            "max_share": round(max(counts.values()) / sum(counts.values()), 4),
            "top": sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:top],
        }
        for family, counts in sorted(answers_by_family.items())
        if counts
    }


def markdown_table(rows: list[tuple[Any, ...]], header: tuple[str, ...]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def sample_sections(card: Mapping[str, Any], answers_key: str, answers_heading: str,
                    top: int | None = None) -> list[str]:
    """The markdown sections every dataset card has: samples by generator, samples by form,
    and the answer distribution per family (``card[answers_key]``, from
    :func:`answer_distribution`; at most ``top`` answers listed per family)."""
    return [
        "## Samples by generator",
        "",
        markdown_table(list(card["samples_by_generator"].items()), ("generator", "samples")),
        "",
        "## Samples by form",
        "",
        FORMS_NOTE + f" Here: {sum(card['samples_by_form'].values())} records of "
        f"{card.get('questions', '?')} questions.",
        "",
        markdown_table(list(card["samples_by_form"].items()), ("form", "samples")),
        "",
        f"## {answers_heading}",
        "",
        markdown_table(
            [(family, d["distinct"], d["max_share"],
              ", ".join(f"{a} ({n})" for a, n in d["top"][:top]))
             for family, d in card[answers_key].items()],
            ("family", "distinct answers", "largest share", "top answers"),
        ),
        "",
    ]


def write_card_files(out_dir: str | Path, card: dict[str, Any], markdown: str) -> None:
    out = Path(out_dir)
    with atomic_write(out / "card.json") as fh:
        json.dump(card, fh, indent=1, sort_keys=True, ensure_ascii=False, default=str)
        fh.write("\n")
    with atomic_write(out / "DATASET_CARD.md") as fh:
        fh.write(markdown)


def write_card_with_plots(
    run_dir: str | Path, export_dir: str | Path, card: dict[str, Any], markdown: str,
    pretty_name: str,
) -> None:
    """``card.json`` and ``DATASET_CARD.md`` in ``run_dir`` with the plots of
    ``card["plot_data"]`` (PNGs in ``export_dir/plots``, or ``run_dir/plots`` when the export
    folder holds no file), and ``export_dir/README.md``: the same
    card with the Hub's YAML ``configs`` for the folder's Parquet files, so
    ``datasets.load_dataset(export_dir)`` and a Hub upload of the folder both read it."""
    run, export = Path(run_dir), Path(export_dir)
    stats = card.get("plot_data") or {}
    data_files = hub_data_files(export)
    # Plots travel with a published export; a run that published nothing keeps them beside its
    # card, so a failed export folder stays empty.
    published = export.is_dir() and any(p.is_file() for p in export.iterdir())
    plots = export / "plots" if published else run / "plots"
    prefix = Path(os.path.relpath(plots, run)).as_posix() + "/"
    section = write_plots(stats, plots, prefix)
    write_card_files(run, card, markdown + "\n".join(section))
    if data_files:
        local = [line.replace(f"]({prefix}", "](plots/") for line in section]
        with atomic_write(export / "README.md") as fh:
            fh.write(hub_readme(markdown + "\n".join(local), data_files, pretty_name))


# a model, or a run's stored sample read back for the export
Sample = TypeVar("Sample", bound=SampleView)


class DistinctHashes:
    """How many distinct 64-bit hashes were added, in 8 bytes per distinct hash (a set would
    take ~70: its int objects and slots). The hashes go to a packed array that is sorted and
    deduplicated in place whenever it has doubled since the last time; a hash equal to the
    one added just before is not stored again (the forms of one question come one after
    another), so the array stays near the distinct count and its deduplication needs no copy
    of it."""

    COMPACT_AT = 1 << 20  # hashes kept before the first deduplication

    def __init__(self) -> None:
        self._hashes = array("q")
        self._distinct_at_compaction = 0
        self._last: int | None = None

    def add(self, value: int) -> None:
        if value == self._last:
            return
        self._last = value
        self._hashes.append(value)
        if len(self._hashes) >= max(self.COMPACT_AT, 2 * self._distinct_at_compaction):
            self._compact()

    def _compact(self) -> None:
        import numpy as np  # lazy: most commands never build a card

        n = len(self._hashes)
        if n > 1:
            hashes = np.frombuffer(self._hashes, dtype=np.int64)  # the array's own memory
            hashes.sort()
            first = np.empty(n, dtype=bool)  # first of its run of equal hashes
            first[0] = True
            np.not_equal(hashes[1:], hashes[:-1], out=first[1:])
            n = int(np.count_nonzero(first))
            if n < len(hashes):
                hashes[:n] = hashes[first]
            del hashes, first  # release the array's buffer: it is resized next
            del self._hashes[n:]
        self._distinct_at_compaction = n

    def __len__(self) -> int:
        self._compact()
        return self._distinct_at_compaction


class SampleTally:
    """Counts samples by generator, family, form and answer while they stream past."""

    def __init__(self) -> None:
        self.samples = 0
        self.by_generator: Counter[str] = Counter()
        self.by_family: Counter[str] = Counter()
        self.by_form: Counter[str] = Counter()
        self._questions = DistinctHashes()  # question groups, by the hash of their id
        self.stats = CardStats()  # what the card's plots show

    @property
    def answers(self) -> defaultdict[str, Counter[str]]:
        """Answer counts per family (the plots' counts: one tally, read by both)."""
        return self.stats.answers

    def watch(self, samples: Iterable[Sample]) -> Iterator[Sample]:
        for sample in samples:
            self.samples += 1
            self.by_generator[sample.provenance.generator] += 1
            self.by_family[sample.provenance.family] += 1
            self.by_form[str(sample.form)] += 1
            self._questions.add(hash(question_group(sample)))
            self.stats.add_sample(sample)
            yield sample

    @property
    def questions(self) -> int:
        """Distinct questions (question groups) seen so far."""
        return len(self._questions)


def build_card(
    config: dict[str, Any], manifest: dict[str, Any], tally: SampleTally, export: dict[str, Any]
) -> dict[str, Any]:
    stage_records: Counter[str] = Counter()
    stage_failed: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    for shard in manifest["shards"]:
        # graphs as loaded, before any refine step: counted by the shard that read them
        tally.stats.graphs.merge_dict(shard["graph_counts"])
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
        markdown_table(list(card["counts"].items()), ("what", "count")),
        "",
        "## Stages",
        "",
        markdown_table(
            [(s, d["records"], d["failed"]) for s, d in card["stages"].items()],
            ("stage", "records", "failed"),
        ),
        "",
        "## Failures by reason (details in `failures.jsonl`)",
        "",
        markdown_table(list(card["failures_by_reason"].items()) or [("none", 0)],
                       ("reason", "count")),
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


# -- synthesizing runs ----------------------------------------------------------------------


def build_synthesis_card(
    config: dict[str, Any],
    graphs: Sequence[SceneGraph],
    samples: Sequence[InstructionSample],
    failure_reasons: Counter[str],
    counters: Counter[str],
    export: Any,
    checked: Any = None,
    llm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The card of a synthesizing run. Like the dataset card it holds no timings (those are in
    ``summary.json``), so a resumed run writes it byte for byte; ``llm`` (the model client's
    statistics) is the exception: it describes the requests this process made."""
    predicates = Counter(r.predicate for g in graphs for r in g.relations)
    scenes = Counter(str(g.meta.get("scene", "unknown")) for g in graphs)
    objects = Counter(o.name for g in graphs for o in g.objects)
    by_generator = Counter(s.provenance.generator for s in samples)
    by_family = Counter(s.provenance.family for s in samples)
    by_form = Counter(str(s.form) for s in samples)
    answers: dict[str, Counter[str]] = defaultdict(Counter)
    for s in samples:
        answers[s.provenance.family][card_answer_key(s.answer_value)] += 1
    distribution = answer_distribution(answers, TOP_SYNTH_ANSWERS)
    yes_no = Counter(
        card_answer_key(s.answer_value) for s in samples if isinstance(s.answer_value, bool)
    )
    report = export.validation
    stats = CardStats()
    for graph in graphs:
        stats.add_graph(graph)
    for sample in samples:
        stats.add_sample(sample)
    synth = config["synthesize"]
    card: dict[str, Any] = {
        "scenesynth_version": __version__,
        "config": config,
        "counts": {
            "images_requested": synth["scenes"],
            "images": len(graphs),
            "images_dropped": sum(v for k, v in counters.items() if k.startswith("dropped_")),
            "objects": sum(len(g.objects) for g in graphs),
            "relations": sum(len(g.relations) for g in graphs),
            "samples_generated": len(samples),
            "samples_exported": getattr(export, "n_written", None),
            "samples_per_image": round(len(samples) / len(graphs), 3) if graphs else 0.0,
        },
        "pipeline_counters": dict(sorted(counters.items())),
        "failures_by_reason": dict(sorted(failure_reasons.items(),
                                          key=lambda kv: (-kv[1], kv[0]))),
        "relation_distribution": dict(predicates.most_common()),
        "scene_distribution": dict(scenes.most_common()),
        "object_distribution_top": objects.most_common(30),
        "samples_by_generator": dict(sorted(by_generator.items())),
        "samples_by_family": dict(sorted(by_family.items())),
        "samples_by_form": dict(sorted(by_form.items())),
        "questions": len({question_group(s) for s in samples}),
        "answer_distribution": distribution,
        "yes_no_balance": dict(yes_no),
        "plot_data": stats.to_dict(),
        "export": {
            "format": config["format"],
            "paths": [Path(p).name for p in export.paths],
            "validation_ok": bool(report is not None and report.ok),
            "validation_records": getattr(report, "n_records", 0),
            "validation_errors": list(getattr(report, "errors", []))[:20],
            # export/check.py: problems by kind (text read back; references by geometry)
            "check_problems": dict(sorted(checked.counts().items())) if checked else {},
        },
    }
    if llm is not None:
        card["llm"] = llm
    return card


def llm_section(llm: dict[str, Any]) -> list[str]:
    """The model client's requests, strategy, latency and every rejection by reason."""
    lat = llm["latency_s"]
    rows = [
        ("structured output", llm["strategy"] or "none (every answer from the cache)"),
        ("requests", llm["requests"]),
        ("probe requests (GET /models)", llm["probe_requests"]),
        ("requests refused for their form (wasted)", llm["wasted_requests"]),
        ("answers from the cache", llm["cache_hits"]),
        ("answers accepted", llm["responses_accepted"]),
        # streamed answers of llama.cpp carry no usage: their chunks are about one token each
        ("tokens prompt / completion (streamed chunks)",
         f"{llm['tokens']['prompt']} / {llm['tokens']['completion']} "
         f"({llm['tokens']['stream_chunks']})"),
        ("latency p50 / p90 / max (s)", f"{lat['p50']} / {lat['p90']} / {lat['max']}"),
    ]
    return [
        "## Model requests (LLM knowledge source)",
        "",
        "How the structured-output form was chosen: " + ("; ".join(llm["strategy_notes"])
                                                          or "not needed"),
        "",
        markdown_table(rows, ("what", "value")),
        "",
        "Retries by reason:",
        "",
        markdown_table(list(llm["retries"].items()) or [("none", 0)], ("reason", "retries")),
        "",
        "Rejections (answers, objects, triplets, absent objects, scenes) and repairs by "
        "reason; each one is also a line in `failures.jsonl` (stage `llm`):",
        "",
        markdown_table(list(llm["rejections"].items()) + [(f"repaired: {k}", v) for k, v in
                                                   llm["repairs"].items()] or [("none", 0)],
               ("reason", "count")),
        "",
    ]


def synthesis_card_markdown(card: dict[str, Any]) -> str:
    c = card["counts"]
    parts = [
        "# Dataset card (scenesynth synthetic scenes)",
        "",
        "Images are rendered by the scenesynth CPU renderer from spatial knowledge graphs laid "
        "out by the layout solver; every object box, mask and depth is exact by construction, "
        "and every relation was re-derived from the rendered geometry before questions were "
        "generated. Every sample carries its provenance (generator, template, program, seed).",
        "",
        "Objects are drawn with OpenMoji emoji: \"All emojis designed by OpenMoji - the "
        "open-source emoji and icon project. License: CC BY-SA 4.0\" "
        "(https://creativecommons.org/licenses/by-sa/4.0/). The images contain this artwork: "
        "keep this attribution and share them under the same terms.",
        "",
        f"scenesynth {card['scenesynth_version']}; seed {card['config'].get('seed')}; "
        f"format {card['export']['format']}; validation "
        f"{'passed' if card['export']['validation_ok'] else 'FAILED'} "
        f"({card['export']['validation_records']} records); export check "
        + (", ".join(f"{n} {k}" for k, n in card["export"]["check_problems"].items())
           or "clean") + ".",
        "",
        "## Counts",
        "",
        markdown_table([(k, v) for k, v in c.items()], ("what", "count")),
        "",
        "## Failures and drops by reason",
        "",
        "Every event is in `failures.jsonl`. A KG that no layout satisfies is replaced by a "
        "fresh one (`kg_resampled`), a render that broke a relation is laid out again "
        "(`relayout_relation_not_kept`); an image is dropped (`dropped_*`) only when the retries "
        "are exhausted. Objects under the visible-pixel threshold are removed with their "
        "relations (`objects_dropped_small`).",
        "",
        markdown_table(list(card["failures_by_reason"].items()) or [("none", 0)],
                       ("reason", "count")),
        "",
        markdown_table(list(card["pipeline_counters"].items()) or [("none", 0)],
                       ("counter", "value")),
        "",
        "## Relations in the scene graphs",
        "",
        markdown_table(list(card["relation_distribution"].items()), ("predicate", "count")),
        "",
        *sample_sections(card, "answer_distribution", "Answer distribution per family", top=5),
        f"Yes/no answers: {card['yes_no_balance']}",
        "",
        "## Scenes",
        "",
        markdown_table(list(card["scene_distribution"].items())[:30], ("scene", "images")),
        "",
    ]
    if card.get("llm") is not None:
        parts.extend(llm_section(card["llm"]))
    return "\n".join(parts)


def write_synthesis_card(out_dir: str | Path, card: dict[str, Any]) -> None:
    # a synthesizing run writes its export into the run folder itself (beside images/)
    write_card_with_plots(out_dir, out_dir, card, synthesis_card_markdown(card),
                          pretty_name="scenesynth synthetic scenes")
