"""Shard files and the run manifest: the exactly-once, resumable part of a run.

Layout of an output directory::

    manifest.json              config, package version, one entry per finished shard
    shards/samples-000123.jsonl  the shard's InstructionSamples, one JSON object a line
    shards/failures-000123.jsonl the shard's failed records (only when there are any)
    failures.jsonl             all failures in shard order (written after the last shard)
    summary.json               counts by stage and reason, timings (execution-dependent)

Every file is written to a temp file, fsynced and renamed into place (:func:`atomic_write`), and
a shard counts as finished only once the manifest lists it with its sha256. Serialisation is
deterministic (pydantic's JSON, compact), so the same samples always give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scenesynth import __version__
from scenesynth.engine.stages import FailureRecord, ShardBatch
from scenesynth.graph import InstructionSample
from scenesynth.ioutil import atomic_write

if TYPE_CHECKING:
    from scenesynth.export.stored import StoredSample

MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
SHARDS_DIR = "shards"


def samples_path(out: Path, index: int) -> Path:
    return out / SHARDS_DIR / f"samples-{index:06d}.jsonl"


def failures_path(out: Path, index: int) -> Path:
    return out / SHARDS_DIR / f"failures-{index:06d}.jsonl"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def encode_samples(samples: list[InstructionSample]) -> bytes:
    # pydantic's JSON dump: fields in declaration order, nested dicts in insertion order, which
    # the generators fill deterministically; 4x faster than sorting keys through json.dumps.
    return b"".join(s.__pydantic_serializer__.to_json(s) + b"\n" for s in samples)


def encode_failures(failures: list[FailureRecord]) -> bytes:
    return "".join(canonical_json(f.to_dict()) + "\n" for f in failures).encode("utf-8")


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class ShardEntry:
    """The manifest's record of one finished shard."""

    index: int
    record_start: int
    record_end: int
    samples: int
    sha256: str
    failures: int = 0
    failures_sha256: str | None = None
    stage_records: dict[str, int] = field(default_factory=dict)
    stage_failed: dict[str, int] = field(default_factory=dict)
    failure_reasons: dict[str, int] = field(default_factory=dict)  # "stage: reason" -> count
    counters: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "record_start": self.record_start,
            "record_end": self.record_end,
            "samples": self.samples,
            "sha256": self.sha256,
            "failures": self.failures,
            "failures_sha256": self.failures_sha256,
            "stage_records": dict(sorted(self.stage_records.items())),
            "stage_failed": dict(sorted(self.stage_failed.items())),
            "failure_reasons": dict(sorted(self.failure_reasons.items())),
            "counters": dict(sorted(self.counters.items())),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardEntry:
        return cls(**data)


@dataclass
class EncodedShard:
    """A processed shard ready to commit: its bytes and its manifest entry."""

    entry: ShardEntry
    samples_bytes: bytes
    failures_bytes: bytes


def encode_shard(batch: ShardBatch) -> EncodedShard:
    samples_bytes = encode_samples(batch.samples)
    failures_bytes = encode_failures(batch.failures)
    reasons = Counter(f"{f.stage}: {f.reason}" for f in batch.failures)
    entry = ShardEntry(
        index=batch.index,
        record_start=batch.record_start,
        record_end=batch.record_end,
        samples=len(batch.samples),
        sha256=sha256_bytes(samples_bytes),
        failures=len(batch.failures),
        failures_sha256=sha256_bytes(failures_bytes) if batch.failures else None,
        stage_records=dict(batch.stage_records),
        stage_failed=dict(batch.stage_failed),
        failure_reasons=dict(reasons),
        counters=dict(batch.counters),
    )
    return EncodedShard(entry, samples_bytes, failures_bytes)


def commit_shard(out: Path, shard: EncodedShard) -> ShardEntry:
    """Write the shard's files atomically. The manifest entry is the caller's to record."""
    index = shard.entry.index
    if shard.failures_bytes:
        with atomic_write(failures_path(out, index), "wb") as fh:
            fh.write(shard.failures_bytes)
    else:
        failures_path(out, index).unlink(missing_ok=True)
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
    return None


class ManifestMismatch(RuntimeError):
    """The output directory holds a run made with a different config."""


@dataclass
class Manifest:
    """In-memory manifest; :meth:`save` rewrites ``manifest.json`` atomically."""

    config: dict[str, Any]
    shards: dict[int, ShardEntry] = field(default_factory=dict)
    complete: bool = False
    num_shards: int | None = None  # known once the source is exhausted
    version: str = __version__

    def to_dict(self) -> dict[str, Any]:
        entries = [self.shards[i].to_dict() for i in sorted(self.shards)]
        return {
            "manifest_version": MANIFEST_VERSION,
            "scenesynth_version": self.version,
            "config": self.config,
            "complete": self.complete,
            "num_shards": self.num_shards,
            "total_records": sum(e["record_end"] - e["record_start"] for e in entries),
            "total_samples": sum(e["samples"] for e in entries),
            "total_failures": sum(e["failures"] for e in entries),
            "shards": entries,
        }

    def save(self, out: Path) -> None:
        with atomic_write(out / MANIFEST_NAME) as fh:
            json.dump(self.to_dict(), fh, indent=1, sort_keys=True, ensure_ascii=False)
            fh.write("\n")

    @classmethod
    def load(cls, out: Path) -> Manifest | None:
        path = out / MANIFEST_NAME
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            shards = {int(e["index"]): ShardEntry.from_dict(e) for e in data["shards"]}
            return cls(
                config=data["config"],
                shards=shards,
                complete=bool(data.get("complete")),
                num_shards=data.get("num_shards"),
                version=data.get("scenesynth_version", "?"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ManifestMismatch(
                f"{path}: unreadable manifest ({exc}); remove the output directory or choose "
                "another --out"
            ) from exc

    def entries(self) -> Iterator[ShardEntry]:
        for i in sorted(self.shards):
            yield self.shards[i]


def clean_temp_files(out: Path) -> int:
    """Remove temp files a killed run left behind (atomic_write's ``.<name>.*.tmp``), in the
    output directory, its shards and its export folder."""
    removed = 0
    # ".staging.*": export files written but not yet validated (see export_samples)
    for tmp in [*out.rglob(".*.tmp"), *out.rglob(".staging.*")]:
        if tmp.is_file():
            tmp.unlink(missing_ok=True)
            removed += 1
    return removed


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


def write_failures_file(out: Path, manifest: Manifest) -> int:
    """Concatenate the per-shard failure files into ``failures.jsonl`` in shard order."""
    n = 0
    with atomic_write(out / "failures.jsonl", "wb") as fh:
        for entry in manifest.entries():
            if entry.failures:
                data = failures_path(out, entry.index).read_bytes()
                fh.write(data)
                n += entry.failures
    return n
