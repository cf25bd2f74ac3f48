"""Engine: shards, manifest, resume, worker-count independence, failures, config."""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest
from engine_support import FAIL_NAME, output_files, stand_in_shard

from scenesynth.graph import InstructionSample, SceneGraph, graph_from_json, graph_to_json
from scenesynth.ioutil.manifest import samples_path
from scenesynth.pipeline import (
    ConfigError,
    ManifestMismatch,
    RunAborted,
    RunConfig,
    derive_seed,
    load_config,
    run,
)
from scenesynth.pipeline.synthetic import synthetic_graph, write_synthetic_jsonl


@pytest.fixture(scope="module")
def synthetic_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("src") / "graphs.jsonl"
    write_synthetic_jsonl(path, 230, seed=7)
    return path


def _config(source: Path, out: Path, **kw: object) -> RunConfig:
    fields: dict[str, object] = {
        "source": str(source),
        "out": str(out),
        "per_image": 3,
        "shard_size": 20,
        "workers": 1,
        "progress": False,
        "seed": 11,
    }
    fields.update(kw)
    return RunConfig.model_validate(fields)


def _read_samples(out: Path) -> list[InstructionSample]:
    samples = []
    for path in sorted((out / "shards").glob("samples-*.jsonl")):
        samples.extend(InstructionSample.model_validate_json(line) for line in path.open())
    return samples


def test_derive_seed_is_stable_and_distinct() -> None:
    # Fixed value: a change here would silently change every dataset made with a seed.
    assert derive_seed(0, "shard", 3) == derive_seed(0, "shard", 3)
    assert derive_seed(0, "shard", 3) != derive_seed(0, "shard", 4)
    assert derive_seed(1, "shard", 3) != derive_seed(0, "shard", 3)
    assert 0 <= derive_seed(5, "x") < 2**63
    assert derive_seed(0, "synthetic", 0) == 6043360122883430700  # sha256("0\x1fsynthetic\x1f0")


def test_shards_manifest_and_export(synthetic_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    summary = run(_config(synthetic_source, out), shard_function=stand_in_shard)
    # 230 records in shards of 20: 11 full shards and one of 10.
    assert summary.shards == 12
    assert summary.records == 230
    assert summary.samples == 690
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is True
    assert manifest["num_shards"] == 12
    assert manifest["scenesynth_version"]
    assert manifest["config"]["seed"] == 11 and "workers" not in manifest["config"]
    last = manifest["shards"][-1]
    assert (last["index"], last["record_start"], last["record_end"], last["samples"]) == (
        11,
        220,
        230,
        30,
    )
    import hashlib

    assert last["sha256"] == hashlib.sha256(samples_path(out, 11).read_bytes()).hexdigest()
    samples = _read_samples(out)
    assert len(samples) == 690 == len({s.id for s in samples})
    # Compact JSON lines in the schema's field order.
    first_line = samples_path(out, 0).read_text().splitlines()[0]
    assert first_line.startswith('{"id":"') and ", " not in first_line[:60]
    assert InstructionSample.model_validate_json(first_line) == samples[0]
    export = json.loads((out / "export" / "data.json").read_text())
    assert len(export) == 690
    assert summary.export["validation"]["ok"] is True
    assert summary.export["validation"]["records"] == 690
    assert (out / "failures.jsonl").read_bytes() == b""


def test_worker_count_independence(synthetic_source: Path, tmp_path: Path) -> None:
    outputs = {}
    for workers in (1, 2, 4):
        out = tmp_path / f"w{workers}"
        run(_config(synthetic_source, out, workers=workers), shard_function=stand_in_shard)
        outputs[workers] = output_files(out)
    assert outputs[1] == outputs[2] == outputs[4]
    assert sum(1 for k in outputs[1] if k.startswith("shards/samples-")) == 12


def test_resume_redoes_missing_and_corrupt_shards(synthetic_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = _config(synthetic_source, out)
    run(config, shard_function=stand_in_shard)
    reference = output_files(out)
    samples_path(out, 3).unlink()
    samples_path(out, 5).write_bytes(b"garbage\n")
    (out / "shards" / ".samples-000007.jsonl.abc.tmp").write_bytes(b"half a shard")
    summary = run(config, shard_function=stand_in_shard)
    assert summary.shards_redone == 2
    assert summary.shards_skipped == 10
    assert output_files(out) == reference


def test_resume_refuses_a_different_config(synthetic_source: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    run(_config(synthetic_source, out), shard_function=stand_in_shard)
    with pytest.raises(ManifestMismatch, match=r"seed: 11 -> 12"):
        run(_config(synthetic_source, out, seed=12), shard_function=stand_in_shard)
    # Execution settings may change between a run and its resume.
    summary = run(_config(synthetic_source, out, workers=2), shard_function=stand_in_shard)
    assert summary.shards_skipped == 12


def _poisoned_source(path: Path, n: int, bad_every: int) -> tuple[list[int], list[str], int]:
    """Write n lines; every ``bad_every``-th is malformed in one of four ways. Three make the
    whole record unreadable; the fourth (a relation to a missing object) costs only that
    relation. Returns the bad line numbers, the image ids that must be emitted and the number
    of records that must be skipped."""
    bad_lines: list[int] = []
    emitted: list[str] = []
    skipped = 0
    with path.open("w") as fh:
        for i in range(n):
            graph = synthetic_graph(3, i)
            line = graph_to_json(graph)
            kind = -1 if i % bad_every != bad_every - 1 else (i // bad_every) % 4
            record = json.loads(line)
            if kind == 0:
                line = line[: len(line) // 2]  # truncated JSON
            elif kind == 1:
                record["image"]["width"] = -5
                line = json.dumps(record)
            elif kind == 2:
                record["colour"] = "red"  # not a scene-graph field
                line = json.dumps(record)
            elif kind == 3:
                record["relations"].append({"subject": "0", "predicate": "on", "object": "99"})
                line = json.dumps(record)
            if kind >= 0:
                bad_lines.append(i + 1)
            if kind in (-1, 3):
                emitted.append(graph.image.id)
            else:
                skipped += 1
            fh.write(line + "\n")
    return bad_lines, emitted, skipped


def test_poisoned_input_reports_exactly_the_bad_records(tmp_path: Path) -> None:
    source = tmp_path / "poisoned.jsonl"
    bad_lines, emitted_ids, skipped = _poisoned_source(source, 1000, 100)  # 1 % malformed
    assert (len(bad_lines), skipped) == (10, 8)
    out = tmp_path / "run"
    summary = run(
        _config(source, out, per_image=1, shard_size=64, workers=2),
        shard_function=stand_in_shard,
    )
    failures = [json.loads(line) for line in (out / "failures.jsonl").open()]
    assert len(failures) == 10
    assert {f["stage"] for f in failures} == {"load"}
    reported = sorted(int(re.match(r"line (\d+)", f["record_id"]).group(1)) for f in failures)
    assert reported == bad_lines
    assert all(f["file"] == str(source) and f["field"] and f["error"] for f in failures)
    reasons = {f["reason"] for f in failures}
    assert reasons == {"<json>", "image.width", "colour", "relations[].object"}
    assert summary.stage_failed == {"load": 8, "generate": 0}
    assert summary.stage_records["load"] == 1000
    emitted = sorted({s.images[0] for s in _read_samples(out)})
    assert emitted == sorted(emitted_ids)
    assert summary.samples == 992
    assert sum(summary.failures_by_reason.values()) == 10


def _source_with_exploding(tmp_path: Path, n: int, every: int) -> Path:
    path = tmp_path / "explode.jsonl"
    with path.open("w") as fh:
        for i in range(n):
            graph = synthetic_graph(5, i)
            if i % every == 0:
                obj = graph.objects[0].model_copy(update={"name": FAIL_NAME})
                graph = graph.model_copy(update={"objects": [obj, *graph.objects[1:]]})
            fh.write(graph_to_json(graph) + "\n")
    return path


def test_generate_failures_are_logged_and_skipped(tmp_path: Path) -> None:
    source = _source_with_exploding(tmp_path, 120, 40)  # images 0, 40, 80 raise
    out = tmp_path / "run"
    summary = run(
        _config(source, out, per_image=2, max_failure_rate=0.05),
        shard_function=stand_in_shard,
    )
    failures = [json.loads(line) for line in (out / "failures.jsonl").open()]
    assert [f["record_id"] for f in failures] == ["syn-5-0000000", "syn-5-0000040", "syn-5-0000080"]
    assert {f["stage"] for f in failures} == {"generate"}
    assert all("RuntimeError" in f["traceback"] for f in failures)
    assert summary.failures_by_reason == {"generate: RuntimeError": 3}
    assert summary.samples == 2 * 117


def test_failure_rate_above_threshold_stops_the_run(tmp_path: Path) -> None:
    source = _source_with_exploding(tmp_path, 200, 5)  # 20 % of images raise
    out = tmp_path / "run"
    config = _config(source, out, max_failure_rate=0.1, min_records_for_failure_rate=50)
    with pytest.raises(RunAborted, match=r"stage 'generate' failed on \d+ of \d+ records"):
        run(config, shard_function=stand_in_shard)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["complete"] is False
    assert not (out / "export").exists()


def test_config_files_and_overrides(tmp_path: Path) -> None:
    yaml_path = tmp_path / "run.yaml"
    yaml_path.write_text(
        "source: data/scenes.json\nout: out\nper_image: 4\ngenerators: count, exist\n"
        "format: parquet\nshard_size: 50\nmulti_image_group: 2-3\n"
    )
    config = load_config(yaml_path, {"seed": 9, "per_image": None, "workers": 3})
    assert config.source == str(tmp_path / "data" / "scenes.json")
    assert config.out == str(tmp_path / "out")
    assert (config.per_image, config.seed, config.workers) == (4, 9, 3)
    assert config.generators == ["count", "exist"]
    assert config.multi_image_group == (2, 3)
    toml_path = tmp_path / "run.toml"
    toml_path.write_text('source = "/d/s.jsonl"\nout = "/o"\nformat = "sharegpt"\n')
    assert load_config(toml_path).format == "sharegpt"
    bad = tmp_path / "bad.yaml"
    bad.write_text("source: x\nout: y\nshard_size: 0\nformat: csv\n")
    with pytest.raises(ConfigError) as err:
        load_config(bad)
    message = str(err.value)
    assert str(bad) in message and "field 'shard_size'" in message and "field 'format'" in message
    with pytest.raises(ConfigError, match="field 'colour'"):
        load_config(None, {"source": "x", "out": "y", "colour": "red"})


def test_example_configs_are_valid() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    clevr = load_config(examples / "generate_clevr.yaml")
    assert clevr.source.endswith("CLEVR_train_scenes_1000.json")
    assert Path(clevr.source).is_file()
    vg = load_config(examples / "generate_visual_genome.yaml")
    assert Path(vg.source).is_dir() and vg.engine == "ray" and vg.multi_image_group == (2, 3)
    assert vg.refine.filter_contradictions and vg.refine.add_derived_relations


def test_worker_parsing_matches_the_loader(tmp_path: Path) -> None:
    """Raw JSONL shards parsed in the workers give exactly what sources.load gives."""
    from scenesynth.pipeline.source import ParseJsonlStage, iter_raw_shards
    from scenesynth.sources import load

    source = tmp_path / "poisoned.jsonl"
    _poisoned_source(source, 300, 30)
    stream = load(source)
    expected = list(stream)
    expected_issues = [(i.record, i.field, i.message) for i in stream.report.issues]
    parsed, issues = [], []
    stage = ParseJsonlStage()
    for batch in iter_raw_shards(str(source), 64):
        batch = stage.process(batch)
        parsed.extend(batch.graphs)
        issues.extend((f.record_id, f.field, f.error) for f in batch.failures)
    assert parsed == expected and len(parsed) == 300 - 8
    assert issues == expected_issues and len(issues) == 10


def test_strict_mode_stops_at_the_first_bad_record(tmp_path: Path) -> None:
    from scenesynth.sources import LoadError

    source = tmp_path / "poisoned.jsonl"
    _poisoned_source(source, 200, 50)
    config = _config(source, tmp_path / "run", strict=True, workers=2)
    with pytest.raises(LoadError, match=r"poisoned.jsonl: record line 50: <json>: not valid JSON"):
        run(config, shard_function=stand_in_shard)


@pytest.mark.slow
@pytest.mark.parametrize("source_name", ["clevr", "jsonl"])
def test_worker_count_independence_with_real_generators(
    shared_data: Path, tmp_path: Path, source_name: str
) -> None:
    clevr = shared_data / "clevr" / "CLEVR_train_scenes_1000.json"
    if source_name == "clevr":
        source = clevr  # read in the main process, graphs shipped to workers
    else:  # scene-graph JSONL: raw lines parsed in the workers
        from scenesynth.graph import write_graphs_jsonl
        from scenesynth.sources import load

        source = tmp_path / "clevr.jsonl"
        write_graphs_jsonl(list(load(clevr))[:300], source)
    outputs = {}
    for workers in (1, 2, 4):
        out = tmp_path / f"w{workers}"
        config = _config(
            source,
            out,
            workers=workers,
            per_image=1,
            shard_size=70,
            generators=["count_objects", "spatial_verify", "query_attribute"],
            multi_image_group=None,
        )
        summary = run(config)
        assert summary.failures == 0
        outputs[workers] = output_files(out)
    assert outputs[1] == outputs[2] == outputs[4]
    samples = [
        line
        for name, data in outputs[1].items()
        if name.startswith("shards/")
        for line in data.splitlines()
    ]
    assert len(samples) == len(set(samples)) > (1000 if source_name == "clevr" else 300)


def test_dataset_card_and_guard_fields_are_resumable(
    synthetic_source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    run(_config(synthetic_source, out, max_failure_rate=0.0), shard_function=stand_in_shard)
    card = json.loads((out / "card.json").read_text())
    assert card["counts"] == {
        "shards": 12,
        "records": 230,
        "samples": 690,
        "samples_exported": 690,
        "failures": 0,
    }
    assert card["samples_by_generator"] == {"stand_in_count": 690}
    assert card["config"]["seed"] == 11 and card["stages"]["generate"] == {
        "records": 230,
        "failed": 0,
    }
    markdown = (out / "DATASET_CARD.md").read_text()
    assert "| stand_in_count | 690 |" in markdown and "validation passed" in markdown
    # Guards (max_failure_rate, strict) may change on resume; the card stays byte-identical.
    before = (out / "card.json").read_bytes()
    summary = run(
        _config(synthetic_source, out, max_failure_rate=0.5), shard_function=stand_in_shard
    )
    assert summary.shards_skipped == 12
    assert (out / "card.json").read_bytes() == before


def interrupted_shard(graphs: list[SceneGraph], *args: object) -> object:
    """stand_in_shard, but Ctrl-C arrives during image 100's shard (shard 5 of 20 graphs)."""
    if any(g.image.id.endswith("0000100") for g in graphs):
        raise KeyboardInterrupt
    return stand_in_shard(graphs, *args)


def _no_source_reads(*args: object, **kwargs: object) -> None:
    raise AssertionError("the parent read the source again")


def test_resumed_card_equals_uninterrupted_and_counts_graphs_from_the_shards(
    synthetic_source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference = tmp_path / "reference"
    run(_config(synthetic_source, reference), shard_function=stand_in_shard)
    out = tmp_path / "run"
    with pytest.raises(KeyboardInterrupt):
        run(_config(synthetic_source, out), shard_function=interrupted_shard)
    assert not (out / "card.json").exists()
    # The resumed run reads the source file's lines for its remaining shards only; the card
    # merges every shard's graph counts from the manifest (5 of them from the first run).
    monkeypatch.setattr("scenesynth.sources.load", _no_source_reads)
    summary = run(_config(synthetic_source, out), shard_function=stand_in_shard)
    assert summary.shards_skipped == 5
    assert (out / "card.json").read_bytes() == (reference / "card.json").read_bytes()
    graphs = [graph_from_json(line) for line in synthetic_source.read_text().splitlines()]
    plots = json.loads((out / "card.json").read_text())["plot_data"]
    objects = Counter(len(g.objects) for g in graphs)
    assert len(objects) > 1  # the source's graphs differ in size: the counts are per graph
    assert plots["objects_per_image"] == {str(k): n for k, n in sorted(objects.items())}
    assert sum(plots["relation_categories"].values()) == sum(len(g.relations) for g in graphs)


def test_a_shard_listed_without_graph_counts_is_redone(
    synthetic_source: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    run(_config(synthetic_source, out), shard_function=stand_in_shard)
    finished = output_files(out)
    manifest = json.loads((out / "manifest.json").read_text())
    for entry in manifest["shards"][:3]:  # as written before shards counted their graphs
        del entry["graph_counts"]
    (out / "manifest.json").write_text(json.dumps(manifest))
    summary = run(_config(synthetic_source, out), shard_function=stand_in_shard)
    assert (summary.shards_redone, summary.shards_skipped) == (3, 9)
    assert output_files(out) == finished


def test_a_dead_worker_stops_the_run_and_a_rerun_resumes(
    synthetic_source: Path, tmp_path: Path
) -> None:
    from concurrent.futures.process import BrokenProcessPool

    from engine_support import dying_shard

    reference = tmp_path / "reference"
    run(_config(synthetic_source, reference, workers=2), shard_function=stand_in_shard)
    out = tmp_path / "run"
    with pytest.raises(BrokenProcessPool):
        run(_config(synthetic_source, out, workers=2), shard_function=dying_shard)
    assert not samples_path(out, 5).exists()  # image 100 is in shard 5 (records 100-119)
    summary = run(_config(synthetic_source, out, workers=2), shard_function=stand_in_shard)
    assert summary.shards == 12 and summary.shards_skipped >= 2  # finished before the death
    assert output_files(out) == output_files(reference)
