"""CLI: ``scenesynth generate`` and ``scenesynth run --config`` on real data samples."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.graph import graph_to_json
from scenesynth.pipeline.synthetic import synthetic_graph

runner = CliRunner()


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.open()]


def test_generate_on_gqa_writes_shards_export_and_manifest(
    shared_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "gqa"
    args = [
        "generate",
        "--source", str(shared_data / "gqa" / "debug_sceneGraphs.json"),
        "--generators", "exist_object,count_objects,query_attribute",
        "--per-image", "2",
        "--format", "sharegpt",
        "--seed", "5",
        "--out", str(out),
        "--workers", "1",
        "--shard-size", "3",
        "--no-progress",
    ]  # fmt: skip
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    # 4 GQA graphs in shards of 3: records 0-3 and 3-4.
    assert [(s["record_start"], s["record_end"]) for s in manifest["shards"]] == [(0, 3), (3, 4)]
    assert manifest["config"]["generators"] == ["exist_object", "count_objects", "query_attribute"]
    assert manifest["config"]["seed"] == 5 and manifest["config"]["format"] == "sharegpt"
    samples = _lines(out / "shards" / "samples-000000.jsonl") + _lines(
        out / "shards" / "samples-000001.jsonl"
    )
    assert manifest["total_samples"] == len(samples) > 0
    assert {s["provenance"]["generator"] for s in samples} <= {
        "exist_object",
        "count_objects",
        "query_attribute",
    }
    assert {s["provenance"]["image_ids"][0] for s in samples} == {
        "2375429",
        "2354786",
        "2336498",
        "2315892",
    }
    exported = json.loads((out / "export" / "data.json").read_text())
    assert [r["id"] for r in exported] == [s["id"] for s in samples]
    assert f"{len(samples)} samples from 4 records in 2 shards" in result.output
    assert "generate: 0 of 4 records failed" in result.output

    # The same command again resumes: everything is verified and skipped, bytes unchanged.
    before = (out / "shards" / "samples-000001.jsonl").read_bytes()
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    assert "(2 resumed)" in again.output
    assert (out / "shards" / "samples-000001.jsonl").read_bytes() == before


def test_run_with_toml_config_and_override(shared_data: Path, tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        f'source = "{shared_data / "clevr" / "CLEVR_train_scenes_1000.json"}"\n'
        f'out = "{tmp_path / "clevr"}"\n'
        'generators = ["count_objects"]\n'
        'per_image = 1\nshard_size = 250\nformat = "llava"\nprogress = false\n'
    )
    result = runner.invoke(app, ["run", "--config", str(config), "--workers", "2"])
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "clevr" / "manifest.json").read_text())
    assert manifest["num_shards"] == 4 and manifest["total_records"] == 1000
    summary = json.loads((tmp_path / "clevr" / "summary.json").read_text())
    assert summary["workers"] == 2
    assert summary["export"]["validation"]["records"] == manifest["total_samples"]
    assert summary["export"]["validation"]["ok"] is True


def test_bad_config_names_file_and_field(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("source: x.json\nout: o\nper_image: -3\n")
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == 2
    assert str(config) in result.output and "field 'per_image'" in result.output


def test_missing_source_and_unknown_generator_exit_2(shared_data: Path, tmp_path: Path) -> None:
    missing = runner.invoke(
        app, ["generate", "--source", str(tmp_path / "nope.json"), "--out", str(tmp_path / "o")]
    )
    assert missing.exit_code == 2
    assert "nope.json" in missing.output
    assert not (tmp_path / "o").exists()
    unknown = runner.invoke(
        app,
        [
            "generate",
            "--source", str(shared_data / "gqa" / "debug_sceneGraphs.json"),
            "--generators", "no_such_generator",
            "--out", str(tmp_path / "u"),
            "--workers", "1",
            "--no-progress",
        ],
    )  # fmt: skip
    assert unknown.exit_code == 2
    assert "field 'generators': unknown generator(s) no_such_generator" in unknown.output
    assert not (tmp_path / "u").exists()  # refused before anything was written


def test_failure_rate_guard_exits_3(tmp_path: Path) -> None:
    source = tmp_path / "half_broken.jsonl"
    lines = [graph_to_json(synthetic_graph(1, i)) for i in range(10)]
    lines[1::2] = [line[:40] for line in lines[1::2]]  # 5 of 10 records truncated
    source.write_text("\n".join(lines) + "\n")
    result = runner.invoke(
        app,
        [
            "generate",
            "--source", str(source),
            "--generators", "count_objects",
            "--out", str(tmp_path / "r"),
            "--workers", "1",
            "--max-failure-rate", "0.2",
            "--no-progress",
        ],
    )  # fmt: skip
    assert result.exit_code == 3
    assert "stage 'load' failed on 5 of 10 records (50.00%)" in result.output
    assert "max_failure_rate 20.00%" in result.output
