"""``scenesynth annotate``: images (or human graphs plus their images) -> scene-graph JSONL,
sharded and resumable with the engine's pieces (atomic shard files, a manifest with each
shard's sha256, per-shard failure files concatenated into ``failures.jsonl``).

Output folder::

    manifest.json             config, inputs fingerprint, one entry per finished shard
    shards/graphs-000000.jsonl  the shard's graphs;  shards/failures-000000.jsonl  its failures
    depth/<image>.npy         depth maps (float32, larger = farther; ImageInfo.depth_map)
    graphs.jsonl              all graphs in input order (written after the last shard)
    failures.jsonl            every image that could not be annotated, with file and reason
    notes.jsonl               every image annotated after a conversion (CMYK, 16-bit,
                              palette with alpha), with file and reason (severity "note")
    generate.yaml             a run config for ``scenesynth generate -c`` (source, image root)
    summary.json              counts, seconds per role, client statistics

Image paths in the graphs are relative to the *image root* (``--image-root``; by default the
deepest folder holding every image and the output folder, so depth maps are inside it too),
which is the rule every loader applies.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections import Counter, deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scenesynth.annotate.config import (
    RESOURCE_KEYS,
    build_roles,
    engine_of,
    read_annotate_config,
    role_resources,
)
from scenesynth.annotate.images import DEFAULT_MAX_PIXELS, list_images
from scenesynth.annotate.pipeline import (
    STAGE,
    PendingBatch,
    Roles,
    WorkItem,
    open_images,
    run_roles,
    write_depth_maps,
)
from scenesynth.graph.io import graph_to_json
from scenesynth.ioutil import atomic_write
from scenesynth.ioutil.manifest import (
    FailureRecord,
    Manifest,
    ManifestMismatch,
    ShardEntry,
    canonical_json,
    clean_temp_files,
    encode_failures,
    failures_path,
    sha256_bytes,
    sha256_file,
    write_failures_file,
)

ADDABLE = ("depth", "masks")


class AnnotateInputError(ValueError):
    """Nothing to annotate, or inputs that cannot be read (exit 2)."""


def graphs_path(out: Path, index: int) -> Path:
    return out / "shards" / f"graphs-{index:06d}.jsonl"


def notes_path(out: Path, index: int) -> Path:
    return out / "shards" / f"notes-{index:06d}.jsonl"


@dataclass
class AnnotateSummary:
    out: Path
    images: int = 0
    graphs: int = 0
    failures: int = 0
    shards: int = 0
    shards_skipped: int = 0
    image_root: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    failures_by_reason: dict[str, int] = field(default_factory=dict)
    converted: dict[str, int] = field(default_factory=dict)  # annotated after conversion
    engine: str = "local"
    ray: dict[str, Any] = field(default_factory=dict)  # each role pool's resources
    role_seconds: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    llm: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "out": str(self.out), "images": self.images, "graphs": self.graphs,
            "failures": self.failures, "shards": self.shards,
            "shards_skipped": self.shards_skipped, "image_root": self.image_root,
            "counters": dict(sorted(self.counters.items())),
            "failures_by_reason": dict(sorted(self.failures_by_reason.items())),
            "converted": dict(sorted(self.converted.items())), "engine": self.engine,
            "ray": self.ray,
            "role_seconds": {k: round(v, 4) for k, v in sorted(self.role_seconds.items())},
            "seconds": round(self.seconds, 3), "llm": self.llm,
        }


def _common_root(paths: list[Path]) -> Path:
    return Path(os.path.commonpath([str(p) for p in paths]))


def _items_from_images(inputs: list[str]) -> list[Path]:
    from scenesynth.annotate.images import ImageInputError

    try:
        return list_images(inputs)
    except (ImageInputError, OSError) as exc:
        raise AnnotateInputError(str(exc)) from None


def _augment_items(graphs: Path, images_dir: Path) -> tuple[list[tuple[Path, Any]], list[str]]:
    from scenesynth.sources import load

    if not images_dir.is_dir():
        raise AnnotateInputError(f"--images {images_dir}: no such folder")
    try:
        stream = load(str(graphs))
        loaded = list(stream)
    except (OSError, ValueError) as exc:
        raise AnnotateInputError(f"--graphs {graphs}: {exc}") from None
    problems = [f"{i.file}: {i.record}: {i.message}" for i in stream.report.issues
                if str(i.severity) == "error"]
    items = [(image_file(images_dir, g), g) for g in loaded]
    return items, problems


def image_file(images_dir: Path, graph: Any) -> Path:
    """The file of a human graph's image under ``images_dir``: its ``path``, else the file
    name of its ``url`` (Visual Genome's ``VG_100K/1.jpg``), else its id (with .jpg / .png);
    the first candidate when none exists (then reported as unreadable)."""
    image = graph.image
    names = [image.path] if image.path else []
    if image.url:
        names.append(image.url.rstrip("/").rsplit("/", 1)[-1])
    names += [image.id, f"{image.id}.jpg", f"{image.id}.png"]
    candidates = [(images_dir / n).absolute() for n in names]
    return next((c for c in candidates if c.is_file()), candidates[0])


def run_annotate(
    inputs: list[str], out: Path, config_path: Path | None = None,
    image_root: Path | None = None, graphs: Path | None = None, images_dir: Path | None = None,
    add: list[str] | None = None, config: dict[str, Any] | None = None,
    roles: Roles | None = None, engine: str | None = None,
) -> AnnotateSummary:
    started = time.perf_counter()
    cfg = dict(config) if config is not None else read_annotate_config(config_path)
    engine = engine_of(cfg, engine)
    resources = role_resources(cfg)
    out = out.absolute()
    if graphs is not None:
        if images_dir is None:
            raise AnnotateInputError("--graphs needs --images (the folder the graphs' image "
                                     "paths are relative to)")
        wanted = add or list(ADDABLE)
        unknown = sorted(set(wanted) - set(ADDABLE))
        if unknown:
            raise AnnotateInputError(f"--add {','.join(unknown)}: expected some of "
                                     f"{','.join(ADDABLE)}")
        pairs, load_problems = _augment_items(graphs, images_dir)
        # Augment fills only what was asked: the other roles are not run.
        cfg = {k: v for k, v in cfg.items() if k not in ("tagger", "detector", "attributes",
                                                         "relations")}
        if "masks" not in wanted:
            cfg.pop("segmenter", None)
        if "depth" not in wanted:
            cfg.pop("depth", None)
        for role, what in (("segmenter", "masks"), ("depth", "depth")):
            if what in wanted and role not in cfg:
                raise AnnotateInputError(f"--add {what} needs a '{role}' role in --config")
    else:
        pairs = [(p, None) for p in _items_from_images(inputs)]
        load_problems = []
    if not pairs:
        raise AnnotateInputError("no image to annotate: " + (
            "; ".join(load_problems[:3]) if load_problems else "the inputs hold no image file"))
    root = (image_root.absolute() if image_root is not None
            else _common_root([p.parent for p, _ in pairs] + [out]))
    items = []
    for path, graph in pairs:
        try:
            key = path.relative_to(root).as_posix()
        except ValueError:
            raise AnnotateInputError(f"{path}: outside --image-root {root}") from None
        items.append(WorkItem(key, path, graph))
    roles = roles if roles is not None else build_roles(cfg)
    shard_size = int(cfg.get("shard_size", 64))
    batch_size = int(cfg.get("batch_size", 8))
    fingerprint = hashlib.sha256("\n".join(
        f"{i.key}\t{graph_to_json(i.graph) if i.graph else ''}" for i in items
    ).encode("utf-8")).hexdigest()
    # Where the models run (engine, Ray resources) does not change the output: a run may
    # resume on the other engine.
    run_config = {"verb": "annotate", "config": _output_config(cfg), "image_root": str(root),
                  "inputs_sha256": fingerprint, "images": len(items),
                  "add": sorted(add or []) if graphs is not None else None}
    out.mkdir(parents=True, exist_ok=True)
    clean_temp_files(out)
    manifest = Manifest.load(out)
    if manifest is not None and manifest.config != run_config:
        raise ManifestMismatch(f"{out}: holds an annotate run with another config or other "
                               "inputs; choose another --out or remove it")
    if manifest is None:
        manifest = Manifest(config=run_config)
    summary = AnnotateSummary(out=out, images=len(items), image_root=str(root), engine=engine)
    role_seconds: dict[str, float] = {}
    depth_dir = out / "depth"
    shards = [items[i:i + shard_size] for i in range(0, len(items), shard_size)]
    shards_by_index = dict(enumerate(shards))
    max_pixels = int(cfg.get("max_pixels", DEFAULT_MAX_PIXELS))
    manifest.num_shards = len(shards)
    todo: list[tuple[int, list[WorkItem]]] = []
    for index, shard in enumerate(shards):
        entry = manifest.shards.get(index)
        if entry is not None and _verify(out, entry):
            summary.shards_skipped += 1
        else:
            todo.append((index, shard))
    batches = [(index, shard[i:i + batch_size]) for index, shard in todo
               for i in range(0, len(shard), batch_size)]
    ray_roles = None
    if engine == "ray" and batches:
        from scenesynth.annotate.ray_roles import RayRoles

        ray_roles = RayRoles(roles, resources)
    # Merging a batch (mask RLE, depth medians, graphs) and writing its depth maps run in a
    # thread while the models work on the next batch; one thread keeps the order.
    merger = ThreadPoolExecutor(max_workers=1)
    merged: dict[int, list[Any]] = {}
    try:
        pendings = (_ray_pending(batches, ray_roles, max_pixels) if ray_roles is not None
                    else _local_pending(batches, roles, max_pixels))
        for position, ((index, _batch), pending) in enumerate(zip(batches, pendings,
                                                                  strict=True)):
            for role, spent in pending.result.seconds.items():
                role_seconds[role] = role_seconds.get(role, 0.0) + spent
            merged.setdefault(index, []).append(
                merger.submit(_merge_and_write, pending, depth_dir, root))
            last_of_shard = position + 1 == len(batches) or batches[position + 1][0] != index
            if last_of_shard:
                # a shard is committed only after its graphs are merged and its depth maps
                # are on disk
                results = [done.result() for done in merged.pop(index)]
                _commit(out, manifest, index, shard_size, len(shards_by_index[index]), results)
        if ray_roles is not None:
            summary.ray = ray_roles.report()
    finally:
        merger.shutdown(wait=True, cancel_futures=True)
        if ray_roles is not None:
            ray_roles.close()
    _finish(out, manifest, root, summary)
    summary.role_seconds = dict(role_seconds)
    summary.llm = _client_stats(roles)
    summary.seconds = time.perf_counter() - started
    with atomic_write(out / "summary.json") as fh:
        json.dump(summary.to_dict(), fh, indent=1, sort_keys=True)
        fh.write("\n")
    return summary


def _output_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """The config less what only says where the models run (engine, Ray resources)."""
    return {k: ({s: x for s, x in v.items() if s not in RESOURCE_KEYS} if isinstance(v, dict)
                else v) for k, v in cfg.items() if k != "engine"}


def _local_pending(batches: list[tuple[int, list[WorkItem]]], roles: Roles,
                   max_pixels: int) -> Iterator[PendingBatch]:
    """The models on each batch in turn, in this process."""
    # Images of the next batch decode in a thread while the models run on this one (model
    # calls release the GIL: GPU kernels, sleeps, network), so decoding costs no wall time.
    with ThreadPoolExecutor(max_workers=1) as pool:
        ahead = pool.submit(open_images, batches[0][1], max_pixels) if batches else None
        for position in range(len(batches)):
            assert ahead is not None
            decoded = ahead.result()
            following = batches[position + 1][1] if position + 1 < len(batches) else None
            ahead = pool.submit(open_images, following, max_pixels) if following else None
            yield run_roles(batches[position][1], roles, decoded)


def _ray_pending(batches: list[tuple[int, list[WorkItem]]], ray_roles: Any,
                 max_pixels: int) -> Iterator[PendingBatch]:
    """The models on up to ``ray_roles.parallel`` batches at once (each role call on a free
    actor of its pool), yielded in input order."""

    def models(batch: list[WorkItem]) -> PendingBatch:
        return run_roles(batch, ray_roles.roles, open_images(batch, max_pixels))

    width = ray_roles.parallel + 1  # one more, so decoding overlaps the busy actors
    with ThreadPoolExecutor(max_workers=width) as pool:
        window: deque[Future[PendingBatch]] = deque()
        upcoming = iter(batches)
        for _index, batch in itertools.islice(upcoming, width):
            window.append(pool.submit(models, batch))
        while window:
            pending = window.popleft().result()
            following = next(upcoming, None)
            if following is not None:
                window.append(pool.submit(models, following[1]))
            yield pending


def _merge_and_write(pending: PendingBatch, depth_dir: Path, root: Path) -> Any:
    result = pending.merge(depth_dir, root)
    write_depth_maps(result.files)
    result.files = []
    return result


def _commit(out: Path, manifest: Manifest, index: int, shard_size: int, images: int,
            results: list[Any]) -> None:
    """Write one shard's graphs and failures atomically, then record it in the manifest."""
    graphs_out = [g for r in results for g in r.graphs]
    failures = [f for r in results for f in r.failures]
    counters: Counter[str] = Counter()
    for r in results:
        counters.update(r.counters)
    notes = [n for r in results for n in r.notes]
    for record in (*failures, *notes):
        record.shard = index
    data = "".join(graph_to_json(g) + "\n" for g in graphs_out).encode("utf-8")
    fail_bytes = encode_failures(failures)
    if fail_bytes:
        with atomic_write(failures_path(out, index), "wb") as fh:
            fh.write(fail_bytes)
    else:
        failures_path(out, index).unlink(missing_ok=True)
    if notes:
        with atomic_write(notes_path(out, index), "wb") as fh:
            fh.write("".join(canonical_json({**n.to_dict(), "severity": "note"}) + "\n"
                             for n in notes).encode("utf-8"))
    else:
        notes_path(out, index).unlink(missing_ok=True)
    with atomic_write(graphs_path(out, index), "wb") as fh:
        fh.write(data)
    base = index * shard_size
    manifest.shards[index] = ShardEntry(
        index=index, record_start=base, record_end=base + images,
        samples=len(graphs_out), sha256=sha256_bytes(data), failures=len(failures),
        failures_sha256=sha256_bytes(fail_bytes) if fail_bytes else None,
        stage_records={STAGE: images}, stage_failed={STAGE: len(failures)},
        failure_reasons=dict(Counter(f"{f.stage}: {f.reason}" for f in failures)),
        counters=dict(counters))
    manifest.save(out)


def _verify(out: Path, entry: ShardEntry) -> bool:
    path = graphs_path(out, entry.index)
    if not path.is_file() or sha256_file(path) != entry.sha256:
        return False
    if entry.failures_sha256 is not None:
        fpath = failures_path(out, entry.index)
        return fpath.is_file() and sha256_file(fpath) == entry.failures_sha256
    return True


def _finish(out: Path, manifest: Manifest, root: Path, summary: AnnotateSummary) -> None:
    with atomic_write(out / "graphs.jsonl", "wb") as fh:
        for entry in manifest.entries():
            fh.write(graphs_path(out, entry.index).read_bytes())
    write_failures_file(out, manifest)
    with atomic_write(out / "notes.jsonl", "wb") as fh:
        for entry in manifest.entries():
            # written before the shard's graphs, so a committed shard has its notes
            if notes_path(out, entry.index).is_file():
                fh.write(notes_path(out, entry.index).read_bytes())
    manifest.complete = True
    manifest.save(out)
    with atomic_write(out / "generate.yaml") as fh:
        # The image root travels with the graphs: generate reads paths relative to it.
        fh.write(f"source: graphs.jsonl\nexport:\n  image_root: {json.dumps(str(root))}\n")
    reasons: Counter[str] = Counter()
    counters: Counter[str] = Counter()
    for entry in manifest.entries():
        summary.shards += 1
        summary.graphs += entry.samples
        summary.failures += entry.failures
        reasons.update(entry.failure_reasons)
        counters.update(entry.counters)
    summary.failures_by_reason = dict(reasons)
    summary.counters = dict(counters)
    summary.converted = {k.split(".", 1)[1]: v for k, v in sorted(counters.items())
                         if k.startswith("converted.")}


def _client_stats(roles: Roles) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for role in ("tagger", "attributes", "relations"):
        asker = getattr(getattr(roles, role), "asker", None)
        client = getattr(asker, "client", None)
        if client is not None:
            s = client.stats
            out[role] = {"requests": s.requests, "cache_hits": s.cache_hits,
                         "retries": dict(s.retries), "rejections": dict(s.rejections)}
        elif asker is not None and hasattr(asker, "malformed"):
            out[role] = {"malformed": asker.malformed}
    return out


def failure_lines(out: Path) -> list[FailureRecord]:
    path = out / "failures.jsonl"
    if not path.is_file():
        return []
    return [FailureRecord.from_dict(json.loads(line)) for line in path.read_text().splitlines()]
