"""`stats`: per-template answers and diversity, and the blind (text-only) baseline that flags
families whose answers can be read from the wording."""

from __future__ import annotations

import json
import random
from pathlib import Path

from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.graph.sample import InstructionSample, Provenance
from scenesynth.quality.blind import blind_report
from scenesynth.quality.report import answer_report


def _sample(i: int, question: str, yes: bool, family: str, template: str) -> InstructionSample:
    image = f"img{i // 4}"
    return InstructionSample(
        id=f"{family}{i}", images=[image], question=question, answer="yes" if yes else "no",
        form="short", answer_value=yes, answer_type="yes_no",
        provenance=Provenance(source="test", image_ids=[image], generator=family,
                              generator_version="1", family=family, template=template),
    )


def samples(n: int = 800) -> list[InstructionSample]:
    rng = random.Random(0)
    out = []
    colors = ["red", "blue", "green", "gray"]
    for i in range(n):
        # leaky: the "made" wording always answers yes, "have" always no
        made = rng.random() < 0.5
        text = "Are the {} cube and the {} ball made of the same material?" if made else \
            "Do the {} cube and the {} ball have the same material?"
        out.append(_sample(i, text.format(*rng.sample(colors, 2)), made, "leaky",
                           "made" if made else "have"))
        # honest: the answer is random, the wording says nothing
        c = rng.choice(colors)
        out.append(_sample(i, f"Is the cube {c}?", rng.random() < 0.5, "honest", "verify"))
    return out


def test_blind_baseline_flags_the_leaky_family_only() -> None:
    report = blind_report(samples())
    assert report.flagged == ["leaky"]
    assert report.families["leaky"].blind > 0.95
    assert abs(report.families["honest"].blind - 0.5) < 0.1
    assert report.families["honest"].majority < 0.56
    assert report.templates["leaky/made"].majority == 1.0  # a template's own prior


def test_report_per_template_and_diversity() -> None:
    report = answer_report(samples())
    assert report.templates["leaky/made"].yes_share == 1.0
    assert report.templates["leaky/have"].yes_share == 0.0
    assert 0.4 < report.families["leaky"].yes_share < 0.6  # the family hides both
    assert report.diversity["leaky"].templates == 2
    assert report.diversity["honest"].templates == 1
    assert report.diversity["honest"].trigrams == 4 + 1  # "is the cube" + "the cube <c>"


def test_stats_blind_command(tmp_path: Path) -> None:
    shard = tmp_path / "shards" / "samples-000000.jsonl"
    shard.parent.mkdir(parents=True)
    shard.write_text("".join(json.dumps(s.model_dump(mode="json")) + "\n"
                             for s in samples(400)))
    result = CliRunner().invoke(app, ["stats", str(tmp_path), "--blind"])
    assert result.exit_code == 0, result.output
    assert "Answer balance by template" in result.output
    assert "Template diversity" in result.output
    assert "families flagged" in result.output and "leaky" in result.output.split(
        "families flagged")[1]
