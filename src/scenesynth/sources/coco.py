"""COCO annotations: instances / detection form (``annotations`` with ``bbox`` and
``segmentation`` as RLE or polygons, e.g. ``panoptic_coco_detection_format.json``) and the
panoptic form (``annotations[].segments_info`` per image, e.g. ``panoptic_*.json``).

The file is streamed with ``ijson`` (images, categories, then annotations). COCO does not
group annotations by image, so they are bucketed per image: in memory for small files, in a
temporary SQLite file on disk above ``spill_bytes``, so memory stays bounded on the 450 MB
train files. ``isthing`` may come from another COCO file's categories (``category_file``),
e.g. the panoptic file's, for the detection form, whose categories lack it.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections import defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import ijson

from scenesynth.graph import ImageInfo, Mask, SceneGraph, SceneObject
from scenesynth.sources.common import (
    DEFAULT_OPTIONS,
    ItemStream,
    JsonReader,
    LoadOptions,
    RecordContext,
    Rejected,
    Skip,
    assemble,
    bounded,
    box_from_xywh,
    graph_meta,
    ident,
    image_side,
    make_object,
    pixel,
    require,
)
from scenesynth.sources.report import LoadReport

SOURCE = "coco"
SPILL_BYTES = 64 * 1024 * 1024
_IMAGE_FIELDS = ("id", "width", "height", "file_name", "coco_url", "license")


class _Groups:
    """Annotations bucketed by image id; spills to SQLite when the input is large."""

    def __init__(self, spill: bool) -> None:
        self._memory: dict[str, list[tuple[int, Any]]] = defaultdict(list)
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self._db: sqlite3.Connection | None = None
        if spill:
            self._tmp = tempfile.TemporaryDirectory(prefix="scenesynth-coco-")
            self._db = sqlite3.connect(Path(self._tmp.name) / "annotations.sqlite")
            self._db.execute("CREATE TABLE ann (image TEXT, idx INTEGER, body TEXT)")

    def add(self, image_id: str, index: int, ann: Any) -> None:
        if self._db is None:
            self._memory[image_id].append((index, ann))
        else:
            self._db.execute("INSERT INTO ann VALUES (?, ?, ?)", (image_id, index, json.dumps(ann)))

    def finish(self) -> None:
        if self._db is not None:
            self._db.execute("CREATE INDEX ann_image ON ann (image)")
            self._db.commit()

    def pop(self, image_id: str) -> list[tuple[int, Any]]:
        if self._db is None:
            return self._memory.pop(image_id, [])
        rows = self._db.execute(
            "SELECT idx, body FROM ann WHERE image = ? ORDER BY idx", (image_id,)
        ).fetchall()
        self._db.execute("DELETE FROM ann WHERE image = ?", (image_id,))
        return [(idx, json.loads(body)) for idx, body in rows]

    def leftovers(self) -> Iterator[tuple[str, int]]:
        if self._db is None:
            for image_id, anns in self._memory.items():
                for idx, _ in anns:
                    yield image_id, idx
        else:
            yield from self._db.execute("SELECT image, idx FROM ann ORDER BY idx")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
        if self._tmp is not None:
            self._tmp.cleanup()


_PANOPTIC_SUFFIXES = ("-merged", "-other", "-stuff")


def natural_category_name(name: str) -> str:
    """COCO panoptic stuff names as words a question can use: ``sky-other-merged`` -> ``sky``,
    ``wall-brick`` -> ``brick wall``, ``window-blind`` -> ``window blind``."""
    base = name
    changed = True
    while changed:
        changed = False
        for suffix in _PANOPTIC_SUFFIXES:
            if base.endswith(suffix):
                base = base[: -len(suffix)]
                changed = True
    if "-" in base:
        head, _, modifier = base.partition("-")
        base = f"{modifier} {head}" if head in ("wall", "floor") else f"{head} {modifier}"
    return base


def read_categories(
    path: Path, report: LoadReport | None = None, stream: ItemStream | None = None
) -> dict[int, dict[str, Any]]:
    """``{category id: category}`` from a COCO file's ``categories``."""
    cats: dict[int, dict[str, Any]] = {}
    for i, cat in stream or ItemStream(path, "categories.item", None):
        cid = _get(cat, "id")
        if isinstance(cid, bool) or not isinstance(cid, int) or not isinstance(
            _get(cat, "name"), str
        ):
            if report is not None:
                report.error(str(path), f"categories #{i}", f"categories[{i}]",
                             f"expected {{id: int, name: str}}, got {str(cat)[:60]}")
            continue
        cats[cid] = cat
    return cats


def _leading_licenses(path: Path) -> dict[Any, str]:
    """License names, read from the head of the file only: scanning stops where ``images``
    or ``annotations`` begin, so the (cosmetic) licenses never cost a pass over the file."""
    licenses: dict[Any, str] = {}
    try:
        with open(path, "rb") as fh:
            current: dict[str, Any] = {}
            for prefix, event, value in ijson.parse(JsonReader(fh), use_float=True):
                if prefix in ("images", "annotations"):
                    break
                if prefix.startswith("licenses.item."):
                    current[prefix.rsplit(".", 1)[1]] = value
                elif prefix == "licenses.item" and event == "end_map":
                    name = current.get("name") or current.get("url")
                    if isinstance(name, str):
                        licenses[current.get("id")] = name
                    current = {}
    except ijson.JSONError:
        pass  # the main passes report truncation
    return licenses


def read_coco(
    path: str | Path,
    report: LoadReport,
    options: LoadOptions = DEFAULT_OPTIONS,
    category_file: str | Path | None = None,
    spill_bytes: int = SPILL_BYTES,
) -> Iterator[SceneGraph]:
    path = Path(path)
    file = str(path)
    # The three passes report records holding NaN/Infinity or duplicate keys; truncation is
    # reported once, below.
    images_stream = ItemStream(
        path, "images.item", report, lambda im: f"id={_get(im, 'id')}", label="images ",
        report_truncation=False, yield_rejected=True,
    )
    # Only the fields a graph uses are kept: COCO train lists 118k images.
    images: list[tuple[int, Any]] = []
    rejected_images: set[str] = set()  # their error is reported; so are their annotations
    for i, im in images_stream:
        if isinstance(im, Rejected):
            rejected_images.add(str(_get(im.item, "id")))
            continue
        images.append(
            (i, {k: im[k] for k in _IMAGE_FIELDS if k in im} if isinstance(im, dict) else im)
        )
    licenses = _leading_licenses(path)
    cats_stream = ItemStream(
        path, "categories.item", report, label="categories ", report_truncation=False,
        skip_counter="",
    )
    categories = read_categories(path, report, cats_stream)
    if category_file is not None:
        # Only isthing is taken from the other file, for ids this file defines: names and
        # the set of valid ids stay this file's own.
        for cid, cat in read_categories(Path(category_file), report).items():
            if cid in categories and "isthing" in cat:
                categories[cid].setdefault("isthing", cat["isthing"])

    groups = _Groups(spill=path.stat().st_size > spill_bytes)
    try:
        ann_stream = ItemStream(
            path, "annotations.item", report, lambda a: f"id={_get(a, 'id')}",
            label="annotations ", report_truncation=False, skip_counter="skipped_objects",
        )
        for index, ann in ann_stream:
            image_id = _get(ann, "image_id")
            if isinstance(image_id, bool) or not isinstance(image_id, int | str):
                report.skipped_objects += 1
                report.error(file, f"annotations #{index}", "annotations[].image_id",
                             f"missing or invalid image_id {image_id!r:.40}; annotation skipped")
                continue
            groups.add(str(image_id), index, ann)
        groups.finish()
        if images_stream.truncated or ann_stream.truncated or cats_stream.truncated:
            report.skipped_records += 1
            report.error(
                file, f"after {ann_stream.last}", "<json>",
                f"truncated or malformed JSON ({images_stream.problem or ann_stream.problem}); "
                f"read {images_stream.count} images, {ann_stream.count} annotations and "
                f"{len(categories)} categories before it; images whose annotations lay after "
                "it are incomplete",
            )
        for index, image_record in images:
            ctx = RecordContext(report, file, f"images #{index}", options)
            try:
                image_id = ident(ctx, require(ctx, image_record, "id", "images[]"), "images[].id")
                ctx.record = f"image id={image_id}"
                yield _graph(ctx, image_id, index, image_record, groups.pop(image_id),
                             categories, licenses)
            except Skip:
                report.skipped_records += 1
        for image_id, idx in groups.leftovers():
            report.skipped_objects += 1
            why = (
                "its image record was rejected (see that error); annotation skipped"
                if image_id in rejected_images else "no such image in images; annotation skipped"
            )
            report.error(file, f"annotations #{idx} (image_id={image_id})",
                         "annotations[].image_id", why)
    finally:
        groups.close()


def _get(record: Any, key: str) -> Any:
    return record.get(key) if isinstance(record, dict) else None


def _graph(
    ctx: RecordContext,
    image_id: str,
    index: int,
    record: Any,
    anns: list[tuple[int, Any]],
    categories: dict[int, dict[str, Any]],
    licenses: dict[Any, str],
) -> SceneGraph:
    width = image_side(ctx, require(ctx, record, "width", "images[]"), "images[].width")
    height = image_side(ctx, require(ctx, record, "height", "images[]"), "images[].height")
    lic = licenses.get(record.get("license"))
    image = ImageInfo(
        id=image_id, width=width, height=height, source=SOURCE,
        path=record.get("file_name") if isinstance(record.get("file_name"), str) else None,
        url=record.get("coco_url") if isinstance(record.get("coco_url"), str) else None,
        license=lic if isinstance(lic, str) else None,
    )
    objects: list[tuple[str, SceneObject]] = []
    panoptic_files: list[str] = []
    captions: list[str] = []
    for ann_index, ann in anns:
        if isinstance(ann, dict) and "caption" in ann and "bbox" not in ann:
            # captions_*.json: image-level text, kept for caption generators
            if isinstance(ann["caption"], str) and ann["caption"].strip():
                captions.append(ann["caption"].strip())
            else:
                ctx.error(f"annotations[{ann_index}].caption", "expected a non-empty string")
            continue
        if isinstance(ann, dict) and "segments_info" in ann:
            if isinstance(ann.get("file_name"), str):
                panoptic_files.append(ann["file_name"])
            segments = ann["segments_info"]
            if not isinstance(segments, list):
                ctx.error(f"annotations[{ann_index}].segments_info", "expected a list")
                continue
            for k, seg in enumerate(segments):
                path = f"annotations[{ann_index}].segments_info[{k}]"
                try:
                    objects.append((path, _object(ctx, seg, path, image, categories, False)))
                except Skip:
                    ctx.report.skipped_objects += 1
        else:
            path = f"annotations[{ann_index}]"
            try:
                objects.append((path, _object(ctx, ann, path, image, categories, True)))
            except Skip:
                ctx.report.skipped_objects += 1
    extra: dict[str, Any] = {}
    if panoptic_files:
        extra["panoptic_png"] = panoptic_files[0] if len(panoptic_files) == 1 else panoptic_files
    if captions:
        extra["captions"] = captions
    meta = graph_meta(ctx.file, index, image_id, **extra)
    return assemble(ctx, image, objects, [], None, meta)


def _object(
    ctx: RecordContext,
    ann: Any,
    path: str,
    image: ImageInfo,
    categories: dict[int, dict[str, Any]],
    with_mask: bool,
) -> SceneObject:
    oid = ident(ctx, require(ctx, ann, "id", path), f"{path}.id")
    cid = require(ctx, ann, "category_id", path)
    cat = categories.get(cid) if isinstance(cid, int) and not isinstance(cid, bool) else None
    if cat is None:
        raise ctx.fail(f"{path}.category_id", f"unknown category id {cid!r:.40}")
    bbox = require(ctx, ann, "bbox", path)
    if not isinstance(bbox, list) or len(bbox) != 4:
        raise ctx.fail(f"{path}.bbox", f"expected [x, y, w, h], got {bbox!r:.60}")
    box = box_from_xywh(
        ctx, bbox[0], bbox[1], bbox[2], bbox[3], image, f"{path}.bbox",
        names=("[0]", "[1]", "[2]", "[3]"),
    )
    mask = _mask(ctx, ann.get("segmentation"), image, f"{path}.segmentation") if with_mask else None
    iscrowd = bool(ann.get("iscrowd", 0))
    isthing = cat.get("isthing")
    meta: dict[str, Any] = {"category_id": cid, "category_name": cat["name"], "iscrowd": iscrowd}
    for key in ("supercategory",):
        if key in cat:
            meta[key] = cat[key]
    if isthing is not None:
        meta["isthing"] = bool(isthing)
    if "area" in ann:
        bounded(ctx, ann["area"], f"{path}.area", 0.0, float(image.width * image.height),
                "area (px²)")
        meta["area"] = ann["area"]
    if "keypoints" in ann:  # person_keypoints_*.json: [x, y, visibility] * 17
        meta["keypoints"] = _keypoints(ctx, ann["keypoints"], image, f"{path}.keypoints")
        meta["num_keypoints"] = ann.get("num_keypoints")
    return make_object(
        ctx, path, id=oid, name=natural_category_name(cat["name"]), box=box, mask=mask, meta=meta,
        # COCO asserts each non-crowd thing annotation is its own instance.
        distinct=not iscrowd and isthing is not False and isthing != 0,
    )


def _keypoints(ctx: RecordContext, values: Any, image: ImageInfo, path: str) -> list[float]:
    """``[x, y, visibility] * k``: points inside the image (within the clip tolerance),
    visibility 0 (not labelled), 1 (labelled, hidden) or 2 (visible)."""
    if not isinstance(values, list) or len(values) % 3:
        raise ctx.fail(path, f"expected [x, y, visibility] triples, got {values!r:.60}")
    for k in range(0, len(values), 3):
        pixel(ctx, values[k], f"{path}[{k}]", image.width, "x")
        pixel(ctx, values[k + 1], f"{path}[{k + 1}]", image.height, "y")
        if values[k + 2] not in (0, 1, 2) or isinstance(values[k + 2], bool):
            raise ctx.fail(f"{path}[{k + 2}]", f"visibility must be 0, 1 or 2, got "
                           f"{values[k + 2]!r:.20}")
    return values


def _mask(ctx: RecordContext, seg: Any, image: ImageInfo, path: str) -> Mask | None:
    if seg is None or seg == []:
        return None
    if isinstance(seg, dict):
        size, counts = seg.get("size"), seg.get("counts")
        if (
            not isinstance(size, list) or len(size) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in size)
        ):
            raise ctx.fail(f"{path}.size", f"expected [height, width], got {size!r:.40}")
        if tuple(size) != (image.height, image.width):
            raise ctx.fail(f"{path}.size", f"mask size {size} differs from image "
                           f"[{image.height}, {image.width}]")
        if isinstance(counts, str) or (
            isinstance(counts, list) and all(isinstance(c, int) for c in counts)
        ):
            return Mask(size=(size[0], size[1]), counts=counts)
        raise ctx.fail(f"{path}.counts", "expected an RLE string or a list of run lengths")
    if isinstance(seg, list):  # polygons: [[x0, y0, x1, y1, ...], ...]
        if not all(
            isinstance(poly, list) and len(poly) >= 6 and len(poly) % 2 == 0
            and all(isinstance(v, int | float) and not isinstance(v, bool) for v in poly)
            for poly in seg
        ):
            raise ctx.fail(path, "expected polygons as lists of >= 3 x, y pairs")
        for p, poly in enumerate(seg):
            for k, v in enumerate(poly):
                side, axis = (image.width, "x") if k % 2 == 0 else (image.height, "y")
                pixel(ctx, v, f"{path}[{p}][{k}]", side, axis)
        from pycocotools import mask as mask_utils  # imported lazily: compiled, rarely needed

        rles = mask_utils.frPyObjects(seg, image.height, image.width)
        rle = mask_utils.merge(rles)
        counts = rle["counts"]
        return Mask(
            size=(image.height, image.width),
            counts=counts.decode("ascii") if isinstance(counts, bytes) else counts,
        )
    raise ctx.fail(path, f"expected an RLE object or polygons, got {type(seg).__name__}")
