"""``synth --renderer gligen`` end to end on CPU with tiny random-weight GLIGEN and OWL-ViT
models (fixtures of tests/support/tiny_models.py): every image is rendered by diffusion and either
passes the detector check or is re-rendered / dropped with the detector's reason counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

pytest.importorskip("diffusers")
from tiny_models import tiny_clip_tokenizer, tiny_gligen_dir, tiny_owlvit_dir  # noqa: F401

from scenesynth.cli import app


@pytest.mark.slow
def test_synth_gligen_renders_and_checks_with_detector(
        tmp_path: Path, tiny_gligen_dir: Path, tiny_owlvit_dir: Path) -> None:  # noqa: F811
    out = tmp_path / "run"
    result = CliRunner().invoke(app, [
        "synth", "--out", str(out), "--scenes", "2", "--objects", "2,2", "--canvas", "64",
        "--no-progress", "--renderer", "gligen", "--gligen-model", str(tiny_gligen_dir),
        "--gligen-steps", "2", "--gligen-size", "32", "--detector", str(tiny_owlvit_dir),
        "--detector-score", "0", "--detector-iou", "0", "--device", "cpu"])
    card = json.loads((out / "card.json").read_text())
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    detector_failures = [f for f in failures if f["reason"].startswith("detector")]
    graphs = (out / "graphs.jsonl").read_text().splitlines()
    # a random detector at score 0 and IoU 0 finds most objects; an image it misses one of
    # (or whose relations the detected boxes contradict) is re-rendered, then dropped, with
    # the detector's reason counted
    assert result.exit_code == 0, (result.output, failures[:3])
    assert graphs
    dropped = sum(v for k, v in card["pipeline_counters"].items() if k.startswith("dropped_"))
    assert len(graphs) + dropped == 2
    assert sum(card["failures_by_reason"].get(f["reason"], 0) for f in
               {f["reason"]: f for f in detector_failures}.values()) == len(detector_failures)
    for line in graphs:
        g = json.loads(line)
        assert g["meta"]["render"]["renderer"] == "gligen"
        assert (out / g["image"]["path"]).is_file()
    assert card["failures_by_reason"].get("relation_not_kept_after_render", 0) == 0


@pytest.mark.slow
def test_synth_gligen_detector_misses_are_counted(
        tmp_path: Path, tiny_gligen_dir: Path, tiny_owlvit_dir: Path) -> None:  # noqa: F811
    out = tmp_path / "run"
    CliRunner().invoke(app, [
        "synth", "--out", str(out), "--scenes", "1", "--objects", "2,2", "--canvas", "64",
        "--no-progress", "--renderer", "gligen", "--gligen-model", str(tiny_gligen_dir),
        "--gligen-steps", "2", "--gligen-size", "32", "--detector", str(tiny_owlvit_dir),
        "--detector-score", "1.01", "--device", "cpu"])
    card = json.loads((out / "card.json").read_text())
    # nothing scores above 1: every render is re-rendered, then the image dropped
    assert card["failures_by_reason"]["detector_object_not_detected"] >= 1
    assert card["pipeline_counters"]["rerender_detector_object_not_detected"] >= 1
    assert not (out / "graphs.jsonl").read_text().strip()
