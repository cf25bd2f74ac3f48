"""Format details beyond the shared samples: COCO instances (polygons, crowd RLE, images without
annotations), Visual Genome join order and orphan records."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pycocotools import mask as mask_utils

from scenesynth.sources import LoadError, LoadReport, find_sources, load, read_coco


def _instances(tmp_path: Path) -> Path:
    data: dict[str, Any] = {
        "info": {"description": "tiny"},
        "licenses": [{"id": 3, "name": "CC BY 2.0", "url": "http://example.invalid"}],
        "images": [
            {"id": 7, "file_name": "a.jpg", "width": 100, "height": 50, "license": 3},
            {"id": 8, "file_name": "b.jpg", "width": 20, "height": 20},
        ],
        "annotations": [
            # a 20x10 rectangle as a polygon
            {"id": 1, "image_id": 7, "category_id": 18, "iscrowd": 0, "area": 200.0,
             "bbox": [10.0, 5.0, 20.0, 10.0],
             "segmentation": [[10.0, 5.0, 30.0, 5.0, 30.0, 15.0, 10.0, 15.0]]},
            # crowd region as uncompressed RLE (column-major runs over 50x100)
            {"id": 2, "image_id": 7, "category_id": 1, "iscrowd": 1, "area": 50.0,
             "bbox": [0.0, 0.0, 1.0, 50.0],
             "segmentation": {"size": [50, 100], "counts": [0, 50, 4950]}},
            # bbox ends 0.4 px past the right edge: clipped and counted
            {"id": 3, "image_id": 7, "category_id": 18, "iscrowd": 0, "area": 10.0,
             "bbox": [95.0, 0.0, 5.4, 2.0], "segmentation": []},
        ],
        "categories": [
            {"id": 1, "name": "person", "supercategory": "person"},
            {"id": 18, "name": "dog", "supercategory": "animal"},
        ],
    }
    path = tmp_path / "instances_tiny.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize("spill_bytes", [1 << 30, 0], ids=["memory", "sqlite"])
def test_coco_instances_polygons_and_crowd(tmp_path: Path, spill_bytes: int) -> None:
    report = LoadReport()
    graphs = list(read_coco(_instances(tmp_path), report, spill_bytes=spill_bytes))
    assert [g.image.id for g in graphs] == ["7", "8"]
    assert graphs[1].objects == []  # an image without annotations is still a graph
    dog, crowd, edge = graphs[0].objects
    assert graphs[0].image.license == "CC BY 2.0"
    assert (dog.name, dog.distinct, dog.meta["supercategory"]) == ("dog", True, "animal")
    assert dog.mask is not None and isinstance(dog.mask.counts, str)
    decoded = mask_utils.decode({"size": list(dog.mask.size), "counts": dog.mask.counts})
    assert decoded.shape == (50, 100) and int(decoded.sum()) == 200
    assert decoded[5:15, 10:30].all() and not decoded[:5].any()
    assert crowd.meta["iscrowd"] is True and not crowd.distinct
    assert crowd.mask is not None and crowd.mask.counts == [0, 50, 4950]
    assert edge.box is not None and edge.box.x1 == 100 and edge.mask is None
    assert report.clipped_boxes == 1 and report.warnings == 1 and report.ok


def test_coco_bad_annotations(tmp_path: Path) -> None:
    path = _instances(tmp_path)
    data = json.loads(path.read_text())
    data["annotations"][0]["category_id"] = 99
    data["annotations"][1]["segmentation"]["size"] = [10, 10]
    data["annotations"].append({"id": 4, "image_id": 404, "category_id": 1, "bbox": [0, 0, 1, 1]})
    path.write_text(json.dumps(data))
    stream = load(path)
    graphs = list(stream)
    assert [len(g.objects) for g in graphs] == [1, 0]
    fields = [(i.record, i.field) for i in stream.report.error_issues()]
    assert fields == [
        ("image id=7", "annotations[0].category_id"),
        ("image id=7", "annotations[1].segmentation.size"),
        ("annotations #3 (image_id=404)", "annotations[].image_id"),
    ]
    assert stream.report.skipped_objects == 3


def test_visual_genome_join_does_not_depend_on_file_order(
    shared_data: Path, tmp_path: Path
) -> None:
    vg = tmp_path / "vg"
    shutil.copytree(shared_data / "visual_genome", vg)
    for name in ("relationships.json", "attributes.json"):
        records = json.loads((vg / name).read_text())
        (vg / name).write_text(json.dumps(records[::-1]))
    shuffled = list(load(vg))
    original = list(load(shared_data / "visual_genome"))
    strip = [g.model_copy(update={"meta": {}}) for g in shuffled]
    assert strip == [g.model_copy(update={"meta": {}}) for g in original]


def test_visual_genome_orphans_and_attribute_only_objects(
    shared_data: Path, tmp_path: Path
) -> None:
    vg = tmp_path / "vg"
    shutil.copytree(shared_data / "visual_genome", vg)
    images = json.loads((vg / "image_data.json").read_text())
    (vg / "image_data.json").write_text(json.dumps(images[:4]))  # image 5 has no size now
    objects = json.loads((vg / "objects.json").read_text())
    removed = objects[0]["objects"].pop(0)  # the clock: still listed in attributes.json
    (vg / "objects.json").write_text(json.dumps(objects))
    stream = load(vg)
    graphs = list(stream)
    assert [g.image.id for g in graphs] == ["1", "2", "3", "4"]
    clock = graphs[0].object(str(removed["object_id"]))
    assert clock.name == "clock" and clock.attribute_values() == ["green", "tall"]
    errors = [(Path(i.file).name, i.record) for i in stream.report.error_issues()]
    assert errors == [
        ("objects.json", "#4 (image_id=5)"),
        ("attributes.json", "#4 (image_id=5)"),
        ("relationships.json", "#4 (image_id=5)"),
    ]
    assert stream.report.skipped_records == 3


def test_visual_genome_needs_image_data(shared_data: Path, tmp_path: Path) -> None:
    vg = tmp_path / "vg"
    vg.mkdir()
    shutil.copy(shared_data / "visual_genome" / "objects.json", vg)
    with pytest.raises(FileNotFoundError, match=r"image_data\.json"):
        find_sources(vg / "objects.json")


def test_strict_mode_raises_on_first_bad_vg_record(shared_data: Path, tmp_path: Path) -> None:
    vg = tmp_path / "vg"
    shutil.copytree(shared_data / "visual_genome", vg)
    rels = json.loads((vg / "relationships.json").read_text())
    rels[2]["relationships"][4]["predicate"] = ""
    (vg / "relationships.json").write_text(json.dumps(rels))
    with pytest.raises(LoadError) as exc:
        list(load(vg, strict=True))
    issue = exc.value.issue
    assert (Path(issue.file).name, issue.record, issue.field) == (
        "relationships.json", "image_id=3", "relationships[4].predicate",
    )
    lenient = load(vg)
    assert sum(len(g.relations) for g in lenient) == 157


def test_visual_genome_duplicate_image_record(shared_data: Path, tmp_path: Path) -> None:
    vg = tmp_path / "vg"
    shutil.copytree(shared_data / "visual_genome", vg)
    images = json.loads((vg / "image_data.json").read_text())
    images.insert(2, images[0])
    (vg / "image_data.json").write_text(json.dumps(images))
    stream = load(vg)
    assert [len(g.objects) for g in stream] == [40, 27, 52, 24, 34]
    (issue,) = stream.report.issues
    assert (Path(issue.file).name, issue.record, issue.field) == (
        "image_data.json", "image_id=1", "image_id",
    )


def test_coco_captions_file(tmp_path: Path) -> None:
    data = {
        "images": [{"id": 1, "width": 64, "height": 48, "file_name": "x.jpg"}],
        "annotations": [
            {"id": 10, "image_id": 1, "caption": "A dog on a couch. "},
            {"id": 11, "image_id": 1, "caption": "A brown dog resting."},
            {"id": 12, "image_id": 1, "caption": 5},
        ],
    }
    path = tmp_path / "captions_tiny.json"
    path.write_text(json.dumps(data))
    stream = load(path)
    (graph,) = list(stream)
    assert graph.objects == []
    assert graph.meta["captions"] == ["A dog on a couch.", "A brown dog resting."]
    assert [(i.record, i.field) for i in stream.report.issues] == [
        ("image id=1", "annotations[2].caption")
    ]


def test_visual_genome_truncated_image_data(shared_data: Path, tmp_path: Path) -> None:
    vg = tmp_path / "vg"
    shutil.copytree(shared_data / "visual_genome", vg)
    text = (vg / "image_data.json").read_text()
    (vg / "image_data.json").write_text(text[: text.index('"image_id": 3') + 5])
    stream = load(vg)
    assert [g.image.id for g in stream] == ["1", "2"]
    errors = [(Path(i.file).name, i.record, i.field) for i in stream.report.error_issues()]
    assert errors == [
        ("image_data.json", "after #1 (image_id=2)", "<json>"),
        ("objects.json", "-", "<join>"),
        ("attributes.json", "-", "<join>"),
        ("relationships.json", "-", "<join>"),
    ]
    assert "3 records not loaded" in stream.report.error_issues()[1].message
