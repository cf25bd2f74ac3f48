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
    # the yes/no domain's prior is near 50 %, whatever the template; the template's own
    # answers are all "yes"
    assert report.templates["leaky/made"].majority < 0.6
    assert report.templates["leaky/made"].family_majority == 1.0


def _attribute(i: int, kind: str, value: str, question: str) -> InstructionSample:
    image = f"img{i // 4}"
    return InstructionSample(
        id=f"attr{i}", images=[image], question=question, answer=value, form="short",
        answer_value=value, answer_type="attribute",
        provenance=Provenance(source="test", image_ids=[image], generator="query_attribute",
                              generator_version="1", family="attribute", template=kind,
                              extra={"balance_key": f"query_attribute:{kind}#{kind}"}),
    )


def test_answer_domains_are_the_question_not_a_leak() -> None:
    """A family asking colors (8 values) and materials (2 values), each uniform: the text tells
    the domain, never the value, so the domain's majority is the baseline and nothing is
    flagged; a whole-family majority (4/16 + ...) would call the question type a leak."""
    rng = random.Random(1)
    colors = ["red", "blue", "green", "gray", "brown", "cyan", "purple", "yellow"]
    out = []
    for i in range(1600):
        if i % 2:
            out.append(_attribute(i, "material", rng.choice(["metal", "rubber"]),
                                  f"What material is the {rng.choice(colors)} cube made of?"))
        else:
            out.append(_attribute(i, "color", rng.choice(colors),
                                  f"What color is the {rng.choice(['small', 'large'])} cube?"))
    family = blind_report(out).families["attribute"]
    assert family.blind > family.family_majority + 0.04  # it learns the domain
    assert abs(family.chance - (0.5 + 1 / 8) / 2) < 0.01
    assert family.advantage < 0.05


def test_chance_of_a_choice_among_the_named_objects() -> None:
    """"Of A, B, C or D, which is leftmost?" is answered by one of the k names the question
    lists (the program ends in label_of over them): chance is 1/k, and a text-only model that
    picks one of the named objects at random is at chance, not above it."""
    from scenesynth.graph import ProgramStep
    from scenesynth.quality.blind import _chance

    labels = ["sphere", "small cyan cube", "large cube", "small gray cube"]
    s = InstructionSample(
        id="x", images=["img"], question="Of the sphere, the small cyan cube, the large cube or "
        "the small gray cube, which one is farthest to the left?", answer="large cube",
        form="short", answer_value="large cube", answer_type="name",
        provenance=Provenance(source="test", image_ids=["img"], generator="extreme_leftmost",
                              generator_version="1", family="extreme", template="t",
                              program=[ProgramStep(op="label_of", inputs=[], args={
                                  "labels": labels}, output="large cube")]),
    )
    assert _chance(s, distinct=40) == 0.25


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


def test_stats_reads_an_exported_run(tmp_path: Path) -> None:
    """A ``synth`` folder holds the export, not shards: its samples are rebuilt from the
    records' metadata, so the per-template table shows the exported questions' yes shares."""
    from scenesynth.export import export_samples

    export_samples(samples(200), "llava", tmp_path, require_images=False)
    assert (tmp_path / "data.json").is_file() and not (tmp_path / "shards").exists()
    result = CliRunner().invoke(app, ["stats", str(tmp_path)])
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if "leaky/made" in line]
    assert rows and "1.00" in rows[0]  # the "made" wording: every answer yes
    assert "Template diversity" in result.output
