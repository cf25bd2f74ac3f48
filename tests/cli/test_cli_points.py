"""The command-line points of issue 15 (item 6), each checked on what the user sees."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from scenesynth.cli import app

REPO = Path(__file__).resolve().parents[2]
runner = CliRunner()


@pytest.fixture(scope="module")
def clevr_subset(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 20 CLEVR scenes; like the shared file, without image files."""
    data = json.loads((shared_data / "clevr" / "CLEVR_train_scenes_1000.json").read_text())
    data["scenes"] = data["scenes"][:20]
    path = tmp_path_factory.mktemp("clevr") / "CLEVR_scenes_20.json"
    path.write_text(json.dumps(data))
    return path


def _generate(source: Path, out: Path, *extra: str) -> object:
    return runner.invoke(app, [
        "generate", "--source", str(source), "--per-image", "1", "--seed", "0",
        "--out", str(out), "--workers", "1", "--no-progress", *extra,
    ])


def _error_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error:")]


# (a) the README's generate -> validate sequence


def test_readme_generate_then_validate(clevr_subset: Path, shared_data: Path,
                                       tmp_path: Path) -> None:
    out = tmp_path / "clevr_qa"
    result = _generate(clevr_subset, out, "--generators", "all", "--format", "parquet")
    assert result.exit_code == 0, result.output
    # CLEVR's scenes ship without images: validate says so and how to accept it
    plain = runner.invoke(app, ["validate", str(out / "export")])
    assert plain.exit_code == 1
    assert "hint: for an export made without its images add --no-images" in plain.output
    accepted = runner.invoke(app, ["validate", str(out / "export"), "--no-images"])
    assert accepted.exit_code == 0, accepted.output
    assert "reference(s) to absent image files accepted (--no-images)" in accepted.output

    # COCO: the photos sit in the source's folder, and validate finds them there
    coco = tmp_path / "coco_qa"
    assert _generate(shared_data / "coco_panoptic", coco, "--generators",
                     "count_objects").exit_code == 0
    result = runner.invoke(app, ["validate", str(coco / "export")])
    assert result.exit_code == 0 and "OK" in result.output, result.output


def test_validate_image_root_finds_images_kept_elsewhere(shared_data: Path,
                                                         tmp_path: Path) -> None:
    # Exported while the photos were elsewhere: the paths stay as the source gave them.
    empty = tmp_path / "no_images_here"
    empty.mkdir()
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump({
        "source": str(shared_data / "coco_panoptic"), "out": str(tmp_path / "run"),
        "generators": ["count_objects"], "per_image": 1, "workers": 1, "progress": False,
        "export": {"image_root": str(empty)},
    }))
    assert runner.invoke(app, ["run", "--config", str(config)]).exit_code == 0
    export = tmp_path / "run" / "export"
    assert runner.invoke(app, ["validate", str(export)]).exit_code == 1
    result = runner.invoke(app, ["validate", str(export), "--image-root",
                                 str(shared_data / "coco_panoptic")])
    assert result.exit_code == 0, result.output


# (b) unknown generator names fail up front, in one line


@pytest.mark.parametrize("verb", ["synth", "generate"])
def test_unknown_generator_fails_before_any_work(verb: str, clevr_subset: Path,
                                                 tmp_path: Path) -> None:
    out = tmp_path / "out"
    args = [verb, "--generators", "count_objects,bogus_gen", "--out", str(out), "--no-progress"]
    if verb == "generate":
        args += ["--source", str(clevr_subset)]
    else:
        args += ["--scenes", "2"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    (line,) = _error_lines(result.output)
    assert "bogus_gen" in line and "known:" in line and "count_objects" in line
    assert "Traceback" not in result.output and len(result.output.splitlines()) <= 3
    assert not out.exists()


# (c) a generator whose needs the source lacks


def test_generator_without_its_needs_is_warned_and_counted(shared_data: Path,
                                                           tmp_path: Path) -> None:
    result = _generate(shared_data / "gqa" / "debug_sceneGraphs.json", tmp_path / "gqa",
                       "--generators", "count_objects,compare_depth,multi_total_count")
    assert result.exit_code == 0, result.output
    assert "generator 'compare_depth' needs depth, which none of the first 4 graph(s)" in \
        result.output
    assert "generator 'multi_total_count' is multi-image and no multi-image groups" in \
        result.output
    assert "warning: requested generator 'compare_depth' produced 0 samples" in result.output
    assert "requested generator 'count_objects' produced 0" not in result.output
    summary = json.loads((tmp_path / "gqa" / "summary.json").read_text())
    assert any("compare_depth" in w for w in summary["warnings"])


# (d) run --out, and example configs without absolute paths


def test_run_out_overrides_the_config(clevr_subset: Path, tmp_path: Path) -> None:
    config = tmp_path / "cfg.yaml"
    config.write_text(yaml.safe_dump({
        "source": str(clevr_subset), "out": "configured_out", "generators": ["count_objects"],
        "per_image": 1, "workers": 1, "progress": False, "export": {"require_images": False},
    }))
    result = runner.invoke(app, ["run", "--config", str(config), "--out", str(tmp_path / "x")])
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "x" / "manifest.json").read_text())["complete"] is True
    assert not (tmp_path / "configured_out").exists()


def test_example_configs_use_relative_paths() -> None:
    examples = sorted((REPO / "examples").glob("*.yaml"))
    assert examples
    for path in examples:
        data = yaml.safe_load(path.read_text())
        for key in ("source", "out"):
            assert not Path(data[key]).is_absolute(), (path.name, key, data[key])
        assert "/tmp" not in path.read_text(), path.name


# (e) stats is never silent


def test_stats_reports_progress(clevr_subset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    assert _generate(clevr_subset, out, "--generators", "count_objects").exit_code == 0
    result = runner.invoke(app, ["stats", str(out)])
    assert result.exit_code == 0, result.output
    assert "reading samples from 1 shard(s) ..." in result.output
    assert re.search(r"reading samples from 1 shard\(s\): \d+ done in \d", result.output)
    graphs = runner.invoke(app, ["stats", str(clevr_subset)])
    assert graphs.exit_code == 0 and "reading: 20 done in" in graphs.output


# (f) a WebDataset export of a source without images


def test_webdataset_without_images_one_line_nonzero_failures_listed(clevr_subset: Path,
                                                                    tmp_path: Path) -> None:
    out = tmp_path / "wds"
    result = _generate(clevr_subset, out, "--generators", "count_objects,exist_object",
                       "--format", "webdataset")
    assert result.exit_code == 1
    (line,) = _error_lines(result.output)
    assert "the export wrote no records" in line and "image file … not found" in line
    assert "failures.jsonl" in line
    assert len(result.output.splitlines()) < 15
    summary = json.loads((out / "summary.json").read_text())
    failures = [json.loads(x) for x in (out / "failures.jsonl").open()]
    assert len(failures) == summary["samples"] > 0
    assert {f["stage"] for f in failures} == {"export"}
    assert all(f["field"] == "images[0]" and "not found" in f["error"] for f in failures)
    assert not [p for p in (out / "export").iterdir()]


# (g) generate --help shows the defaults


def test_generate_help_shows_defaults() -> None:
    result = runner.invoke(app, ["generate", "--help"], env={"COLUMNS": "200"}, color=False)
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for default in ("(10)", "(llava)", "(all)", "(100)", "(0.05)", "(short,mc,yes_no)",
                    "(all cores)", "(lenient)"):
        assert f"[default: {default}]" in text, default
