"""Shared loader plumbing: streaming JSON with truncation reporting, typed field readers that
report the offending field, range checks, box conversion and clipping at the edge, the image
path rule (no path may leave the dataset's image root), and graph assembly that drops (and
reports) relations to missing objects while keeping the graph.

Streamed JSON is read through :class:`JsonReader`, which turns the bare ``NaN`` / ``Infinity``
literals Python's ``json.dump`` writes (not JSON: the parser would stop there and lose the rest
of the file) into marker strings, and objects are built as :class:`CheckedDict`, which notes
duplicate keys (JSON parsers silently keep the last one). :class:`ItemStream` reports a record
holding either as a *record* error and reads on."""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, Any

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
    # Folder every image path must stay inside (``..``, absolute paths elsewhere and symlinks
    # out of it are load errors). None: the folder of the dataset file (the VG directory).
    image_root: Path | None = None
    # Sanity bounds: an image side above max_image_side pixels, or a world coordinate (CLEVR
    # 3d_coords, camera directions) larger than max_world_coordinate in magnitude, is an error.
    max_image_side: int = 100_000
    max_world_coordinate: float = 1e6


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

    @property
    def image_root(self) -> Path:
        """The folder image paths are resolved against (see ``LoadOptions.image_root``)."""
        root = self.options.image_root
        return Path(root) if root is not None else Path(self.file).parent


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


def image_side(ctx: RecordContext, value: Any, path: str) -> int:
    """An image width or height: a positive integer up to ``max_image_side`` pixels."""
    side = positive_int(ctx, value, path)
    if side > ctx.options.max_image_side:
        raise ctx.fail(path, f"image side {side} px is above the {ctx.options.max_image_side} px "
                       "limit (LoadOptions.max_image_side)")
    return side


def bounded(ctx: RecordContext, value: Any, path: str, low: float, high: float, what: str) -> float:
    """A finite number inside ``[low, high]``."""
    f = number(ctx, value, path)
    if not low <= f <= high:
        raise ctx.fail(path, f"{what} {f:g} outside [{low:g}, {high:g}]")
    return f


def pixel(ctx: RecordContext, value: Any, path: str, side: int, axis: str) -> float:
    """A pixel coordinate along an image side of ``side`` px, within the clip tolerance."""
    tol = ctx.options.clip_tolerance
    return bounded(ctx, value, path, -tol, side + tol,
                   f"{axis} coordinate outside the {side} px image (tolerance {tol:g} px):")


def geometry_problem(obj: SceneObject, options: LoadOptions) -> tuple[str, str] | None:
    """(field, message) for an object's 3-D numbers out of range, else None: ``depth`` must be
    a positive distance and ``position``/``size3d`` inside ``max_world_coordinate`` (sizes
    positive). For already-typed objects (our JSONL); the dataset loaders check field by field."""
    limit = options.max_world_coordinate
    if obj.depth is not None and not 0 < obj.depth <= limit:
        return "depth", f"depth must lie in (0, {limit:g}], got {obj.depth:g}"
    for name, vec, low in (("position", obj.position, -limit), ("size3d", obj.size3d, 0.0)):
        if vec is None:
            continue
        for axis, v in zip("xyz", vec.as_tuple(), strict=True):
            if not (low < v <= limit if low == 0.0 else low <= v <= limit):
                return f"{name}.{axis}", f"{name}.{axis} {v:g} outside the allowed range"
    return None


def world(ctx: RecordContext, value: Any, path: str) -> float:
    limit = ctx.options.max_world_coordinate
    return bounded(ctx, value, path, -limit, limit, "world coordinate")


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
    if xs[2] <= 0 or xs[3] <= 0:
        raise ctx.fail(path, f"box size must be positive, got w={xs[2]:g} h={xs[3]:g}")
    return fit_box(ctx, Box.from_xywh(*xs), image, path)


def fit_box(ctx: RecordContext, box: Box, image: ImageInfo, path: str) -> Box:
    """Check a box against its image: finite corners, positive size, inside the image; small
    overshoots are clipped (warning), larger ones are errors."""
    corners = (box.x0, box.y0, box.x1, box.y1)
    if not all(math.isfinite(v) for v in corners):
        raise ctx.fail(path, f"box {box} has a non-finite corner")
    if box.x1 <= box.x0 or box.y1 <= box.y0:
        raise ctx.fail(path, f"box {box} has zero width or height (sizes must be positive)")
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
    missing objects are reported and dropped, the rest of the graph is kept. An image path
    that leaves the image root skips the record (:func:`check_image_paths`)."""
    check_image_paths(ctx, image)
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


# -- image paths -----------------------------------------------------------------------------


def image_path_problem(root: Path, value: str) -> str | None:
    """Why ``value`` (an image path from a dataset) may not be read under ``root``, or None.

    The one rule for every loader and exporter: a relative path without ``..`` escapes, or an
    absolute one inside ``root``, and neither may resolve (through symlinks) outside ``root``.
    """
    if "\x00" in value:
        return "contains a NUL byte"
    pure = PurePosixPath(value)
    root_abs = Path(os.path.abspath(root))
    target = Path(os.path.normpath(pure if pure.is_absolute() else root_abs / pure))
    if not _inside(target, root_abs):
        where = "an absolute path" if pure.is_absolute() else "a relative path"
        return f"{where} that leaves the image root {str(root_abs)!r}"
    if ".." in pure.parts:
        return f"contains '..' (image paths must stay inside the image root {str(root_abs)!r})"
    if os.path.lexists(target):
        real, real_root = Path(os.path.realpath(target)), Path(os.path.realpath(root_abs))
        if not _inside(real, real_root):
            # The target is not named: where a link points is itself outside information.
            return f"a symlink to a file outside the image root {str(real_root)!r}"
    return None


def _inside(path: Path, root: Path) -> bool:
    return path == root or root in path.parents


def check_image_paths(ctx: RecordContext, image: ImageInfo, prefix: str = "image") -> None:
    """Apply :func:`image_path_problem` to every file an image record names: its ``path``, its
    ``depth_map``, and its ``id`` when there is no path (generators then use the id as the
    image file name)."""
    fields = [("path", image.path), ("depth_map", image.depth_map)]
    if image.path is None:
        fields.append(("id", image.id))
    for name, value in fields:
        if value is None:
            continue
        problem = image_path_problem(ctx.image_root, value)
        if problem:
            raise ctx.fail(_join(prefix, name), f"image path {value!r:.80} rejected: {problem}")


# -- non-finite numbers and duplicate keys ----------------------------------------------------

NONFINITE_MARK = "\x00scenesynth-nonfinite:"
_NONFINITE_JSON = b'"\\u0000scenesynth-nonfinite:'
_TOKENS = re.compile(rb'\\.|"|-?Infinity|NaN')
_BACKSLASHES_BEFORE_QUOTE = re.compile(rb'(\\+)"')
_HELD_BACK = frozenset(b"-\\ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_WORD = frozenset(b"_.ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")


class JsonReader:
    """A binary file for ``ijson`` that replaces the bare ``NaN``, ``Infinity`` and
    ``-Infinity`` literals outside strings by marker strings (:data:`NONFINITE_MARK`), so the
    parser reads past them and :func:`first_problem` finds the record holding one.

    Chunks without either word pass through after a quote count (C speed); only chunks
    containing one are scanned token by token to tell strings from values."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self._tail = b""
        self._in_string = False
        self.replaced = 0

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        chunk = self._raw.read(size if size > 0 else 1 << 16)
        data = self._tail + chunk
        if not chunk:
            self._tail = b""
            return self._process(data)
        # Hold back a trailing word or backslash run: a literal or an escape may continue in
        # the next chunk.
        cut = len(data)
        while cut > 0 and data[cut - 1] in _HELD_BACK:
            cut -= 1
        if cut == 0:
            cut = len(data)
        self._tail = data[cut:]
        return self._process(data[:cut])

    def _process(self, seg: bytes) -> bytes:
        if b"NaN" not in seg and b"Infinity" not in seg:
            quotes = seg.count(b'"')
            if quotes and b'\\"' in seg:  # escaped quotes are rare: skip the regex scan
                for m in _BACKSLASHES_BEFORE_QUOTE.finditer(seg):
                    quotes -= (m.end() - m.start() - 1) % 2
            if quotes % 2:
                self._in_string = not self._in_string
            return seg
        out: list[bytes] = []
        last = 0
        in_string = self._in_string
        for m in _TOKENS.finditer(seg):
            token = m.group()
            if token == b'"':
                in_string = not in_string
            elif token[0] == 0x5C or in_string:
                continue
            elif (m.start() == 0 or seg[m.start() - 1] not in _WORD) and (
                m.end() == len(seg) or seg[m.end()] not in _WORD
            ):
                out += [seg[last:m.start()], _NONFINITE_JSON, token, b'"']
                last = m.end()
                self.replaced += 1
        self._in_string = in_string
        out.append(seg[last:])
        return b"".join(out)


_DUPLICATES: list[tuple[dict[str, Any], str]] = []


class CheckedDict(dict[str, Any]):
    """The mapping type ``ijson`` builds objects with: a key seen twice is noted (the dict and
    the key) for :func:`first_problem`; the first value is kept."""

    def __setitem__(self, key: str, value: Any, _keep: Any = dict.setdefault) -> None:
        # One C call on the common path (a new key): this runs for every key of a multi-GB file.
        if _keep(self, key, value) is not value:
            _DUPLICATES.append((self, key))


def first_problem(
    item: Any, duplicates: list[tuple[dict[str, Any], str]] | None = None, path: str = ""
) -> tuple[str, str] | None:
    """The first (field path, message) of a value JSON cannot hold: a non-finite number (a
    float or a :class:`JsonReader` marker) or a key that ``duplicates`` lists for a dict in
    ``item``; None when the item is clean."""
    if isinstance(item, float):
        if not math.isfinite(item):
            return path or "<record>", f"{item} is not a finite number"
        return None
    if isinstance(item, str):
        if item.startswith(NONFINITE_MARK):
            literal = item[len(NONFINITE_MARK):]
            return path or "<record>", (
                f"{literal} is not a number JSON allows (Python's json.dump writes it); "
                "record skipped, the rest of the file is read"
            )
        return None
    if isinstance(item, dict):
        if duplicates:
            for holder, key in duplicates:
                if holder is item:
                    return _join(path, str(key)), (
                        f"duplicate key {key!r} in one JSON object (which value is meant is "
                        "unknown); record skipped"
                    )
        for key, value in item.items():
            found = first_problem(value, duplicates, _join(path, str(key)))
            if found:
                return found
        return None
    if isinstance(item, list):
        for i, value in enumerate(item):
            found = first_problem(value, duplicates, f"{path}[{i}]")
            if found:
                return found
    return None


@dataclass(frozen=True)
class Rejected:
    """Stands for a record :class:`ItemStream` reported and skipped (``yield_rejected``)."""

    item: Any


# -- streaming JSON ------------------------------------------------------------------------


class ItemStream:
    """Iterate ``(index, item)`` over the items under ``prefix`` (``ijson`` syntax, e.g.
    ``"item"`` or ``"scenes.item"``) without loading the file; with ``kv=True`` items are
    ``(key, value)`` pairs of the map at ``prefix``.

    A record holding ``NaN``/``Infinity`` or a duplicate key (a duplicate top-level key too,
    with ``kv=True``) is reported in ``report`` as an error of that record (``label`` + index
    + ``describe``), counted in the report's ``skip_counter`` and skipped (with
    ``yield_rejected`` it is yielded as :class:`Rejected` instead, for joins); the rest of the
    file is read. Truncated or malformed JSON sets ``truncated`` and ``problem`` and, unless
    ``report_truncation`` is off, is reported with the file and the last good record;
    everything before it has been yielded. At the end the file's record count and whether it
    was read to its end go to ``report.files``."""

    def __init__(
        self,
        path: Path,
        prefix: str,
        report: LoadReport | None,
        describe: Callable[[Any], str] | None = None,
        kv: bool = False,
        *,
        label: str = "",
        report_truncation: bool = True,
        skip_counter: str = "skipped_records",
        yield_rejected: bool = False,
    ) -> None:
        self.path, self.prefix, self.report = path, prefix, report
        self.describe, self.kv = describe, kv
        self.label, self.report_truncation = label, report_truncation
        self.skip_counter, self.yield_rejected = skip_counter, yield_rejected
        self.truncated = False
        self.problem = ""
        self.count = 0  # items read so far (yielded or rejected)
        self.rejected = 0
        self.last = "none (failed before the first record)"

    def record_name(self, index: int, item: Any) -> str:
        name = f"{self.label}#{index}"
        if self.describe is not None:
            name += f" ({self.describe(item)})"
        return name

    def __iter__(self) -> Iterator[tuple[int, Any]]:
        with open(self.path, "rb") as raw:
            reader = JsonReader(raw)
            it: Iterator[Any] = (
                ijson.kvitems(reader, self.prefix, use_float=True, map_type=CheckedDict)
                if self.kv
                else ijson.items(reader, self.prefix, use_float=True, map_type=CheckedDict)
            )
            seen_keys: set[str] = set()
            marks_found = 0
            pending: list[tuple[dict[str, Any], str]] = []
            try:
                while True:
                    noted = len(_DUPLICATES)
                    try:
                        item = next(it)
                    except StopIteration:
                        break
                    if len(_DUPLICATES) > noted:  # noted while this stream built its items
                        pending.extend(_DUPLICATES[noted:])
                        del _DUPLICATES[noted:]
                    index = self.count
                    self.count += 1
                    value, base = (item[1], f"['{item[0]}']") if self.kv else (item, "")
                    problem = None
                    if pending or reader.replaced > marks_found:
                        problem = first_problem(value, pending, base)
                        if problem is not None:
                            marks_found += count_marks(value)
                            pending = [(d, k) for d, k in pending if not _contains(value, d)]
                    if problem is None and self.kv:
                        key = str(item[0])
                        if key in seen_keys:
                            problem = (base, f"duplicate key {key!r}: a second record under the "
                                       "same key; record skipped")
                        seen_keys.add(key)
                    if problem is not None:
                        self._reject(index, item, *problem)
                        if self.yield_rejected:
                            yield index, Rejected(item)
                        continue
                    yield index, item
                    self.last = self.record_name(index, item)
            except ijson.JSONError as exc:
                self.truncated = True
                # yajl appends a multi-line caret picture; its first line says it all.
                self.problem = " ".join(str(exc).strip().split("\n")[0].split())
                if self.report is not None and self.report_truncation:
                    self.report.skipped_records += 1
                    self.report.error(
                        str(self.path),
                        f"after {self.last}",
                        "<json>",
                        f"truncated or malformed JSON ({self.problem}); the {self.count} records "
                        "before it were read, nothing after it",
                    )
            if self.report is not None:
                self.report.note_file(
                    str(self.path), self.prefix or "<top level>", self.count, not self.truncated,
                    self.problem,
                )

    def _reject(self, index: int, item: Any, field_path: str, message: str) -> None:
        self.rejected += 1
        if self.report is None:
            return
        if self.skip_counter:
            setattr(self.report, self.skip_counter, getattr(self.report, self.skip_counter) + 1)
        self.report.error(str(self.path), self.record_name(index, item), field_path, message)


def count_marks(item: Any) -> int:
    """How many :class:`JsonReader` markers ``item`` holds."""
    if isinstance(item, str):
        return int(item.startswith(NONFINITE_MARK))
    if isinstance(item, dict):
        return sum(count_marks(v) for v in item.values())
    if isinstance(item, list):
        return sum(count_marks(v) for v in item)
    return 0


def _contains(item: Any, target: dict[str, Any]) -> bool:
    """Whether ``target`` occurs (by identity) inside ``item``."""
    if item is target:
        return True
    if isinstance(item, dict):
        return any(_contains(v, target) for v in item.values())
    if isinstance(item, list):
        return any(_contains(v, target) for v in item)
    return False


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
