"""``scenesynth eval`` against a scripted OpenAI-compatible server on 127.0.0.1 and a tiny
random-weight local VLM; ``scenesynth split`` keeps the holdout out of train."""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from pathlib import Path

import pytest
from checker import expected_answer_text, final_answer
from run_folders import make_synth_run
from typer.testing import CliRunner
from vlm_server import scripted_server

from scenesynth.cli import app
from scenesynth.evaluate import EvalReport, evaluate, load_model, score, split_run
from scenesynth.evaluate.run import build_prompt
from scenesynth.graph import AnswerForm, InstructionSample
from scenesynth.models.vlm import _data_url
from scenesynth.rundata import RunData

LIMIT = 400


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> RunData:
    return RunData(make_synth_run(tmp_path_factory.mktemp("eval") / "synth", scenes=10))


def _key(prompt: str, urls: list[str]) -> str:
    return hashlib.sha1("\x1f".join([prompt, *urls]).encode()).hexdigest()


def _by_key(run: RunData) -> dict[str, InstructionSample]:
    table = {}
    for sample in run.samples():
        urls = [_data_url(run.resolve_image(p)) for p in sample.images]  # type: ignore[arg-type]
        table[_key(build_prompt(sample), urls)] = sample
    return table


def _eval(run: RunData, policy, out: Path, **kw) -> EvalReport:  # type: ignore[no-untyped-def]
    with scripted_server(policy) as url:
        model = load_model(f"openai:scripted@{url}", concurrency=4)
        return evaluate(run, model, out, **kw)


def _letter(i: int) -> str:
    return chr(65 + i)


def test_oracle_answering_from_the_graph_scores_100(run: RunData, tmp_path: Path) -> None:
    table = _by_key(run)
    graphs = run.graphs()

    def oracle(prompt: str, urls: list[str]) -> str:
        sample = table[_key(prompt, urls)]
        text = expected_answer_text(final_answer(sample, graphs))  # recomputed from the graph
        if sample.form == AnswerForm.MULTIPLE_CHOICE:
            return f"The answer is {_letter(sample.options.index(text))}."  # type: ignore[union-attr]
        return text

    report = _eval(run, oracle, tmp_path, limit=LIMIT)
    assert report.n == LIMIT
    assert report.overall.accuracy == 1.0
    assert all(f.accuracy == 1.0 for f in report.families.values())
    lines = [json.loads(x) for x in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert len(lines) == LIMIT and all(x["correct"] and x["reason"] == "correct" for x in lines)
    assert "| **all** | 400 | 100.0 |" in (tmp_path / "REPORT.md").read_text()
    assert (tmp_path / "accuracy.png").stat().st_size > 5_000


def test_random_model_scores_chance_within_its_interval(run: RunData, tmp_path: Path) -> None:
    table = _by_key(run)
    answers: dict[tuple[str, str], list[str]] = defaultdict(list)
    for sample in table.values():
        pool = answers[(sample.provenance.family, sample.form.value)]
        if sample.answer.strip().lower() not in pool:
            pool.append(sample.answer.strip().lower())

    def guesser(prompt: str, urls: list[str]) -> str:
        sample = table[_key(prompt, urls)]
        rng = random.Random(_key(prompt, urls))  # the same reply whatever the request order
        if sample.form == AnswerForm.MULTIPLE_CHOICE:
            return _letter(rng.randrange(len(sample.options or [])))
        if isinstance(sample.answer_value, bool):
            return rng.choice(["yes", "no"])
        if sample.answer_type == "box":
            x, y = rng.uniform(0, 400), rng.uniform(0, 400)
            return f"[{x:.0f}, {y:.0f}, {x + 20:.0f}, {y + 20:.0f}]"
        return rng.choice(answers[(sample.provenance.family, sample.form.value)])

    report = _eval(run, guesser, tmp_path)
    overall = report.overall
    assert overall.ci[0] <= overall.chance <= overall.ci[1], overall
    assert overall.accuracy < 0.6
    # Each family's 95 % interval misses chance with probability 0.05 by itself: over many
    # families, allow the misses that multiple comparisons expect (one, plus 10 %), not more.
    tested = {n: f for n, f in report.families.items() if f.n >= 40}
    missed = {n: f for n, f in tested.items() if not f.ci[0] <= f.chance <= f.ci[1]}
    assert tested
    assert len(missed) <= 1 + len(tested) // 10, missed


def test_always_a_is_at_chance_on_multiple_choice(run: RunData, tmp_path: Path) -> None:
    report = _eval(run, lambda prompt, urls: "A", tmp_path)
    mc = report.by_form["mc"]
    assert mc.n > 100
    assert mc.ci[0] <= mc.chance <= mc.ci[1], mc  # balanced positions: "A" gains nothing
    assert abs(mc.accuracy - mc.chance) < 0.08
    # On yes/no and counting questions "A" cannot be read as an answer: wrong, with a reason.
    assert report.reasons["malformed: no yes/no"] > 0
    assert report.reasons["malformed: no number"] > 0


def test_malformed_replies_are_wrong_with_a_reason(run: RunData, tmp_path: Path) -> None:
    report = _eval(run, lambda prompt, urls: "I cannot tell from this picture.", tmp_path,
                   limit=200)
    assert report.overall.correct == 0
    assert report.overall.malformed > 0
    rows = [json.loads(x) for x in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    reasons = {r["reason"] for r in rows}
    assert {"malformed: no option letter or option text", "malformed: no yes/no",
            "malformed: no number"} <= reasons
    assert all(not r["correct"] for r in rows)


@pytest.mark.parametrize(("reply", "expected"), [
    ("B", True), ("(B)", True), ("Answer: B", True), ("The answer is B.", True),
    ("green", True), ("b. green", True), ("A", False), ("A or B", None), ("no idea", None),
])
def test_option_parsing(reply: str, expected: bool | None) -> None:
    from scenesynth.graph import Provenance

    sample = InstructionSample(
        id="x", images=[], question="What colour?", answer="green", form=AnswerForm.MULTIPLE_CHOICE,
        options=["red", "green", "blue", "light green"], answer_index=1, answer_value="green",
        provenance=Provenance(source="t", image_ids=["i"], generator="g", generator_version="1",
                              family="attribute"))
    verdict = score(sample, reply)
    if expected is None:
        assert not verdict.correct and verdict.reason.startswith("malformed")
    else:
        assert verdict.correct is expected


def test_split_holds_out_images_templates_and_pairs(run: RunData) -> None:
    report = split_run(run, image_share=0.2, templates=2, pairs=2, seed=1)
    train = set((run.root / "splits" / "train.txt").read_text().split())
    holdout = set((run.root / "splits" / "holdout.txt").read_text().split())
    assert train and holdout and not train & holdout
    graphs = run.graphs()
    samples = {s.id: s for s in run.samples()}
    train_images = {i for sid in train for i in samples[sid].provenance.image_ids}
    holdout_images = {i for sid in holdout for i in samples[sid].provenance.image_ids}
    assert not train_images & holdout_images
    held_templates = set(report.held_out_templates)
    assert len(held_templates) == 2
    assert not any(f"{samples[s].provenance.family}/{samples[s].provenance.template}"
                   in held_templates for s in train)
    pairs = {tuple(p) for p in report.held_out_pairs}
    assert len(pairs) == 2
    for image_id in train_images:  # no train image holds a held-out attribute-name pair
        for obj in graphs[image_id].objects:
            assert not {(a.value, obj.name) for a in obj.attributes} & pairs
    assert report.samples["train"] == len(train)
    assert report.samples["train"] + report.samples["holdout"] + report.samples.get(
        "dropped", 0) == len(samples)


def test_eval_cli_on_the_holdout_split(run: RunData, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["split", str(run.root), "--seed", "2"])
    assert result.exit_code == 0, result.output
    with scripted_server(lambda prompt, urls: "yes") as url:
        out = tmp_path / "eval"
        result = runner.invoke(app, ["eval", "--model", f"openai:scripted@{url}", "--data",
                                     str(run.root), "--split", "holdout", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = json.loads((out / "report.json").read_text())
    holdout = (run.root / "splits" / "holdout.txt").read_text().split()
    assert report["n"] == len(holdout) and report["split"] == "holdout"
    assert report["baseline_reference"] == "train split"
    bad = runner.invoke(app, ["eval", "--model", "gpt4", "--data", str(run.root)])
    assert bad.exit_code == 2 and "expected openai:NAME@URL or hf:PATH" in bad.output


def test_tiny_local_vlm_runs_eval_end_to_end(run: RunData, tmp_path: Path) -> None:
    pytest.importorskip("torch")
    pytest.importorskip("transformers")
    from tiny_vlm import build_tiny_llava

    path = build_tiny_llava(tmp_path / "tiny-llava")
    out = tmp_path / "eval"
    result = CliRunner().invoke(app, ["eval", "--model", f"hf:{path}", "--data", str(run.root),
                                      "--limit", "12", "--max-tokens", "6", "--out", str(out)])
    assert result.exit_code == 0, result.output
    rows = [json.loads(x) for x in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 12
    assert all(isinstance(r["reply"], str) for r in rows)  # generated text, not a failed call
    assert json.loads((out / "report.json").read_text())["n"] == 12


def test_generate_holdout_writes_the_split(run: RunData, tmp_path: Path) -> None:
    out = tmp_path / "gen"
    result = CliRunner().invoke(app, [
        "generate", "--source", str(run.root / "graphs.jsonl"), "--per-image", "1",
        "--out", str(out), "--workers", "1", "--no-progress", "--holdout", "--seed", "4"])
    assert result.exit_code == 0, result.output
    split = json.loads((out / "splits" / "split.json").read_text())
    assert split["samples"]["train"] > 0 and split["samples"]["holdout"] > 0
    assert len(split["held_out_pairs"]) == 2 and len(split["held_out_templates"]) == 2
    generated = sum(1 for _ in RunData(out).samples())
    assert sum(split["samples"].values()) == generated


def test_vlmevalkit_tsv_export(run: RunData, tmp_path: Path) -> None:
    import base64
    import csv

    result = CliRunner().invoke(app, ["eval-export", "--data", str(run.root), "--out",
                                      str(tmp_path), "--name", "ss"])
    assert result.exit_code == 0, result.output
    samples = {s.id: s for s in run.samples()}
    with (tmp_path / "ss_ids.tsv").open() as fh:
        ids = {int(r["index"]): r["id"] for r in csv.DictReader(fh, delimiter="\t")}
    csv.field_size_limit(1 << 30)
    with (tmp_path / "ss_mcq.tsv").open() as fh:
        mcq = list(csv.DictReader(fh, delimiter="\t"))
    with (tmp_path / "ss_vqa.tsv").open() as fh:
        vqa = list(csv.DictReader(fh, delimiter="\t"))
    single = [s for s in samples.values() if len(s.images) == 1]
    assert len(mcq) + len(vqa) == len(single) == len(ids)
    for row in mcq[:50]:
        sample = samples[ids[int(row["index"])]]
        assert row["answer"] == _letter(sample.answer_index)  # type: ignore[arg-type]
        assert row[row["answer"]] == sample.answer and row["category"] == sample.provenance.family
        assert base64.b64decode(row["image"])[:8] == b"\x89PNG\r\n\x1a\n"
    for row in vqa[:50]:
        assert row["answer"] == samples[ids[int(row["index"])]].answer
