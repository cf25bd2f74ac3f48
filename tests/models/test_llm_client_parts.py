"""The LLM client's parts without a server: repetition stop, per-attempt seeds, config
precedence, statistics, image messages, the package's import direction, and the sanity rules
for what a model proposes."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

import scenesynth.models.llm as llm_pkg
from scenesynth.knowledge import load_kb
from scenesynth.knowledge.llm.sanity import (
    clean_scene_names,
    form_ranges,
    known_singular,
    known_size_problem,
    name_problem,
    size_problem,
)
from scenesynth.models.llm import (
    LLMConfigError,
    LLMStats,
    attempt_seed,
    read_config_file,
    repetition_period,
    resolve_config,
    user_message,
)
from scenesynth.models.llm.stats import percentile
from scenesynth.models.llm.strategies import identify, says_invalid_request, with_schema_in_prompt


def test_repetition_is_found_in_loops_and_not_in_a_varied_answer():
    loop = '{"objects": [' + '{"id": "o1", "name": "tree"}, ' * 20
    assert repetition_period(loop) == len('{"id": "o1", "name": "tree"}, ')
    assert repetition_period("0." + "0" * 300) == 1
    varied = json.dumps({"objects": [{"id": f"o{i}", "name": n, "size_m": [i, i + 1, 2]}
                                     for i, n in enumerate(["cup", "table", "chair", "lamp",
                                                            "sofa", "book", "dog", "cat"])]})
    assert repetition_period(varied) is None
    assert repetition_period("short") is None


def test_each_attempt_gets_its_own_seed_unless_configured_otherwise():
    vary = [attempt_seed(7, a, "vary") for a in range(5)]
    assert vary[0] == 7 and len(set(vary)) == 5
    assert vary == [attempt_seed(7, a, "vary") for a in range(5)]  # reproducible
    assert [attempt_seed(7, a, "fixed") for a in range(3)] == [7, 7, 7]
    assert attempt_seed(7, 2, "none") is None


def test_config_precedence_flag_over_file_over_env(tmp_path):
    env = {"SCENESYNTH_LLM_MODEL": "env-model", "SCENESYNTH_LLM_TIMEOUT": "11",
           "SCENESYNTH_LLM_ATTEMPTS": "5", "SCENESYNTH_LLM_SEED_POLICY": "fixed"}
    toml = tmp_path / "run.toml"
    toml.write_text('[llm]\ntimeout_s = 22\nmax_attempts = "3"\nstrategy = "prompt"\n')
    cfg = resolve_config({"max_attempts": 2, "model": None}, read_config_file(toml), env)
    assert (cfg.model, cfg.timeout_s, cfg.max_attempts, cfg.strategy, cfg.seed_policy) == (
        "env-model", 22.0, 2, "prompt", "fixed")
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text("llm:\n  model: from-yaml\n  concurrency: 3\n")
    cfg = resolve_config({}, read_config_file(yaml_file), {})
    assert (cfg.model, cfg.concurrency) == ("from-yaml", 3)
    (tmp_path / "typo.toml").write_text("[llm]\ntimeout = 5\n")
    with pytest.raises(LLMConfigError, match="unknown key 'timeout'"):
        resolve_config({}, read_config_file(tmp_path / "typo.toml"), env)
    with pytest.raises(LLMConfigError, match="SCENESYNTH_LLM_TIMEOUT: expected float"):
        resolve_config({}, {}, {**env, "SCENESYNTH_LLM_TIMEOUT": "soon"})
    with pytest.raises(LLMConfigError, match="seed_policy"):
        resolve_config({"seed_policy": "random"}, {}, env)
    assert resolve_config({"api_key": "sk-secret"}, {}, env).redacted()["api_key"] == "***"


def test_stats_merge_take_and_percentiles():
    a, b = LLMStats(), LLMStats()
    a.add(requests=2)
    a.latencies_s.extend([1.0, 3.0])
    a.reject("timeout", "slow")
    b.add(requests=1, cache_hits=4)
    b.latencies_s.append(2.0)
    b.repair("object_size_implausible", "person 60 m")
    b.strategies["json_schema"] += 1
    taken = b.take()
    assert (b.requests, b.latencies_s, b.strategies) == (0, [], {})  # take resets counters
    a.merge(taken)
    d = a.as_dict()
    assert (d["requests"], d["cache_hits"], d["strategy"]) == (3, 4, "json_schema")
    assert d["latency_s"]["p50"] == 2.0 and d["rejections"] == {"timeout": 1}
    assert d["repairs"] == {"object_size_implausible": 1}
    assert percentile([], 0.9) == 0.0 and percentile([1, 2, 3, 4], 0.5) == 2.5
    assert [e.reason for e in a.drain_events()] == ["timeout"] and a.drain_events() == []


def test_image_parts_are_data_urls_and_keep_the_schema_instruction():
    png = b"\x89PNG\r\n\x1a\nfake"
    message = user_message("What is on the table?", images=[png])
    assert message["content"][0]["image_url"]["url"].startswith("data:image/png;base64,")
    out = with_schema_in_prompt([message], {"type": "object"})
    assert out[0]["content"][:2] == message["content"]
    assert "follows this JSON schema" in out[0]["content"][-1]["text"]
    assert message["content"][-1]["text"] == "What is on the table?"  # input untouched


def test_server_identification_and_invalid_request_bodies():
    assert identify(["me"])[1][0] == "json_object_schema"
    assert identify(["vllm"])[1][:2] == ("json_schema", "guided_json")
    assert identify(["library"])[0] == "Ollama"
    assert identify([])[1] == ("json_schema", "prompt")
    assert says_invalid_request("Input should be 'text' or 'json_object'")
    assert not says_invalid_request("CUDA out of memory")


def test_the_client_package_imports_only_lower_packages():
    """models/llm sits below knowledge/ and every later stage: it may import graph/ and
    ioutil only (besides itself), so any stage can use it without a cycle."""
    root = Path(llm_pkg.__file__).parent
    allowed = ("scenesynth.models.llm", "scenesynth.graph", "scenesynth.ioutil")
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                    "scenesynth"):
                assert node.module.startswith(allowed), f"{path.name} imports {node.module}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    assert not alias.name.startswith("scenesynth") or alias.name.startswith(
                        allowed), f"{path.name} imports {alias.name}"


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def test_names_must_name_objects(kb):
    for bad, reason in [("o2", "name_is_id"), ("obj3", "name_is_id"), ("object", "name_is_id"),
                        ("sunlight", "not_physical"), ("bright sunlight", "not_physical"),
                        ("light", "not_physical"), ("surface", "not_physical"),
                        ("clouds and rain", "not_physical"), ("", "empty_name"),
                        ("table #2", "name_not_a_noun"),
                        ("a very long name of five words", "name_not_a_noun")]:
        assert name_problem(bad) == reason, bad
    for good in ["person", "blue building", "coffee table", "t-shirt"]:
        assert name_problem(good) is None, good
    # every object the knowledge base knows is an object, "traffic light" included
    assert [n for n in kb.objects if name_problem(n, kb) or name_problem(n)] == []


def test_sizes_are_held_to_the_knowledge_base(kb):
    assert known_singular("clouds", kb) == "cloud" and known_singular("benches", kb) == "bench"
    assert known_singular("glasses", kb) in ("glass", "glasses")
    person = kb.objects["person"].size
    assert known_size_problem([60, 48, 24], person) is not None
    assert known_size_problem([0.5, 1.8, 0.3], person) is None
    assert known_size_problem([12, 0.9, 0.6], kb.objects["oven"].size) is not None
    ranges = form_ranges(kb)
    people = ranges["person"]
    assert size_problem([0.5, 60, 0.3], people.low, people.high) is not None
    assert size_problem([0.5, 1.7, 0.3], people.low, people.high) is None


def test_scene_lists_drop_the_prompt_examples_and_ids():
    names, dropped = clean_scene_names(
        ["Kitchen", "beach", "office", "office", "s1", "Train Station"],
        ("kitchen", "city street", "beach"))
    assert names == ["office", "train station"]
    assert dropped == [("scene_prompt_example", "kitchen"), ("scene_prompt_example", "beach"),
                       ("scene_name_invalid", "s1")]
