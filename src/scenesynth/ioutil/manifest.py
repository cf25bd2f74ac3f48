"""The run manifest, shard entries and failure records: what makes a sharded run exactly-once
and resumable, shared by every sharded command (the pipeline's runs and ``annotate``).

A shard counts as finished only once ``manifest.json`` lists it with the sha256 of its files;
every file is written with :func:`scenesynth.ioutil.atomic_write`. Serialisation is
deterministic (sorted keys, compact), so the same records always give the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import traceback as tb
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from scenesynth import __version__
from scenesynth.ioutil import atomic_write


@dataclass
class FailureRecord:
    """One failed record: which stage, which record, why. Written to ``failures.jsonl``."""

    stage: str
    record_id: str
    reason: str  # short category counted in the summary (exception type, load field)
    error: str
    traceback: str = ""
    shard: int = -1
    file: str | None = None  # source file, for load failures
    field: str | None = None  # offending field, for load failures

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FailureRecord:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def from_exception(
        cls, stage: str, record_id: str, exc: BaseException, shard: int = -1
    ) -> FailureRecord:
        return cls(
            stage=stage,
            record_id=record_id,
            reason=type(exc).__name__,
            error=str(exc) or type(exc).__name__,
            traceback="".join(tb.format_exception(exc)),
            shard=shard,
        )


MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1
SHARDS_DIR = "shards"


def samples_path(out: Path, index: int) -> Path:
    return out / SHARDS_DIR / f"samples-{index:06d}.jsonl"


def failures_path(out: Path, index: int) -> Path:
    return out / SHARDS_DIR / f"failures-{index:06d}.jsonl"


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


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
    graphs: int = 0
    graphs_sha256: str | None = None  # set when the shard wrote its graphs (synthesis)
    # the shard's source graphs counted for the dataset card (quality.card_plots.GraphCounts),
    # kept here so a resumed run's card needs neither the source nor the skipped shards' graphs
    graph_counts: dict[str, dict[str, int]] | None = None
    # execution facts (ShardBatch.run_stats): returned to the parent, never in the manifest
    run_stats: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def to_dict(self) -> dict[str, Any]:
        data = {
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
        if self.graphs_sha256 is not None:  # only runs that make graphs list them
            data.update(graphs=self.graphs, graphs_sha256=self.graphs_sha256)
        if self.graph_counts is not None:  # only runs that read a source count its graphs
            data["graph_counts"] = self.graph_counts
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ShardEntry:
        return cls(**data)


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


