"""``scenesynth write-questions`` end to end with a scripted OpenAI-compatible server: QC drops
counted exactly as scripted on the shared CLEVR scenes, the exported samples and their
provenance, the card, bad input, the hf: writer on a tiny random model, and the paraphrase
bank."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path

import pytest
from scripted_llm import (
    QC_SCRIPT,
    ScriptedLLM,
    field,
    qc_expected,
    qc_respond,
    user_text,
)
from typer.testing import CliRunner

from scenesynth.authoring.paraphrase import load_bank, phrasing_problem, propose, write_bank
from scenesynth.authoring.qc import distinct_trigrams_per_1000, near_duplicate
from scenesynth.authoring.sandbox import SandboxConfig, SandboxPool
from scenesynth.authoring.writer import OpenAIWriter, WriterCache
from scenesynth.cli import app
from scenesynth.graph import SceneGraph, write_graphs_jsonl
from scenesynth.pipeline.write_questions import WriteQuestionsConfig, write_questions
from scenesynth.sources import load

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="the sandbox is Linux first")


@pytest.fixture(scope="module")
def clevr(shared_data: Path) -> list[SceneGraph]:
    return list(itertools.islice(load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"),
                                 30))


@pytest.fixture(scope="module")
def pool():
    with SandboxPool(SandboxConfig(workers=2)) as p:
        yield p


def test_qc_drops_on_clevr_are_counted_exactly_as_scripted(clevr: list[SceneGraph],
                                                          pool: SandboxPool,
                                                          tmp_path: Path) -> None:
    config = WriteQuestionsConfig(questions_per_graph=len(QC_SCRIPT), agreement=3,
                                  probe_scenes=4, cache_dir=str(tmp_path / "cache"))
    with ScriptedLLM(qc_respond) as server:
        writer = OpenAIWriter("scripted-qc", server.url, api_key="test")
        result = write_questions(clevr, writer, config, pool)
        requests = len(server.requests)
        # the disk cache answers a re-run without a single request
        again = write_questions(clevr, writer, config, pool)
        assert len(server.requests) == requests
    expected = qc_expected([[o.name for o in g.objects] for g in clevr], probes=4)
    assert result.drops_by_reason() == dict(sorted(expected.items(),
                                                   key=lambda kv: (-kv[1], kv[0])))
    written = len(clevr) * len(QC_SCRIPT)
    assert result.written == written
    assert len(result.samples) == written - sum(expected.values())
    assert again.drops_by_reason() == result.drops_by_reason()
    # every kept sample's answer is the true count, recomputed here from the graph
    by_id = {g.image.id: g for g in clevr}
    for s in result.samples:
        g = by_id[s.provenance.image_ids[0]]
        name = "cube" if "cube" in s.question else "cylinder"
        truth = sum(o.name == name for o in g.objects) + (
            sum(o.name == "cube" for o in g.objects) if name == "cylinder" else 0)
        assert s.answer_value == truth and s.answer == str(truth)
        assert s.provenance.program[0].op == "python"
        assert s.provenance.extra["agreement"]["programs"] == 3
    assert result.template_checked["counting"] > 0


def write_jsonl(graphs: list[SceneGraph], path: Path) -> Path:
    write_graphs_jsonl(graphs, path)
    return path


def test_cli_writes_exports_and_card(clevr: list[SceneGraph], tmp_path: Path) -> None:
    graphs = write_jsonl(clevr[:10], tmp_path / "graphs.jsonl")
    out = tmp_path / "run"
    with ScriptedLLM(qc_respond) as server:
        result = CliRunner().invoke(app, [
            "write-questions", str(graphs), "--writer", f"openai:scripted@{server.url}",
            "--out", str(out), "--questions-per-graph", str(len(QC_SCRIPT)),
            "--probe-scenes", "4", "--format", "sharegpt",
        ])
    assert result.exit_code == 0, result.output
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert samples
    card = json.loads((out / "card.json").read_text())
    assert card["counts"]["samples"] == len(samples)
    assert card["export"]["validation_ok"] is True
    assert card["export"]["written"] == len(samples)
    assert sum(card["drops_by_reason"].values()) == card["counts"]["dropped"]
    assert card["drops_by_reason"]["wrong_type"] == 10
    assert card["diversity"]["template_distinct_3grams_per_1000_questions"] > 0
    assert card["sandbox_layers"]["rlimits"]
    drops = (out / "drops.jsonl").read_text().splitlines()
    assert len(drops) == card["counts"]["dropped"]
    # what the trainer receives: the exported conversation, with its provenance
    exported = [json.loads(line) for line in
                (out / "export").glob("*.jsonl").__next__().read_text().splitlines()] \
        if list((out / "export").glob("*.jsonl")) else \
        json.loads(next((out / "export").glob("*.json")).read_text())
    first = exported[0]
    text = json.dumps(first)
    assert samples[0]["question"] in text and "def answer(scene)" in text
    prov = samples[0]["provenance"]
    assert prov["generator"] == "llm_program"
    assert prov["extra"]["prompt_version"] == "write-questions/1"
    assert prov["extra"]["writer"].startswith("openai:scripted@http://127.0.0.1")
    assert prov["extra"]["execution"]["value"] == samples[0]["answer_value"]
    assert "Drops by reason" in (out / "DATASET_CARD.md").read_text()


def test_cli_bad_input_and_nothing_kept(clevr: list[SceneGraph], tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(app, ["write-questions", str(tmp_path / "nope.jsonl"),
                                  "--writer", "openai:m@http://127.0.0.1:9/v1",
                                  "--out", str(tmp_path / "o")])
    assert missing.exit_code == 1 and "nope.jsonl" in missing.output
    bad_writer = runner.invoke(app, ["write-questions", str(tmp_path / "x.jsonl"),
                                     "--writer", "gpt4", "--out", str(tmp_path / "o")])
    assert bad_writer.exit_code == 2 and "openai:MODEL@URL" in bad_writer.output
    graphs = write_jsonl(clevr[:3], tmp_path / "graphs.jsonl")
    with ScriptedLLM(lambda body: "I cannot help with that.") as server:
        result = runner.invoke(app, [
            "write-questions", str(graphs), "--writer", f"openai:m@{server.url}",
            "--out", str(tmp_path / "empty"), "--questions-per-graph", "1"])
    assert result.exit_code == 1 and "no question passed" in result.output
    card = json.loads((tmp_path / "empty" / "card.json").read_text())
    assert card["drops_by_reason"] == {"writer_failed": 3}


def test_hf_writer_on_a_tiny_random_model_is_rejected_cleanly(clevr: list[SceneGraph],
                                                             pool: SandboxPool,
                                                             tmp_path: Path) -> None:
    transformers = pytest.importorskip("transformers")
    tokenizers = pytest.importorskip("tokenizers")
    from tokenizers.models import WordLevel
    from tokenizers.pre_tokenizers import Whitespace

    from scenesynth.authoring.writer import parse_writer_spec

    words = ["[UNK]", "[PAD]", "{", "}", '"', ":", ",", "question", "code", "answer_type",
             "count", "def", "answer", "scene", "return", "how", "many"]
    tok = tokenizers.Tokenizer(WordLevel({w: i for i, w in enumerate(words)}, unk_token="[UNK]"))
    tok.pre_tokenizer = Whitespace()
    folder = tmp_path / "tiny-lm"
    fast = transformers.PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]",
                                                pad_token="[PAD]", eos_token="[PAD]")
    fast.save_pretrained(folder)
    config = transformers.GPT2Config(vocab_size=len(words), n_positions=256, n_embd=16,
                                     n_layer=1, n_head=2)
    transformers.GPT2LMHeadModel(config).save_pretrained(folder)
    writer = parse_writer_spec(f"hf:{folder}", max_new_tokens=24)
    assert writer.name == f"hf:{folder}"
    result = write_questions(clevr[:2], writer,
                             WriteQuestionsConfig(questions_per_graph=1, max_attempts=1), pool)
    assert result.samples == []
    assert result.drops_by_reason() == {"writer_failed": 2}
    assert all("unparseable" in d.detail or "invalid_schema" in d.detail for d in result.drops)


def paraphrase_respond(body: dict) -> str:
    text = user_text(body)
    if field(text, "TEMPLATE_ID") != "count_how_many":
        return "{}"
    return json.dumps({"phrasings": [
        "What is the number of {plural_phrase} in the picture?",  # accepted
        "How many {plural_phrase} can you see here?",  # accepted
        "How many {things} are there?",  # slots
        "Are there 3 {plural_phrase}?",  # answer mentioned
        "Count the {plural_phrase}.",  # form
        "How many {plural_phrase} are there?",  # duplicate of the template
        "What is the number of {plural_phrase} in the picture?",  # duplicate of the first
    ]})


def test_paraphrase_bank(tmp_path: Path) -> None:
    catalog = {"count_how_many": "How many {plural_phrase} are there?",
               "exist_see": "Can you see {a_phrase}?"}
    with ScriptedLLM(paraphrase_respond) as server:
        writer = OpenAIWriter("scripted", server.url, api_key="t")
        accepted, drops = propose(writer, catalog, 5, WriterCache(tmp_path / "c"))
        bank = tmp_path / "bank.json"
        write_bank(bank, catalog, accepted, writer.name)
        cli = CliRunner().invoke(app, ["paraphrase-templates", "--writer",
                                       f"openai:scripted@{server.url}", "--out",
                                       str(tmp_path / "cli_bank.json"), "--only", "count_how"])
    assert accepted == {"count_how_many": [
        "What is the number of {plural_phrase} in the picture?",
        "How many {plural_phrase} can you see here?"]}
    # the other template gets "{}": no phrasings field, the writer call fails and is counted
    assert drops == {"slots": 1, "answer_mentioned": 1, "form": 1, "duplicate": 2,
                     "writer_failed": 1}
    assert load_bank(bank) == accepted
    assert cli.exit_code == 0, cli.output
    assert load_bank(tmp_path / "cli_bank.json") == accepted
    # every accepted phrasing renders like the template it replaces
    for phrasing in accepted["count_how_many"]:
        assert "cubes" in phrasing.format(plural_phrase="cubes")
    assert phrasing_problem("Is it {x}?", "Is it {x} or {x}?", set()) == "slots"
    # what a real 0.5B model proposed: another kind of question, two questions, and a suffix
    # glued to a plural slot
    assert phrasing_problem("Is there {a_phrase} in the image?",
                            "In what part of the image does this {a_phrase} occur?",
                            set()) == "form"
    assert phrasing_problem("How many other objects are {same} {ref}?",
                            "How many other objects are {same} {ref}? How many are you?",
                            set()) == "form"
    assert phrasing_problem("Is there {a_phrase} in the image?",
                            "Does this image have any {a_phrase}?", set()) is None
    assert phrasing_problem("What number of {plural_phrase} are in the image?",
                            "How many {plural_phrase}s are there in the image?", set()) == "slots"


def test_near_duplicates_and_diversity_figure() -> None:
    assert near_duplicate("How many cubes are there, please?", ["How many cubes are there?"],
                          0.7)
    assert not near_duplicate("Is the red cube left of the blue sphere?",
                              ["Is the red cube left of the green sphere?"], 0.7)
    assert distinct_trigrams_per_1000(["a b c d", "a b c"]) == 1000.0


def test_openai_writer_falls_back_to_json_object_with_a_grammar_safe_schema() -> None:
    from scenesynth.authoring.writer import WrittenQuestion, ask, extract_json

    seen: list[dict] = []

    def respond(body: dict) -> str | tuple[int, str]:
        seen.append(body["response_format"])
        if body["response_format"]["type"] == "json_schema":
            return 400, "response_format: Input should be 'text' or 'json_object'"
        # what llama.cpp-backed servers send: raw newlines inside the code string
        return ('{"question": "How many cubes are there?", "answer_type": "count", '
                '"code": "def answer(scene):\n    return len(scene.find(\'cube\'))\n"}')

    with ScriptedLLM(respond) as server:
        writer = OpenAIWriter("m", server.url, api_key="t", transport_retries=0)
        answer = ask(writer, [{"role": "user", "content": "TASK: write"}], WrittenQuestion, 1)
    assert answer.code.startswith("def answer(scene):\n")
    assert writer.response_format == "json_object"
    assert [f["type"] for f in seen] == ["json_schema", "json_object"]
    assert "maxLength" not in json.dumps(seen[1]["schema"])
    assert extract_json('```json\n{"a": "x\ny"}\n```') == {"a": "x\ny"}
