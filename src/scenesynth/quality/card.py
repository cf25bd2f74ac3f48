"""Pieces shared by the dataset cards that `generate` and `synth` write next to their data:
answer histograms per family, markdown tables, and the atomic write of ``card.json`` and
``DATASET_CARD.md``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scenesynth.graph import SampleView
from scenesynth.ioutil import atomic_write


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


def card_answer_key(value: Any) -> str:
    """Histogram key of a typed answer: yes/no for booleans, one bucket for boxes and sets."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple | dict):
        return f"<{type(value).__name__}>"  # boxes and sets: no meaningful histogram
    return str(value)


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
