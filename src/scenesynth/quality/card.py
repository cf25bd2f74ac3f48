"""Pieces shared by the dataset cards that `generate` and `synth` write next to their data:
answer histograms per family, markdown tables, and the atomic write of ``card.json`` and
``DATASET_CARD.md``."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scenesynth.ioutil import atomic_write


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


def write_card_files(out_dir: str | Path, card: dict[str, Any], markdown: str) -> None:
    out = Path(out_dir)
    with atomic_write(out / "card.json") as fh:
        json.dump(card, fh, indent=1, sort_keys=True, ensure_ascii=False, default=str)
        fh.write("\n")
    with atomic_write(out / "DATASET_CARD.md") as fh:
        fh.write(markdown)
