"""Bad input: each problem is reported with file, record and field, the rest still loads, and
strict mode raises with the same facts."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from scenesynth.graph import write_graphs_jsonl
from scenesynth.sources import LoadError, LoadOptions, LoadReport, Severity, load


def _gqa(shared_data: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((shared_data / "gqa" / "debug_sceneGraphs.json").read_text())
    return data


def _write(path: Path, data: Any) -> Path:
    path.write_text(json.dumps(data))
    return path


def _errors(report: LoadReport) -> list[tuple[str, str, str]]:
    return [(Path(i.file).name, i.record, i.field) for i in report.error_issues()]


# -- truncated JSON ------------------------------------------------------------------------


def test_truncated_gqa_reports_last_good_record_and_keeps_the_rest(
    shared_data: Path, tmp_path: Path
) -> None:
    text = (shared_data / "gqa" / "debug_sceneGraphs.json").read_text()
    cut = text.index('"2336498"') + 200  # inside the third graph
    path = tmp_path / "sceneGraphs.json"
    path.write_text(text[:cut])
    stream = load(path, "gqa")
    graphs = list(stream)
    assert [g.image.id for g in graphs] == ["2375429", "2354786"]
    (issue,) = stream.report.error_issues()
    assert issue.file == str(path)
    assert issue.record == "after #1 (image 2354786)"
    assert issue.field == "<json>" and "truncated" in issue.message
    assert "2 records before it" in issue.message
    with pytest.raises(LoadError, match=r"after #1 \(image 2354786\)"):
        list(load(path, "gqa", strict=True))


def test_truncated_clevr_yields_every_scene_before_the_cut(
    shared_data: Path, tmp_path: Path
) -> None:
    text = (shared_data / "clevr" / "CLEVR_train_scenes_1000.json").read_text()
    cut = text.index('"image_index": 10,')  # inside scene 10 (keys precede image_index)
    path = _write_text(tmp_path / "scenes.json", text[:cut])
    stream = load(path)
    graphs = list(stream)
    assert len(graphs) == 10 and graphs[-1].meta["image_index"] == 9
    (issue,) = stream.report.error_issues()
    assert issue.record == "after #9 (image_index=9)"


def _write_text(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def test_truncated_visual_genome_objects_stops_at_the_cut(
    shared_data: Path, tmp_path: Path
) -> None:
    vg = tmp_path / "vg"
    shutil.copytree(shared_data / "visual_genome", vg)
    text = (vg / "objects.json").read_text()
    (vg / "objects.json").write_text(text[: text.index('{"image_id": 4') + 300])
    stream = load(vg)
    graphs = list(stream)
    assert [g.image.id for g in graphs] == ["1", "2", "3"]
    assert [len(g.objects) for g in graphs] == [40, 27, 52]
    errors = stream.report.error_issues()
    assert Path(errors[0].file).name == "objects.json"
    assert errors[0].record == "after #2 (image_id=3)"
    assert errors[1].record == "image_id=4" and "1 following images" in errors[1].message
    assert stream.report.skipped_records == 1 + 2  # the broken file + images 4 and 5


def test_truncated_coco_keeps_annotations_before_the_cut(
    shared_data: Path, tmp_path: Path
) -> None:
    text = (shared_data / "coco_panoptic" / "panoptic_coco_detection_format.json").read_text()
    data = json.loads(text)
    # categories first so the truncation only costs annotations
    reordered = {k: data[k] for k in ("info", "licenses", "categories", "images", "annotations")}
    text = json.dumps(reordered)
    path = _write_text(tmp_path / "coco.json", text[: text.index('"id": 20}') + 9])
    stream = load(path)
    graphs = list(stream)
    assert [len(g.objects) for g in graphs] == [18, 3]  # annotation ids 0..20 were complete
    (issue,) = stream.report.error_issues()
    assert issue.record == "after annotations #20 (id=20)" and "truncated" in issue.message


# -- boxes outside the image ---------------------------------------------------------------


def test_box_grossly_outside_is_an_error_and_small_overshoot_is_clipped(
    shared_data: Path, tmp_path: Path
) -> None:
    data = _gqa(shared_data)
    objs = data["2375429"]["objects"]
    objs["722335"]["x"] = 900  # image is 500 wide
    objs["722337"]["w"] = 500 - 352 + 1.5  # 1.5 px past the right edge
    path = _write(tmp_path / "g.json", data)
    stream = load(path, "gqa")
    graphs = list(stream)
    report = stream.report
    assert len(graphs) == 4
    g = graphs[0]
    assert "722335" not in {o.id for o in g.objects} and len(g.objects) == 20
    assert g.object("722337").box is not None and g.object("722337").box.x1 == 500
    first = report.error_issues()[0]
    assert (first.record, first.field) == ("image 2375429", "objects['722335']")
    assert "outside the 500x333 image" in first.message
    # the pipe's own outgoing relations go with it; relations pointing at it are dropped too
    dropped = [i for i in report.error_issues() if "722335" in i.message and "dropped" in i.message]
    assert len(dropped) == report.dropped_relations == 9  # 5 outgoing, 4 incoming
    assert all("was skipped" in i.message for i in dropped)
    (warning,) = [i for i in report.issues if i.severity == Severity.WARNING]
    assert warning.field == "objects['722337']" and "clipped" in warning.message
    assert (report.skipped_objects, report.clipped_boxes, report.graphs) == (1, 1, 4)
    with pytest.raises(LoadError) as exc:
        list(load(path, "gqa", strict=True))
    assert exc.value.issue.field == "objects['722335']"


# -- relations to missing objects ----------------------------------------------------------


def test_relation_to_missing_object_is_dropped_and_graph_kept(
    shared_data: Path, tmp_path: Path
) -> None:
    data = _gqa(shared_data)
    data["2315892"]["objects"]["3206049"] = {
        "name": "cat", "x": 1, "y": 1, "w": 5, "h": 5, "attributes": [],
        "relations": [{"object": "no-such-object", "name": "near"}],
    }
    path = _write(tmp_path / "g.json", data)
    stream = load(path, "gqa")
    graphs = list(stream)
    assert sum(len(g.objects) for g in graphs) == 60
    assert sum(len(g.relations) for g in graphs) == 178
    assert _errors(stream.report) == [
        ("g.json", "image 2315892", "objects['3206049'].relations[0].object")
    ]
    assert "'no-such-object', which does not exist" in stream.report.issues[0].message


def test_visual_genome_relation_to_unknown_object(shared_data: Path, tmp_path: Path) -> None:
    vg = tmp_path / "vg"
    shutil.copytree(shared_data / "visual_genome", vg)
    rels = json.loads((vg / "relationships.json").read_text())
    rels[1]["relationships"][0]["object"]["object_id"] = 999999999
    _write(vg / "relationships.json", rels)
    stream = load(vg)
    graphs = list(stream)
    assert sum(len(g.relations) for g in graphs) == 157 and len(graphs[1].objects) == 27
    assert _errors(stream.report) == [
        ("relationships.json", "image_id=2", "relationships[0].object")
    ]
    # Opt-in repair: the endpoint (it has name and box) becomes an object, with a warning.
    repaired = load(vg, options=LoadOptions(vg_relation_objects=True))
    graphs = list(repaired)
    assert sum(len(g.relations) for g in graphs) == 158 and len(graphs[1].objects) == 28
    assert repaired.report.ok
    (warning,) = repaired.report.issues
    assert (warning.record, warning.field) == ("image_id=2", "relationships[0].object")
    added = graphs[1].object("999999999")
    assert added.name == rels[1]["relationships"][0]["object"]["name"] and added.box is not None


# -- wrong types ---------------------------------------------------------------------------


def test_wrong_types_name_the_field(shared_data: Path, tmp_path: Path) -> None:
    data = _gqa(shared_data)
    data["2354786"]["objects"]["2486325"]["x"] = "abc"
    data["2336498"]["width"] = "wide"
    path = _write(tmp_path / "g.json", data)
    stream = load(path, "gqa")
    graphs = list(stream)
    assert [g.image.id for g in graphs] == ["2375429", "2354786", "2315892"]
    errors = stream.report.error_issues()
    assert (errors[0].record, errors[0].field) == ("image 2354786", "objects['2486325'].x")
    assert errors[0].message == "expected a number, got str 'abc'"
    assert (errors[-1].record, errors[-1].field) == ("image 2336498", "width")
    assert stream.report.skipped_records == 1 and stream.report.skipped_objects == 1
    with pytest.raises(LoadError, match=r"record image 2354786: objects\['2486325'\]\.x"):
        list(load(path, "gqa", strict=True))


def test_visual_genome_wrong_types(shared_data: Path, tmp_path: Path) -> None:
    vg = tmp_path / "vg"
    shutil.copytree(shared_data / "visual_genome", vg)
    objects = json.loads((vg / "objects.json").read_text())
    objects[0]["objects"][3]["h"] = None
    _write(vg / "objects.json", objects)
    attrs = json.loads((vg / "attributes.json").read_text())
    attrs[0]["attributes"][0]["attributes"].append(7)
    _write(vg / "attributes.json", attrs)
    stream = load(vg)
    graphs = list(stream)
    assert len(graphs) == 5 and len(graphs[0].objects) == 39
    assert graphs[0].object("1058498").attribute_values() == ["green", "tall"]
    assert _errors(stream.report)[:2] == [
        ("attributes.json", "image_id=1", "attributes[0].attributes[2]"),
        ("objects.json", "image_id=1", "objects[3].h"),
    ]


def test_clevr_wrong_types(shared_data: Path, tmp_path: Path) -> None:
    data = json.loads((shared_data / "clevr" / "CLEVR_train_scenes_1000.json").read_text())
    data["scenes"] = data["scenes"][:3]
    data["scenes"][1]["objects"][0]["3d_coords"][2] = "up"
    path = _write(tmp_path / "scenes.json", data)
    stream = load(path)
    graphs = list(stream)
    sizes = [len(s["objects"]) for s in data["scenes"]]
    assert [len(g.objects) for g in graphs] == [sizes[0], sizes[1] - 1, sizes[2]]
    first = stream.report.error_issues()[0]
    assert (first.record, first.field) == ("#1 (image_index=1)", "objects[0].3d_coords[2]")


def test_jsonl_bad_lines(shared_data: Path, tmp_path: Path) -> None:
    graphs = list(load(shared_data / "gqa" / "debug_sceneGraphs.json"))
    path = tmp_path / "graphs.jsonl"
    write_graphs_jsonl(graphs, path)
    lines = path.read_text().splitlines()
    second = json.loads(lines[1])
    ghost = next(i for i, r in enumerate(second["relations"]) if second["objects"][0]["id"] not in (
        r["subject"], r["object"]))
    second["relations"][ghost]["object"] = "ghost"
    second["objects"][0]["box"]["x0"] = "abc"
    lines[1] = json.dumps(second)
    lines[2] = lines[2][:50]  # a torn line
    path.write_text("\n".join(lines) + "\n")
    stream = load(path)
    loaded = list(stream)
    assert [g.image.id for g in loaded] == ["2375429", "2354786", "2315892"]
    assert len(loaded[1].objects) == len(graphs[1].objects) - 1
    fields = [(i.record, i.field) for i in stream.report.error_issues()]
    assert fields[0] == ("line 2 (image 2354786)", "objects[0].box.x0")
    assert ("line 2 (image 2354786)", f"relations[{ghost}].object") in fields
    assert fields[-1] == ("line 3", "<json>")
