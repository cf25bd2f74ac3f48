"""Loaders on the real public samples in ../shared/data: exact counts and specific values."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from pycocotools import mask as mask_utils

from scenesynth.graph import AttributeKind, RelationCategory, SceneGraph
from scenesynth.sources import (
    LoadReport,
    UnknownFormatError,
    classify_predicate,
    find_sources,
    load,
    read_coco,
    sniff_file,
)


def _load_all(path: Path, fmt: str | None = None) -> tuple[list[SceneGraph], LoadReport]:
    stream = load(path, fmt)
    graphs = list(stream)
    return graphs, stream.report


def test_clevr_1000_scenes(shared_data: Path) -> None:
    path = shared_data / "clevr" / "CLEVR_train_scenes_1000.json"
    graphs, report = _load_all(path)
    raw = json.loads(path.read_text())["scenes"]
    assert len(graphs) == 1000 and report.ok and report.warnings == 0
    assert sum(len(g.objects) for g in graphs) == sum(len(s["objects"]) for s in raw) == 6455
    expected_rels = sum(
        len(js) for s in raw for lists in s["relationships"].values() for js in lists
    )
    assert sum(len(g.relations) for g in graphs) == expected_rels == 81476

    g0, s0 = graphs[0], raw[0]
    assert (g0.image.id, g0.image.width, g0.image.height) == ("CLEVR_train_000000", 480, 320)
    assert g0.image.source == "clevr"
    assert g0.meta == {
        "source_file": str(path), "record_index": 0, "record_id": "CLEVR_train_000000",
        "image_index": 0, "split": "train",
    }
    cube = g0.objects[0]
    assert cube.name == "cube"
    assert [(a.value, a.kind) for a in cube.attributes] == [
        ("blue", AttributeKind.COLOR), ("large", AttributeKind.SIZE),
        ("rubber", AttributeKind.MATERIAL), ("cube", AttributeKind.SHAPE),
    ]
    assert cube.position is not None
    assert cube.position.as_tuple() == tuple(s0["objects"][0]["3d_coords"])
    assert cube.depth == pytest.approx(12.661545753479004)  # pixel_coords[2]
    assert cube.box is None
    assert g0.camera is not None
    assert g0.camera.directions["right"].as_tuple() == tuple(s0["directions"]["right"])
    # relationships["right"][0] == [2, 5]: objects 2 and 5 are right of object 0.
    right_of_0 = {r.subject for r in g0.relations if r.predicate == "right of" and r.object == "0"}
    assert right_of_0 == {"2", "5"}
    assert {r.category for r in g0.relations} == {RelationCategory.SPATIAL}
    assert Counter(r.predicate for g in graphs for r in g.relations).keys() == {
        "left of", "right of", "in front of", "behind",
    }


def test_gqa_4_graphs(shared_data: Path) -> None:
    path = shared_data / "gqa" / "debug_sceneGraphs.json"
    graphs, report = _load_all(path)
    assert report.ok and report.warnings == 0
    assert [g.image.id for g in graphs] == ["2375429", "2354786", "2336498", "2315892"]
    assert sum(len(g.objects) for g in graphs) == 59
    assert sum(len(g.relations) for g in graphs) == 178
    g = graphs[0]
    pipe = g.object("722335")
    assert pipe.name == "pipe"
    assert pipe.box is not None and pipe.box.as_tuple() == (104, 1, 121, 168)  # xywh 104 1 17 167
    assert pipe.attribute_values(AttributeKind.COLOR) == ["white"]
    assert ("722335", "on", "722332") in {r.triplet() for r in g.relations}
    assert graphs[1].meta["location"] == json.loads(path.read_text())["2354786"]["location"]
    cats = Counter(r.category for g in graphs for r in g.relations)
    # left/right 146, near 8, on top of 7, on 3, behind 2, next to 2, in 2, on the side of,
    # in front of
    assert cats[RelationCategory.SPATIAL] == 172
    assert cats[RelationCategory.INTERACTIONAL] == 4  # sitting on x2, walking in, sitting by
    assert cats[RelationCategory.FUNCTIONAL] == 2  # hanging on, with


def test_visual_genome_images_1_to_5(shared_data: Path) -> None:
    directory = shared_data / "visual_genome"
    graphs, report = _load_all(directory)
    assert report.ok and report.warnings == 0
    assert [g.image.id for g in graphs] == ["1", "2", "3", "4", "5"]
    assert [len(g.objects) for g in graphs] == [40, 27, 52, 24, 34]
    assert sum(len(g.objects) for g in graphs) == 177
    assert sum(len(g.relations) for g in graphs) == 158
    g1 = graphs[0]
    assert (g1.image.width, g1.image.height, g1.image.source) == (800, 600, "visual_genome")
    assert g1.meta["record_id"] == "1" and g1.meta["record_index"] == 0
    clock = g1.object("1058498")
    assert clock.box is not None and clock.box.as_tuple() == (421, 91, 500, 430)
    assert [(a.value, a.kind) for a in clock.attributes] == [
        ("green", AttributeKind.COLOR), ("tall", AttributeKind.SIZE),
    ]
    assert clock.meta["synsets"] == ["clock.n.01"]
    # names: first is the name, the rest synonyms
    monitor = graphs[2].object("1060246")
    assert (monitor.name, monitor.synonyms) == ("monitor", ["computer"])
    rel = g1.relations[0]
    assert (rel.triplet(), rel.id, rel.category) == (
        ("5045", "on", "5046"), "15927", RelationCategory.SPATIAL,
    )
    wears = next(r for r in g1.relations if r.id == "15928")
    assert (wears.predicate, wears.category) == ("wears", RelationCategory.FUNCTIONAL)
    # Any file of the directory selects the whole VG set.
    assert find_sources(directory / "objects.json")[0][:2] == (directory, "vg")


def test_coco_panoptic_sample(shared_data: Path) -> None:
    directory = shared_data / "coco_panoptic"
    graphs, report = _load_all(directory)
    assert report.ok
    assert [g.image.id for g in graphs] == ["142238", "439180"]
    assert sum(len(g.objects) for g in graphs) == 50
    names = Counter(o.name for g in graphs for o in g.objects)
    assert names["person"] == 28 and names["horse"] == 12
    first = graphs[0].objects[0]
    assert first.name == "person" and first.box is not None
    assert first.box.as_tuple() == (282, 207, 330, 356)
    assert first.mask is not None and first.mask.size == (427, 640)
    rle = {"size": list(first.mask.size), "counts": first.mask.counts}
    assert int(mask_utils.area(rle)) == 3528  # the annotation's area
    # isthing comes from the panoptic file's categories; stuff is not "distinct".
    assert first.meta["isthing"] is True and first.distinct
    sky = next(o for o in graphs[0].objects if o.name == "sky")
    assert sky.meta["category_name"] == "sky-other-merged"  # natural name, original kept
    assert sky.meta["isthing"] is False and not sky.distinct
    crowd = [o for g in graphs for o in g.objects if o.meta["iscrowd"]]
    assert crowd and not any(o.distinct for o in crowd)
    # Loading the detection file alone finds the panoptic categories beside it.
    alone = list(load(directory / "panoptic_coco_detection_format.json"))
    assert alone == graphs
    assert graphs[0].image.path == "000000142238.jpg"
    assert graphs[0].image.license == "Attribution-NonCommercial License"


def test_coco_panoptic_form_and_spill(shared_data: Path) -> None:
    d = shared_data / "coco_panoptic"
    report = LoadReport()
    panoptic = list(read_coco(d / "panoptic_examples.json", report))
    assert [len(g.objects) for g in panoptic] == [18, 32]
    assert panoptic[0].meta["panoptic_png"] == "000000142238.png"
    assert panoptic[0].objects[0].id == "3937500" and panoptic[0].objects[0].mask is None
    # The on-disk bucketing used for big files gives the same graphs as the in-memory one.
    detection = d / "panoptic_coco_detection_format.json"
    spilled = list(read_coco(detection, LoadReport(), spill_bytes=0))
    in_memory = list(read_coco(detection, LoadReport()))
    assert spilled == in_memory


def test_sniffing_and_directory_walk(shared_data: Path) -> None:
    assert sniff_file(shared_data / "clevr" / "CLEVR_train_scenes_1000.json") == "clevr"
    assert sniff_file(shared_data / "gqa" / "debug_sceneGraphs.json") == "gqa"
    assert sniff_file(shared_data / "coco_panoptic" / "panoptic_examples.json") == "coco"
    assert sniff_file(shared_data / "visual_genome" / "relationships.json") == "vg"
    assert sniff_file(shared_data / "clevr" / "CLEVR_train_1_zero_hop.json") is None
    assert sniff_file(shared_data / "gqa" / "debug_programs.json") is None
    stream = load(shared_data)
    per_source = Counter(g.image.source for g in stream)
    assert per_source == {"clevr": 1000, "coco": 2, "gqa": 4, "visual_genome": 5}
    ignored = {Path(i.file).name for i in stream.report.issues}
    assert "debug_programs.json" in ignored and "CLEVR_train_1_zero_hop.json" in ignored
    assert stream.report.errors == 0
    with pytest.raises(UnknownFormatError, match=r"debug_programs\.json"):
        load(shared_data / "gqa" / "debug_programs.json")
    with pytest.raises(FileNotFoundError, match="nowhere"):
        load(shared_data / "nowhere")
    with pytest.raises(UnknownFormatError, match="unknown format"):
        load(shared_data, "yaml")


def test_jsonl_round_trip(shared_data: Path, tmp_path: Path) -> None:
    from scenesynth.graph import write_graphs_jsonl

    graphs, _ = _load_all(shared_data / "visual_genome")
    out = tmp_path / "vg.jsonl"
    assert write_graphs_jsonl(graphs, out) == 5
    again, report = _load_all(out)
    assert report.ok and again == graphs


@pytest.mark.parametrize(
    ("predicate", "category"),
    [
        ("ON", RelationCategory.SPATIAL), ("to the left of", RelationCategory.SPATIAL),
        ("on side of", RelationCategory.SPATIAL), ("holding", RelationCategory.INTERACTIONAL),
        ("is riding", RelationCategory.INTERACTIONAL), ("wears", RelationCategory.FUNCTIONAL),
        ("part of", RelationCategory.FUNCTIONAL), ("talking to", RelationCategory.SOCIAL),
        ("loves", RelationCategory.EMOTIONAL), ("docked in", RelationCategory.OTHER),
    ],
)
def test_classify_predicate(predicate: str, category: RelationCategory) -> None:
    assert classify_predicate(predicate) == category
