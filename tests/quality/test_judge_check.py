"""The image check of ``synth --judge``: a scripted judge on 127.0.0.1 denies the images that
show a bird; they are dropped, their files deleted, and the card counts them by reason."""

from __future__ import annotations

import json
from pathlib import Path

from refine_server import RoleServer
from typer.testing import CliRunner

from scenesynth.cli import app


def test_synth_judge_drops_denied_images(tmp_path: Path) -> None:
    out = tmp_path / "run"
    with RoleServer(deny=("a bird in",)) as server:
        result = CliRunner().invoke(app, [
            "synth", "--out", str(out), "--scenes", "4", "--objects", "2,3", "--canvas", "128",
            "--no-progress", "--judge", f"openai:judge@{server.base_url}"])
        assert result.exit_code == 0, result.output
        assert server.requests and server.missing_images == 0
    kept = [json.loads(line) for line in (out / "graphs.jsonl").read_text().splitlines()]
    assert kept and all("bird" not in [o["name"] for o in g["objects"]] for g in kept)
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    denied = {f["record_id"] for f in failures if f["reason"] == "judge_denied_object"}
    assert denied  # seed 0 draws a rock and a bird first
    for image_id in denied:
        assert not (out / "images" / f"{image_id}.png").exists()
    card = json.loads((out / "card.json").read_text())
    assert card["failures_by_reason"]["judge_denied_object"] == len(denied)
    assert card["pipeline_counters"]["dropped_judge_denied"] == len(denied)
    assert card["pipeline_counters"]["judge_images_checked"] == 4
    exported = (out / "data.json").read_text()
    assert all(image_id not in exported for image_id in denied)
    assert "judge_denied_object" in (out / "DATASET_CARD.md").read_text()


def test_synth_judge_spec_is_checked(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["synth", "--out", str(tmp_path / "x"), "--scenes", "1",
                                      "--judge", "judge-without-kind"])
    assert result.exit_code == 2 and "openai:NAME@URL" in result.output


def test_synth_answer_check_drops_disagreements_and_counts_agreement(tmp_path: Path) -> None:
    """The scripted judge answers "yes" to every question: the yes/no attribute and relation
    samples whose answer is "no" disagree and are dropped; agreement is counted per family."""
    out = tmp_path / "run"
    with RoleServer(deny=()) as server:
        result = CliRunner().invoke(app, [
            "synth", "--out", str(out), "--scenes", "4", "--objects", "2,3", "--canvas", "128",
            "--no-progress", "--judge", f"openai:judge@{server.base_url}",
            "--answer-check", "drop"])
        assert result.exit_code == 0, result.output
    counters = json.loads((out / "card.json").read_text())["pipeline_counters"]
    asked = {k.split(":")[1]: v for k, v in counters.items()
             if k.startswith("answer_check_asked:")}
    agreed = {k.split(":")[1]: v for k, v in counters.items()
              if k.startswith("answer_check_agreed:")}
    assert asked and set(asked) <= {"attribute", "same_attribute", "relation"}
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    dropped = [f for f in failures if f["reason"] == "judge_disagrees_answer"]
    assert len(dropped) == sum(asked.values()) - sum(agreed.values()) > 0
    assert all(f["error"].endswith(": no") for f in dropped)
    exported = (out / "data.json").read_text()
    assert all(f["record_id"] not in exported for f in dropped)  # sample ids are gone
