"""The export-level checker (export/check.py) fails on each defect a trainer would read.

Samples are built with a stored program over a small hand-made scene, exported in every format,
and read back by the checker; the defects are the ones found in the demo's export (options
listed twice, a relation question with a second geometric answer, ...) plus the text defects
a writer could introduce (wrong letters, answer not among the options, placeholder counts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.export import export_samples
from scenesynth.export.check import (
    AMBIGUOUS_REFERENCE,
    ANSWER,
    OPTIONS,
    PLACEHOLDER,
    RELATION,
    TURNS,
    check_export,
    check_records,
)
from scenesynth.export.validate import ExportedRecord, read_records
from scenesynth.graph import (
    AnswerForm,
    Box,
    ImageInfo,
    InstructionSample,
    ProgramStep,
    Provenance,
    Relation,
    SceneGraph,
    SceneObject,
    write_graphs_jsonl,
)

FORMATS = ("llava", "sharegpt", "parquet", "webdataset")


def _obj(oid: str, name: str, box: tuple[float, float, float, float], depth: float,
         *attributes: str) -> SceneObject:
    return SceneObject(id=oid, name=name, box=Box(x0=box[0], y0=box[1], x1=box[2], y1=box[3]),
                       depth=depth, attributes=list(attributes))


def _street() -> SceneGraph:
    """The demo's case: the bush and the car are both in front of the hat (by depth), but
    only the bush is listed as such."""
    return SceneGraph(
        image=ImageInfo(id="street", width=400, height=200, path="street.png"),
        objects=[
            _obj("hat", "hat", (180, 10, 200, 25), 10.0, "red"),
            _obj("bush", "bush", (150, 100, 230, 160), 5.0, "green"),
            _obj("car", "car", (10, 120, 90, 190), 4.0, "blue"),
            _obj("cup1", "cup", (300, 20, 310, 30), 9.0, "white"),
            _obj("cup2", "cup", (340, 20, 350, 30), 9.0, "black"),
        ],
        relations=[Relation(subject="bush", predicate="in front of", object="hat")],
    )


def _kitchen() -> SceneGraph:
    """The demo's MC case: the cup is near the table and near the wine glass."""
    return SceneGraph(
        image=ImageInfo(id="kitchen", width=400, height=400, path="kitchen.png"),
        objects=[
            _obj("cup", "cup", (190, 190, 210, 210), 5.0),
            _obj("table", "table", (150, 220, 250, 300), 5.0),
            _obj("glass", "wine glass", (220, 180, 235, 210), 5.0),
            _obj("bench", "workbench", (0, 0, 60, 40), 5.0),
            _obj("can", "gas can", (350, 350, 390, 395), 5.0),
        ],
        relations=[Relation(subject="cup", predicate="near", object="table")],
    )


def _steps(*steps: tuple[str, list[int], dict[str, Any], Any]) -> list[ProgramStep]:
    return [ProgramStep(op=op, inputs=inputs, args=args, output=out)
            for op, inputs, args, out in steps]


def _scene(graph: SceneGraph) -> list[str]:
    return sorted(f"0:{o.id}" for o in graph.objects)


def _sample(sid: str, graph: SceneGraph, question: str, answer: str, program: list[ProgramStep],
            value: Any, form: AnswerForm = AnswerForm.SHORT, options: list[str] | None = None,
            index: int | None = None) -> InstructionSample:
    return InstructionSample(
        id=sid, images=[graph.image.path or ""], question=question, answer=answer, form=form,
        options=options, answer_index=index, answer_value=value,
        answer_type="bool" if isinstance(value, bool) else "text",
        provenance=Provenance(source="test", image_ids=[graph.image.id], generator="test",
                              generator_version="1", family="test", program=program),
    )


def _samples() -> list[InstructionSample]:
    street, kitchen = _street(), _kitchen()
    s, k = _scene(street), _scene(kitchen)
    hat_color = _steps(("scene", [], {"image": 0}, s), ("filter_name", [0], {"name": "hat"},
                       ["0:hat"]), ("unique", [1], {}, "0:hat"),
                       ("query_attr", [2], {"kind": "color"}, "red"))
    in_front = _steps(
        ("scene", [], {"image": 0}, s), ("filter_name", [0], {"name": "hat"}, ["0:hat"]),
        ("unique", [1], {}, "0:hat"),
        ("relate", [2], {"predicate": "in front of", "mode": "annotated"}, ["0:bush"]),
        ("unique", [3], {}, "0:bush"), ("query_name", [4], {}, "bush"))
    near = _steps(
        ("scene", [], {"image": 0}, k), ("filter_name", [0], {"name": "cup"}, ["0:cup"]),
        ("unique", [1], {}, "0:cup"),
        ("relate_inv", [2], {"predicate": "near", "mode": "annotated"}, ["0:table"]),
        ("unique", [3], {}, "0:table"), ("query_name", [4], {}, "table"))
    cup_color = _steps(  # the stored filter hides the second cup
        ("scene", [], {"image": 0}, s), ("filter_name", [0], {"name": "cup"}, ["0:cup1"]),
        ("unique", [1], {}, "0:cup1"), ("query_attr", [2], {"kind": "color"}, "white"))
    verify = _steps(  # the car is in front of the hat, but no relation lists it
        ("scene", [], {"image": 0}, s), ("filter_name", [0], {"name": "car"}, ["0:car"]),
        ("unique", [1], {}, "0:car"), ("scene", [], {"image": 0}, s),
        ("filter_name", [3], {"name": "hat"}, ["0:hat"]), ("unique", [4], {}, "0:hat"),
        ("has_relation", [2, 5], {"predicate": "in front of"}, False))
    colors = ["blue", "red", "green", "white"]
    mc = AnswerForm.MULTIPLE_CHOICE
    return [
        _sample("good-short", street, "What color is the hat?", "red", hat_color, "red"),
        _sample("good-mc", street, "What color is the hat?\nChoose one of the following:", "red",
                hat_color, "red", mc, colors, 1),
        _sample("twice-listed", street, "What color is the hat?\nOptions:\n"
                + "\n".join(f"{'ABCD'[i]}. {c}" for i, c in enumerate(colors)), "red",
                hat_color, "red", mc, colors, 1),
        _sample("answer-twice", street, "What color is the hat?", "red", hat_color, "red", mc,
                ["red", "blue", "red", "green"], 0),
        _sample("second-in-front", street, "What is in front of the hat?", "bush", in_front,
                "bush"),
        _sample("second-near", kitchen, "Which object is the cup near?", "table", near, "table",
                mc, ["workbench", "table", "gas can", "wine glass"], 1),
        _sample("ambiguous-cup", street, "What color is the cup?", "white", cup_color, "white"),
        _sample("verify-contradicted", street, "Is the car in front of the hat?", "no", verify,
                False, AnswerForm.YES_NO),
    ]


EXPECTED = {  # sample id -> the problem kinds the checker must report
    "good-short": set(),
    "good-mc": set(),
    "twice-listed": {OPTIONS},
    "answer-twice": {ANSWER},
    "second-in-front": {AMBIGUOUS_REFERENCE},
    "second-near": {AMBIGUOUS_REFERENCE},
    "ambiguous-cup": {AMBIGUOUS_REFERENCE},
    "verify-contradicted": {RELATION},
}


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    root.mkdir()
    for name, size in (("street.png", (400, 200)), ("kitchen.png", (400, 400))):
        Image.new("RGB", size, "gray").save(root / name)
    return root


def _graphs() -> dict[str, SceneGraph]:
    return {g.image.id: g for g in (_street(), _kitchen())}


@pytest.mark.parametrize("fmt", FORMATS)
def test_checker_reports_each_defect_in_every_format(
    fmt: str, images: Path, tmp_path: Path
) -> None:
    out = tmp_path / fmt
    result = export_samples(_samples(), fmt, out, image_root=images)
    assert result.n_written == len(EXPECTED), result.failures
    report = check_export(out, graphs=_graphs())
    assert report.n_records == len(EXPECTED) and report.n_geometry_checked == len(EXPECTED)
    found: dict[str, set[str]] = {sid: set() for sid in EXPECTED}
    for problem in report.problems:
        assert problem.sample_id is not None and problem.field and problem.reason
        found[problem.sample_id].add(problem.kind)
    assert found == EXPECTED, "\n".join(map(str, report.problems))
    reasons = {p.sample_id: p.reason for p in report.problems}
    assert "listed 2 times" in reasons["twice-listed"]
    assert "also fits the car" in reasons["second-in-front"]
    assert "also fits the wine glass" in reasons["second-near"]
    assert "'car in front of hat' is True" in reasons["verify-contradicted"]


def test_options_listed_once_with_the_letter_answer_style(images: Path, tmp_path: Path) -> None:
    """The export lists a multiple-choice question's options once, in every answer style."""
    from scenesynth.export import MCAnswerStyle, TurnStyle

    good = [s for s in _samples() if s.id == "good-mc"]
    export_samples(good, "sharegpt", tmp_path, image_root=images,
                   style=TurnStyle(mc_answer=MCAnswerStyle.LETTER))
    (record,) = list(read_records(tmp_path))
    prompt, answer = record.turns[0][1], record.turns[1][1]
    assert prompt.count("A. blue") == 1 and prompt.count("Choose one") == 1
    assert prompt.endswith("Answer with the option's letter from the given choices directly.")
    assert answer == "B"
    assert check_records([record], _graphs()) == []


def _record(prompt: str, answer: str, n_images: int = 1, **meta: Any) -> ExportedRecord:
    return ExportedRecord("mem: record 0", "r", [("user", prompt), ("assistant", answer)],
                          n_images, meta or None)


MC_META = {"form": "mc", "options": ["blue", "red", "green", "white"], "answer_index": 1}
LISTING = "A. blue\nB. red\nC. green\nD. white"


@pytest.mark.parametrize(
    ("record", "kind", "words"),
    [
        (_record(f"<image>\nColor?\n{LISTING}", "B. red", **MC_META), None, ""),
        (_record(f"<image>\nColor?\n{LISTING}", "B", **MC_META), None, ""),
        (_record(f"<image>\nColor?\n{LISTING}\n{LISTING}", "B. red", **MC_META), OPTIONS,
         "listed 2 times"),
        (_record("<image>\nColor?\nA. blue\nC. red\nD. green\nE. white", "C. red", **MC_META),
         OPTIONS, "not consecutive"),
        (_record(f"<image>\nColor?\n{LISTING}", "C. green", **MC_META), ANSWER,
         "not the correct option"),
        (_record(f"<image>\nColor?\n{LISTING}", "B. green", **MC_META), ANSWER,
         "does not match option B"),
        (_record(f"<image>\nColor?\n{LISTING}", "E", **MC_META), ANSWER, "not one of"),
        (_record("<image>\nColor?\nA. blue\nB. red", "B. red", **MC_META), OPTIONS,
         "differ from the record's options"),
        (_record("<image>\nColor?", "B. red", **MC_META), OPTIONS, "lists no lettered options"),
        (_record(f"<image>\nColor?\n{LISTING}", "B. red", form="short"), OPTIONS,
         "lists lettered options"),
        (_record("<image>\nIs it red?", "maybe", form="yes_no"), ANSWER, "yes/no"),
        # metadata absent (a third-party export): the text alone is checked
        (_record(f"<image>\nColor?\n{LISTING}", "F. pink"), ANSWER, "not one of"),
        (_record("<image>\n<image>\nColor?", "red"), PLACEHOLDER, "2 <image> token(s)"),
        (_record("Color?", "red"), PLACEHOLDER, "0 <image> token(s)"),
        (_record("Image 1: <image>\nImage 3: <image>\nWhich?", "Image 1", 2), PLACEHOLDER,
         "image labels [1, 3]"),
        (_record("Image 1: <image>\nImage 2: <image>\nIs Image 3 darker?", "no", 2),
         PLACEHOLDER, "names Image 3"),
        (_record("<image>\nColor?", " "), TURNS, "empty"),
    ],
)
def test_text_defects(record: ExportedRecord, kind: str | None, words: str) -> None:
    problems = check_records([record])
    if kind is None:
        assert problems == []
        return
    assert any(p.kind == kind and words in p.reason for p in problems), problems


def test_validate_cli_fails_on_problems_and_names_them(images: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    export_samples(_samples(), "llava", out, image_root=images)
    graphs = tmp_path / "graphs.jsonl"
    write_graphs_jsonl(_graphs().values(), graphs)
    runner = CliRunner()
    bad = runner.invoke(app, ["validate", str(out / "data.json"), "--graphs", str(graphs),
                              "--show", "50"])
    assert bad.exit_code == 1, bad.output
    text = " ".join(bad.output.split())
    assert "id='second-in-front'" in text and "also fits the car" in text
    assert "id='twice-listed'" in text and "listed 2 times" in text

    clean = tmp_path / "clean"
    export_samples([s for s in _samples() if s.id.startswith("good")], "llava", clean,
                   image_root=images)
    write_graphs_jsonl(_graphs().values(), clean / "graphs.jsonl")  # found beside the export
    ok = runner.invoke(app, ["validate", str(clean / "data.json")])
    assert ok.exit_code == 0, ok.output
    assert "geometry re-resolved for 2" in " ".join(ok.output.split())


def _mutated(path: Path, change: Callable[[dict[str, Any]], None]) -> None:
    records = json.loads(path.read_text())
    for record in records:
        change(record)
    path.write_text(json.dumps(records))


def test_a_record_edited_after_export_is_caught(images: Path, tmp_path: Path) -> None:
    """Defects the writer refuses to produce are still caught when a file is edited."""
    export_samples([s for s in _samples() if s.id == "good-mc"], "llava", tmp_path,
                   image_root=images)

    def second_placeholder(record: dict[str, Any]) -> None:
        record["conversations"][0]["value"] = "<image>\n" + record["conversations"][0]["value"]

    _mutated(tmp_path / "data.json", second_placeholder)
    report = check_export(tmp_path, graphs=_graphs())
    assert [p.kind for p in report.problems] == [PLACEHOLDER], report.problems
