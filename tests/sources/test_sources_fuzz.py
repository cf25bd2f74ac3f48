"""A fixed corpus of malformed inputs for every loader (CLEVR, GQA, Visual Genome, COCO, JSONL).

Each case starts from a small valid dataset of three records, breaks the middle one (or cuts the
file), and checks what a user relies on:

* the bad record is reported with its file, record and field, and no other record is blamed;
* every good record is emitted (and the broken one is emitted too when only a part of it, an
  object or a relation, was dropped);
* a file cut short is reported as not read to its end;
* nothing outside the image root is read: traversal paths, absolute paths and symlinks out of
  the root are load errors, and a planted secret never reaches an output (checked through the
  command line, with a Parquet export that embeds image bytes).

The library API carries the corpus; a representative few go through the CLI for exit codes.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from typer.testing import CliRunner

from scenesynth.cli import app
from scenesynth.graph import SCHEMA_VERSION
from scenesynth.pipeline.runner import (
    EXIT_NOTHING_EXPORTED,
    EXIT_OK,
    EXIT_SOURCE_NOT_READ,
)
from scenesynth.sources import load

SECRET = "SCENESYNTH-FUZZ-SECRET-5e1f0c9a"
NAN, INF = float("nan"), float("inf")
runner = CliRunner()


# -- a JSON writer that can write what Python's json.dump writes (NaN) and duplicate keys ----


class Pairs(list[tuple[str, Any]]):
    """A JSON object written from (key, value) pairs, so a key can occur twice."""


def dup(obj: dict[str, Any], key: str, value: Any) -> Pairs:
    return Pairs([*obj.items(), (key, value)])


def encode(value: Any) -> str:
    if isinstance(value, Pairs):
        return "{" + ", ".join(f"{json.dumps(k)}: {encode(v)}" for k, v in value) + "}"
    if isinstance(value, dict):
        return encode(Pairs(value.items()))
    if isinstance(value, list):
        return "[" + ", ".join(encode(v) for v in value) + "]"
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    return json.dumps(value)


# -- the dataset root: images inside, a secret outside, a symlink pointing at it -------------


@dataclass
class Root:
    base: Path  # holds data/ (the image root) and secret/ (outside it)

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def secret(self) -> Path:
        return self.base / "secret" / "secret.txt"


@pytest.fixture
def root(tmp_path: Path) -> Root:
    r = Root(tmp_path)
    r.data.mkdir()
    r.secret.parent.mkdir()
    r.secret.write_text(f"{SECRET}\n")
    for i in range(3):
        Image.new("RGB", (64, 48), (40 * i, 90, 160)).save(r.data / f"img{i}.png")
    (r.data / "link.png").symlink_to(r.secret)
    return r


# -- three valid records per format ----------------------------------------------------------

_DIRECTIONS = {
    "left": [-0.65, 0.76, 0.0], "right": [0.65, -0.76, 0.0], "front": [0.75, 0.66, 0.0],
    "behind": [-0.75, -0.66, 0.0], "above": [0.0, 0.0, 1.0], "below": [0.0, 0.0, -1.0],
}


def clevr_data() -> dict[str, Any]:
    def scene(i: int) -> dict[str, Any]:
        return {
            "image_index": i, "image_filename": f"img{i}.png", "split": "train",
            "directions": {k: list(v) for k, v in _DIRECTIONS.items()},
            "objects": [
                {"color": "red", "size": "large", "material": "rubber", "shape": "cube",
                 "3d_coords": [1.0, 2.0, 0.7], "pixel_coords": [100 + i, 120, 10.5],
                 "rotation": 30.0},
                {"color": "blue", "size": "small", "material": "metal", "shape": "sphere",
                 "3d_coords": [-1.0, 0.5, 0.35], "pixel_coords": [300, 200, 12.0],
                 "rotation": 0.0},
            ],
            "relationships": {"left": [[1], []], "right": [[], [0]], "front": [[], []],
                              "behind": [[], []]},
        }

    return {"info": {"split": "train"}, "scenes": [scene(i) for i in range(3)]}


def gqa_data() -> dict[str, Any]:
    def image(i: int) -> dict[str, Any]:
        return {
            "width": 64, "height": 48,
            "objects": {
                f"{i}a": {"name": "cat", "x": 2, "y": 3, "w": 20, "h": 15,
                          "attributes": ["black"],
                          "relations": [{"name": "to the left of", "object": f"{i}b"}]},
                f"{i}b": {"name": "dog", "x": 30, "y": 5, "w": 25, "h": 30, "attributes": [],
                          "relations": []},
            },
        }

    return {f"g{i}": image(i) for i in range(3)}


def vg_data() -> dict[str, list[dict[str, Any]]]:
    def obj(image: int, k: int) -> dict[str, Any]:
        return {"object_id": image * 10 + k, "names": ["man" if k == 0 else "horse"],
                "x": 5 + 20 * k, "y": 4, "w": 15, "h": 30, "synsets": []}

    ids = [100, 101, 102]
    return {
        "image_data.json": [{"image_id": i, "width": 64, "height": 48, "url": f"u{i}"}
                            for i in ids],
        "objects.json": [{"image_id": i, "objects": [obj(i, 0), obj(i, 1)]} for i in ids],
        "attributes.json": [{"image_id": i, "attributes": [{**obj(i, 0), "attributes": ["tall"]}]}
                            for i in ids],
        "relationships.json": [
            {"image_id": i, "relationships": [{"relationship_id": i, "predicate": "riding",
                                               "subject": obj(i, 0), "object": obj(i, 1)}]}
            for i in ids
        ],
    }


def coco_data() -> dict[str, Any]:
    ids = [100, 101, 102]
    return {
        "info": {}, "licenses": [],
        "images": [{"id": i, "width": 64, "height": 48, "file_name": f"img{n}.png"}
                   for n, i in enumerate(ids)],
        "categories": [{"id": 1, "name": "cat", "supercategory": "animal"},
                       {"id": 2, "name": "dog", "supercategory": "animal"}],
        "annotations": [
            {"id": i * 10 + k, "image_id": i, "category_id": 1 + k, "bbox": [2 + 30 * k, 3, 20, 15],
             "area": 300.0, "iscrowd": 0, "segmentation": []}
            for i in ids for k in range(2)
        ],
    }


def jsonl_data() -> list[dict[str, Any]]:
    def graph(i: int) -> dict[str, Any]:
        return {
            "schema_version": SCHEMA_VERSION,
            "image": {"id": f"img{i}", "width": 64, "height": 48, "path": f"img{i}.png",
                      "source": "test"},
            "objects": [
                {"id": "a", "name": "cat", "box": {"x0": 2, "y0": 3, "x1": 22, "y1": 18},
                 "depth": 3.0},
                {"id": "b", "name": "dog", "box": {"x0": 30, "y0": 5, "x1": 55, "y1": 35}},
            ],
            "relations": [{"subject": "a", "predicate": "left of", "object": "b"}],
        }

    return [graph(i) for i in range(3)]


# -- writing a (possibly broken) dataset -----------------------------------------------------

FILES = {"clevr": "scenes.json", "gqa": "sceneGraphs.json", "coco": "instances.json",
         "jsonl": "graphs.jsonl"}
BASE: dict[str, Callable[[], Any]] = {
    "clevr": clevr_data, "gqa": gqa_data, "vg": vg_data, "coco": coco_data, "jsonl": jsonl_data,
}
# Where to cut a file so that the first records survive (the cut lies inside the third).
CUT = {"clevr": '"img2.png"', "gqa": '"2b"', "objects.json": '"image_id": 102',
       "coco": '"id": 1020', "jsonl": '"img2.png"'}
IDS = {
    "clevr": ["img0", "img1", "img2"], "gqa": ["g0", "g1", "g2"], "vg": ["100", "101", "102"],
    "coco": ["100", "101", "102"], "jsonl": ["img0", "img1", "img2"],
}


def write_dataset(root: Root, fmt: str, data: Any, cut: str | None = None) -> Path:
    """Write ``data`` in ``fmt`` under the image root; returns the path ``load`` takes."""
    if fmt == "vg":
        for name, records in data.items():
            text = encode(records)
            if cut == name:
                text = text[: text.index(CUT[name])]
            (root.data / name).write_text(text)
        return root.data
    path = root.data / FILES[fmt]
    text = "".join(encode(line) + "\n" for line in data) if fmt == "jsonl" else encode(data)
    if cut is not None:
        text = text[: text.index(CUT[fmt])]
    path.write_text(text)
    return path


# -- the corpus ------------------------------------------------------------------------------

RECORD = "record"  # the bad record is skipped, every other one emitted
PART = "part"  # an object / relation / attribute of the record is dropped; the record stays
CUT_SHORT = "cut"  # the file stops inside the third record


@dataclass
class Case:
    name: str
    fmt: str
    mutate: Callable[[Any, Root], Any]
    record: str  # substring of the reported record
    field: str  # substring of the reported field
    outcome: str = RECORD
    file: str | None = None  # reported file name (default: the format's file)


def setter(*path: Any, value: Any) -> Callable[[Any, Root], Any]:
    def mutate(data: Any, root: Root) -> Any:
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value(root) if callable(value) else value
        return data

    return mutate


def dup_key(*path: Any, key: str, value: Any) -> Callable[[Any, Root], Any]:
    def mutate(data: Any, root: Root) -> Any:
        target = data
        for k in path[:-1]:
            target = target[k]
        target[path[-1]] = dup(target[path[-1]], key, value)
        return data

    return mutate


def outside(root: Root) -> str:
    return str(root.secret)


def traversal(root: Root) -> str:
    return "../secret/secret.txt"


S = ("scenes", 1)
O0 = (*S, "objects", 0)
G = ("g1",)
GO = (*G, "objects", "1a")
VO = ("objects.json", 1, "objects", 0)
CI = ("images", 1)
CA = ("annotations", 2)  # image 101's first annotation (id 1010)
J = (1,)
JO = (1, "objects", 0)

CASES = [
    # CLEVR -------------------------------------------------------------------------------
    Case("clevr-nan-pixel", "clevr", setter(*O0, "pixel_coords", 0, value=NAN),
         "#1 (image_index=1)", "objects[0].pixel_coords[0]"),
    Case("clevr-inf-3d", "clevr", setter(*O0, "3d_coords", 1, value=INF),
         "#1 (image_index=1)", "objects[0].3d_coords[1]"),
    Case("clevr-neginf-rotation", "clevr", setter(*O0, "rotation", value=-INF),
         "#1 (image_index=1)", "objects[0].rotation"),
    Case("clevr-nan-direction", "clevr", setter(*S, "directions", "left", 2, value=NAN),
         "#1 (image_index=1)", "directions.left[2]"),
    Case("clevr-negative-pixel", "clevr", setter(*O0, "pixel_coords", 0, value=-50),
         "#1", "objects[0].pixel_coords[0]", PART),
    Case("clevr-huge-pixel", "clevr", setter(*O0, "pixel_coords", 1, value=1e308),
         "#1", "objects[0].pixel_coords[1]", PART),
    Case("clevr-far-outside-pixel", "clevr", setter(*O0, "pixel_coords", 0, value=5000),
         "#1", "objects[0].pixel_coords[0]", PART),
    Case("clevr-negative-depth", "clevr", setter(*O0, "pixel_coords", 2, value=-3.0),
         "#1", "objects[0].pixel_coords[2]", PART),
    Case("clevr-huge-3d", "clevr", setter(*O0, "3d_coords", 0, value=1e308),
         "#1", "objects[0].3d_coords[0]", PART),
    Case("clevr-wrong-type-shape", "clevr", setter(*O0, "shape", value=5),
         "#1", "objects[0].shape", PART),
    Case("clevr-wrong-type-pixel", "clevr", setter(*O0, "pixel_coords", value="12,40"),
         "#1", "objects[0].pixel_coords", PART),
    Case("clevr-objects-not-list", "clevr", setter(*S, "objects", value="x"),
         "#1", "objects"),
    Case("clevr-bad-relation-index", "clevr", setter(*S, "relationships", "left", 0, value=["a"]),
         "#1", "relationships.left[0][0]", PART),
    Case("clevr-dup-key", "clevr", dup_key(*O0, key="rotation", value=90.0),
         "#1 (image_index=1)", "objects[0].rotation"),
    Case("clevr-traversal", "clevr", setter(*S, "image_filename", value=traversal),
         "#1", "image.path"),
    Case("clevr-absolute-outside", "clevr", setter(*S, "image_filename", value=outside),
         "#1", "image.path"),
    Case("clevr-symlink-out", "clevr", setter(*S, "image_filename", value="link.png"),
         "#1", "image.path"),
    Case("clevr-truncated", "clevr", lambda d, r: d, "after #1", "<json>", CUT_SHORT),
    # GQA ---------------------------------------------------------------------------------
    Case("gqa-nan-x", "gqa", setter(*GO, "x", value=NAN), "image g1", "objects.1a.x"),
    Case("gqa-inf-w", "gqa", setter(*GO, "w", value=INF), "image g1", "objects.1a.w"),
    Case("gqa-zero-width", "gqa", setter(*GO, "w", value=0), "image g1", "objects['1a']", PART),
    Case("gqa-negative-height", "gqa", setter(*GO, "h", value=-5), "image g1", "objects['1a']",
         PART),
    Case("gqa-huge-x", "gqa", setter(*GO, "x", value=1e308), "image g1", "objects['1a']", PART),
    Case("gqa-huge-negative-y", "gqa", setter(*GO, "y", value=-1e308), "image g1",
         "objects['1a']", PART),
    Case("gqa-string-x", "gqa", setter(*GO, "x", value="12"), "image g1", "objects['1a'].x",
         PART),
    Case("gqa-name-not-string", "gqa", setter(*GO, "name", value=7), "image g1",
         "objects['1a'].name", PART),
    Case("gqa-zero-image-width", "gqa", setter(*G, "width", value=0), "image g1", "width"),
    Case("gqa-huge-image-width", "gqa", setter(*G, "width", value=1e308), "image g1", "width"),
    Case("gqa-string-image-height", "gqa", setter(*G, "height", value="480"), "image g1",
         "height"),
    Case("gqa-dup-object-key", "gqa", dup_key(*G, "objects", key="1a",
                                               value={"name": "bird", "x": 1, "y": 1, "w": 2,
                                                      "h": 2}),
         "image g1", "objects.1a"),
    Case("gqa-dup-image-key", "gqa", lambda d, r: Pairs([*d.items(), ("g1", d["g0"])]),
         "#3 (image g1)", "['g1']", PART),
    Case("gqa-dup-field-key", "gqa", dup_key(*GO, key="x", value=40), "image g1",
         "objects.1a.x"),
    Case("gqa-relations-not-list", "gqa", setter(*GO, "relations", value="x"), "image g1",
         "objects['1a'].relations", PART),
    Case("gqa-relation-to-missing", "gqa", setter(*GO, "relations", 0, "object", value="zz"),
         "image g1", "relations[0].object", PART),
    Case("gqa-bad-attribute", "gqa", setter(*GO, "attributes", value=[1]), "image g1",
         "objects['1a'].attributes[0]", PART),
    Case("gqa-traversal-id", "gqa",
         lambda d, r: {"g0": d["g0"], "../../secret/secret.txt": d["g1"], "g2": d["g2"]},
         "image ../../secret/secret.txt", "image.id"),
    Case("gqa-truncated", "gqa", lambda d, r: d, "after #1", "<json>", CUT_SHORT),
    # Visual Genome -----------------------------------------------------------------------
    Case("vg-nan-x", "vg", setter(*VO, "x", value=NAN), "image_id=101", "objects[0].x",
         file="objects.json"),
    Case("vg-inf-attribute-box", "vg",
         setter("attributes.json", 1, "attributes", 0, "h", value=INF), "image_id=101",
         "attributes[0].h", file="attributes.json"),
    Case("vg-zero-width", "vg", setter(*VO, "w", value=0), "image_id=101", "objects[0]", PART,
         file="objects.json"),
    Case("vg-negative-height", "vg", setter(*VO, "h", value=-4), "image_id=101", "objects[0]",
         PART, file="objects.json"),
    Case("vg-huge-y", "vg", setter(*VO, "y", value=1e308), "image_id=101", "objects[0]", PART,
         file="objects.json"),
    Case("vg-empty-names", "vg", setter(*VO, "names", value=[]), "image_id=101",
         "objects[0].names", PART, file="objects.json"),
    Case("vg-negative-image-width", "vg", setter("image_data.json", 1, "width", value=-1),
         "image_id=101", "width", file="image_data.json"),
    Case("vg-nan-image-height", "vg", setter("image_data.json", 1, "height", value=NAN),
         "image_id=101", "height", file="image_data.json"),
    Case("vg-dup-key", "vg", dup_key(*VO, key="x", value=9), "image_id=101", "objects[0].x",
         file="objects.json"),
    Case("vg-predicate-not-string", "vg",
         setter("relationships.json", 1, "relationships", 0, "predicate", value=5),
         "image_id=101", "relationships[0].predicate", PART, file="relationships.json"),
    Case("vg-traversal-id", "vg", setter("image_data.json", 1, "image_id", value="../x"),
         "image_id=../x", "image.id", file="objects.json"),
    Case("vg-truncated-objects", "vg", lambda d, r: d, "image_id=102", "<join>", CUT_SHORT,
         file="image_data.json"),
    # COCO --------------------------------------------------------------------------------
    Case("coco-traversal", "coco", setter(*CI, "file_name", value=traversal), "image id=101",
         "image.path"),
    Case("coco-absolute-outside", "coco", setter(*CI, "file_name", value=outside),
         "image id=101", "image.path"),
    Case("coco-symlink-out", "coco", setter(*CI, "file_name", value="link.png"), "image id=101",
         "image.path"),
    Case("coco-nan-bbox", "coco", setter(*CA, "bbox", 0, value=NAN), "annotations #2 (id=1010)",
         "bbox[0]", PART),
    Case("coco-inf-area", "coco", setter(*CA, "area", value=INF), "annotations #2", "area", PART),
    Case("coco-zero-width", "coco", setter(*CA, "bbox", 2, value=0), "image id=101",
         "annotations[2].bbox", PART),
    Case("coco-huge-height", "coco", setter(*CA, "bbox", 3, value=1e308), "image id=101",
         "annotations[2].bbox", PART),
    Case("coco-huge-negative-x", "coco", setter(*CA, "bbox", 0, value=-1e308), "image id=101",
         "annotations[2].bbox", PART),
    Case("coco-negative-area", "coco", setter(*CA, "area", value=-5), "image id=101",
         "annotations[2].area", PART),
    Case("coco-bbox-wrong-type", "coco", setter(*CA, "bbox", value="2,3,20,15"), "image id=101",
         "annotations[2].bbox", PART),
    Case("coco-unknown-category", "coco", setter(*CA, "category_id", value=99), "image id=101",
         "annotations[2].category_id", PART),
    Case("coco-huge-polygon", "coco",
         setter(*CA, "segmentation", value=[[2, 3, 1e308, 3, 22, 18]]), "image id=101",
         "annotations[2].segmentation[0][2]", PART),
    Case("coco-bad-keypoints", "coco", setter(*CA, "keypoints", value=[1, 2]), "image id=101",
         "annotations[2].keypoints", PART),
    Case("coco-dup-annotation-key", "coco", dup_key(*CA, key="bbox", value=[0, 0, 1, 1]),
         "annotations #2", "bbox", PART),
    Case("coco-zero-image-width", "coco", setter(*CI, "width", value=0), "image id=101",
         "images[].width"),
    Case("coco-huge-image-height", "coco", setter(*CI, "height", value=1e308), "image id=101",
         "images[].height"),
    Case("coco-nan-image-width", "coco", setter(*CI, "width", value=NAN), "images #1 (id=101)",
         "width"),
    Case("coco-truncated", "coco", lambda d, r: d, "after annotations", "<json>", CUT_SHORT),
    # JSONL -------------------------------------------------------------------------------
    Case("jsonl-traversal", "jsonl", setter(*J, "image", "path", value=traversal), "line 2",
         "image.path"),
    Case("jsonl-absolute-outside", "jsonl", setter(*J, "image", "path", value=outside),
         "line 2", "image.path"),
    Case("jsonl-symlink-out", "jsonl", setter(*J, "image", "path", value="link.png"), "line 2",
         "image.path"),
    Case("jsonl-traversal-id", "jsonl",
         lambda d, r: (d[1]["image"].pop("path"), d[1]["image"].update(id="../../etc/passwd"),
                       d)[-1],
         "line 2", "image.id"),
    Case("jsonl-traversal-depth-map", "jsonl",
         setter(*J, "image", "depth_map", value="../secret/secret.txt"), "line 2",
         "image.depth_map"),
    Case("jsonl-nan-box", "jsonl", setter(*JO, "box", "x0", value=NAN), "line 2",
         "objects[0].box.x0"),
    Case("jsonl-inf-depth", "jsonl", setter(*JO, "depth", value=INF), "line 2",
         "objects[0].depth"),
    Case("jsonl-huge-box", "jsonl", setter(*JO, "box", "x1", value=1e308), "line 2",
         "objects[0].box", PART),
    Case("jsonl-huge-depth", "jsonl", setter(*JO, "depth", value=1e308), "line 2",
         "objects[0].depth", PART),
    Case("jsonl-negative-depth", "jsonl", setter(*JO, "depth", value=-2.0), "line 2",
         "objects[0].depth", PART),
    Case("jsonl-huge-position", "jsonl",
         setter(*JO, "position", value={"x": 1e308, "y": 0.0, "z": 0.0}), "line 2",
         "objects[0].position.x", PART),
    Case("jsonl-zero-width-box", "jsonl", setter(*JO, "box", "x1", value=2), "line 2",
         "objects[0].box", PART),
    Case("jsonl-negative-image-width", "jsonl", setter(*J, "image", "width", value=-3),
         "line 2", "image.width"),
    Case("jsonl-dup-key", "jsonl", dup_key(*JO, key="name", value="bird"), "line 2",
         "objects[0].name"),
    Case("jsonl-wrong-type-objects", "jsonl", setter(*J, "objects", value={"a": 1}), "line 2",
         "objects"),
    Case("jsonl-truncated", "jsonl", lambda d, r: d, "line 3", "<json>", CUT_SHORT),
]


def test_the_corpus_is_large_and_covers_every_format() -> None:
    assert len(CASES) >= 60
    assert {c.fmt for c in CASES} == set(BASE)
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_malformed_input(case: Case, root: Root) -> None:
    data = case.mutate(BASE[case.fmt](), root)
    cut = ("objects.json" if case.fmt == "vg" else case.fmt) if case.outcome == CUT_SHORT else None
    path = write_dataset(root, case.fmt, data, cut)
    stream = load(path, case.fmt)
    graphs = list(stream)
    report = stream.report
    errors = report.error_issues()
    shown = "\n".join(str(e) for e in errors)

    # The bad record is reported with its file, record and field ...
    file = case.file or (FILES[case.fmt] if case.fmt != "vg" else "objects.json")
    assert any(
        Path(e.file).name == file and case.record in e.record and case.field in e.field
        for e in errors
    ), f"expected {file}: {case.record}: {case.field}; got:\n{shown}"
    # ... and no good record is blamed.
    bad_id = {"clevr": "1", "gqa": "g1", "vg": "10", "coco": "101", "jsonl": "line 2"}[case.fmt]
    if case.outcome != CUT_SHORT:
        for e in errors:
            assert bad_id in e.record or bad_id in e.field or "../" in e.record, shown

    # Every good record is emitted.
    ids = [g.image.id for g in graphs]
    expected = IDS[case.fmt]
    if case.outcome == RECORD:
        assert ids == [expected[0], expected[2]], shown
        assert report.skipped_records >= 1
    elif case.outcome == PART:
        assert ids == expected, shown
    else:
        # COCO lists every image before the annotations: a cut among the annotations keeps
        # all images (the last one incomplete, as the error says); the run still fails (6).
        assert ids == (expected if case.fmt == "coco" else expected[:2]), shown
        assert report.incomplete_files, "a file cut short must be reported as not fully read"
    if case.outcome != CUT_SHORT:
        assert not report.incomplete_files, report.file_lines()

    # Nothing the loader emits names a file outside the image root.
    for g in graphs:
        assert "secret" not in g.model_dump_json()


def test_nonfinite_words_inside_strings_are_data(root: Root) -> None:
    """NaN / Infinity inside a string (a caption, a name) are text, not numbers."""
    data = gqa_data()
    data["g1"]["objects"]["1a"]["name"] = "NaN Infinity -Infinity"
    data["g1"]["objects"]["1a"]["attributes"] = ['say "NaN", \\ Infinity']
    path = write_dataset(root, "gqa", data)
    stream = load(path, "gqa")
    graphs = list(stream)
    assert stream.report.errors == 0
    obj = next(o for o in graphs[1].objects if o.id == "1a")
    assert obj.name == "nan infinity -infinity"
    assert obj.attributes[0].value.startswith('say "nan"')


def test_nonfinite_literal_split_across_read_chunks(root: Root) -> None:
    """The NaN filter holds back a trailing word so a literal cut by a read boundary is seen."""
    data = clevr_data()
    data["scenes"] = [clevr_data()["scenes"][0] for _ in range(400)]
    for i, scene in enumerate(data["scenes"]):
        scene["image_filename"] = f"img{i % 3}.png"
        scene["image_index"] = i
    for i in (37, 150, 151, 399):
        data["scenes"][i]["objects"][1]["rotation"] = NAN
    path = write_dataset(root, "clevr", data)
    stream = load(path, "clevr")
    assert len(list(stream)) == 396
    bad = sorted(int(e.record.split()[0][1:]) for e in stream.report.error_issues())
    assert bad == [37, 150, 151, 399]
    assert stream.report.files[0].complete and stream.report.files[0].records == 400


# -- through the command line: exit codes and no leaked byte ----------------------------------


def _all_output_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.rglob("*") if p.is_file())


def test_cli_generate_parquet_never_embeds_a_file_outside_the_root(root: Root) -> None:
    data = coco_data()
    # Nine more good images so that the three traversal records stay under the failure limit.
    for n in range(3, 60):
        data["images"].append({"id": 200 + n, "width": 64, "height": 48,
                               "file_name": f"img{n % 3}.png"})
        data["annotations"].append({"id": 5000 + n, "image_id": 200 + n, "category_id": 1,
                                    "bbox": [2, 3, 20, 15], "area": 300.0, "iscrowd": 0})
    data["images"][0]["file_name"] = "../secret/secret.txt"
    data["images"][1]["file_name"] = str(root.secret)
    data["images"][2]["file_name"] = "link.png"
    source = write_dataset(root, "coco", data)
    out = root.base / "run"
    config = root.base / "run.yaml"
    config.write_text(json.dumps({
        "source": str(source), "out": str(out), "format": "parquet", "generators": "all",
        "per_image": 1, "workers": 1, "progress": False, "export": {"image_root": str(root.data)},
    }))
    result = runner.invoke(app, ["run", "--config", str(config)])
    assert result.exit_code == EXIT_OK, result.output
    assert "load: 3 of 60 records failed" in result.output
    failures = [json.loads(line) for line in (out / "failures.jsonl").read_text().splitlines()]
    assert sorted((f["record_id"], f["field"]) for f in failures) == [
        ("image id=100", "image.path"), ("image id=101", "image.path"),
        ("image id=102", "image.path"),
    ]
    assert (out / "export" / "data.parquet").is_file()
    assert SECRET.encode() not in _all_output_bytes(out)
    assert b"secret.txt" not in (out / "export" / "data.parquet").read_bytes()


def test_cli_convert_exit_codes(root: Root) -> None:
    good = write_dataset(root, "clevr", clevr_data())
    ok = runner.invoke(app, ["convert", str(good), "-o", str(root.base / "ok.jsonl")])
    assert ok.exit_code == EXIT_OK, ok.output
    assert "read to the end, 3 records in the file" in ok.output

    cut = write_dataset(root, "clevr", clevr_data(), cut="clevr")
    short = runner.invoke(app, ["convert", str(cut), "-o", str(root.base / "cut.jsonl")])
    assert short.exit_code == EXIT_SOURCE_NOT_READ, short.output
    assert "NOT read to the end" in short.output
    assert len((root.base / "cut.jsonl").read_text().splitlines()) == 2  # what was read is kept

    data = clevr_data()
    for scene in data["scenes"]:
        scene["objects"][0]["rotation"] = NAN
    bad = write_dataset(root, "clevr", data)
    empty = runner.invoke(app, ["convert", str(bad), "-o", str(root.base / "none.jsonl")])
    assert empty.exit_code == EXIT_NOTHING_EXPORTED, empty.output
    assert "no graph could be converted" in empty.output


def test_cli_generate_fails_on_a_truncated_source(root: Root) -> None:
    cut = write_dataset(root, "clevr", clevr_data(), cut="clevr")
    out = root.base / "gen"
    result = runner.invoke(app, [
        "generate", "--source", str(cut), "--out", str(out), "--workers", "1", "--no-progress",
        "--per-image", "1", "--max-failure-rate", "1",
    ])
    assert result.exit_code == EXIT_SOURCE_NOT_READ, result.output
    assert "source not fully read" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["incomplete_sources"] and summary["samples"] > 0


def test_cli_generate_with_nothing_loadable_exits_with_a_reason(root: Root) -> None:
    data = gqa_data()
    for image in data.values():
        image["width"] = 0
    source = write_dataset(root, "gqa", data)
    result = runner.invoke(app, [
        "generate", "--source", str(source), "--out", str(root.base / "gen"), "--workers", "1",
        "--no-progress", "--max-failure-rate", "1",
    ])
    assert result.exit_code == EXIT_NOTHING_EXPORTED, result.output
    assert "exported nothing: no record could be loaded (3 load failures)" in result.output



@pytest.mark.parametrize("fmt", ["llava", "parquet", "webdataset"])
def test_export_refuses_image_paths_out_of_the_root(root: Root, fmt: str) -> None:
    """The exporters apply the loaders' path rule again where image bytes are read: a sample
    built by other code (not a loader) cannot smuggle a file in either."""
    from scenesynth.export import export_samples
    from scenesynth.graph import InstructionSample, Provenance

    def sample(i: int, image: str) -> InstructionSample:
        prov = Provenance(source="test", image_ids=[image], generator="test",
                          generator_version="1", family="counting", seed=0)
        return InstructionSample(id=f"s{i}", images=[image], question="How many cats are there?",
                                 answer="1", answer_value=1, answer_type="count",
                                 provenance=prov)

    samples = [sample(0, "img0.png"), sample(1, "link.png"), sample(2, "../secret/secret.txt"),
               sample(3, str(root.secret)), sample(4, "img2.png")]
    out = root.base / f"export-{fmt}"
    result = export_samples(samples, fmt, out, image_root=root.data)
    assert result.n_written == 2
    rejected = dict(result.failures)
    assert sorted(rejected) == ["s1", "s2", "s3"]
    assert all("images[0]" in m and "rejected" in m for m in rejected.values()), rejected
    assert SECRET.encode() not in _all_output_bytes(out)


def test_cli_generate_on_a_jsonl_file_cut_short(root: Root) -> None:
    """A single JSONL source is parsed in the workers: a last line cut short still fails the
    run (6), after the good lines were used."""
    source = write_dataset(root, "jsonl", jsonl_data(), cut="jsonl")
    out = root.base / "gen"
    result = runner.invoke(app, [
        "generate", "--source", str(source), "--out", str(out), "--workers", "1",
        "--no-progress", "--per-image", "1", "--max-failure-rate", "1",
    ])
    assert result.exit_code == EXIT_SOURCE_NOT_READ, result.output
    assert "the last line is cut short" in result.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["stage_failed"]["load"] == 1 and summary["samples"] > 0


def test_one_percent_nan_in_the_shared_clevr_file(shared_data: Path, tmp_path: Path) -> None:
    """The issue's measurement: NaN/Infinity, as Python's json.dump writes them, in 10 of the
    1000 shared CLEVR scenes (a modified copy in a temp dir). ``convert`` writes all 990 good
    scenes and names the 10 bad ones; ``generate`` reports the 10 and uses the 990."""
    data = json.loads((shared_data / "clevr" / "CLEVR_train_scenes_1000.json").read_text())
    bad = list(range(5, 1000, 100))
    for k, i in enumerate(bad):
        obj = data["scenes"][i]["objects"][0]
        if k % 3 == 0:
            obj["pixel_coords"][0] = NAN
        elif k % 3 == 1:
            obj["3d_coords"][2] = INF
        else:
            obj["rotation"] = -INF
    source = tmp_path / "CLEVR_train_scenes_1000.json"
    source.write_text(json.dumps(data))

    out = tmp_path / "graphs.jsonl"
    converted = runner.invoke(app, ["convert", str(source), "-o", str(out), "--show", "20"])
    assert converted.exit_code == EXIT_OK, converted.output
    written = [json.loads(line)["meta"]["image_index"] for line in out.read_text().splitlines()]
    assert written == [i for i in range(1000) if i not in bad]
    for i in bad:
        assert f"record #{i} (image_index={i}): objects[0]." in converted.output
    assert "990 graphs" in converted.output and "10 records" in converted.output
    assert "read to the end, 1000 records in the file" in converted.output

    run = tmp_path / "run"
    generated = runner.invoke(app, [
        "generate", "--source", str(source), "--out", str(run), "--generators", "count_objects",
        "--per-image", "1", "--workers", "1", "--no-progress",
    ])
    assert generated.exit_code == EXIT_OK, generated.output
    assert "load: 10 of 1000 records failed (1.00%)" in generated.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["records"] == 990
    failures = [json.loads(line) for line in (run / "failures.jsonl").read_text().splitlines()]
    assert sorted(int(f["record_id"].split()[0][1:]) for f in failures) == bad
