"""Streaming the source into fixed-size shards, with its malformed records attached.

The source is read once, lazily, by ``scenesynth.sources.load`` (one graph at a time), so memory
stays bounded whatever the dataset size. Load errors the loader reports while the graphs of a
shard are read travel with that shard as ``load`` failures, so they land in the shard's failure
file exactly once, and a resumed run attributes them identically.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from scenesynth.engine.stages import FailureRecord, ShardBatch
from scenesynth.graph import SceneGraph

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


def open_source(path: str, fmt: str | None = None, strict: bool = False) -> SourceStream:
    """Open ``path`` with the project's loaders (``scenesynth.sources.load``, format sniffed
    unless ``fmt`` is given); raises FileNotFoundError / UnknownFormatError naming the path."""
    from scenesynth.sources import load

    stream = load(path, format=fmt, strict=strict)
    return SourceStream(stream, stream.report)


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
