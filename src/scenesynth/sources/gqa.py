"""GQA scene graphs (``{train,val}_sceneGraphs.json``): a map image id -> ``{width, height,
[location, weather,] objects: {object id: {name, x, y, w, h, attributes, relations}}}`` where
each object's ``relations`` are its outgoing edges ``{name, object}``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scenesynth.graph import ImageInfo, Relation, SceneGraph, SceneObject
from scenesynth.sources.common import (
    DEFAULT_OPTIONS,
    LoadOptions,
    RecordContext,
    Skip,
    assemble,
    attributes,
    box_from_xywh,
    graph_meta,
    ident,
    image_side,
    make_object,
    make_relation,
    require,
    stream_items,
    text,
)
from scenesynth.sources.report import LoadReport

SOURCE = "gqa"


def read_gqa(
    path: str | Path, report: LoadReport, options: LoadOptions = DEFAULT_OPTIONS
) -> Iterator[SceneGraph]:
    path = Path(path)
    pairs = stream_items(path, "", report, lambda kv: f"image {kv[0]}", kv=True)
    for index, (image_id, record) in pairs:
        ctx = RecordContext(report, str(path), f"image {image_id}", options)
        try:
            yield _graph(ctx, str(image_id), record, index)
        except Skip:
            report.skipped_records += 1


def _graph(ctx: RecordContext, image_id: str, record: Any, index: int) -> SceneGraph:
    width = image_side(ctx, require(ctx, record, "width", ""), "width")
    height = image_side(ctx, require(ctx, record, "height", ""), "height")
    objects_raw = require(ctx, record, "objects", "")
    if not isinstance(objects_raw, dict):
        raise ctx.fail("objects", "expected a map of object id -> object")
    image = ImageInfo(id=image_id, width=width, height=height, source=SOURCE)

    objects: list[tuple[str, SceneObject]] = []
    relations: list[tuple[str, Relation]] = []
    skipped: set[str] = set()
    for oid, raw in objects_raw.items():
        path = f"objects['{oid}']"  # bracketed so report counts group by field
        try:
            objects.append((path, _object(ctx, oid, raw, image, path)))
        except Skip:
            # Its relations are still read so that assemble() reports each one it drops.
            ctx.report.skipped_objects += 1
            skipped.add(oid)
        rels = raw.get("relations") or [] if isinstance(raw, dict) else []
        if not isinstance(rels, list):
            ctx.report.dropped_relations += 1
            ctx.error(f"{path}.relations", "expected a list of {name, object}")
            continue
        for k, rel in enumerate(rels):
            rpath = f"{path}.relations[{k}]"
            try:
                target = ident(ctx, require(ctx, rel, "object", rpath), f"{rpath}.object")
                name = require(ctx, rel, "name", rpath)
                relations.append((rpath, make_relation(
                    ctx, rpath, oid, name, target, predicate_field="name",
                )))
            except Skip:
                ctx.report.dropped_relations += 1
    extra = {k: record[k] for k in ("location", "weather") if k in record}
    meta = graph_meta(ctx.file, index, image_id, **extra)
    return assemble(ctx, image, objects, relations, None, meta, skipped)


def _object(ctx: RecordContext, oid: str, raw: Any, image: ImageInfo, path: str) -> SceneObject:
    name = text(ctx, require(ctx, raw, "name", path), f"{path}.name")
    box = box_from_xywh(
        ctx, require(ctx, raw, "x", path), require(ctx, raw, "y", path),
        require(ctx, raw, "w", path), require(ctx, raw, "h", path), image, path,
    )
    return make_object(
        ctx, path, id=oid, name=name, box=box,
        attributes=attributes(ctx, raw.get("attributes"), f"{path}.attributes"),
    )
