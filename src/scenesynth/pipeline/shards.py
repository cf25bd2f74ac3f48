"""Shard files of a run: encoding a processed shard, committing it, reading it back.

Layout of an output directory (manifest and failure records: :mod:`scenesynth.ioutil.manifest`)::

    manifest.json              config, package version, one entry per finished shard
    shards/samples-000123.jsonl  the shard's InstructionSamples, one JSON object a line
    shards/failures-000123.jsonl the shard's failed records (only when there are any)
    shards/graphs-000123.jsonl   the shard's scene graphs, when the run made them (synthesis)
    failures.jsonl             all failures in shard order (written after the last shard)
    graphs.jsonl               all made graphs in shard order (synthesis; after the last shard)
    summary.json               counts by stage and reason, timings (execution-dependent)

Every file is written to a temp file, fsynced and renamed into place (:func:`atomic_write`), and
a shard counts as finished only once the manifest lists it with its sha256. Serialisation is
deterministic (pydantic's JSON, compact: :func:`encode_sample`), so the same samples always
give the same bytes.
The local engine writes a shard's samples to its temp file as they are made
(:class:`SampleFileWriter`) and renames it into place when the shard commits: a killed run
leaves only a temp file, which the next run removes.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, TYPE_CHECKING, Any

import orjson

from scenesynth.graph import (
    InstructionSample,
    ProgramStep,
    Provenance,
    SceneGraph,
    graph_to_json,
)
from scenesynth.ioutil import atomic_write
from scenesynth.ioutil.manifest import (
    SHARDS_DIR,
    Manifest,
    ShardEntry,
    encode_failures,
    failures_path,
    samples_path,
    sha256_bytes,
    sha256_file,
)
from scenesynth.pipeline.stages import ShardBatch

if TYPE_CHECKING:
    from scenesynth.export.stored import StoredSample


def graphs_path(out: Path, index: int) -> Path:
    return out / SHARDS_DIR / f"graphs-{index:06d}.jsonl"


def _sample_part(value: Any) -> Any:
    """orjson's hook for the parts of a sample beyond plain JSON: its program steps, and the
    sample's own models (their fields in declaration order; no serializers, aliases, extras or
    computed fields, so that is what pydantic writes). Any other object is left to pydantic.
    orjson's own dataclass path reads a slotted dataclass's fields several times slower."""
    if isinstance(value, ProgramStep):
        return {"op": value.op, "inputs": value.inputs, "args": value.args,
                "output": value.output}
    n_fields = _PLAIN_MODELS.get(type(value))
    if n_fields is not None and len(value.__dict__) == n_fields:
        return value.__dict__
    raise TypeError(f"{type(value).__name__} is left to pydantic")


_PLAIN_MODELS: dict[type, int] = {
    model: len(model.model_fields) for model in (InstructionSample, Provenance)}
_SAMPLE_OPTIONS = orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_APPEND_NEWLINE


def encode_sample(sample: InstructionSample) -> bytes:
    """One shard line: the bytes of pydantic's JSON dump (fields in declaration order, nested
    dicts in insertion order, which the generators fill deterministically), written by orjson
    at about twice pydantic's speed. orjson writes the same strings, numbers and enum values
    as pydantic; what it cannot write as pydantic does (an integer beyond 64 bits, a set, a
    non-string key) makes it raise, and that sample is dumped by pydantic."""
    try:
        return orjson.dumps(sample, default=_sample_part, option=_SAMPLE_OPTIONS)
    except TypeError:
        return sample.__pydantic_serializer__.to_json(sample) + b"\n"


def encode_samples(samples: list[InstructionSample]) -> bytes:
    return b"".join(encode_sample(s) for s in samples)


class SampleFileWriter:
    """A shard's samples file, written while the shard's samples are made (one line each,
    :func:`encode_sample`) so that none is held in memory; its sha256 and line count are
    kept on the way. The lines go to an :func:`atomic_write` temp file, renamed into place
    by :meth:`commit` (after the shard's other files, as :func:`commit_shard` orders them);
    :meth:`close` without a commit removes it."""

    FLUSH_AT = 1 << 20  # bytes of lines gathered per write

    def __init__(self, out: Path, index: int) -> None:
        self._target: AbstractContextManager[IO[bytes]] = atomic_write(
            samples_path(out, index), "wb")
        self._fh: IO[bytes] | None = self._target.__enter__()
        self._digest = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_bytes = 0
        self.count = 0

    def add(self, sample: InstructionSample) -> None:
        line = encode_sample(sample)
        self._pending.append(line)
        self._pending_bytes += len(line)
        self.count += 1
        if self._pending_bytes >= self.FLUSH_AT:
            self._flush()

    def _flush(self) -> None:
        assert self._fh is not None, "the shard's samples file is closed"
        chunk = b"".join(self._pending)
        self._digest.update(chunk)
        self._fh.write(chunk)
        self._pending, self._pending_bytes = [], 0

    def restart(self) -> None:
        """Forget every line written so far (a shard's generation is redone)."""
        assert self._fh is not None, "the shard's samples file is closed"
        self._pending, self._pending_bytes = [], 0
        self._fh.seek(0)
        self._fh.truncate()
        self._digest = hashlib.sha256()
        self.count = 0

    def sha256(self) -> str:
        self._flush()
        return self._digest.hexdigest()

    def commit(self) -> None:
        """Write what is pending, fsync, and rename the file into place."""
        self._flush()
        self._fh = None
        self._target.__exit__(None, None, None)

    def close(self, error: BaseException | None = None) -> None:
        """Remove the temp file unless :meth:`commit` ran."""
        if self._fh is None:
            return
        self._fh = None
        abort = error if error is not None else RuntimeError("shard not committed")
        tb: TracebackType | None = abort.__traceback__
        try:
            self._target.__exit__(type(abort), abort, tb)
        except BaseException as raised:
            if raised is not abort:
                raise


def encode_graphs(graphs: list[SceneGraph]) -> bytes:
    return "".join(graph_to_json(g) + "\n" for g in graphs).encode("utf-8")


@dataclass
class EncodedShard:
    """A processed shard ready to commit: its bytes and its manifest entry."""

    entry: ShardEntry
    samples_bytes: bytes
    failures_bytes: bytes
    graphs_bytes: bytes | None = None
    # set when the samples were written as they were made (samples_bytes is then empty)
    samples_file: SampleFileWriter | None = None


def encode_shard(batch: ShardBatch, samples_file: SampleFileWriter | None = None
                 ) -> EncodedShard:
    """The shard's files and manifest entry; with ``samples_file``, the samples the shard
    wrote there as they were made (``batch.samples`` is then empty)."""
    samples_bytes = b"" if samples_file is not None else encode_samples(batch.samples)
    failures_bytes = encode_failures(batch.failures)
    reasons = Counter(f"{f.stage}: {f.reason}" for f in batch.failures)
    graphs_bytes = encode_graphs(batch.graphs) if batch.keep_graphs else None
    entry = ShardEntry(
        index=batch.index,
        record_start=batch.record_start,
        record_end=batch.record_end,
        samples=samples_file.count if samples_file is not None else len(batch.samples),
        sha256=samples_file.sha256() if samples_file is not None else sha256_bytes(samples_bytes),
        failures=len(batch.failures),
        failures_sha256=sha256_bytes(failures_bytes) if batch.failures else None,
        stage_records=dict(batch.stage_records),
        stage_failed=dict(batch.stage_failed),
        failure_reasons=dict(reasons),
        counters=dict(batch.counters),
        graphs=len(batch.graphs) if graphs_bytes is not None else 0,
        graphs_sha256=sha256_bytes(graphs_bytes) if graphs_bytes is not None else None,
        graph_counts=batch.graph_counts,
        run_stats=batch.run_stats,
    )
    return EncodedShard(entry, samples_bytes, failures_bytes, graphs_bytes, samples_file)


def commit_shard(out: Path, shard: EncodedShard) -> ShardEntry:
    """Write the shard's files atomically. The manifest entry is the caller's to record."""
    index = shard.entry.index
    if shard.failures_bytes:
        with atomic_write(failures_path(out, index), "wb") as fh:
            fh.write(shard.failures_bytes)
    else:
        failures_path(out, index).unlink(missing_ok=True)
    if shard.graphs_bytes is not None:
        with atomic_write(graphs_path(out, index), "wb") as fh:
            fh.write(shard.graphs_bytes)
    if shard.samples_file is not None:
        shard.samples_file.commit()
    else:
        with atomic_write(samples_path(out, index), "wb") as fh:
            fh.write(shard.samples_bytes)
    return shard.entry


def verify_shard(out: Path, entry: ShardEntry) -> str | None:
    """None when the shard's files match the manifest, else what is wrong."""
    path = samples_path(out, entry.index)
    if not path.is_file():
        return f"{path} is missing"
    if sha256_file(path) != entry.sha256:
        return f"{path} does not match its sha256 in the manifest"
    fpath = failures_path(out, entry.index)
    if entry.failures_sha256 is not None:
        if not fpath.is_file():
            return f"{fpath} is missing"
        if sha256_file(fpath) != entry.failures_sha256:
            return f"{fpath} does not match its sha256 in the manifest"
    if entry.graphs_sha256 is not None:
        gpath = graphs_path(out, entry.index)
        if not gpath.is_file():
            return f"{gpath} is missing"
        if sha256_file(gpath) != entry.graphs_sha256:
            return f"{gpath} does not match its sha256 in the manifest"
    return None


def iter_samples(out: Path, manifest: Manifest) -> Iterator[InstructionSample]:
    """All samples of a finished run, in shard order (streamed, one shard at a time)."""
    for entry in manifest.entries():
        with samples_path(out, entry.index).open("rb") as fh:
            for line in fh:
                yield InstructionSample.model_validate_json(line)


def iter_stored_samples(out: Path, manifest: Manifest) -> Iterator[StoredSample]:
    """:func:`iter_samples` for the export: each line parsed once, not validated again (the
    run wrote it from a validated model; the manifest's sha256 says it is unchanged)."""
    from scenesynth.export.stored import StoredSample  # the export package loads on use

    for entry in manifest.entries():
        with samples_path(out, entry.index).open("rb") as fh:
            for line in fh:
                yield StoredSample.from_json(line)


def iter_graphs(out: Path, manifest: Manifest) -> Iterator[SceneGraph]:
    """The graphs a synthesizing run made, in shard order (streamed, one shard at a time)."""
    from scenesynth.graph import graph_from_json

    for entry in manifest.entries():
        if entry.graphs_sha256 is None:
            continue
        with graphs_path(out, entry.index).open("r", encoding="utf-8") as fh:
            for line in fh:
                yield graph_from_json(line)


def write_graphs_file(out: Path, manifest: Manifest) -> int:
    """Concatenate the per-shard graph files into ``graphs.jsonl`` in shard order."""
    n = 0
    with atomic_write(out / "graphs.jsonl", "wb") as fh:
        for entry in manifest.entries():
            if entry.graphs_sha256 is not None:
                fh.write(graphs_path(out, entry.index).read_bytes())
                n += entry.graphs
    return n
