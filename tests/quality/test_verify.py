"""Verifiers: construction checks on real COCO masks, detector checks with scripted detections."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from PIL import Image

from scenesynth.graph import (
    Box,
    ImageInfo,
    Mask,
    Relation,
    RelationCategory,
    SceneGraph,
    SceneObject,
    derive_relations,
)
from scenesynth.models import Detection
from scenesynth.quality.verify import (
    ConstructionVerifier,
    DetectorVerifier,
    Reason,
    Verifier,
    verify_all,
)
from scenesynth.render.base import RenderResult

HORSES_IMAGE_ID = 439180  # 640x360: 14 people, 12 horses, 2 trucks, 4 stuff segments


def coco_graph(shared_data: Path, image_id: int) -> tuple[SceneGraph, dict[str, int]]:
    """A COCO panoptic image as a graph with its real RLE masks; also COCO's area per id."""
    coco = shared_data / "coco_panoptic"
    data = json.loads((coco / "panoptic_coco_detection_format.json").read_text())
    cats = {c["id"]: c["name"].removesuffix("-merged").replace("-other", "")
            for c in data["categories"]}
    info = next(im for im in data["images"] if im["id"] == image_id)
    objects, areas = [], {}
    for ann in data["annotations"]:
        if ann["image_id"] != image_id:
            continue
        oid = str(ann["id"])
        seg = ann["segmentation"]
        objects.append(SceneObject(id=oid, name=cats[ann["category_id"]],
                                   box=Box.from_xywh(*ann["bbox"]),
                                   mask=Mask(size=tuple(seg["size"]), counts=seg["counts"])))
        areas[oid] = ann["area"]
    graph = SceneGraph(image=ImageInfo(id=str(image_id), width=info["width"],
                                       height=info["height"], path=str(coco / info["file_name"]),
                                       source="coco"), objects=objects)
    return graph, areas


def test_construction_drops_small_real_masks_with_their_relations(shared_data):
    graph, areas = coco_graph(shared_data, HORSES_IMAGE_ID)
    graph = graph.model_copy(update={"relations": derive_relations(graph, ("left of",))})
    image = Image.open(graph.image.path or "")
    verifier: Verifier = ConstructionVerifier(min_visible_pixels=1000, check_relations=False)
    verdict = verifier.verify(RenderResult(image=image, graph=graph, exact=True))

    small = sorted(oid for oid, area in areas.items() if area < 1000)
    assert len(small) == 7 and len(graph.objects) == 32
    assert sorted(verdict.dropped_objects) == small
    assert verdict.passed and verdict.failures == []
    assert sorted(o.id for o in verdict.graph.objects) == sorted(set(areas) - set(small))
    kept_ids = {o.id for o in verdict.graph.objects}
    assert all(r.subject in kept_ids and r.object in kept_ids for r in verdict.graph.relations)
    lost = [r for r in graph.relations if r.subject in small or r.object in small]
    dropped_rel_notes = [f for f in verdict.notes if f.reason == Reason.RELATION_DROPPED]
    assert len(dropped_rel_notes) == len(lost) > 0
    assert len(verdict.graph.relations) == len(graph.relations) - len(lost)
    smallest = min(small, key=lambda oid: areas[oid])
    note = next(f for f in verdict.notes if f.objects == (smallest,))
    assert note.detail == (f"object {smallest!r} (horse) has {areas[smallest]} visible "
                           "pixel(s) < 1000; dropped from the graph")
    assert areas[smallest] == 96


def test_construction_rejects_non_exact_and_broken_relations(shared_data):
    graph, _ = coco_graph(shared_data, HORSES_IMAGE_ID)
    a, b = graph.objects[0], graph.objects[1]
    assert a.box is not None and b.box is not None
    # a relation the geometry contradicts: make it (a left of b) where a is right of b
    left, right = (a, b) if a.box.center[0] > b.box.center[0] else (b, a)
    wrong = Relation(subject=left.id, predicate="left of", object=right.id,
                     category=RelationCategory.SPATIAL)
    graph = graph.model_copy(update={"relations": [wrong]})
    image = Image.new("RGB", (640, 360))
    verifier = ConstructionVerifier(min_visible_pixels=1)
    verdict = verifier.verify(RenderResult(image=image, graph=graph, exact=True))
    assert not verdict.passed and verdict.reasons == ["relation_not_kept"]
    assert verdict.failures[0].objects == (left.id, right.id)
    not_exact = verifier.verify(RenderResult(image=image, graph=graph, exact=False))
    assert not not_exact.passed and not_exact.reasons == ["render_not_exact"]


class ScriptedDetector:
    """Returns fixed detections; records the labels it was asked for."""

    def __init__(self, detections: list[Detection]) -> None:
        self.detections = detections
        self.asked: list[list[str]] = []

    def detect(self, image: Image.Image, labels: Sequence[str]) -> list[Detection]:
        self.asked.append(list(labels))
        return [d for d in self.detections if d.label in labels]


def _obj(oid: str, name: str, x0: float, x1: float, y0: float = 100, y1: float = 200,
         depth: float | None = None, distinct: bool = False) -> SceneObject:
    return SceneObject(id=oid, name=name, box=Box(x0=x0, y0=y0, x1=x1, y1=y1), depth=depth,
                       distinct=distinct)


def _graph(objects, relations) -> SceneGraph:
    return SceneGraph(
        image=ImageInfo(id="g", width=500, height=400),
        objects=objects,
        relations=[Relation(subject=s, predicate=p, object=o, category=RelationCategory.SPATIAL)
                   for s, p, o in relations],
    )


def test_detector_verifier_bookkeeping():
    # cup a (100..200) left of bowl b (180..280), overlapping; a table far right, in front.
    objects = [_obj("a", "cup", 100, 200, depth=2.0), _obj("b", "bowl", 180, 280, depth=2.0),
               _obj("t", "table", 350, 480, depth=1.0)]
    graph = _graph(objects, [("a", "left of", "b"), ("t", "in front of", "a"),
                             ("t", "right of", "b")])
    image = Image.new("RGB", (500, 400))
    exact_dets = [Detection(o.name, o.box, 0.9) for o in objects if o.box is not None]

    # 1) every object found where requested: passes; depth relation noted, not failed
    det = ScriptedDetector(exact_dets)
    verifier = DetectorVerifier(det, iou_threshold=0.5)
    ok = verifier.verify(RenderResult(image=image, graph=graph, exact=False))
    assert det.asked == [["cup", "bowl", "table"]]
    assert ok.passed and ok.failures == [] and ok.detected["b"] == objects[1].box
    assert [f.reason for f in ok.notes] == [Reason.RELATION_UNVERIFIABLE]

    # 2) cup and bowl drawn swapped-ish: still near their boxes (IoU 1/3) but the cup is now
    #    right of the bowl, so (a, left of, b) is violated on the detected boxes
    swapped = [Detection("cup", Box(x0=150, y0=100, x1=250, y1=200), 0.8),
               Detection("bowl", Box(x0=130, y0=100, x1=230, y1=200), 0.8), exact_dets[2]]
    verdict = DetectorVerifier(ScriptedDetector(swapped), iou_threshold=0.3).verify(
        RenderResult(image=image, graph=graph, exact=False))
    assert not verdict.passed and verdict.reasons == ["relation_violated"]
    assert verdict.failures[0].detail == (
        "relation (a, left of, b) is false on the detected boxes [150, 100, 250, 200] and "
        "[130, 100, 230, 200]"
    )

    # 3) the same at the default threshold: cup and bowl are not found near their boxes, their
    #    relations cannot be checked; a detection labelled "mug" never matches a cup
    missing = DetectorVerifier(ScriptedDetector(
        [*swapped, Detection("mug", objects[0].box, 0.9)])).verify(
        RenderResult(image=image, graph=graph, exact=False))
    assert missing.reasons == ["object_not_detected"]
    assert [f.objects for f in missing.failures] == [("a",), ("b",)]
    assert missing.failures[0].detail == (
        "object 'a' (cup) at [100, 100, 200, 200]: best 'cup' detection has IoU 0.33 < 0.5 "
        "(or was matched to another object)"
    )
    unchecked = [f for f in missing.notes if f.reason == Reason.RELATION_UNCHECKED]
    assert len(unchecked) == 2

    # 4) a missing label is named
    one_cup = DetectorVerifier(ScriptedDetector([exact_dets[0]])).verify(
        RenderResult(image=image, graph=graph, exact=False))
    assert [f.objects for f in one_cup.failures] == [("b",), ("t",)]
    assert one_cup.failures[0].detail == (
        "object 'b' (bowl) at [180, 100, 280, 200]: no 'bowl' detection"
    )
    assert one_cup.failures[1].detail == (
        "object 't' (table) at [350, 100, 480, 200]: no 'table' detection"
    )

    # 5) centres within the left/right margin: undecided, which also fails
    close = [Detection("cup", Box(x0=140, y0=100, x1=240, y1=200), 0.9),
             Detection("bowl", Box(x0=145, y0=100, x1=245, y1=200), 0.9), exact_dets[2]]
    undecided = DetectorVerifier(ScriptedDetector(close), iou_threshold=0.4).verify(
        RenderResult(image=image, graph=graph, exact=False))
    assert undecided.reasons == ["relation_undecided"]

    # tally: failing images counted by reason
    results = [RenderResult(image=image, graph=graph, exact=False)] * 2
    _, tally = verify_all(DetectorVerifier(ScriptedDetector(exact_dets)), results)
    assert (tally.n_passed, tally.n_failed) == (2, 0)
    for v in (verdict, missing, one_cup, undecided, ok):
        tally.add(v)
    assert (tally.n_passed, tally.n_failed, tally.n_images) == (3, 4, 7)
    assert tally.failed_by_reason == {"relation_violated": 1, "object_not_detected": 2,
                                      "relation_undecided": 1}
    assert tally.summary() == ("7 image(s): 3 passed, 4 failed (object_not_detected=2, "
                               "relation_violated=1, relation_undecided=1)")


def test_detector_verifier_on_real_coco_annotations(shared_data):
    """Annotated COCO boxes as detections: all 32 segments match; shifted ones do not."""
    graph, _ = coco_graph(shared_data, HORSES_IMAGE_ID)
    graph = graph.model_copy(update={"relations": derive_relations(graph, ("left of",
                                                                          "above"))})
    image = Image.open(graph.image.path or "")
    dets = [Detection(o.name, o.box, 1.0) for o in graph.objects if o.box is not None]
    verifier = DetectorVerifier(ScriptedDetector(dets), use_detected_boxes=True)
    verdict = verifier.verify(RenderResult(image=image, graph=graph, exact=False))
    assert verdict.passed and len(verdict.detected) == 32
    assert verdict.graph.objects == graph.objects

    # every horse box moved 60% of its width to the right
    moved = [Detection(d.label, Box(x0=d.box.x0 + 0.6 * d.box.width, y0=d.box.y0,
                                    x1=d.box.x1 + 0.6 * d.box.width, y1=d.box.y1), 1.0)
             if d.label == "horse" else d for d in dets]
    verdict = DetectorVerifier(ScriptedDetector(moved)).verify(
        RenderResult(image=image, graph=graph, exact=False))
    horses = sorted(o.id for o in graph.objects if o.name == "horse")
    missed = sorted(f.objects[0] for f in verdict.failures if f.reason == Reason.NOT_DETECTED)
    assert len(horses) == 12 and missed == horses


def test_matching_is_one_to_one_and_threshold_inclusive():
    image = Image.new("RGB", (500, 400))
    # shifted by a third of its width: IoU exactly 80/160 = 0.5, accepted at threshold 0.5
    shifted = Detection("cup", Box(x0=40, y0=100, x1=160, y1=200), 0.9)
    one = _graph([_obj("a", "cup", 0, 120)], [])
    assert DetectorVerifier(ScriptedDetector([shifted]), iou_threshold=0.5).verify(
        RenderResult(image=image, graph=one, exact=False)).passed
    assert not DetectorVerifier(ScriptedDetector([shifted]), iou_threshold=0.51).verify(
        RenderResult(image=image, graph=one, exact=False)).passed
    # two cups at the same spot need two detections: one detection serves one object
    two = _graph([_obj("a", "cup", 0, 120), _obj("c", "cup", 5, 125, distinct=True)], [])
    verdict = DetectorVerifier(ScriptedDetector([shifted]), iou_threshold=0.4).verify(
        RenderResult(image=image, graph=two, exact=False))
    assert list(verdict.detected) == ["c"]  # the better overlap wins the detection
    assert [f.objects for f in verdict.failures] == [("a",)]
