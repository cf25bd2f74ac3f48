"""`scenesynth synth --source llm` against scripted imitations of the servers people run
(tests/support/llm_servers.py): each gets its structured-output form with at most one wasted
request,
a failing server ends the run after a bounded number of requests, the bad answers seen from
small real models are each rejected or repaired and counted, and a re-run over the cache
makes no request and writes the same bytes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from llm_servers import KINDS, Reply, ScriptedServer, good_answer, good_graph, prompt_text
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.knowledge import load_kb

runner = CliRunner()

# server kind -> (structured-output form it ends up with, chat requests wasted on the probe)
EXPECTED = {
    "openai": ("json_schema", 0),
    "llama-cpp-python": ("json_object_schema", 0),
    "vllm": ("json_schema", 0),
    "ollama": ("json_schema", 0),
    "plain": ("prompt", 1),
}


def _synth(out: Path, server: ScriptedServer, tmp_path: Path, scenes: int = 5,
           *extra: str) -> Any:
    config = tmp_path / "llm.toml"
    # the run config's [llm] table: no back-off pauses in tests
    config.write_text("[llm]\nbackoff_s = 0\ntimeout_s = 10\n")
    args = ["synth", "--source", "llm", "--scenes", str(scenes), "--out", str(out),
            "--canvas", "128", "--per-image", "1", "--objects", "3,4", "--no-progress",
            "--min-visible-pixels", "16", "--llm-model", "test-model",
            "--llm-base-url", server.base_url, "--llm-cache-dir", str(tmp_path / "cache"),
            "--llm-config", str(config), *extra]
    return runner.invoke(app, args)


def _prose(body: dict[str, Any]) -> str:
    """A model without structured output: JSON inside prose and a code fence."""
    return f"Sure! Here is the scene:\n```json\n{good_answer(body)}\n```\nEnjoy."


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_synth_runs_on_every_server_kind_with_at_most_one_wasted_request(tmp_path, kind):
    strategy, wasted = EXPECTED[kind]
    answer = _prose if kind == "plain" else good_answer
    out = tmp_path / "out"
    with ScriptedServer(kind=kind, answer=answer, max_requests=40, lifetime_s=60) as server:
        result = _synth(out, server, tmp_path, 5, "--llm-timeout", "7")
        bodies = [r["body"] for r in server.requests]
    assert result.exit_code == 0, result.output
    card = json.loads((out / "card.json").read_text())
    # the flag wins over the run config's timeout_s = 10; the key never reaches the card
    llm_config = card["config"]["synthesize"]["llm"]
    assert llm_config["timeout_s"] == 7.0 and llm_config["api_key"] is None
    assert len(list((out / "images").glob("*.png"))) == 5
    assert (out / "export").exists() or list(out.glob("*.json"))
    llm = card["llm"]
    assert llm["strategy"] == strategy
    assert llm["wasted_requests"] == wasted == server.refused
    assert llm["probe_requests"] == 1 and server.gets == ["/v1/models"]
    # one scene list, one graph per image (plus a re-asked graph where a layout failed)
    assert llm["requests"] == len(bodies) and 6 + wasted <= len(bodies) <= 9 + wasted
    assert llm["responses_accepted"] == len(bodies) - wasted
    # every request after the probe used the chosen form
    for body in bodies[wasted:]:
        fmt = body.get("response_format")
        if strategy == "json_schema":
            assert fmt["type"] == "json_schema" and fmt["json_schema"]["schema"]["required"]
        elif strategy == "json_object_schema":
            assert fmt["type"] == "json_object" and "schema" in fmt
        else:
            assert fmt is None and "follows this JSON schema" in prompt_text(body)
    assert re.search(rf"llm structured output\s*│\s*{strategy}\s", result.output)
    card_md = (out / "DATASET_CARD.md").read_text()
    assert "## Model requests" in card_md and strategy in card_md


def test_a_server_that_always_fails_ends_the_run_after_a_bounded_number_of_requests(tmp_path):
    out = tmp_path / "out"
    with ScriptedServer(answer=None, max_requests=100) as server:  # HTTP 500 for everything
        result = _synth(out, server, tmp_path, 50)
        n = len(server.requests)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "no usable scenes answer after 4 attempts" in lines[0]
    assert n == 4  # the scene list failed: no graph was asked for
    assert not (out / "images").exists()
    failures = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
    assert [f["reason"] for f in failures] == ["server_error"] * 4 + ["run_stopped"]


def test_the_circuit_breaker_stops_a_server_that_fails_after_the_scene_list(tmp_path):
    out = tmp_path / "out"
    scenes = Reply(json.dumps({"scenes": ["office", "park", "garden", "bedroom", "library"]}))
    with ScriptedServer([scenes], answer=None, max_requests=200) as server:
        result = _synth(out, server, tmp_path, 40)
        n = len(server.requests)
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and "failed 6 requests in a row" in lines[0]
    assert n == 1 + 6  # not proportional to the 40 scenes asked for


def test_an_unreachable_server_and_a_missing_model_exit_with_one_line(tmp_path, monkeypatch):
    monkeypatch.delenv("SCENESYNTH_LLM_MODEL", raising=False)
    result = runner.invoke(app, ["synth", "--source", "llm", "--scenes", "2", "--out",
                                 str(tmp_path / "a"), "--no-progress"])
    assert result.exit_code == 2 and "error: no LLM model" in result.output
    result = runner.invoke(app, ["synth", "--source", "llm", "--scenes", "2", "--out",
                                 str(tmp_path / "b"), "--no-progress", "--llm-model", "m",
                                 "--llm-base-url", "http://127.0.0.1:9/v1",
                                 "--llm-cache-dir", str(tmp_path / "cache")])
    assert result.exit_code == 2 and "error: cannot reach the LLM server" in result.output


class BadAnswers:
    """Replays the answers small real models gave (issue 24), then good ones."""

    def __init__(self) -> None:
        self.scene_calls = 0
        self.graph_calls = 0

    def __call__(self, body: dict[str, Any]) -> str:
        text = prompt_text(body)
        if "distinct everyday scenes" in text:
            self.scene_calls += 1
            if self.scene_calls == 1:  # the prompt's three examples, nothing else
                return json.dumps({"scenes": ["kitchen", "city street", "beach"]})
            return good_answer(body)
        self.graph_calls += 1
        graph = good_graph(text, body.get("seed"))
        k = len(graph["objects"])
        if self.graph_calls == 1:
            objects = graph["objects"]
            objects[0] = {"id": "o0", "name": "person", "colors": ["brown"], "materials": [],
                          "states": [], "size_m": [60, 48, 24], "form": "round",
                          "placement": "sky"}
            objects[1] = {"id": "o1", "name": "sunlight", "colors": ["yellow"],
                          "materials": [], "states": [], "size_m": [0.5, 1.7, 0.3],
                          "form": "person", "placement": "floor"}
            objects[2] = {"id": "o2", "name": "oven", "colors": ["white"], "materials": [],
                          "states": [], "size_m": [12, 0.9, 0.6], "form": "box",
                          "placement": "floor"}
            objects.append({"id": f"o{k}", "name": "sofa", "colors": ["red"], "materials": [],
                            "states": [], "size_m": [2, 0.85, 0.9], "form": "round",
                            "placement": "floor"})
            graph["absent_objects"] = ["o2", "blue building", "oven", "clouds"]
        elif self.graph_calls == 2:  # a repetition loop
            return '{"scene": "park", "objects": [' + '{"id": "o1", "name": "tree"}, ' * 400
        elif self.graph_calls == 3:  # far fewer objects than asked for
            graph["objects"] = graph["objects"][:1]
        elif self.graph_calls == 4:  # more objects than asked for, known sofa drawn round
            extra = {"id": "x9", "name": "sofa", "colors": ["blue"], "materials": [],
                     "states": [], "size_m": [2, 0.85, 0.9], "form": "round",
                     "placement": "floor"}
            graph["objects"] = [extra, *graph["objects"], dict(extra, id="x10")]
        return json.dumps(graph)


def _tree_bytes(root: Path) -> dict[str, bytes]:
    # the card holds the model client's statistics, summary.json the timings
    skip = {"card.json", "DATASET_CARD.md", "summary.json"}
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name not in skip}


def test_bad_answers_are_rejected_or_repaired_and_a_rerun_is_identical_with_no_request(
        tmp_path):
    out = tmp_path / "out"
    with ScriptedServer(kind="llama-cpp-python", answer=BadAnswers()) as server:
        result = _synth(out, server, tmp_path)
        first_requests = len(server.requests)
    assert result.exit_code == 0, result.output
    llm = json.loads((out / "card.json").read_text())["llm"]
    rejections, repairs = llm["rejections"], llm["repairs"]
    assert rejections["scenes_not_diverse"] == 1  # only the prompt's examples
    assert rejections["scene_prompt_example"] == 4  # 3 then "kitchen" in the good list
    assert rejections["object_not_physical"] == 1  # sunlight on the floor
    assert rejections["absent_object_not_a_name"] == 1  # o2
    assert rejections["absent_object_present"] == 1  # oven
    assert rejections["repetition_loop"] == 1
    assert rejections["object_count_short"] == 1 and rejections["too_few_objects"] == 1
    assert rejections["object_over_limit"] >= 2
    assert repairs["object_size_implausible"] == 2  # the 60 m person, the 12 m oven
    assert repairs["object_form_from_kb"] >= 2  # person in the sky, the round sofa
    assert repairs["absent_object_singular"] == 1  # clouds -> cloud
    assert llm["retries"] == {"repetition_loop": 1, "scenes_not_diverse": 1,
                              "too_few_objects": 1}
    # the loop was cut early: far fewer characters than the 12 kB the server would send
    failures = [json.loads(x) for x in (out / "failures.jsonl").read_text().splitlines()]
    loop = next(f for f in failures if f["reason"] == "repetition_loop")
    assert loop["stage"] == "llm" and int(loop["error"].split("after ")[1].split()[0]) < 1500
    assert {f["reason"] for f in failures if f["stage"] == "llm"} >= {
        "object_not_physical", "absent_object_not_a_name", "repaired_object_size_implausible"}
    # what reaches the user: no id as an absent object, no sunlight, people of human size
    graphs = [json.loads(x) for x in (out / "graphs.jsonl").read_text().splitlines()]
    kb = load_kb()
    for g in graphs:
        assert "o2" not in g["meta"]["absent_objects"]
        for o in g["objects"]:
            assert o["name"] != "sunlight"
            if o["name"] in kb.objects:
                spec = kb.objects[o["name"]]
                assert (o["meta"]["form"], o["meta"]["placement"]) == (spec.form,
                                                                       spec.placement)
                assert all(s / 4 <= v <= s * 4 for v, s in
                           zip(o["meta"]["real_size"], spec.size, strict=True))
    export_text = "".join(p.read_text() for p in out.rglob("*.json")
                          if p.name not in ("card.json",))
    assert " o2" not in export_text and "sunlight" not in export_text

    # the same command again: every answer, rejected ones included, comes from the cache
    again = tmp_path / "again"
    with ScriptedServer(kind="llama-cpp-python", answer=None) as server:
        result = _synth(again, server, tmp_path)
        assert server.requests == [] and server.gets == []
    assert result.exit_code == 0, result.output
    assert first_requests > 6
    llm_again = json.loads((again / "card.json").read_text())["llm"]
    assert llm_again["requests"] == 0 and llm_again["cache_hits"] == first_requests
    assert llm_again["rejections"] == rejections and llm_again["repairs"] == repairs
    assert _tree_bytes(again) == _tree_bytes(out)


def test_concurrent_requests_give_the_same_dataset(tmp_path):
    """--llm-concurrency asks for a chunk's graphs in parallel; each request is keyed by its
    seed, so the dataset does not depend on the order answers arrive in."""
    trees = []
    for concurrency in (1, 3):
        out = tmp_path / f"c{concurrency}"
        cache = tmp_path / f"cache{concurrency}"
        with ScriptedServer(kind="vllm") as server:
            result = _synth(out, server, tmp_path, 5, "--llm-concurrency", str(concurrency),
                            "--llm-cache-dir", str(cache))
        assert result.exit_code == 0, result.output
        trees.append(_tree_bytes(out))
    assert trees[0] == trees[1]
