"""The data verbs end to end through Typer's runner, on the shared samples."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.graph import graph_from_json, scene_graph_json_schema

runner = CliRunner()


def test_convert_writes_graph_jsonl(shared_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "gqa.jsonl"
    result = runner.invoke(app, ["convert", str(shared_data / "gqa"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 4 graphs" in result.output
    graphs = [graph_from_json(line) for line in out.read_text().splitlines()]
    assert [g.image.id for g in graphs] == ["2375429", "2354786", "2336498", "2315892"]
    assert sum(len(g.relations) for g in graphs) == 178
    assert "debug_programs.json" in result.output  # the ignored file is reported


def test_convert_reports_and_skips_bad_records(shared_data: Path, tmp_path: Path) -> None:
    data = json.loads((shared_data / "gqa" / "debug_sceneGraphs.json").read_text())
    data["2354786"]["objects"]["2486325"]["x"] = "abc"
    src = tmp_path / "bad.json"
    src.write_text(json.dumps(data))
    out = tmp_path / "out.jsonl"
    result = runner.invoke(app, ["convert", str(src), "-o", str(out), "--format", "gqa"])
    assert result.exit_code == 0, result.output
    assert "1 errors" in result.output
    assert f"{src}: record image 2354786: objects['2486325'].x: expected a number" in result.output
    assert len(out.read_text().splitlines()) == 4

    strict = runner.invoke(app, ["convert", str(src), "-o", str(tmp_path / "s.jsonl"), "--strict"])
    assert strict.exit_code == 1
    assert "objects['2486325'].x" in strict.output and "nothing written" in strict.output
    assert not (tmp_path / "s.jsonl").exists()


def test_stats_counts(shared_data: Path) -> None:
    result = runner.invoke(app, ["stats", str(shared_data / "visual_genome"), "--top", "3"])
    assert result.exit_code == 0, result.output
    rows = {
        cells[0]: cells[1]
        for line in result.output.splitlines()
        if (cells := [c.strip() for c in line.strip("│┃ ").split("│")]) and len(cells) == 2
    }
    assert rows["images"] == "5" and rows["objects"] == "177" and rows["relations"] == "158"
    assert rows["images from visual_genome"] == "5"
    assert "spatial" in result.output and "functional" in result.output


def test_validate_graph_file(shared_data: Path, tmp_path: Path) -> None:
    scenes = shared_data / "clevr" / "CLEVR_train_scenes_1000.json"
    good = runner.invoke(app, ["validate", str(scenes)])
    assert good.exit_code == 0, good.output
    assert "1000 valid scene graphs" in good.output

    out = tmp_path / "g.jsonl"
    gqa = shared_data / "gqa" / "debug_sceneGraphs.json"
    assert runner.invoke(app, ["convert", str(gqa), "-o", str(out)]).exit_code == 0
    lines = out.read_text().splitlines()
    record = json.loads(lines[0])
    record["relations"][0]["object"] = "ghost"
    lines[0] = json.dumps(record)
    out.write_text("\n".join(lines) + "\n")
    bad = runner.invoke(app, ["validate", str(out)])
    assert bad.exit_code == 1
    assert "record line 1 (image 2375429): relations[0].object" in bad.output
    missing = runner.invoke(app, ["validate", str(tmp_path / "nothing.json")])
    assert missing.exit_code != 0 and "nothing.json" in missing.output


def test_validate_instruction_export(tmp_path: Path) -> None:
    Image.new("RGB", (8, 8), "red").save(tmp_path / "a.jpg")
    record = {
        "id": "q1", "image": "a.jpg",
        "conversations": [
            {"from": "human", "value": "<image>\nWhat color is the square?"},
            {"from": "gpt", "value": "Red."},
        ],
    }
    good = tmp_path / "data.json"
    good.write_text(json.dumps([record]))
    ok = runner.invoke(app, ["validate", str(good), "--format", "llava"])
    assert ok.exit_code == 0, ok.output
    auto = runner.invoke(app, ["validate", str(good)])  # not a scene graph: export validator
    assert auto.exit_code == 0, auto.output

    record["image"] = "missing.jpg"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([record]))
    failed = runner.invoke(app, ["validate", str(bad), "--format", "llava"])
    assert failed.exit_code == 1
    assert "missing.jpg" in failed.output


def test_schema(tmp_path: Path) -> None:
    out = tmp_path / "schema.json"
    result = runner.invoke(app, ["schema", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text()) == json.loads(json.dumps(scene_graph_json_schema()))


def test_stats_on_generated_samples_reports_answer_balance(
    shared_data: Path, tmp_path: Path
) -> None:
    from scenesynth.generators.base import GenConfig
    from scenesynth.graph import AnswerForm
    from scenesynth.pipeline.shard import generate_shard
    from scenesynth.sources import load

    graphs = list(load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"))[:30]
    result = generate_shard(
        graphs, ["exist_object", "count_objects"], 3,
        (AnswerForm.SHORT, AnswerForm.MULTIPLE_CHOICE, AnswerForm.YES_NO), 7, GenConfig(), None,
    )
    samples = tmp_path / "samples.jsonl"
    samples.write_text("".join(s.model_dump_json() + "\n" for s in result.samples))
    out = runner.invoke(app, ["stats", str(samples)], terminal_width=200)
    assert out.exit_code == 0, out.output
    assert "Answer balance by family" in out.output
    assert "existence" in out.output and "counting" in out.output
    bad = tmp_path / "bad.jsonl"
    bad.write_text(samples.read_text().splitlines()[0] + "\n" + '{"question": 1}\n')
    out = runner.invoke(app, ["stats", str(bad)])
    assert out.exit_code == 2
