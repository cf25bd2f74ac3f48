"""scenesynth's own scene-graph JSONL (:mod:`scenesynth.graph.io`): one :class:`SceneGraph` per
line. Lines that fail validation are re-read part by part so that one bad object or a relation
to a missing object costs only that object or relation, not the whole graph."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from scenesynth.graph import (
    SCHEMA_VERSION,
    Camera,
    ImageInfo,
    Relation,
    SceneGraph,
    SceneObject,
    graph_from_json,
)
from scenesynth.sources.common import (
    DEFAULT_OPTIONS,
    LoadOptions,
    RecordContext,
    Skip,
    assemble,
    fit_box,
    validation_path,
)
from scenesynth.sources.report import LoadReport

_TOP_LEVEL = frozenset({"schema_version", "image", "objects", "relations", "camera", "meta"})


def read_jsonl(
    path: str | Path, report: LoadReport, options: LoadOptions = DEFAULT_OPTIONS
) -> Iterator[SceneGraph]:
    path = Path(path)
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            graph = parse_jsonl_line(line, str(path), lineno, report, options)
            if graph is not None:
                yield graph


def parse_jsonl_line(
    line: bytes,
    path: str,
    lineno: int,
    report: LoadReport,
    options: LoadOptions = DEFAULT_OPTIONS,
) -> SceneGraph | None:
    """One non-blank line of a scene-graph JSONL file, by :func:`read_jsonl`'s rules: the
    graph, or None when the record is skipped (reported in ``report``). For callers that hold
    the raw lines already (the engine parses them in its worker processes)."""
    ctx = RecordContext(report, path, f"line {lineno}", options)
    try:
        graph = graph_from_json(line)
    except (ValidationError, ValueError):
        graph = None
    if graph is not None and _boxes_inside(graph):
        report.graphs += 1
        report.objects += len(graph.objects)
        report.relations += len(graph.relations)
        return graph
    try:
        return _piecewise(ctx, line)
    except Skip:
        report.skipped_records += 1
        return None


def _boxes_inside(graph: SceneGraph) -> bool:
    w, h = graph.image.width, graph.image.height
    return all(o.box is None or o.box.inside_image(w, h) for o in graph.objects)


def _piecewise(ctx: RecordContext, line: bytes) -> SceneGraph:
    try:
        data: Any = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ctx.fail("<json>", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ctx.fail("<record>", f"expected a JSON object, got {type(data).__name__}")
    image_raw = data.get("image")
    if isinstance(image_raw, dict) and isinstance(image_raw.get("id"), str):
        ctx.record = f"{ctx.record} (image {image_raw['id']})"
    unknown = sorted(set(data) - _TOP_LEVEL)
    if unknown:
        raise ctx.fail(unknown[0], "unknown field (not part of the scene-graph schema)")
    version = data.get("schema_version", SCHEMA_VERSION)
    if not isinstance(version, str) or version.split(".")[0] != SCHEMA_VERSION.split(".")[0]:
        raise ctx.fail("schema_version", f"{version!r} is not compatible with {SCHEMA_VERSION!r}")
    if image_raw is None:
        raise ctx.fail("image", "missing field")
    image = _validate(ctx, ImageInfo, image_raw, "image")
    camera = _validate(ctx, Camera, data["camera"], "camera") if data.get("camera") else None

    objects: list[tuple[str, SceneObject]] = []
    skipped: set[str] = set()
    for i, raw in enumerate(_list(ctx, data, "objects")):
        path = f"objects[{i}]"
        try:
            obj = _validate(ctx, SceneObject, raw, path)
            if obj.box is not None:
                box = fit_box(ctx, obj.box, image, f"{path}.box")
                if box is not obj.box:
                    obj = obj.model_copy(update={"box": box})
            objects.append((path, obj))
        except Skip:
            ctx.report.skipped_objects += 1
            if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                skipped.add(raw["id"])
    relations: list[tuple[str, Relation]] = []
    for i, raw in enumerate(_list(ctx, data, "relations")):
        try:
            relations.append((f"relations[{i}]", _validate(ctx, Relation, raw, f"relations[{i}]")))
        except Skip:
            ctx.report.dropped_relations += 1
    meta = data.get("meta") or {}
    if not isinstance(meta, dict):
        raise ctx.fail("meta", "expected an object")
    return assemble(ctx, image, objects, relations, camera, meta, skipped)


def _list(ctx: RecordContext, data: dict[str, Any], key: str) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list):
        raise ctx.fail(key, f"expected a list, got {type(value).__name__}")
    return value


def _validate(ctx: RecordContext, model: Any, raw: Any, path: str) -> Any:
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        field_path, msg = validation_path(exc, path)
        raise ctx.fail(field_path, msg) from None
