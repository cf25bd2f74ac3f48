"""Shared loader plumbing: streaming JSON with truncation reporting, typed field readers that
report the offending field, box conversion and clipping at the edge, and graph assembly that
drops (and reports) relations to missing objects while keeping the graph."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import ijson
from pydantic import ValidationError

from scenesynth.graph import (
    Attribute,
    AttributeKind,
    Box,
    Camera,
    ImageInfo,
    Relation,
    RelationSource,
    SceneGraph,
    SceneObject,
)
from scenesynth.sources.predicates import classify_predicate
from scenesynth.sources.report import LoadReport


@dataclass(frozen=True)
class LoadOptions:
    """Knobs shared by the loaders."""

    # Boxes overshooting the image by at most this many pixels are clipped and counted as a
    # warning; farther out they are errors (the object is skipped). Overshoots below
    # quiet_overshoot are float noise (x + w = 640.0000001) and are clipped silently.
    clip_tolerance: float = 2.0
    quiet_overshoot: float = 1e-6
    # Visual Genome: a relationship endpoint missing from objects.json/attributes.json is
    # dropped with an error by default; with this on, the object is added from the
    # relationship record (it carries name and box) with a warning, and the relation kept.
    vg_relation_objects: bool = False


DEFAULT_OPTIONS = LoadOptions()


class Skip(Exception):
    """Internal: the current record or object cannot be used; already reported."""


@dataclass
class RecordContext:
    """Where we are (file + record) so every report names them."""

    report: LoadReport
    file: str
    record: str
    options: LoadOptions = DEFAULT_OPTIONS

    def error(self, field_path: str, message: str) -> None:
        self.report.error(self.file, self.record, field_path, message)

    def warning(self, field_path: str, message: str) -> None:
        self.report.warning(self.file, self.record, field_path, message)

    def fail(self, field_path: str, message: str) -> Skip:
        """Report an error and return the exception that skips the current unit."""
        self.error(field_path, message)
        return Skip(field_path)


# -- typed field readers -------------------------------------------------------------------


def require(ctx: RecordContext, record: Any, key: str, path: str) -> Any:
    if not isinstance(record, dict):
        raise ctx.fail(path or "<record>", f"expected a JSON object, got {_type(record)}")
    if key not in record:
        raise ctx.fail(_join(path, key), "missing field")
    return record[key]


def number(ctx: RecordContext, value: Any, path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ctx.fail(path, f"expected a number, got {_type(value)} {value!r:.40}")
    f = float(value)
    if not math.isfinite(f):
        raise ctx.fail(path, f"expected a finite number, got {value!r}")
    return f


def positive_int(ctx: RecordContext, value: Any, path: str) -> int:
    f = number(ctx, value, path)
    if f <= 0 or f != int(f):
        raise ctx.fail(path, f"expected a positive integer, got {value!r}")
    return int(f)


def text(ctx: RecordContext, value: Any, path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ctx.fail(path, f"expected a non-empty string, got {_type(value)} {value!r:.40}")
    return value


def ident(ctx: RecordContext, value: Any, path: str) -> str:
    """Ids may be ints or strings in the source; inside scenesynth they are strings."""
    if isinstance(value, bool) or not isinstance(value, int | str) or str(value).strip() == "":
        raise ctx.fail(path, f"expected an id (int or string), got {_type(value)} {value!r:.40}")
    return str(value)


def _type(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _join(path: str, key: str) -> str:
    if key.startswith("["):
        return f"{path}{key}"
    return f"{path}.{key}" if path else key


def validation_path(exc: ValidationError, prefix: str) -> tuple[str, str]:
    """The first error of a pydantic ValidationError as (field path, message)."""
    err = exc.errors()[0]
    path = prefix
    for part in err["loc"]:
        path = f"{path}[{part}]" if isinstance(part, int) else _join(path, str(part))
    return path or "<record>", err["msg"]


# -- boxes ---------------------------------------------------------------------------------


def box_from_xywh(
    ctx: RecordContext, x: Any, y: Any, w: Any, h: Any, image: ImageInfo, path: str,
    names: tuple[str, str, str, str] = ("x", "y", "w", "h"),
) -> Box:
    """Convert an ``x, y, w, h`` box at the edge; clip small overshoots (warning), reject
    gross ones (error naming the box field)."""
    xs = [number(ctx, v, _join(path, n)) for v, n in zip((x, y, w, h), names, strict=True)]
    if xs[2] < 0 or xs[3] < 0:
        raise ctx.fail(path, f"negative box size w={xs[2]:g} h={xs[3]:g}")
    return fit_box(ctx, Box.from_xywh(*xs), image, path)


def fit_box(ctx: RecordContext, box: Box, image: ImageInfo, path: str) -> Box:
    over = max(-box.x0, -box.y0, box.x1 - image.width, box.y1 - image.height, 0.0)
    if over == 0.0:
        return box
    opts = ctx.options
    if over > opts.clip_tolerance:
        raise ctx.fail(
            path,
            f"box {box} lies outside the {image.width}x{image.height} image by {over:g} px "
            f"(more than the {opts.clip_tolerance:g} px clip tolerance)",
        )
    clipped = box.clip(image.width, image.height)
    if over > opts.quiet_overshoot:
        ctx.report.clipped_boxes += 1
        ctx.warning(path, f"box {box} overshoots the image by {over:g} px; clipped to {clipped}")
    return clipped


# -- objects, attributes, relations --------------------------------------------------------


def attributes(
    ctx: RecordContext, values: Any, path: str, kind: AttributeKind | None = None
) -> list[Attribute]:
    """Attributes from bare strings (kind inferred unless given); bad entries are reported and
    skipped, duplicates merged."""
    if values is None:
        return []
    if not isinstance(values, list):
        ctx.report.skipped_attributes += 1
        ctx.error(path, f"expected a list of attribute strings, got {_type(values)}")
        return []
    out: list[Attribute] = []
    seen: set[str] = set()
    for i, v in enumerate(values):
        if not isinstance(v, str) or not v.strip():
            ctx.report.skipped_attributes += 1
            ctx.error(f"{path}[{i}]", f"expected a non-empty attribute string, got {v!r:.40}")
            continue
        attr = _attribute(v, kind)
        if attr.value not in seen:
            seen.add(attr.value)
            out.append(attr)
    return out


_ATTRIBUTE_CACHE: dict[tuple[str, AttributeKind | None], Attribute] = {}
_ATTRIBUTE_CACHE_MAX = 200_000


def _attribute(value: str, kind: AttributeKind | None) -> Attribute:
    """Attributes are frozen, and datasets repeat a small vocabulary: build each once."""
    key = (value, kind)
    attr = _ATTRIBUTE_CACHE.get(key)
    if attr is None:
        attr = (
            Attribute.model_validate(value) if kind is None else Attribute(value=value, kind=kind)
        )
        if len(_ATTRIBUTE_CACHE) < _ATTRIBUTE_CACHE_MAX:
            _ATTRIBUTE_CACHE[key] = attr
    return attr


def make_object(ctx: RecordContext, path: str, **fields: Any) -> SceneObject:
    try:
        return SceneObject(**fields)
    except ValidationError as exc:
        field_path, msg = validation_path(exc, path)
        raise ctx.fail(field_path, msg) from None


def make_relation(
    ctx: RecordContext, path: str, subject: str, predicate: Any, obj: str, **extra: Any
) -> Relation:
    pred = text(ctx, predicate, _join(path, extra.pop("predicate_field", "predicate")))
    try:
        return Relation(
            subject=subject,
            predicate=pred,
            object=obj,
            category=extra.pop("category", None) or classify_predicate(pred),
            source=extra.pop("source", RelationSource.ANNOTATED),
            **extra,
        )
    except ValidationError as exc:
        field_path, msg = validation_path(exc, path)
        raise ctx.fail(field_path, msg) from None


def assemble(
    ctx: RecordContext,
    image: ImageInfo,
    objects: Iterable[tuple[str, SceneObject]],
    relations: Iterable[tuple[str, Relation]],
    camera: Camera | None = None,
    meta: dict[str, Any] | None = None,
    skipped_ids: set[str] | frozenset[str] = frozenset(),
    relation_ctx: RecordContext | None = None,
) -> SceneGraph:
    """Build the graph from (field path, item) pairs: duplicate object ids and relations to
    missing objects are reported and dropped, the rest of the graph is kept."""
    kept: dict[str, SceneObject] = {}
    for path, obj in objects:
        if obj.id in kept:
            ctx.report.skipped_objects += 1
            ctx.error(_join(path, "id"), f"duplicate object id {obj.id!r}; later copy skipped")
            continue
        kept[obj.id] = obj
    rctx = relation_ctx or ctx
    rels: list[Relation] = []
    for path, rel in relations:
        missing = [
            (role, ref)
            for role, ref in (("subject", rel.subject), ("object", rel.object))
            if ref not in kept
        ]
        if missing:
            role, ref = missing[0]
            why = "was skipped (see its error)" if ref in skipped_ids else "does not exist"
            rctx.report.dropped_relations += 1
            rctx.error(
                _join(path, role),
                f"relation ({rel.subject}, {rel.predicate}, {rel.object}) refers to object "
                f"{ref!r}, which {why}; relation dropped",
            )
            continue
        rels.append(rel)
    try:
        graph = SceneGraph(
            image=image, objects=list(kept.values()), relations=rels, camera=camera,
            meta=meta or {},
        )
    except ValidationError as exc:  # defensive: the checks above should make this unreachable
        field_path, msg = validation_path(exc, "")
        raise ctx.fail(field_path, msg) from None
    ctx.report.graphs += 1
    ctx.report.objects += len(graph.objects)
    ctx.report.relations += len(graph.relations)
    return graph


def graph_meta(file: str, index: int, record_id: str, **extra: Any) -> dict[str, Any]:
    """The provenance every loader stores in ``SceneGraph.meta``."""
    return {"source_file": file, "record_index": index, "record_id": record_id, **extra}


# -- streaming JSON ------------------------------------------------------------------------


class ItemStream:
    """Iterate ``(index, item)`` over the items under ``prefix`` (``ijson`` syntax, e.g.
    ``"item"`` or ``"scenes.item"``) without loading the file; with ``kv=True`` items are
    ``(key, value)`` pairs of the map at ``prefix``. Truncated or malformed JSON sets
    ``truncated`` and ``problem`` and, when a report is given, is reported there with the file
    and the last good record; everything before it has been yielded."""

    def __init__(
        self,
        path: Path,
        prefix: str,
        report: LoadReport | None,
        describe: Callable[[Any], str] | None = None,
        kv: bool = False,
    ) -> None:
        self.path, self.prefix, self.report = path, prefix, report
        self.describe, self.kv = describe, kv
        self.truncated = False
        self.problem = ""
        self.count = 0  # items yielded so far
        self.last = "none (failed before the first record)"

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        with open(self.path, "rb") as fh:
            it: Iterator[Any] = (
                ijson.kvitems(fh, self.prefix, use_float=True)
                if self.kv
                else ijson.items(fh, self.prefix, use_float=True)
            )
            try:
                for item in it:
                    index = self.count
                    self.count += 1
                    yield index, item
                    self.last = f"#{index}"
                    if self.describe is not None:
                        self.last += f" ({self.describe(item)})"
            except ijson.JSONError as exc:
                self.truncated = True
                # yajl appends a multi-line caret picture; its first line says it all.
                self.problem = " ".join(str(exc).strip().split("\n")[0].split())
                if self.report is not None:
                    self.report.skipped_records += 1
                    self.report.error(
                        str(self.path),
                        f"after {self.last}",
                        "<json>",
                        f"truncated or malformed JSON ({self.problem}); the {self.count} records "
                        "before it were read, nothing after it",
                    )


def stream_items(
    path: Path,
    prefix: str,
    report: LoadReport,
    describe: Callable[[Any], str] | None = None,
    kv: bool = False,
) -> Iterator[tuple[int, Any]]:
    """Shorthand for ``iter(ItemStream(...))``."""
    return iter(ItemStream(path, prefix, report, describe, kv))


def describe_key(key: str) -> Callable[[Any], str]:
    def _describe(item: Any) -> str:
        if isinstance(item, tuple):
            return f"{key}={item[0]}"
        return f"{key}={item.get(key)}" if isinstance(item, dict) else "?"

    return _describe
