"""The dataset card written next to synthesized data: ``card.json`` and ``DATASET_CARD.md``."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, is_dataclass
from pathlib import Path
from typing import Any

from scenesynth import __version__
from scenesynth.graph import InstructionSample, SceneGraph
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

TOP_ANSWERS = 10


def build_card(
    config: Any,
    graphs: Sequence[SceneGraph],
    samples: Sequence[InstructionSample],
    failures: Sequence[Any],
    counters: Counter[str],
    seconds: dict[str, float],
    export: Any,
    report: Any,
    checked: Any = None,
    llm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    predicates = Counter(r.predicate for g in graphs for r in g.relations)
    scenes = Counter(str(g.meta.get("scene", "unknown")) for g in graphs)
    objects = Counter(o.name for g in graphs for o in g.objects)
    by_generator = Counter(s.provenance.generator for s in samples)
    by_family = Counter(s.provenance.family for s in samples)
    by_form = Counter(str(s.form) for s in samples)
    answers: dict[str, Counter[str]] = defaultdict(Counter)
    for s in samples:
        answers[s.provenance.family][card_answer_key(s.answer_value)] += 1
    distribution = answer_distribution(answers, TOP_ANSWERS)
    yes_no = Counter(
        card_answer_key(s.answer_value) for s in samples if isinstance(s.answer_value, bool)
    )
    failures_by_reason = Counter(f.reason for f in failures)
    stats = CardStats()
    for graph in graphs:
        stats.add_graph(graph)
    for sample in samples:
        stats.add_sample(sample)
    cfg = asdict(config) if is_dataclass(config) and not isinstance(config, type) else {}
    llm_config = getattr(config, "llm", None)
    if llm_config is not None and hasattr(llm_config, "redacted"):
        cfg["llm"] = llm_config.redacted()  # never the API key
    card: dict[str, Any] = {
        "scenesynth_version": __version__,
        "config": cfg,
        "counts": {
            "images_requested": getattr(config, "scenes", None),
            "images": len(graphs),
            "images_dropped": sum(v for k, v in counters.items() if k.startswith("dropped_")),
            "objects": sum(len(g.objects) for g in graphs),
            "relations": sum(len(g.relations) for g in graphs),
            "samples_generated": len(samples),
            "samples_exported": getattr(export, "n_written", None),
            "samples_per_image": round(len(samples) / len(graphs), 3) if graphs else 0.0,
        },
        "pipeline_counters": dict(sorted(counters.items())),
        "failures_by_reason": dict(failures_by_reason.most_common()),
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
            "format": getattr(config, "fmt", None),
            "paths": [str(p) for p in getattr(export, "paths", [])],
            "validation_ok": bool(report is not None and report.ok),
            "validation_records": getattr(report, "n_records", 0),
            "validation_errors": list(getattr(report, "errors", []))[:20],
            # export/check.py: problems by kind (text read back; references by geometry)
            "check_problems": dict(sorted(checked.counts().items())) if checked else {},
        },
        "seconds": {k: round(v, 3) for k, v in sorted(seconds.items())},
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
        _table(rows, ("what", "value")),
        "",
        "Retries by reason:",
        "",
        _table(list(llm["retries"].items()) or [("none", 0)], ("reason", "retries")),
        "",
        "Rejections (answers, objects, triplets, absent objects, scenes) and repairs by "
        "reason; each one is also a line in `failures.jsonl` (stage `llm`):",
        "",
        _table(list(llm["rejections"].items()) + [(f"repaired: {k}", v) for k, v in
                                                   llm["repairs"].items()] or [("none", 0)],
               ("reason", "count")),
        "",
    ]


def card_markdown(card: dict[str, Any]) -> str:
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
        _table([(k, v) for k, v in c.items()], ("what", "count")),
        "",
        "## Failures and drops by reason",
        "",
        "Every event is in `failures.jsonl`. A KG that no layout satisfies is replaced by a "
        "fresh one (`kg_resampled`), a render that broke a relation is laid out again "
        "(`relayout_relation_not_kept`); an image is dropped (`dropped_*`) only when the retries "
        "are exhausted. Objects under the visible-pixel threshold are removed with their "
        "relations (`objects_dropped_small`).",
        "",
        _table(list(card["failures_by_reason"].items()) or [("none", 0)], ("reason", "count")),
        "",
        _table(list(card["pipeline_counters"].items()) or [("none", 0)], ("counter", "value")),
        "",
        "## Relations in the scene graphs",
        "",
        _table(list(card["relation_distribution"].items()), ("predicate", "count")),
        "",
        *sample_sections(card, "answer_distribution", "Answer distribution per family", top=5),
        f"Yes/no answers: {card['yes_no_balance']}",
        "",
        "## Scenes",
        "",
        _table(list(card["scene_distribution"].items())[:30], ("scene", "images")),
        "",
        "## Timing (seconds)",
        "",
        _table(list(card["seconds"].items()), ("stage", "seconds")),
        "",
    ]
    if card.get("llm") is not None:
        parts.extend(llm_section(card["llm"]))
    return "\n".join(parts)


def write_card(out_dir: str | Path, card: dict[str, Any]) -> None:
    # synth writes its export into the run folder itself.
    write_card_with_plots(out_dir, out_dir, card, card_markdown(card),
                          pretty_name="scenesynth synthetic scenes")
