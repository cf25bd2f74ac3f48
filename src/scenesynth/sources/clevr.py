"""CLEVR scenes (``CLEVR_<split>_scenes.json``): ``{"info": ..., "scenes": [...]}``.

Mapping: ``3d_coords`` -> ``position`` (CLEVR world frame), ``directions`` -> :class:`Camera`,
color/size/material/shape -> typed attributes (name = shape), ``pixel_coords[2]`` -> ``depth``
(distance from the camera, larger = farther), ``relationships[rel][i]`` lists every j with
``j rel i`` -> relations ``(j, rel, i)``. CLEVR scenes carry no boxes; images are 480x320.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from scenesynth.graph import (
    AttributeKind,
    Camera,
    ImageInfo,
    RelationCategory,
    SceneGraph,
    SceneObject,
    Vec3,
    canonical_spatial,
)
from scenesynth.graph.model import Attribute, Relation
from scenesynth.sources.common import (
    DEFAULT_OPTIONS,
    LoadOptions,
    RecordContext,
    Skip,
    assemble,
    describe_key,
    graph_meta,
    ident,
    make_object,
    make_relation,
    number,
    pixel,
    require,
    stream_items,
    world,
)
from scenesynth.sources.report import LoadReport

CLEVR_WIDTH, CLEVR_HEIGHT = 480, 320
SOURCE = "clevr"
_KINDS = (
    ("color", AttributeKind.COLOR),
    ("size", AttributeKind.SIZE),
    ("material", AttributeKind.MATERIAL),
    ("shape", AttributeKind.SHAPE),
)


def read_clevr(
    path: str | Path, report: LoadReport, options: LoadOptions = DEFAULT_OPTIONS
) -> Iterator[SceneGraph]:
    path = Path(path)
    for index, scene in stream_items(path, "scenes.item", report, describe_key("image_index")):
        record = _record_name(scene, index)
        ctx = RecordContext(report, str(path), record, options)
        try:
            yield _scene(ctx, scene, index)
        except Skip:
            report.skipped_records += 1


def _record_name(scene: Any, index: int) -> str:
    if isinstance(scene, dict) and "image_index" in scene:
        return f"#{index} (image_index={scene['image_index']})"
    return f"#{index}"


def _vec3(ctx: RecordContext, value: Any, path: str) -> Vec3:
    if not isinstance(value, list) or len(value) != 3:
        raise ctx.fail(path, f"expected a list of 3 numbers, got {value!r:.60}")
    x, y, z = (world(ctx, v, f"{path}[{i}]") for i, v in enumerate(value))
    return Vec3(x=x, y=y, z=z)


def _scene(ctx: RecordContext, scene: Any, index: int) -> SceneGraph:
    objects_raw = require(ctx, scene, "objects", "")
    if not isinstance(objects_raw, list):
        raise ctx.fail("objects", "expected a list")
    filename = scene.get("image_filename")
    image_id = (
        Path(filename).stem
        if isinstance(filename, str) and filename
        else ident(ctx, scene.get("image_index", index), "image_index")
    )
    image = ImageInfo(
        id=image_id, width=CLEVR_WIDTH, height=CLEVR_HEIGHT,
        path=filename if isinstance(filename, str) else None, source=SOURCE,
    )
    camera = None
    if "directions" in scene:
        dirs = scene["directions"]
        if not isinstance(dirs, dict):
            raise ctx.fail("directions", "expected an object of direction vectors")
        camera = Camera(directions={k: _vec3(ctx, v, f"directions.{k}") for k, v in dirs.items()})

    objects: list[tuple[str, SceneObject]] = []
    skipped: set[str] = set()
    for i, raw in enumerate(objects_raw):
        path = f"objects[{i}]"
        try:
            objects.append((path, _object(ctx, raw, i, path)))
        except Skip:
            ctx.report.skipped_objects += 1
            skipped.add(str(i))

    relations: list[tuple[str, Relation]] = []
    rels = scene.get("relationships") or {}
    if not isinstance(rels, dict):
        ctx.error("relationships", "expected an object {relation: [[j, ...] per object]}")
        rels = {}
    for rel_name, per_object in rels.items():
        rel_path = f"relationships.{rel_name}"
        known = canonical_spatial(rel_name)
        predicate = known or rel_name
        if not isinstance(per_object, list):
            ctx.error(rel_path, "expected a list with one list of object indices per object")
            continue
        for i, js in enumerate(per_object):
            if not isinstance(js, list):
                ctx.report.dropped_relations += 1
                ctx.error(f"{rel_path}[{i}]", f"expected a list of object indices, got {js!r:.40}")
                continue
            for k, j in enumerate(js):
                path = f"{rel_path}[{i}][{k}]"
                if isinstance(j, bool) or not isinstance(j, int):
                    ctx.report.dropped_relations += 1
                    ctx.error(path, f"expected an object index, got {j!r:.40}")
                    continue
                if known:
                    # 80 relations per scene: every field is already valid, skip re-validation.
                    relations.append((path, Relation.model_construct(
                        subject=str(j), predicate=predicate, object=str(i),
                        category=RelationCategory.SPATIAL, meta={"clevr_relation": rel_name},
                    )))
                    continue
                try:
                    relations.append((path, make_relation(
                        ctx, path, str(j), predicate, str(i),
                        category=RelationCategory.SPATIAL, meta={"clevr_relation": rel_name},
                    )))
                except Skip:
                    ctx.report.dropped_relations += 1
    meta = graph_meta(
        ctx.file, index, image_id,
        image_index=scene.get("image_index"), split=scene.get("split"),
    )
    return assemble(ctx, image, objects, relations, camera, meta, skipped)


def _object(ctx: RecordContext, raw: Any, i: int, path: str) -> SceneObject:
    if not isinstance(raw, dict):
        raise ctx.fail(path, "expected an object")
    attrs: list[Attribute] = []
    for key, kind in _KINDS:
        if key in raw:
            value = raw[key]
            if not isinstance(value, str) or not value.strip():
                raise ctx.fail(f"{path}.{key}", f"expected a non-empty string, got {value!r:.40}")
            attrs.append(Attribute(value=value, kind=kind))
    shape = require(ctx, raw, "shape", path)
    position = _vec3(ctx, raw["3d_coords"], f"{path}.3d_coords") if "3d_coords" in raw else None
    depth = None
    meta: dict[str, Any] = {}
    if "pixel_coords" in raw:
        pc = raw["pixel_coords"]
        if not isinstance(pc, list) or len(pc) != 3:
            raise ctx.fail(f"{path}.pixel_coords", f"expected [x, y, depth], got {pc!r:.60}")
        # Object centres lie in the image (within the clip tolerance); depth is a distance.
        px = pixel(ctx, pc[0], f"{path}.pixel_coords[0]", CLEVR_WIDTH, "x")
        py = pixel(ctx, pc[1], f"{path}.pixel_coords[1]", CLEVR_HEIGHT, "y")
        depth = world(ctx, pc[2], f"{path}.pixel_coords[2]")
        if depth <= 0:
            raise ctx.fail(f"{path}.pixel_coords[2]", f"depth must be positive, got {depth:g}")
        meta["pixel_coords"] = [px, py]
    if "rotation" in raw:
        meta["rotation"] = number(ctx, raw["rotation"], f"{path}.rotation")
    return make_object(
        ctx, path, id=str(i), name=shape, attributes=attrs, position=position, depth=depth,
        distinct=True, meta=meta,
    )
