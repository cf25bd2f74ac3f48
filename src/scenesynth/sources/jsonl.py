"""scenesynth's own scene-graph JSONL (:mod:`scenesynth.graph.io`): one :class:`SceneGraph` per
line. Lines that fail validation are re-read part by part so that one bad object or a relation
to a missing object costs only that object or relation, not the whole graph."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
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
    first_problem,
    fit_box,
    geometry_problem,
    image_path_problem,
    validation_path,
)
from scenesynth.sources.report import LoadReport

_TOP_LEVEL = frozenset({"schema_version", "image", "objects", "relations", "camera", "meta"})


def read_jsonl(
    path: str | Path, report: LoadReport, options: LoadOptions = DEFAULT_OPTIONS
) -> Iterator[SceneGraph]:
    path = Path(path)
    records = 0
    last = b"\n"
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            records += 1
            last = line
            graph = parse_jsonl_line(line, str(path), lineno, report, options)
            if graph is not None:
                yield graph
    note_jsonl_file(report, str(path), records, last)


def note_jsonl_file(report: LoadReport, path: str, records: int, last_line: bytes) -> None:
    """Record in ``report`` how far a JSONL file was read. A last line without its newline
    that is not valid JSON is a file cut short (a full disk, a killed writer): whatever
    followed it is lost, so the file counts as not read to its end."""
    cut = bool(last_line.strip()) and not last_line.endswith(b"\n") and not _valid_json(last_line)
    report.note_file(path, "lines", records, not cut,
                     "the last line is cut short (no newline, not valid JSON)" if cut else "")


def _valid_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


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
    if graph is not None and _clean(ctx, graph, line):
        report.graphs += 1
        report.objects += len(graph.objects)
        report.relations += len(graph.relations)
        return graph
    try:
        return _piecewise(ctx, line)
    except Skip:
        report.skipped_records += 1
        return None


def _plain_json(line: bytes) -> bool:
    """True when ``line`` certainly holds no NaN/Infinity and no key twice in one object,
    checked at C speed: orjson refuses non-finite numbers, and drops a repeated key, so its
    own writing of what it read has fewer ``":`` (a key's end) than the line. A line this
    cannot vouch for (a \\u escape, which could hide a quote; a space before a colon) is
    checked by :func:`first_problem`."""
    if b"\\u" in line:
        return False
    try:
        value = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return orjson.dumps(value).count(b'":') == line.count(b'":')


def _clean(ctx: RecordContext, graph: SceneGraph, line: bytes) -> bool:
    """Whether the fast parse can stand: no NaN/Infinity (pydantic accepts them) or duplicate
    key, boxes inside the image with positive sizes, image paths inside the image root.
    Otherwise the line is re-read piecewise, which reports what is wrong."""
    if not _plain_json(line):
        try:
            if first_problem(json.loads(line, object_pairs_hook=_no_duplicate_keys)) is not None:
                return False
        except _DuplicateKey:
            return False
    w, h = graph.image.width, graph.image.height
    if not all(
        o.box is None or (o.box.inside_image(w, h) and o.box.x1 > o.box.x0 and o.box.y1 > o.box.y0)
        for o in graph.objects
    ):
        return False
    if any(geometry_problem(o, ctx.options) for o in graph.objects):
        return False
    image = graph.image
    paths = [image.path, image.depth_map] + ([image.id] if image.path is None else [])
    return not any(p is not None and image_path_problem(ctx.image_root, p) for p in paths)


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json.loads`` hook: JSON objects with a key twice are refused (``json`` keeps the last
    value silently)."""
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _piecewise(ctx: RecordContext, line: bytes) -> SceneGraph:
    try:
        data: Any = json.loads(line, object_pairs_hook=_no_duplicate_keys)
    except _DuplicateKey as exc:
        duplicates: list[tuple[dict[str, Any], str]] = []
        data = json.loads(line, object_pairs_hook=lambda pairs: _note_duplicates(pairs, duplicates))
        found = first_problem(data, duplicates)
        raise ctx.fail(*(found or ("<record>", f"duplicate key {exc.key!r}"))) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ctx.fail("<json>", f"not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ctx.fail("<record>", f"expected a JSON object, got {type(data).__name__}")
    found = first_problem(data)
    if found is not None:  # NaN / Infinity, or a number too large for a float
        raise ctx.fail(*found)
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
            bad = geometry_problem(obj, ctx.options)
            if bad is not None:
                raise ctx.fail(f"{path}.{bad[0]}", bad[1])
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


def _note_duplicates(
    pairs: list[tuple[str, Any]], duplicates: list[tuple[dict[str, Any], str]]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            duplicates.append((out, key))
        else:
            out[key] = value
    return out


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
