"""``scenesynth refine`` against a scripted teacher / judge / editor server on 127.0.0.1
(tests/support/refine_server.py) on the shared Visual Genome and GQA samples, and through a tiny
random-weight local VLM (transformers path)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from llm_servers import Reply
from refine_server import RoleServer
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.graph import SceneGraph, graph_from_json, graph_to_json, write_graphs_jsonl
from scenesynth.refine.models import revert_patches
from scenesynth.refine.patch import apply_operations, geometry_verdict, validate_operation
from scenesynth.sources import load

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared" / "data"
SOURCES = {"vg": SHARED / "visual_genome", "gqa": SHARED / "gqa" / "debug_sceneGraphs.json"}
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(params=sorted(SOURCES))
def graphs_file(request: pytest.FixtureRequest, tmp_path: Path) -> Path:
    path = tmp_path / f"{request.param}.jsonl"
    write_graphs_jsonl(load(SOURCES[request.param]), path)
    return path


def _refine(graphs: Path, out: Path, url: str, *extra: str) -> None:
    result = CliRunner().invoke(app, [
        "refine", str(graphs), "--out", str(out), "--teacher", f"openai:teacher@{url}",
        "--judge", f"openai:judge@{url}", "--editor", f"openai:editor@{url}", "--backoff", "0",
        *extra])
    assert result.exit_code == 0, result.output


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_refine_completes_checks_and_edits(graphs_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    with RoleServer() as server:
        _refine(graphs_file, out, server.base_url)
        first_requests = len(server.requests)
        assert first_requests > 0 and server.missing_images == 0  # every ask carried the image
        inputs = {g.image.id: g for g in map(graph_from_json, graphs_file.read_text().splitlines())}
        failures = _lines(out / "failures.jsonl")
        reasons = {(f["stage"], f["reason"]) for f in failures}
        assert {("complete", "geometry"), ("complete", "judge"), ("edit", "missing_id"),
                ("edit", "geometry")} <= reasons
        for f in failures:
            if (f["stage"], f["reason"]) == ("complete", "geometry"):  # truly contradicted
                p = f["proposal"]
                assert geometry_verdict(inputs[f["image_id"]], p["subject"], p["predicate"],
                                        p["object"]) is False
            if (f["stage"], f["reason"]) == ("complete", "judge"):
                assert f["proposal"]["predicate"] == "afraid of"
            if (f["stage"], f["reason"]) == ("edit", "missing_id"):
                assert f["operation"]["relation"]["object"] == "o-missing"
        refined = [graph_from_json(line)
                   for line in (out / "graphs.jsonl").read_text().splitlines()]
        model_relations = [r for g in refined for r in g.relations if r.source == "model"]
        assert model_relations
        checks = set()
        for r in model_relations:
            assert r.category != "other" and 0 < r.confidence <= 1
            checks.add(r.meta["check"])
            if r.meta["check"] != "editor":
                assert r.meta["teacher"] == {"model": "openai:teacher", "prompt": "teacher@1"}
            if r.meta["check"] == "judge":
                assert r.meta["judge"] == {"model": "openai:judge", "prompt": "judge@1"}
                assert r.predicate == "holding"
        assert {"geometry", "judge"} <= checks
        assert any("maroon" in o.attribute_values() for g in refined for o in g.objects)
        report = json.loads((out / "report.json").read_text())
        before, after = report["density"]["before"], report["density"]["after"]
        assert after["relations_per_object"] > before["relations_per_object"]
        assert report["dropped_by_reason"]["complete:geometry"] > 0

        # revert restores the input bytes; applying the stored patches again changes nothing
        patches: dict[str, list[dict]] = {}
        for p in _lines(out / "patches.jsonl"):
            patches.setdefault(p["image_id"], []).append(p)
        reverted = [graph_to_json(revert_patches(g, patches.get(g.image.id, [])))
                    for g in refined]
        assert "\n".join(reverted) + "\n" == graphs_file.read_text()
        for g in refined:
            for p in patches.get(g.image.id, []):
                again, applied = apply_operations(g, p["applied"])
                assert applied == [] and graph_to_json(again) == graph_to_json(g)

        reverted_file = tmp_path / "reverted.jsonl"
        result = CliRunner().invoke(app, ["refine-revert", str(out), "--out",
                                          str(reverted_file)])
        assert result.exit_code == 0, result.output
        assert reverted_file.read_bytes() == graphs_file.read_bytes()

        # a re-run into a new folder over the same cache sends no request, same bytes
        again_out = tmp_path / "again"
        _refine(graphs_file, again_out, server.base_url, "--cache-dir", str(out / "llm-cache"))
        assert len(server.requests) == first_requests
        for name in ("graphs.jsonl", "patches.jsonl", "failures.jsonl", "report.json"):
            assert (again_out / name).read_bytes() == (out / name).read_bytes(), name


def _gqa_graph() -> SceneGraph:
    return next(iter(load(SOURCES["gqa"])))


def test_patch_validation_idempotence_and_revert() -> None:
    g = _gqa_graph()
    by_x = sorted((o for o in g.objects if o.box), key=lambda o: o.box.x0)  # type: ignore[union-attr]
    left, right = by_x[0], by_x[-1]
    missing = {"op": "add_relation", "relation": {"subject": left.id, "predicate": "holding",
                                                  "object": "nope"}}
    assert validate_operation(g, missing)[0] == "missing_id"  # type: ignore[index]
    wrong = {"op": "add_relation", "relation": {"subject": left.id, "predicate": "right of",
                                                "object": right.id}}
    assert validate_operation(g, wrong)[0] == "geometry"  # type: ignore[index]
    gone = {"op": "remove_relation", "subject": left.id, "predicate": "eating",
            "object": right.id}
    assert validate_operation(g, gone)[0] == "missing_relation"  # type: ignore[index]
    first = g.relations[0]
    ops = [
        {"op": "remove_relation", "subject": first.subject, "predicate": first.predicate,
         "object": first.object},
        {"op": "add_relation", "relation": {"subject": left.id, "predicate": "left of",
                                            "object": right.id, "source": "model",
                                            "category": "spatial", "confidence": 0.5}},
        {"op": "refine_attribute", "object_id": left.id, "attribute": "maroon"},
    ]
    assert all(validate_operation(g, op) is None for op in ops)
    once, applied = apply_operations(g, ops)
    twice, applied_again = apply_operations(once, ops)
    assert len(applied) == 3 and applied_again == []
    assert graph_to_json(twice) == graph_to_json(once) != graph_to_json(g)
    from scenesynth.refine.patch import revert_operations

    assert graph_to_json(revert_operations(once, applied)) == graph_to_json(g)


def test_faults_are_retried_counted_and_never_crash(tmp_path: Path) -> None:
    graphs = tmp_path / "gqa.jsonl"
    write_graphs_jsonl(list(load(SOURCES["gqa"]))[:2], graphs)
    script = [Reply(status=429, headers={"retry-after": "0"}), Reply(status=500),
              Reply(content="this is not json"), Reply(content='{"relations": [{"x": 1}]}'),
              Reply(content="{}", delay_s=1.5)]
    out = tmp_path / "out"
    with RoleServer(script=script) as server:
        _refine(graphs, out, server.base_url, "--concurrency", "1", "--timeout", "0.5")
        assert server.missing_images == 0
    stats = json.loads((out / "client_stats.json").read_text())
    rejections: dict[str, int] = {}
    for s in stats.values():
        for reason, n in s["rejections"].items():
            rejections[reason] = rejections.get(reason, 0) + n
    assert {"rate_limited", "server_error", "invalid_json", "schema_invalid", "timeout"} <= set(
        rejections), rejections
    refined = (out / "graphs.jsonl").read_text().split("\n")
    assert len([x for x in refined if x]) == 2
    assert json.loads((out / "report.json").read_text())["kept_by_check"]


def test_unusable_answers_are_reported_not_fatal(tmp_path: Path) -> None:
    """A server that always answers outside the schema: every request fails within its
    budget, the graphs pass through unchanged, the failures are counted by reason."""
    graphs = tmp_path / "gqa.jsonl"
    write_graphs_jsonl(list(load(SOURCES["gqa"]))[:1], graphs)
    out = tmp_path / "out"
    with RoleServer(script=[Reply(content='{"answer": "maybe"}')] * 4) as server:
        _refine(graphs, out, server.base_url, "--attempts", "2")
    failures = _lines(out / "failures.jsonl")
    assert any(f["reason"] == "no_usable_answer" for f in failures)


@pytest.mark.slow
def test_sigkill_and_rerun_gives_identical_output(tmp_path: Path) -> None:
    graphs = tmp_path / "vg.jsonl"
    write_graphs_jsonl(load(SOURCES["vg"]), graphs)
    env = {**os.environ, "PYTHONPATH": f"{REPO / 'src'}{os.pathsep}{REPO / 'tests'}"}
    with RoleServer(delay_s=0.02) as server:
        url = server.base_url

        def command(out: Path) -> list[str]:
            return [sys.executable, "-m", "scenesynth", "refine", str(graphs), "--out",
                    str(out), "--teacher", f"openai:teacher@{url}", "--editor",
                    f"openai:editor@{url}", "--concurrency", "1"]

        killed = tmp_path / "killed"
        proc = subprocess.Popen(command(killed), env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while len(server.requests) < 8 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        assert not (killed / "graphs.jsonl").exists()
        asked_before = len(server.requests)
        subprocess.run(command(killed), env=env, check=True, capture_output=True)
        clean = tmp_path / "clean"
        subprocess.run(command(clean), env=env, check=True, capture_output=True)
        assert len(server.requests) > asked_before
    for name in ("graphs.jsonl", "patches.jsonl", "failures.jsonl", "report.json"):
        assert (killed / name).read_bytes() == (clean / name).read_bytes(), name


@pytest.mark.slow
def test_tiny_local_vlm_runs_refine_end_to_end(tmp_path: Path) -> None:
    pytest.importorskip("transformers")
    from tiny_vlm import build_tiny_llava

    model = build_tiny_llava(tmp_path / "tiny-llava")
    graphs = tmp_path / "gqa.jsonl"
    write_graphs_jsonl(list(load(SOURCES["gqa"]))[:1], graphs)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "refine", str(graphs), "--out", str(out), "--teacher", f"hf:{model}",
        "--editor", f"hf:{model}"])
    assert result.exit_code == 0, result.output
    # random weights write no JSON: each role's answer is counted by reason, the graph kept
    failures = _lines(out / "failures.jsonl")
    assert {f["stage"] for f in failures} == {"teacher", "editor"}
    assert {f["reason"] for f in failures} <= {"invalid_json", "schema_invalid"}
    assert (out / "graphs.jsonl").read_text() == graphs.read_text()
    report = json.loads((out / "report.json").read_text())
    assert report["roles"]["teacher"]["model"] == f"hf:{model}"
    assert report["roles"]["teacher"]["prompt"] == "teacher@1"


def test_refine_bad_input_is_one_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["refine", str(tmp_path / "nope.jsonl"), "--out",
                                  str(tmp_path / "o"), "--teacher", "openai:m@http://127.0.0.1:9/v1"])
    assert missing.exit_code == 2 and "nope.jsonl" in missing.output
    graphs = tmp_path / "g.jsonl"
    write_graphs_jsonl(list(load(SOURCES["gqa"]))[:1], graphs)
    bad_spec = runner.invoke(app, ["refine", str(graphs), "--out", str(tmp_path / "o"),
                                   "--teacher", "gpt"])
    assert bad_spec.exit_code == 2 and "openai:NAME@URL" in bad_spec.output
    not_refined = runner.invoke(app, ["refine-revert", str(tmp_path), "--out",
                                      str(tmp_path / "r.jsonl")])
    assert not_refined.exit_code == 2 and "patches.jsonl" in not_refined.output
