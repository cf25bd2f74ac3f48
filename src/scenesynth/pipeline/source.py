"""Streaming the source into fixed-size shards, with its malformed records attached.

The source is read once, lazily, by ``scenesynth.sources.load`` (one graph at a time), so memory
stays bounded whatever the dataset size. Load errors the loader reports while the graphs of a
shard are read travel with that shard as ``load`` failures, so they land in the shard's failure
file exactly once, and a resumed run attributes them identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from scenesynth.graph import SceneGraph
from scenesynth.ioutil.manifest import FailureRecord
from scenesynth.pipeline.stages import ShardBatch, Stage

LOAD_STAGE = "load"


class SourceStream:
    """Graphs from a source plus access to the load errors reported so far.

    Wraps the loader's report (``scenesynth.sources.report.LoadReport``): error issues are
    *drained* as they appear (the report's issue list is emptied after each read), so memory
    stays bounded and no issue is lost to the report's cap.
    """

    def __init__(self, graphs: Iterable[SceneGraph], report: Any | None) -> None:
        self._graphs = iter(graphs)
        self.report = report
        self._seen_errors = 0
        self._seen_skipped = 0

    def __iter__(self) -> Iterator[SceneGraph]:
        return self._graphs

    def warnings(self) -> int:
        """Warnings (small repairs, ignored files) reported so far."""
        return int(getattr(self.report, "warnings", 0))

    def drain(self) -> tuple[list[FailureRecord], int]:
        """Load failures reported since the last call, and how many whole records they skipped."""
        report = self.report
        if report is None:
            return [], 0
        failures: list[FailureRecord] = []
        issues = getattr(report, "issues", [])
        for issue in issues:
            if str(getattr(issue, "severity", "error")) != "error":
                continue
            failures.append(_load_failure(issue))
        if isinstance(issues, list):
            issues.clear()
        errors = int(getattr(report, "errors", len(failures)))
        unlisted = errors - self._seen_errors - len(failures)
        if unlisted > 0:  # counted but not itemised by the loader: still report them
            failures.append(
                FailureRecord(
                    stage=LOAD_STAGE,
                    record_id="?",
                    reason="unlisted",
                    error=f"{unlisted} further load error(s) counted but not itemised",
                )
            )
        self._seen_errors = errors
        skipped_total = int(getattr(report, "skipped_records", 0))
        skipped = skipped_total - self._seen_skipped
        self._seen_skipped = skipped_total
        return failures, skipped


def _generic_field(path: str) -> str:
    """``objects[3].x`` -> ``objects[].x``: reasons group by field, not by position."""
    out, depth = [], 0
    for ch in path:
        if ch == "[":
            depth += 1
            if depth == 1:
                out.append("[]")
        elif ch == "]":
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def _load_failure(issue: Any) -> FailureRecord:
    field = str(getattr(issue, "field", "") or "")
    return FailureRecord(
        stage=LOAD_STAGE,
        record_id=str(getattr(issue, "record", "?")),
        reason=_generic_field(field) or "record",
        error=str(getattr(issue, "message", issue)),
        file=str(getattr(issue, "file", "")) or None,
        field=field or None,
    )


def open_source(
    path: str, fmt: str | None = None, strict: bool = False, image_root: str | None = None
) -> SourceStream:
    """Open ``path`` with the project's loaders (``scenesynth.sources.load``, format sniffed
    unless ``fmt`` is given; image paths must stay inside ``image_root``, by default the
    dataset's folder); raises FileNotFoundError / UnknownFormatError naming the path."""
    from scenesynth.sources import LoadOptions, load

    options = LoadOptions(image_root=Path(image_root) if image_root is not None else None)
    stream = load(path, format=fmt, strict=strict, options=options)
    return SourceStream(stream, stream.report)


class ParseJsonlStage(Stage):
    """Parse a shard's raw scene-graph JSONL lines (the ``load`` stage, run in the workers).

    Uses the loader's own per-line rules (``scenesynth.sources.jsonl.parse_jsonl_line``), so
    graphs and reported problems are exactly those ``scenesynth.sources.load`` gives; only the
    place the parsing runs changes: in parallel, instead of in the process reading the file.
    """

    name: ClassVar[str] = LOAD_STAGE

    def __init__(self, strict: bool = False, image_root: str | None = None) -> None:
        from scenesynth.sources import LoadError

        self.strict = strict
        self.image_root = image_root
        self.fatal_errors = (LoadError,)  # strict mode: the first bad record stops the run

    def process(self, batch: ShardBatch) -> ShardBatch:
        from scenesynth.sources import LoadOptions, LoadReport
        from scenesynth.sources.jsonl import parse_jsonl_line

        report = LoadReport(strict=self.strict)
        reader = SourceStream([], report)
        file = batch.raw_file or "?"
        root = self.image_root
        options = LoadOptions(image_root=Path(root) if root is not None else None)
        for lineno, line in batch.raw_lines:
            graph = parse_jsonl_line(line, file, lineno, report, options)
            if graph is not None:
                batch.graphs.append(graph)
        failures, skipped = reader.drain()
        for failure in failures:
            batch.fail(failure)
        batch.stage_records[self.name] += len(batch.raw_lines)
        batch.stage_failed[self.name] += skipped
        if report.warnings:
            batch.counters["load.warnings"] += report.warnings
        batch.raw_lines = []
        return batch


def iter_raw_shards(
    path: str, shard_size: int, report: Any | None = None
) -> Iterator[ShardBatch]:
    """Shards of ``shard_size`` non-blank raw lines of a JSONL file (parsed in the workers);
    at the end, whether the file was read to its end goes to ``report`` (a LoadReport)."""
    from scenesynth.sources.jsonl import note_jsonl_file

    index = 0
    position = 0
    lines: list[tuple[int, bytes]] = []
    last = b""
    with open(path, "rb") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            lines.append((lineno, line))
            last = line
            position += 1
            if len(lines) >= shard_size:
                yield _raw_batch(index, position, lines, path)
                index += 1
                lines = []
    if lines:
        yield _raw_batch(index, position, lines, path)
    if report is not None:
        note_jsonl_file(report, path, position, last)


def _raw_batch(index: int, end: int, lines: list[tuple[int, bytes]], path: str) -> ShardBatch:
    return ShardBatch(
        index=index,
        record_start=end - len(lines),
        record_end=end,
        graphs=[],
        raw_lines=lines,
        raw_file=path,
    )


@dataclass
class ShardPlan:
    """The shards of a source, and the stages that must run first on them (parsing)."""

    shards: Iterator[ShardBatch]
    stages: list[Stage]
    # The loader's report (``scenesynth.sources.LoadReport``) once ``shards`` is exhausted: which
    # files were read to their end, and how many records they held.
    report: Any | None = None


def plan_shards(
    path: str, fmt: str | None, strict: bool, shard_size: int, image_root: str | None = None
) -> ShardPlan:
    """Shards for ``path``. A single scene-graph JSONL file is cut into raw lines that the
    workers parse (the reading process would otherwise be the bottleneck); every other source
    is read by ``scenesynth.sources.load`` here and its graphs are shipped to the workers."""
    from scenesynth.sources import find_sources

    sources = find_sources(path, fmt)
    if len(sources) == 1 and sources[0][1] == "jsonl" and not sources[0][2]:
        from scenesynth.sources import LoadReport

        report = LoadReport()
        return ShardPlan(
            iter_raw_shards(str(sources[0][0]), shard_size, report),
            [ParseJsonlStage(strict, image_root)], report,
        )
    stream = open_source(path, fmt, strict, image_root)
    return ShardPlan(iter_shards(stream, shard_size), [], stream.report)


def iter_shards(stream: SourceStream, shard_size: int) -> Iterator[ShardBatch]:
    """Cut the stream into shards of ``shard_size`` graphs, attaching load failures.

    A load error reported while reading graph ``n`` belongs to ``n``'s shard; errors after the
    last graph go to the last shard (or to a trailing shard without graphs when that one was
    already full). Load failures count as failed ``load`` records, the shard's graphs as loaded.
    """
    index = 0
    position = 0
    current: ShardBatch | None = None

    def new_batch() -> ShardBatch:
        return ShardBatch(index=index, record_start=position, record_end=position, graphs=[])

    warnings_seen = 0

    def attach(batch: ShardBatch) -> None:
        nonlocal warnings_seen
        failures, skipped = stream.drain()
        warnings = stream.warnings()
        if warnings > warnings_seen:
            batch.counters["load.warnings"] += warnings - warnings_seen
            warnings_seen = warnings
        for failure in failures:
            batch.fail(failure)
        batch.stage_records[LOAD_STAGE] += skipped
        batch.stage_failed[LOAD_STAGE] += skipped

    for graph in stream:
        if current is None:
            current = new_batch()
        current.graphs.append(graph)
        current.stage_records[LOAD_STAGE] += 1
        position += 1
        current.record_end = position
        attach(current)
        if len(current.graphs) >= shard_size:
            yield current
            index += 1
            current = None
    tail = current if current is not None else new_batch()
    attach(tail)
    if tail.graphs or tail.failures:
        yield tail


def count_records_hint(path: str) -> int | None:
    """Cheap total for progress/ETA: non-empty lines of a JSONL file, else unknown."""
    p = Path(path)
    if p.is_file() and p.suffix.lower() == ".jsonl":
        n = 0
        with p.open("rb") as fh:
            for line in fh:
                if line.strip():
                    n += 1
        return n
    return None
