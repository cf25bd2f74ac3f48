"""Visual Genome (v1.2 layout): ``image_data.json``, ``objects.json``, ``attributes.json`` and
``relationships.json`` in one directory, each a JSON list with one record per image.

The four files are streamed side by side with ``ijson`` and joined by ``image_id``, so a
multi-GB file is never loaded whole. The official files list images in the same order, which
keeps the join buffer empty; a file in another order still joins correctly, at the cost of
buffering the records it yields ahead of ``image_data.json``.

Object ids are shared between the files: ``objects.json`` gives names (first = name, the rest
synonyms), synsets and boxes; ``attributes.json`` adds attributes to the same object ids;
``relationships.json`` links them. Only ``image_data.json`` is required (it has the image size).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenesynth.graph import ImageInfo, Relation, SceneGraph, SceneObject
from scenesynth.sources.common import (
    DEFAULT_OPTIONS,
    ItemStream,
    LoadOptions,
    RecordContext,
    Rejected,
    Skip,
    assemble,
    attributes,
    box_from_xywh,
    describe_key,
    graph_meta,
    ident,
    image_side,
    make_object,
    make_relation,
    require,
    text,
)
from scenesynth.sources.report import LoadReport

SOURCE = "visual_genome"
IMAGE_DATA, OBJECTS, ATTRIBUTES, RELATIONSHIPS = (
    "image_data.json", "objects.json", "attributes.json", "relationships.json",
)
VG_FILES = (IMAGE_DATA, OBJECTS, ATTRIBUTES, RELATIONSHIPS)


def vg_directory(path: str | Path) -> Path:
    """The directory holding the VG files, given it or any file in it."""
    p = Path(path)
    directory = p.parent if p.is_file() else p
    if not (directory / IMAGE_DATA).is_file():
        raise FileNotFoundError(
            f"{directory}: no {IMAGE_DATA} (Visual Genome needs it for image sizes)"
        )
    return directory


@dataclass
class _Companion:
    """One per-image file (objects/attributes/relationships) joined to image_data by image_id."""

    stream: ItemStream
    iterator: Iterator[tuple[int, Any]]
    report: LoadReport
    pending: dict[str, tuple[int, Any]] = field(default_factory=dict)
    exhausted: bool = False

    def take(self, image_id: str) -> tuple[int, Any] | None:
        if image_id in self.pending:
            return self.pending.pop(image_id)
        while not self.exhausted:
            try:
                index, record = next(self.iterator)
            except StopIteration:
                self.exhausted = True
                break
            rid = _image_id_of(record.item if isinstance(record, Rejected) else record)
            if rid is None:
                self.report.skipped_records += 1
                self.report.error(
                    str(self.stream.path), f"#{index}", "image_id",
                    f"missing or invalid image_id ({_peek(record, 'image_id')}); record skipped",
                )
                continue
            if rid == image_id:
                return index, record
            if rid in self.pending:
                self.report.skipped_records += 1
                self.report.error(
                    str(self.stream.path), f"#{index} (image_id={rid})", "image_id",
                    "second record for this image_id; skipped",
                )
                continue
            self.pending[rid] = (index, record)
        return None


def _image_id_of(record: Any) -> str | None:
    if not isinstance(record, dict):
        return None
    rid = record.get("image_id", record.get("id"))
    if isinstance(rid, bool) or not isinstance(rid, int | str):
        return None
    return str(rid)


def _peek(record: Any, key: str) -> str:
    if not isinstance(record, dict):
        return f"record is {type(record).__name__}"
    return repr(record.get(key))[:40]


def read_visual_genome(
    path: str | Path, report: LoadReport, options: LoadOptions = DEFAULT_OPTIONS
) -> Iterator[SceneGraph]:
    directory = vg_directory(path)
    describe = describe_key("image_id")
    companions: dict[str, _Companion] = {}
    for name in (OBJECTS, ATTRIBUTES, RELATIONSHIPS):
        if (directory / name).is_file():
            stream = ItemStream(directory / name, "item", report, describe, yield_rejected=True)
            companions[name] = _Companion(stream, iter(stream), report)
    images = ItemStream(directory / IMAGE_DATA, "item", report, describe, yield_rejected=True)
    image_iter = iter(images)
    seen_images: set[str] = set()
    for index, image_record in image_iter:
        rejected = isinstance(image_record, Rejected)
        image_id = _image_id_of(image_record.item if rejected else image_record)
        ctx = RecordContext(report, str(directory / IMAGE_DATA), f"#{index}", options)
        if image_id is None and rejected:
            continue  # reported by the stream
        if image_id is None:
            report.skipped_records += 1
            bad = _peek(image_record, "image_id")
            ctx.error("image_id", f"missing or invalid image_id ({bad})")
            continue
        ctx.record = f"image_id={image_id}"
        if image_id in seen_images:
            report.skipped_records += 1
            ctx.error("image_id", "second image_data record for this image; skipped")
            continue
        seen_images.add(image_id)
        parts = {name: c.take(image_id) for name, c in companions.items()}
        if rejected or any(isinstance(part[1], Rejected) for part in parts.values() if part):
            # One of the image's records holds NaN/Infinity or a duplicate key: that record's
            # error (already reported, counted as a skipped record) names it; the image, whose
            # data would be incomplete, is not emitted.
            continue
        truncated = [
            name for name, c in companions.items()
            if parts[name] is None and c.stream.truncated
        ]
        if truncated:
            # Every image from here on lacks that file's data: stop rather than emit
            # incomplete graphs, and count what was not loaded.
            rest = 1 + sum(1 for _ in image_iter)
            report.skipped_records += rest
            ctx.error(
                "<join>",
                f"{', '.join(truncated)} ended early (truncated); this and the {rest - 1} "
                "following images were not loaded",
            )
            return
        try:
            yield _graph(directory, ctx, image_id, index, image_record, parts)
        except Skip:
            report.skipped_records += 1
    # Records in the companion files whose image is not in image_data.json (streamed, not
    # collected: after a short image_data.json that can be most of a multi-GB file).
    for name, companion in companions.items():
        file = str(directory / name)
        pending = sorted(companion.pending.values(), key=lambda item: item[0])
        companion.pending.clear()
        remaining = itertools.chain(pending, companion.iterator)
        if images.truncated:
            n = sum(1 for _ in remaining)
            if n:
                report.skipped_records += n
                report.error(file, "-", "<join>", f"{n} records not loaded: their images lie "
                             f"beyond the truncation of {IMAGE_DATA}")
            continue
        for idx, rec in remaining:
            if isinstance(rec, Rejected):
                continue  # reported by the stream
            report.skipped_records += 1
            report.error(
                file, f"#{idx} (image_id={_image_id_of(rec)})", "image_id",
                f"no record for this image in {IMAGE_DATA} (image size unknown); skipped",
            )


def _graph(
    directory: Path,
    ctx: RecordContext,
    image_id: str,
    index: int,
    record: Any,
    parts: dict[str, tuple[int, Any] | None],
) -> SceneGraph:
    width = image_side(ctx, require(ctx, record, "width", ""), "width")
    height = image_side(ctx, require(ctx, record, "height", ""), "height")
    url = record.get("url")
    image = ImageInfo(
        id=image_id, width=width, height=height, source=SOURCE,
        url=url if isinstance(url, str) else None,
    )

    def sub(name: str) -> RecordContext:
        return RecordContext(ctx.report, str(directory / name), ctx.record, ctx.options)

    # attributes.json first, so each object is built once with its attributes.
    actx = sub(ATTRIBUTES)
    attribute_records: dict[str, tuple[str, Any]] = {}
    if parts.get(ATTRIBUTES) is not None:
        _, arec = parts[ATTRIBUTES]  # type: ignore[misc]
        for path, raw in _entries(actx, arec, "attributes"):
            try:
                oid = ident(actx, require(actx, raw, "object_id", path), f"{path}.object_id")
            except Skip:
                ctx.report.skipped_attributes += 1
                continue
            if oid in attribute_records:
                ctx.report.skipped_attributes += 1
                actx.error(f"{path}.object_id", f"second attribute record for object {oid}; "
                           "skipped")
                continue
            attribute_records[oid] = (path, raw)

    objects: dict[str, tuple[str, SceneObject]] = {}
    skipped: set[str] = set()
    if parts.get(OBJECTS) is not None:
        octx = sub(OBJECTS)
        _, orec = parts[OBJECTS]  # type: ignore[misc]
        for path, raw in _entries(octx, orec, "objects"):
            _add_object(octx, raw, path, image, objects, skipped, attribute_records, actx)
    elif OBJECTS in parts:
        ctx.warning(OBJECTS, f"no {OBJECTS} record for this image; it has no objects from it")
    # Attribute records carry names and boxes too: objects only they list are not lost.
    for oid, (path, raw) in list(attribute_records.items()):
        if oid not in objects and oid not in skipped:
            _add_object(actx, raw, path, image, objects, skipped, attribute_records, actx)

    relations: list[tuple[str, Relation]] = []
    rctx = sub(RELATIONSHIPS)
    if parts.get(RELATIONSHIPS) is not None:
        _, rrec = parts[RELATIONSHIPS]  # type: ignore[misc]
        for path, raw in _entries(rctx, rrec, "relationships"):
            try:
                relations.append((path, _relation(rctx, raw, path)))
            except Skip:
                ctx.report.dropped_relations += 1
                continue
            if ctx.options.vg_relation_objects:
                for role in ("subject", "object"):
                    end = raw[role]
                    oid = str(end["object_id"])
                    if oid not in objects and oid not in skipped:
                        _add_object(rctx, end, f"{path}.{role}", image, objects, skipped, {}, rctx)
                        if oid in objects:
                            rctx.warning(f"{path}.{role}", f"object {oid} is only in "
                                         f"{RELATIONSHIPS}; added from the relationship record")
    extra = {k: record[k] for k in ("coco_id", "flickr_id") if record.get(k) is not None}
    meta = graph_meta(str(directory / OBJECTS), index, image_id, **extra)
    return assemble(
        sub(OBJECTS), image, objects.values(), relations, None, meta, skipped, relation_ctx=rctx
    )


def _entries(ctx: RecordContext, record: Any, key: str) -> Iterator[tuple[str, Any]]:
    items = record.get(key) if isinstance(record, dict) else None
    if not isinstance(items, list):
        ctx.error(key, f"expected a list, got {_peek(record, key)}; nothing loaded from it")
        return
    for i, raw in enumerate(items):
        yield f"{key}[{i}]", raw


def _names(ctx: RecordContext, raw: dict[str, Any], path: str) -> list[str]:
    names = raw.get("names")
    if names is None and "name" in raw:  # older VG releases and relationship endpoints
        names = [raw["name"]]
    if not isinstance(names, list) or not names:
        raise ctx.fail(f"{path}.names", f"expected a non-empty list of names, got {names!r:.40}")
    out: list[str] = []
    for k, n in enumerate(names):
        n = " ".join(text(ctx, n, f"{path}.names[{k}]").lower().split())
        if n not in out:
            out.append(n)
    return out


def _add_object(
    ctx: RecordContext,
    raw: Any,
    path: str,
    image: ImageInfo,
    objects: dict[str, tuple[str, SceneObject]],
    skipped: set[str],
    attribute_records: dict[str, tuple[str, Any]],
    attribute_ctx: RecordContext,
) -> None:
    try:
        oid = ident(ctx, require(ctx, raw, "object_id", path), f"{path}.object_id")
    except Skip:
        ctx.report.skipped_objects += 1
        return
    try:
        if oid in objects:
            raise ctx.fail(f"{path}.object_id", f"duplicate object id {oid}; later copy skipped")
        names = _names(ctx, raw, path)
        box = box_from_xywh(
            ctx, require(ctx, raw, "x", path), require(ctx, raw, "y", path),
            require(ctx, raw, "w", path), require(ctx, raw, "h", path), image, path,
        )
        meta: dict[str, Any] = {"vg_object_id": raw["object_id"]}
        if raw.get("synsets"):
            meta["synsets"] = raw["synsets"]
        attrs = []
        if oid in attribute_records:
            apath, araw = attribute_records.pop(oid)
            values = araw.get("attributes") if isinstance(araw, dict) else None
            attrs = attributes(attribute_ctx, values, f"{apath}.attributes")
        obj = make_object(
            ctx, path, id=oid, name=names[0], synonyms=names[1:], box=box, meta=meta,
            attributes=attrs,
        )
    except Skip:
        ctx.report.skipped_objects += 1
        skipped.add(oid)
        return
    objects[oid] = (path, obj)


def _relation(ctx: RecordContext, raw: Any, path: str) -> Relation:
    ends = []
    for role in ("subject", "object"):
        end = require(ctx, raw, role, path)
        ends.append(ident(ctx, require(ctx, end, "object_id", f"{path}.{role}"),
                          f"{path}.{role}.object_id"))
    meta: dict[str, Any] = {}
    if isinstance(raw, dict) and raw.get("synsets"):
        meta["synsets"] = raw["synsets"]
    rid = raw.get("relationship_id")
    return make_relation(
        ctx, path, ends[0], require(ctx, raw, "predicate", path), ends[1],
        id=str(rid) if rid is not None else None, meta=meta,
    )
