"""The paraphrase bank at run time: the shipped human-reviewed bank's phrasings appear in the
exported text, provenance names the wording, the independent checker agrees on every program,
the wording never changes an answer, runs stay deterministic across workers, a bank written by
``paraphrase-templates`` is accepted, and a bad bank is one clear line."""

from __future__ import annotations

import itertools
import json
import re
from pathlib import Path

import pytest
from checker import check_sample
from typer.testing import CliRunner

from scenesynth.authoring.paraphrase import write_bank
from scenesynth.cli import app
from scenesynth.generators.base import GenConfig
from scenesynth.generators.paraphrases import (
    DEFAULT_BANK,
    BankError,
    load_wordings,
    read_bank,
    template_catalog,
)
from scenesynth.graph import AnswerForm, SceneGraph
from scenesynth.pipeline import load_config
from scenesynth.pipeline.shard import generate_shard
from scenesynth.sources import load

ALL_FORMS = (AnswerForm.SHORT, AnswerForm.MULTIPLE_CHOICE, AnswerForm.YES_NO)
BANK_GENERATORS = ["count_objects", "exist_object", "compare_depth", "compare_size",
                   "region_position", "grounding_box"]


@pytest.fixture(scope="module")
def mixed(shared_data: Path) -> list[SceneGraph]:
    clevr = itertools.islice(load(shared_data / "clevr" / "CLEVR_train_scenes_1000.json"), 20)
    return [*clevr, *load(shared_data / "gqa" / "debug_sceneGraphs.json"),
            *load(shared_data / "coco_panoptic" / "panoptic_coco_detection_format.json")]


def _phrasing_pattern(phrasing: str) -> re.Pattern[str]:
    """The phrasing with each {slot} matching any text: finds it in a rendered question."""
    parts = re.split(r"\{[^{}]*\}", phrasing)
    return re.compile(".+".join(re.escape(p) for p in parts))


def test_shipped_bank_is_reviewed_and_valid() -> None:
    data = json.loads(DEFAULT_BANK.read_text(encoding="utf-8"))
    assert data["source"] == "human-reviewed" and data["version"] == 1
    bank = read_bank("default")
    assert len(bank) >= 5 and sum(len(p) for p in bank.values()) >= 10
    catalog = template_catalog()
    assert all(data["templates"][tid]["template"] == catalog[tid] for tid in bank)


def test_bank_wordings_reach_the_text_and_answers_do_not_change(
        mixed: list[SceneGraph]) -> None:
    wordings = load_wordings("default")
    plain = generate_shard(mixed, BANK_GENERATORS, 3, ALL_FORMS, 3, GenConfig(), None)
    banked = generate_shard(mixed, BANK_GENERATORS, 3, ALL_FORMS, 3,
                            GenConfig(wordings=wordings), None)
    assert not plain.failures and not banked.failures
    phrasing_of = {wid: p for options in wordings.values() for wid, p in options}
    used: dict[str, int] = {}
    for s in banked.samples:
        wid = s.provenance.extra.get("wording")
        if wid is None:
            continue
        # template stays the template id; the wording names the bank entry it rendered
        assert wid.startswith(f"{s.provenance.template}#")
        assert _phrasing_pattern(phrasing_of[wid]).search(s.question), (wid, s.question)
        used[wid] = used.get(wid, 0) + 1
    # every shipped phrasing is drawn at least once on these 3 sources
    assert set(used) == set(phrasing_of), sorted(set(phrasing_of) - set(used))
    assert sum(used.values()) > 50
    assert not any("wording" in s.provenance.extra for s in plain.samples)
    # the independent checker re-executes every program and agrees with every answer
    by_id = {g.image.id: g for g in mixed}
    problems = [p for s in banked.samples for p in check_sample(s, by_id)
                if "is not implemented by the checker" not in p]
    assert not problems, problems[:5]

    # the same program gives the same answer whatever its wording (within the banked run, and
    # between the run with and the run without the bank)
    def answers(samples: list) -> dict[tuple[str, ...], set[str]]:
        out: dict[tuple[str, ...], set[str]] = {}
        for s in samples:
            key = (*s.provenance.image_ids, repr(s.provenance.program))
            out.setdefault(key, set()).add(repr(s.answer_value))
        return out

    with_bank, without = answers(banked.samples), answers(plain.samples)
    assert all(len(v) == 1 for v in with_bank.values())
    shared = set(with_bank) & set(without)
    assert len(shared) > 50
    assert all(with_bank[k] == without[k] for k in shared)


def _clevr_source(shared_data: Path, tmp_path: Path) -> Path:
    data = json.loads((shared_data / "clevr" / "CLEVR_train_scenes_1000.json").read_text())
    data["scenes"] = data["scenes"][:12]
    source = tmp_path / "clevr12.json"
    source.write_text(json.dumps(data))
    return source


def _generate(source: Path, out: Path, *extra: str) -> str:
    result = CliRunner().invoke(app, [
        "generate", "-s", str(source), "-o", str(out), "--no-progress", "--seed", "5",
        "-g", "count_objects,exist_object,compare_depth", "--shard-size", "4", "-f", "llava",
        *extra])
    assert result.exit_code == 0, result.output
    return (out / "export" / "data.json").read_text()


def test_generate_with_a_bank_is_deterministic_across_workers(
        shared_data: Path, tmp_path: Path) -> None:
    source = _clevr_source(shared_data, tmp_path)
    one = _generate(source, tmp_path / "w1", "--workers", "1", "--paraphrases", "default")
    two = _generate(source, tmp_path / "w2", "--workers", "2", "--paraphrases", "default")
    assert one == two
    plain = _generate(source, tmp_path / "plain", "--workers", "1")
    bank = read_bank("default")
    questions = [turn["value"] for record in json.loads(one)
                 for turn in record["conversations"] if turn["from"] == "human"]
    found = sum(1 for q in questions for tid in ("count_how_many", "exist_is_there",
                                                 "depth_closer")
                for p in bank[tid] if _phrasing_pattern(p).search(q))
    plain_questions = [turn["value"] for record in json.loads(plain)
                       for turn in record["conversations"] if turn["from"] == "human"]
    assert found > 20
    assert not any(_phrasing_pattern(p).search(q) for q in plain_questions
                   for phrasings in bank.values() for p in phrasings)


def test_a_bank_from_paraphrase_templates_is_accepted(tmp_path: Path) -> None:
    catalog = template_catalog()
    bank = tmp_path / "bank.json"
    write_bank(bank, catalog, {"count_number": ["How many {plural_phrase} does the image "
                                                "show?"]}, "openai:scripted")
    data = json.loads(bank.read_text())
    assert data["source"] == "writer-proposed" and data["writer"] == "openai:scripted"
    assert load_wordings(bank) == {catalog["count_number"]: (
        ("count_number#1", "How many {plural_phrase} does the image show?"),)}


@pytest.mark.parametrize(("entry", "message"), [
    ({"no_such_template": {"template": "Is it {x}?", "phrasings": ["Is it really {x}?"]}},
     r"template 'no_such_template': unknown template id"),
    ({"count_how_many": {"template": "How many {plural_phrase} are there?",
                         "phrasings": ["How many {things} can you count?"]}},
     r"template 'count_how_many': field 'phrasings\[0\]': slots \['things'\] do not match "
     r"the template's \['plural_phrase'\]"),
    ({"count_how_many": {"template": "How many {plural_phrase} exist?",
                         "phrasings": ["What is the count of {plural_phrase}?"]}},
     r"template 'count_how_many': field 'template': .* \(stale bank\)"),
    ({"exist_see": {"template": "Can you see {a_phrase}?",
                    "phrasings": ["Is the answer yes for {a_phrase}?"]}},
     r"template 'exist_see': field 'phrasings\[0\]': rejected \(answer_mentioned\)"),
])
def test_a_bad_bank_is_one_line_naming_file_entry_and_field(
        tmp_path: Path, shared_data: Path, entry: dict, message: str) -> None:
    bank = tmp_path / "bad.json"
    bank.write_text(json.dumps({"version": 1, "source": "human-reviewed", "templates": entry}))
    with pytest.raises(BankError, match=re.escape(str(bank)) + ": " + message):
        read_bank(bank)
    result = CliRunner().invoke(app, [
        "generate", "-s", str(_clevr_source(shared_data, tmp_path)), "-o",
        str(tmp_path / "out"), "--no-progress", "--workers", "1", "--paraphrases", str(bank)])
    assert result.exit_code == 2
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and re.search(message, lines[0]) and str(bank) in lines[0], \
        result.output
    assert not (tmp_path / "out").exists()  # the bank is checked before any output


def test_unreadable_bank_files(tmp_path: Path) -> None:
    with pytest.raises(BankError, match="cannot be read"):
        read_bank(tmp_path / "missing.json")
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(BankError, match=r"broken\.json: paraphrase bank is not JSON"):
        read_bank(broken)
    broken.write_text(json.dumps({"version": 1}))
    with pytest.raises(BankError, match="field 'templates'"):
        read_bank(broken)


def test_config_file_bank_path_is_relative_to_the_file(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text(
        'source = "g.jsonl"\nout = "out"\n[gen]\nparaphrases = "banks/mine.json"\n')
    config = load_config(tmp_path / "run.toml")
    assert config.gen.paraphrases == str((tmp_path / "banks" / "mine.json").resolve())
    flag = load_config(tmp_path / "run.toml", {"paraphrases": "default"})
    assert flag.gen.paraphrases == "default"
