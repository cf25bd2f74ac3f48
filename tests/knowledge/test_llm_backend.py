"""The LLM backend against a real HTTP server on 127.0.0.1 speaking /v1/chat/completions.

The server (tests/support/llm_servers.py) answers from a script (valid JSON, invalid JSON, JSON
missing fields, a response slower than the client timeout, HTTP 429 and 500, a 400 for
unsupported JSON schemas) and counts the requests it receives.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from llm_servers import Reply, ScriptedServer

from scenesynth.graph import AttributeKind, RelationCategory, RelationSource
from scenesynth.knowledge import KnowledgeSource, load_kb, make_source
from scenesynth.knowledge.llm import LLMSource
from scenesynth.knowledge.llm.prompts import graph_max_tokens
from scenesynth.models.llm import (
    ENV_VARS,
    LLMClient,
    LLMConfig,
    LLMError,
    LLMFatalError,
    ResponseCache,
    parse_json_lenient,
)


def Server(script: list[Reply], **kw: Any) -> ScriptedServer:
    """A server that answers only from its script (then HTTP 500)."""
    return ScriptedServer(script, answer=None, **kw)


GRAPH_ANSWER = {
    "scene": "kitchen",
    "objects": [
        {"id": "o0", "name": "Table", "colors": ["brown"], "materials": ["wooden"],
         "states": [], "size_m": [1.4, 0.75, 0.8], "form": "long", "placement": "floor"},
        {"id": "o1", "name": "cup", "colors": ["red"], "materials": ["ceramic"],
         "states": ["full"], "size_m": [0.08, 0.1, 0.08], "form": "container",
         "placement": "surface"},
        {"id": "o2", "name": "cup", "colors": ["red", "blue"], "materials": [],
         "states": [], "size_m": [0.08, 0.1, 0.08], "form": "container",
         "placement": "surface"},
        {"id": "o3", "name": "refrigerator", "colors": ["white"], "materials": ["metal"],
         "states": ["closed"], "size_m": [0.8, 1.8, 0.7], "form": "tall",
         "placement": "floor"},
    ],
    "relations": [
        {"subject": "o1", "predicate": "on top of", "object": "o0"},
        {"subject": "o2", "predicate": "on top of", "object": "o0"},
        {"subject": "o1", "predicate": "left of", "object": "o2"},
        {"subject": "table", "predicate": "to the left of", "object": "refrigerator"},
        {"subject": "o3", "predicate": "behind", "object": "o0"},
        {"subject": "o2", "predicate": "left of", "object": "o3"},
        # dropped: two contradictions, an unknown object, an implausible support, a cycle
        {"subject": "o2", "predicate": "left of", "object": "o1"},
        {"subject": "o0", "predicate": "behind", "object": "o3"},
        {"subject": "o9", "predicate": "near", "object": "o0"},
        {"subject": "o0", "predicate": "on top of", "object": "o1"},
        {"subject": "o3", "predicate": "left of", "object": "o1"},
    ],
    "absent_objects": ["oven", "cup", "toaster", "mug"],
}
VALID = json.dumps(GRAPH_ANSWER)
# the same answer as models often write it: fenced, with prose and trailing commas
SLOPPY = "Sure! Here it is:\n```json\n" + VALID.replace("]}", "],}").replace(
    '"toaster"]', '"toaster",]'
) + "\n```\nHope this helps."


def _config(tmp_path: Path, server: ScriptedServer, **kw: Any) -> LLMConfig:
    values: dict[str, Any] = {
        "model": "test-model", "base_url": server.base_url, "api_key": "k",
        "cache_dir": str(tmp_path / "cache"), "timeout_s": 5.0, "backoff_s": 0.0,
        "max_attempts": 6,
    }
    values.update(kw)
    return LLMConfig(**values)


def _source(config: LLMConfig, **kw: Any) -> LLMSource:
    """A source asking for exactly as many objects as GRAPH_ANSWER has."""
    kw.setdefault("n_objects", (4, 4))
    return LLMSource(config, **kw)


def _graph_requests(server: ScriptedServer) -> list[dict[str, Any]]:
    return [r["body"] for r in server.requests]


def test_valid_answer_becomes_a_kg_and_cache_makes_rerun_free(tmp_path):
    # the prompt's own example (kitchen) is dropped and counted; case and repeats are folded
    scenes = {"scenes": ["Bakery", "harbor", "bakery", "library", "office", "garden",
                         "kitchen"]}
    with Server([Reply(json.dumps(scenes)), Reply(VALID)]) as server:
        source = _source(_config(tmp_path, server))
        assert isinstance(source, KnowledgeSource)
        graph = source.sample(7)
        assert len(server.requests) == 2
    assert source.scenes() == ["bakery", "garden", "harbor", "library", "office"]
    assert graph.image.source == "scenesynth.llm"
    assert graph.image.id.startswith("llm-") and graph.image.id.endswith("-7-0")
    assert [o.name for o in graph.objects] == ["table", "cup", "cup", "refrigerator"]
    assert all(o.distinct and o.box is None for o in graph.objects)
    # the second red cup took its next color so both cups stay describable
    assert [o.attribute_values(AttributeKind.COLOR)[0] for o in graph.objects] == [
        "brown", "red", "blue", "white"]
    assert graph.objects[0].attribute_values(AttributeKind.MATERIAL) == ["wood"]
    # a name the built-in renderer draws carries its drawing; refrigerator has none
    assert graph.objects[0].meta == {"real_size": [1.4, 0.75, 0.8], "form": "long",
                                     "placement": "floor", "depiction": "drawing:table",
                                     "aspect": graph.objects[0].meta["aspect"]}
    assert "depiction" not in graph.objects[3].meta
    triplets = [(r.subject, r.predicate, r.object) for r in graph.relations]
    assert triplets == [
        ("o1", "on top of", "o0"), ("o2", "on top of", "o0"), ("o1", "left of", "o2"),
        ("o0", "left of", "o3"), ("o3", "behind", "o0"), ("o2", "left of", "o3"),
    ]
    assert all(r.source == RelationSource.MODEL and r.category == RelationCategory.SPATIAL
               for r in graph.relations)
    assert graph.meta == {"scene": graph.meta["scene"], "absent_objects": ["oven", "toaster"],
                          "kg_seed": 7}
    stats = source.stats.as_dict()
    assert stats["requests"] == 2 and stats["cache_hits"] == 0
    assert stats["rejections"] == {
        "absent_object_present": 1,  # the model listed "cup" as absent
        "absent_object_overlaps": 1,  # and "mug": a mug is a cup
        "scene_prompt_example": 1,  # "kitchen" was the prompt's example
        "triplet_contradiction": 2,  # o2 left of o1; o0 behind o3
        "triplet_cycle": 1,  # o3 left of o1 closes o1 < o2 < o3
        "triplet_unknown_object": 1,  # o9
        "triplet_unsupported_on_top": 1,  # a table on a cup
    }

    # a second run over the same cache asks the server nothing
    with Server([]) as server2:
        again = _source(_config(tmp_path, server2))
        assert again.sample(7) == graph
        assert server2.requests == []
    assert again.stats.cache_hits == 2 and again.stats.requests == 0


def test_every_failure_is_retried_and_counted_by_reason(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="scenesynth.models.llm")
    slept: list[float] = []
    script = [
        Reply("this is not JSON {"),                              # invalid JSON
        Reply(json.dumps({"scene": "kitchen", "relations": []})),  # missing objects
        Reply(VALID, delay_s=4.0),                                # slower than the timeout
        Reply(status=429, headers={"retry-after": "3"}, error="slow down"),
        Reply(status=500, error="boom"),
        Reply(SLOPPY),                                            # repaired and accepted
    ]
    with Server(script) as server:
        config = _config(tmp_path, server, timeout_s=1.5, max_backoff_s=10.0)
        source = _source(config, scenes=["kitchen"],
                           client=LLMClient(config, sleep=slept.append))
        graph = source.sample(3)
        assert len(server.requests) == 6
        assert all(r["path"] == "/v1/chat/completions" for r in server.requests)
    rejections = source.stats.rejections
    assert {k: v for k, v in rejections.items() if not k.startswith(("triplet_", "absent_"))} == {
        "invalid_json": 1, "schema_invalid": 1, "timeout": 1, "rate_limited": 1,
        "server_error": 1,
    }
    assert source.stats.repairs == {"code_fence": 1, "trailing_comma": 1}
    # every rejection is logged: failed responses as warnings, dropped triplets as info
    warned = [r.getMessage() for r in caplog.records
              if r.levelno == logging.WARNING and "rejection" in r.getMessage()]
    assert [m.split(":")[0] for m in warned] == [
        "LLM rejection invalid_json", "LLM rejection schema_invalid", "LLM rejection timeout",
        "LLM rejection rate_limited", "LLM rejection server_error"]
    infos = [r.getMessage() for r in caplog.records if r.levelno == logging.INFO]
    assert "LLM rejection triplet_cycle: (o3, left of, o1)" in infos
    assert slept == [3.0]  # the server's Retry-After was honoured (backoff itself is 0 here)
    assert len(graph.objects) == 4 and len(graph.relations) == 6
    # the request carried the JSON schema, the model, the seed and our parameters
    body = server.requests[-1]["body"]
    assert body["model"] == "test-model"
    assert body["response_format"]["type"] == "json_schema"
    assert body["response_format"]["json_schema"]["schema"]["required"] == [
        "scene", "objects", "relations", "absent_objects"]
    assert body["temperature"] == 0.7 and body["stream"] is True
    # each attempt sends its own seed (the first the KG's), so a retry can differ
    seeds = [r["body"]["seed"] for r in server.requests]
    assert seeds[0] == 3 and len(set(seeds)) == 6
    assert body["max_tokens"] == graph_max_tokens(4)  # scaled to the 4 objects asked for
    schema = body["response_format"]["json_schema"]["schema"]["properties"]["objects"]
    assert (schema["minItems"], schema["maxItems"]) == (4, 4)
    assert "Scene: kitchen" in body["messages"][1]["content"]


def test_budget_is_bounded_and_failure_reported(tmp_path):
    with Server([Reply(status=500)] * 5) as server:
        source = _source(_config(tmp_path, server, max_attempts=3), scenes=["beach"])
        with pytest.raises(LLMError, match=r"after 3 attempts.*'server_error': 3"):
            source.sample(1)
        assert len(server.requests) == 3
    assert source.stats.rejections == {"server_error": 3}
    assert source.stats.retries == {"server_error": 2}
    # the attempts are recorded (no answer, so a re-run asks again, with the next seeds)
    records = [json.loads(p.read_text()) for p in (tmp_path / "cache").rglob("*.json")
               if p.parent.name != "strategies"]
    assert [[a.get("error") for a in r["attempts"]] for r in records] == [
        ["server_error"] * 3]


def test_unsupported_json_schema_falls_back_to_prompting(tmp_path):
    script = [Reply(status=400, error="response_format json_schema is not supported"),
              Reply(VALID)]
    with Server(script, kind="plain") as server:
        source = _source(_config(tmp_path, server, max_attempts=1), scenes=["kitchen"])
        graph = source.sample(0)
        formats = [r["body"].get("response_format", {}).get("type") for r in server.requests]
        last_prompt = server.requests[-1]["body"]["messages"][-1]["content"]
    assert formats == ["json_schema", None]  # one wasted request, then the schema in the prompt
    assert "follows this JSON schema" in last_prompt and '"absent_objects"' in last_prompt
    assert source.stats.wasted_requests == 1 and source.stats.strategy == "prompt"
    assert len(graph.objects) == 4


def test_other_client_errors_are_not_retried(tmp_path):
    with Server([Reply(status=401, error="bad key"), Reply(VALID)]) as server:
        source = _source(_config(tmp_path, server), scenes=["kitchen"])
        with pytest.raises(LLMFatalError, match="HTTP 401"):
            source.sample(0)
        assert len(server.requests) == 1
    assert source.stats.rejections == {"http_401": 1}


def test_answer_without_usable_objects_is_retried(tmp_path):
    no_color = dict(GRAPH_ANSWER, objects=[dict(GRAPH_ANSWER["objects"][1], colors=[""])],
                    relations=[])
    with Server([Reply(json.dumps(no_color)), Reply(VALID)]) as server:
        source = _source(_config(tmp_path, server), scenes=["kitchen"])
        graph = source.sample(0)
        assert len(server.requests) == 2
    assert source.stats.rejections["object_not_distinct"] == 1
    assert source.stats.rejections["no_usable_objects"] == 1
    assert len(graph.objects) == 4


def test_cache_key_and_files(tmp_path):
    msgs = [{"role": "user", "content": "hi"}]
    k1 = ResponseCache.key(msgs, "m", {"temperature": 0.7})
    assert k1 == ResponseCache.key(msgs, "m", {"temperature": 0.7})
    assert len({k1, ResponseCache.key(msgs, "m2", {"temperature": 0.7}),
                ResponseCache.key(msgs, "m", {"temperature": 0.2}),
                ResponseCache.key([{"role": "user", "content": "ho"}], "m", {})}) == 4
    cache = ResponseCache(tmp_path)
    assert cache.get(k1) is None
    attempts = [{"seed": 1, "rejected": "repetition_loop", "detail": "period 4"},
                {"seed": 2, "content": '{"a": 1}'}]
    cache.put(k1, attempts, "m")
    assert cache.get(k1) == attempts
    assert cache.path(k1) == tmp_path / k1[:2] / f"{k1}.json"
    cache.path(k1).write_text("{truncated")  # a damaged file is a miss, not a crash
    assert cache.get(k1) is None
    assert [p.name for p in tmp_path.rglob("*") if p.is_file()] == [f"{k1}.json"]  # no temp


def test_parse_json_lenient_repairs_but_never_evaluates():
    assert parse_json_lenient('{"a": [1, 2]}') == ({"a": [1, 2]}, [])
    assert parse_json_lenient('```json\n{"a": 1,}\n```') == ({"a": 1},
                                                               ["code_fence", "trailing_comma"])
    assert parse_json_lenient('Answer: {"a": {"b": [1,]},} thanks') == (
        {"a": {"b": [1]}}, ["surrounding_text", "trailing_comma"])
    for bad in ["__import__('os').system('true')", "{'a': 1}", "", "{"]:
        with pytest.raises(ValueError, match="not valid JSON"):
            parse_json_lenient(bad)


def test_config_from_env(monkeypatch, tmp_path):
    for var in [*ENV_VARS.values(), "OPENAI_API_KEY"]:
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(ValueError, match="SCENESYNTH_LLM_MODEL"):
        LLMConfig.from_env()
    monkeypatch.setenv("SCENESYNTH_LLM_MODEL", "qwen")
    monkeypatch.setenv("SCENESYNTH_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-openai")
    monkeypatch.setenv("SCENESYNTH_LLM_CACHE_DIR", str(tmp_path))
    cfg = LLMConfig.from_env(temperature=0.2)
    assert (cfg.model, cfg.base_url, cfg.api_key, cfg.cache_dir, cfg.temperature) == (
        "qwen", "http://127.0.0.1:9/v1", "sk-openai", str(tmp_path), 0.2)
    monkeypatch.setenv("SCENESYNTH_LLM_API_KEY", "sk-own")
    assert LLMConfig.from_env().api_key == "sk-own"
    assert LLMConfig.from_env(model="llama").model == "llama"
    with pytest.raises(ValueError, match="strategy"):
        LLMConfig(model="m", strategy="xml")
    with pytest.raises(LLMError, match="no API key"):
        LLMClient(LLMConfig(model="m"))
    # every knob has a variable, parsed to its type; a bad value names the variable
    monkeypatch.setenv("SCENESYNTH_LLM_TIMEOUT", "7.5")
    monkeypatch.setenv("SCENESYNTH_LLM_ATTEMPTS", "2")
    monkeypatch.setenv("SCENESYNTH_LLM_STRATEGY", "json_object_schema")
    monkeypatch.setenv("SCENESYNTH_LLM_STREAM", "false")
    monkeypatch.setenv("SCENESYNTH_LLM_MAX_TOKENS", "none")
    cfg = LLMConfig.from_env()
    assert (cfg.timeout_s, cfg.max_attempts, cfg.strategy, cfg.stream, cfg.max_tokens) == (
        7.5, 2, "json_object_schema", False, None)
    monkeypatch.setenv("SCENESYNTH_LLM_CONCURRENCY", "two")
    with pytest.raises(ValueError, match="SCENESYNTH_LLM_CONCURRENCY: expected int"):
        LLMConfig.from_env()


def test_request_parameters_are_configurable_and_part_of_the_cache_key(tmp_path):
    with Server([Reply(VALID), Reply(VALID)]) as server:
        base = _config(tmp_path, server)
        first = _source(base, scenes=["kitchen"])
        first.sample(5)
        tuned = replace(base, max_tokens=256, seed_policy="none",
                        extra_params={"top_p": 0.5, "max_completion_tokens": 999})
        second = _source(tuned, scenes=["kitchen"])
        second.sample(5)  # other parameters: another cache key, so a new request
        bodies = [r["body"] for r in server.requests]
    assert len(bodies) == 2
    assert bodies[0]["max_tokens"] == graph_max_tokens(4) and bodies[0]["seed"] == 5
    assert bodies[1]["max_tokens"] == 256 and "seed" not in bodies[1]  # the config caps
    assert bodies[1]["top_p"] == 0.5 and bodies[1]["max_completion_tokens"] == 999


def test_make_source_llm_switch(tmp_path):
    with Server([Reply(VALID)]) as server:
        source = make_source("llm", model="m", base_url=server.base_url,
                             cache_dir=str(tmp_path), backoff_s=0.0, scenes=["kitchen"],
                             n_objects=(3, 3))
        assert isinstance(source, LLMSource)
        graph = source.sample(11)
    assert len(graph.objects) == 3  # capped at the k asked for, the rest counted
    assert source.stats.rejections["object_over_limit"] == 1


@pytest.fixture(scope="module")
def kb():
    return load_kb()


def test_support_checks_use_the_kb_table(tmp_path, kb):
    answer = dict(GRAPH_ANSWER, relations=[
        {"subject": "o3", "predicate": "on top of", "object": "o0"},  # fridge on a table: no
        {"subject": "o1", "predicate": "on", "object": "o0"},          # alias of on top of
    ])
    with Server([Reply(json.dumps(answer))]) as server:
        source = _source(_config(tmp_path, server), scenes=["kitchen"], kb=kb)
        graph = source.sample(2)
    assert [(r.subject, r.predicate, r.object) for r in graph.relations] == [
        ("o1", "on top of", "o0")]
    assert source.stats.rejections == {"triplet_unsupported_on_top": 1,
                                       "absent_object_present": 1,
                                       "absent_object_overlaps": 1}


def test_overlapping_object_names_are_dropped(tmp_path, kb):
    person = {"id": "p", "name": "person", "colors": ["green"], "materials": [], "states": [],
              "size_m": [0.5, 1.7, 0.3], "form": "person", "placement": "floor"}
    man = dict(person, id="m", name="man", colors=["blue"])
    answer = {"scene": "park", "objects": [man, person],
              "relations": [{"subject": "p", "predicate": "left of", "object": "m"}],
              "absent_objects": ["woman"]}
    with Server([Reply(json.dumps(answer))]) as server:
        source = _source(_config(tmp_path, server), scenes=["park"], kb=kb,
                         n_objects=(2, 2), min_objects=1)
        graph = source.sample(4)
    assert [o.name for o in graph.objects] == ["man"]
    assert graph.relations == [] and graph.meta["absent_objects"] == ["woman"]
    assert source.stats.rejections == {"object_name_overlap": 1, "triplet_unknown_object": 1}


def test_malformed_server_bodies_are_retried(tmp_path):
    script = [Reply(raw=b'{"unexpected": true}'), Reply(raw=b"<html>proxy error</html>"),
              Reply(""), Reply(VALID)]
    with Server(script) as server:
        # raw bodies are not an event stream: ask without streaming
        source = _source(_config(tmp_path, server, stream=False), scenes=["kitchen"])
        graph = source.sample(9)
        assert len(server.requests) == 4
    assert len(graph.objects) == 4
    failures = {k: v for k, v in source.stats.rejections.items()
                if not k.startswith(("triplet_", "absent_"))}
    assert failures == {"malformed_response": 2, "empty_response": 1}
