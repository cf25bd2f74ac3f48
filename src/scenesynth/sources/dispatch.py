"""``load(path)``: sniff the format of a file or directory and stream its scene graphs.

A directory is searched recursively: a Visual Genome directory (it has ``image_data.json``)
is one source; otherwise every recognised file is one source, in name order, and files that
are not scene graphs (question files, region descriptions, ...) are noted and ignored. When a
directory holds a COCO detection-form file and a panoptic-form file over the same images, the
detection form is loaded (it carries masks) with the panoptic file's categories (``isthing``).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from itertools import islice
from pathlib import Path
from typing import Any

import ijson

from scenesynth.graph import SceneGraph
from scenesynth.sources.clevr import read_clevr
from scenesynth.sources.coco import read_coco
from scenesynth.sources.common import DEFAULT_OPTIONS, JsonReader, LoadOptions
from scenesynth.sources.gqa import read_gqa
from scenesynth.sources.jsonl import read_jsonl
from scenesynth.sources.report import LoadReport
from scenesynth.sources.visual_genome import (
    IMAGE_DATA,
    VG_FILES,
    read_visual_genome,
    vg_directory,
)

FORMATS: tuple[str, ...] = ("vg", "gqa", "coco", "clevr", "jsonl")
_ALIASES = {"visual_genome": "vg", "visualgenome": "vg", "scenesynth": "jsonl", "auto": None}
_SNIFF_EVENTS = 5000  # enough to get past COCO's info/licenses or CLEVR's info


class UnknownFormatError(ValueError):
    """The path is not a scene-graph source this package can read."""


def normalize_format(fmt: str | None) -> str | None:
    if fmt is None:
        return None
    f = fmt.strip().lower()
    if f in _ALIASES:
        return _ALIASES[f]
    if f not in FORMATS:
        raise UnknownFormatError(
            f"unknown format {fmt!r}; expected one of auto, {', '.join(FORMATS)}"
        )
    return f


def sniff_file(path: str | Path) -> str | None:
    """The scene-graph format of one file, or None when it is not one."""
    p = Path(path)
    if p.suffix in (".jsonl", ".ndjson"):
        return "jsonl" if _first_line_is_graph(p) else None
    if p.name in VG_FILES:
        return "vg"
    if p.suffix != ".json":
        return None
    try:
        with open(p, "rb") as fh:
            events = list(islice(_safe_events(JsonReader(fh)), _SNIFF_EVENTS))
    except OSError:
        return None
    return _classify(events)


def _first_line_is_graph(path: Path) -> bool:
    """scenesynth graph JSONL, not another JSONL (e.g. ShareGPT): the first record has an
    ``image`` object and ``objects``."""
    try:
        with open(path, "rb") as fh:
            line = next((ln for ln in fh if ln.strip()), b"")
        record = json.loads(line)
    except (OSError, ValueError):
        return False
    return isinstance(record, dict) and isinstance(record.get("image"), dict) and (
        "objects" in record or "schema_version" in record
    )


def _safe_events(fh: Any) -> Iterator[tuple[str, str, Any]]:
    try:
        yield from ijson.parse(fh, multiple_values=True)
    except ijson.JSONError:
        return


def _classify(events: list[tuple[str, str, Any]]) -> str | None:
    if not events:
        return None
    top = events[0][1]
    if top == "start_map":
        keys = [v for prefix, ev, v in events if prefix == "" and ev == "map_key"]
        if "scenes" in keys:
            return "clevr"
        if {"image", "objects"} <= set(keys) or "schema_version" in keys:
            return "jsonl"
        if "images" in keys or "annotations" in keys:
            return "coco"
        if keys:
            first = keys[0]
            inner = {v for prefix, ev, v in events if prefix == first and ev == "map_key"}
            if "objects" in inner or {"width", "height"} <= inner:
                return "gqa"
        return None
    if top == "start_array":
        inner = {v for prefix, ev, v in events if prefix == "item" and ev == "map_key"}
        if "image_id" in inner and inner & {"objects", "attributes", "relationships", "width"}:
            return "vg"
    return None


def _coco_kind(path: Path) -> str:
    """``panoptic`` when the first annotation has ``segments_info``, else ``detection``."""
    try:
        with open(path, "rb") as fh:
            first = next(iter(ijson.items(JsonReader(fh), "annotations.item")), None)
    except ijson.JSONError:
        return "detection"
    return "panoptic" if isinstance(first, dict) and "segments_info" in first else "detection"


def _image_ids(path: Path) -> set[Any]:
    try:
        with open(path, "rb") as fh:
            return set(ijson.items(JsonReader(fh), "images.item.id"))
    except ijson.JSONError:
        return set()


Source = tuple[Path, str, dict[str, Any]]  # (path, format, reader keyword arguments)


def find_sources(
    path: str | Path, fmt: str | None = None, report: LoadReport | None = None
) -> list[Source]:
    """What ``load`` will read: ``(path, format, extra reader arguments)`` per source."""
    p = Path(path)
    fmt = normalize_format(fmt)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file or directory")
    if p.is_file():
        found = fmt or sniff_file(p)
        if found is None:
            raise UnknownFormatError(
                f"{p}: not a recognised scene-graph file (formats: {', '.join(FORMATS)}); "
                "pass --format to force one"
            )
        if found == "vg":
            return [(vg_directory(p), "vg", {})]
        if found == "coco":
            return [(p, "coco", _sibling_categories(p))]
        return [(p, found, {})]
    sources = _directory_sources(p, fmt, report)
    if not sources:
        wanted = f"{fmt} " if fmt else ""
        raise UnknownFormatError(f"{p}: no {wanted}scene-graph files found")
    return sources


def _directory_sources(d: Path, fmt: str | None, report: LoadReport | None) -> list[Source]:
    if (d / IMAGE_DATA).is_file() and fmt in (None, "vg"):
        return [(d, "vg", {})]
    sources: list[Source] = []
    coco: list[Path] = []
    for child in sorted(d.iterdir()):
        if child.name.startswith("."):
            continue
        if child.is_dir():
            sources.extend(_directory_sources(child, fmt, report))
            continue
        if child.suffix not in (".json", ".jsonl", ".ndjson"):
            continue
        found = sniff_file(child)
        if found is None or (fmt is not None and found != fmt):
            if report is not None and found is None:
                report.warning(str(child), "-", "<file>",
                               "not a scene-graph file (format not recognised); ignored")
            continue
        if found == "coco":
            coco.append(child)
        elif found != "vg":  # a lone VG file without image_data.json cannot be joined
            sources.append((child, found, {}))
        elif report is not None:
            report.warning(str(child), "-", "<file>", f"Visual Genome file without {IMAGE_DATA} "
                           "beside it; ignored")
    sources.extend(_coco_sources(coco, report))
    return sources


def _coco_sources(files: list[Path], report: LoadReport | None) -> list[Source]:
    kinds = {f: _coco_kind(f) for f in files}
    detection = [f for f in files if kinds[f] == "detection"]
    panoptic = [f for f in files if kinds[f] == "panoptic"]
    if not detection or not panoptic:
        return [(f, "coco", {}) for f in files]
    det_ids: set[Any] = set().union(*(_image_ids(f) for f in detection))
    sources: list[Source] = [(f, "coco", {"category_file": panoptic[0]}) for f in detection]
    for f in panoptic:
        if _image_ids(f) <= det_ids:
            if report is not None:
                report.warning(str(f), "-", "<file>", "panoptic form of images the detection-form "
                               "file(s) already hold; used for its categories only")
        else:
            sources.append((f, "coco", {}))
    return sources


def _sibling_categories(path: Path) -> dict[str, Any]:
    """A detection-form COCO file lacks ``isthing``; a panoptic-form file beside it has it."""
    if _coco_kind(path) != "detection":
        return {}
    for sibling in sorted(path.parent.glob("*.json")):
        if sibling != path and sniff_file(sibling) == "coco" and _coco_kind(sibling) == "panoptic":
            return {"category_file": sibling}
    return {}


Reader = Callable[..., Iterator[SceneGraph]]
READERS: dict[str, Reader] = {
    "vg": read_visual_genome,
    "gqa": read_gqa,
    "coco": read_coco,
    "clevr": read_clevr,
    "jsonl": read_jsonl,
}


class GraphStream:
    """Iterator of the scene graphs of one ``load`` call; ``report`` fills while iterating.

    Single pass: iterate once (``for graph in stream``), then read ``stream.report``.
    """

    def __init__(
        self, path: Path, sources: list[Source], report: LoadReport, options: LoadOptions
    ) -> None:
        self.path = path
        self.sources = sources
        self.report = report
        self.options = options
        self._graphs = self._generate()

    @property
    def formats(self) -> list[str]:
        return sorted({fmt for _, fmt, _ in self.sources})

    def _generate(self) -> Iterator[SceneGraph]:
        for path, fmt, kwargs in self.sources:
            yield from READERS[fmt](path, self.report, self.options, **kwargs)

    def __iter__(self) -> Iterator[SceneGraph]:
        return self._graphs

    def __next__(self) -> SceneGraph:
        return next(self._graphs)


def load(
    path: str | Path,
    format: str | None = None,  # same name as the CLI's --format
    *,
    strict: bool = False,
    options: LoadOptions = DEFAULT_OPTIONS,
    report: LoadReport | None = None,
) -> GraphStream:
    """Stream the scene graphs under ``path`` (file or directory), format sniffed unless given.

    Bad records are reported in ``stream.report`` and skipped; with ``strict=True`` the first
    one raises :class:`~scenesynth.sources.LoadError` naming file, record and field.
    """
    report = report if report is not None else LoadReport(strict=strict)
    report.strict = strict or report.strict
    sources = find_sources(path, format, report)
    return GraphStream(Path(path), sources, report, options)
